"""``mainstage demo``: the whole job on bundled defaults.

Synthesises a SynthHouse DJ-set mix moving through several genres (with drops),
analyses it like any user track (grid, drops, sections, genres with the bundled model),
scores the analysis against the mix's exact truth, and, when Blender (the ``bpy``
module) is installed, runs the ``preview`` command of the Blender package (found through
the command registry, so training never imports the add-on): the starter stage, the
shipped looks, a preview video with the audio, a contact sheet and a genre-timeline plot.
"""
from __future__ import annotations

import argparse

HELP = "synthesise a demo mix, analyse it, score it against its truth and render the show"

DEFAULT_SET = "Progressive House,Bass House,Bigroom"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="out/demo", metavar="DIR", help="output folder (default: out/demo)")
    p.add_argument("--set", default=DEFAULT_SET, metavar="GENRES",
                   help=f"comma-separated genres of the mix's tracks (default: {DEFAULT_SET!r})")
    p.add_argument("--seed", type=int, default=2026, help="synthesiser seed (default: 2026)")
    p.add_argument("--no-render", action="store_true", help="stop after the analysis (no Blender)")


def _fmt(v, spec: str, none: str = "n/a") -> str:
    return none if v is None else format(v, spec)


def run(args: argparse.Namespace) -> int:
    import importlib.util
    import time
    from pathlib import Path

    from ...core.analysis.track import analyze_track
    from ...core.atomic import write_json_atomic
    from ...core.cli import command_module
    from ..evaluation.scoring import score_timeline
    from ...core.genres import canonical_genre
    from ..synthhouse import render_set, write_track
    from ...core.timeline import load_timeline, save_timeline

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    genres = [canonical_genre(g) for g in args.set.split(",") if g.strip()]
    t0 = time.perf_counter()

    print(f"[1/4] synthesising a {len(genres)}-track SynthHouse mix: {' -> '.join(genres)} (seed {args.seed})")
    res = render_set(genres, seed=args.seed)
    audio = out / "mix.wav"
    truth_path = write_track(res, audio)
    truth = load_timeline(truth_path)  # validates the truth file as written
    seg = ", ".join(f"{s['bpm']:.0f}" for s in truth["tempo"]["segments"])
    print(f"      wrote {audio} ({truth['track']['duration_s']:.0f} s, tempi {seg} BPM) and {truth_path} (valid)")

    print("[2/4] analysing the mix like a user track")
    t1 = time.perf_counter()
    timeline = analyze_track(audio, genre=True)
    timeline_path = out / "mix.timeline.json"
    save_timeline(timeline, timeline_path)
    model = timeline["model"]["name"] if timeline["model"] else "none (no genre model installed)"
    print(f"      wrote {timeline_path} in {time.perf_counter() - t1:.1f} s; genre model: {model}")

    print("[3/4] scoring the analysis against the truth")
    scores = score_timeline(timeline, truth)
    write_json_atomic(out / "scores.json", scores)
    print(f"      tempo error {_fmt(scores['bpm_error'], '.4f')} BPM; beats within 15 ms: "
          f"{_fmt(scores['beat_hit_rate'], '.1%')} (median {_fmt(scores['beat_median_error_ms'], '.1f')} ms); "
          f"downbeats: {_fmt(scores['downbeat_hit_rate'], '.1%')}")
    print(f"      drops found {scores['found_drops']}/{scores['true_drops']} (extra {scores['extra_drops']}, "
          f"max boundary error {_fmt(scores['max_boundary_error_bars'], '.2f')} bars); "
          f"section labels right: {_fmt(scores['section_accuracy'], '.1%')}; "
          f"dominant genre right: {_fmt(scores['genre_bar_accuracy'], '.1%')} of bars (crossfades excluded)")
    print(f"      mir_eval: beat F {_fmt(scores['beat_f'], '.3f')}, CMLt {_fmt(scores['beat_cmlt'], '.3f')}, "
          f"AMLt {_fmt(scores['beat_amlt'], '.3f')}, downbeat F {_fmt(scores['downbeat_f'], '.3f')}, "
          f"boundaries F@0.5 s {_fmt(scores['boundary_f_05s'], '.3f')} / F@3 s {_fmt(scores['boundary_f_3s'], '.3f')}; "
          f"tempo Acc1 {_fmt(scores['tempo_acc1'], '.0%')}")

    written = {"audio": audio, "truth": truth_path, "timeline": timeline_path, "scores": out / "scores.json"}
    if args.no_render:
        print("[4/4] rendering skipped (--no-render)")
    elif (preview := command_module("preview")) is None:
        print("[4/4] rendering skipped: the Blender commands of Mainstage VFX are not installed")
    elif importlib.util.find_spec("bpy") is None:
        print("[4/4] rendering skipped: Blender's bpy module is not available; "
              "install the 'blender' extra (make demo does)")
    else:
        print("[4/4] building the stage, applying the looks and rendering (Blender)")
        preview.run(argparse.Namespace(timeline=str(timeline_path), audio=str(audio), out=str(out), seconds=24.0))
        written.update(video=out / "preview.mp4", contact_sheet=out / "contact_sheet.png",
                       genre_plot=out / "genre_timeline.png")
    print(f"done in {time.perf_counter() - t0:.0f} s; outputs in {out}/:")
    for name, path in written.items():
        print(f"  {name:14s} {path}")
    return 0
