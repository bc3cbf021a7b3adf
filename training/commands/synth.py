"""``mainstage synth``: render a procedural house track (or a DJ-set mix) with its truth timeline."""
from __future__ import annotations

import argparse

HELP = "render a procedural house track (or DJ-set mix) plus its exact truth timeline"
DESCRIPTION = (
    "Render a SynthHouse track: 44.1 kHz stereo audio and <name>.truth.json (exact tempo, beats, "
    "downbeats, sections, drops and per-bar genre mixture). --genre takes one genre or a mix "
    "'Progressive House:0.7,Future House:0.3'. --set renders several tracks back to back with "
    "beat-matched crossfades; entries are separated by ',' or, when any entry is itself a mix, by ';' "
    "(e.g. 'Progressive House:0.7,Future House:0.3;Bass House;Bigroom')."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--genre", metavar="SPEC", help="genre or mixture, e.g. 'Bass House' or 'Progressive House:0.7,Future House:0.3'")
    what.add_argument("--set", metavar="LIST", dest="set_spec",
                      help="DJ set: genre specs separated by ',' (or by ';' when an entry is a mixture)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="output audio file (.wav or .flac)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--bpm", type=float, default=None, help="tempo (default: drawn from the genre's range); with --set: one tempo for all tracks")
    length = p.add_mutually_exclusive_group()
    length.add_argument("--bars", type=int, default=None, help="stretch the structure to this many bars")
    length.add_argument("--duration", type=float, default=None, metavar="SECONDS", help="stretch the structure to about this long")
    p.add_argument("--structure", default=None,
                   help="sections as LABEL:BARS,... (default intro:16,build:8,drop:16,breakdown:16,build:8,drop:16,outro:8; "
                        "sets: intro:16,build:8,drop:16,breakdown:8,build:8,drop:16,outro:16)")
    p.add_argument("--xfade-bars", type=int, default=16, help="crossfade length between set tracks in bars (default 16)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16, help="PCM bit depth (default 16)")


def split_set(spec: str) -> list[str]:
    """Split a ``--set`` value into per-track genre specs (';' wins over ',')."""
    sep = ";" if ";" in spec else ","
    entries = [e.strip() for e in spec.split(sep) if e.strip()]
    return entries


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ...core.errors import MainstageError
    from ..synthhouse import render_set, render_track, write_track
    from ..synthhouse.output import FORMATS, remove_stale_outputs, truth_path_for

    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise MainstageError(f"{out}: unsupported audio extension {out.suffix or '(none)'!r}; use .wav or .flac")
    subtype = "PCM_24" if args.bit_depth == 24 else "PCM_16"
    remove_stale_outputs(out, truth_path_for(out))  # what a killed earlier run left behind
    if args.set_spec is not None:
        entries = split_set(args.set_spec)
        if not entries:
            raise MainstageError("--set lists no genres")
        if args.bars is not None or args.duration is not None:
            raise MainstageError("--bars/--duration apply to single tracks; use --structure for set tracks")
        bpms = None if args.bpm is None else [args.bpm] * len(entries)
        res = render_set(entries, seed=args.seed, bpms=bpms, structure=args.structure, xfade_bars=args.xfade_bars)
    else:
        res = render_track(args.genre, seed=args.seed, bpm=args.bpm, bars=args.bars, duration_s=args.duration,
                           structure=args.structure)
    truth_path = write_track(res, out, subtype=subtype)
    t = res.truth
    minutes, seconds = divmod(res.duration_s, 60.0)
    tempi = sorted({s["bpm"] for s in t["tempo"]["segments"]})
    tempo = " -> ".join(f"{b:g}" for b in tempi) if len(tempi) > 1 else f"{tempi[0]:g}"
    label = args.set_spec if args.set_spec is not None else args.genre
    print(f"wrote {out} ({int(minutes)}:{seconds:04.1f}, {tempo} BPM, {len(t['downbeats'])} bars, "
          f"{len(t['drops'])} drops, {label}) and {truth_path}")
    return 0
