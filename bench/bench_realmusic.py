"""Benchmark: track analysis on real rendered music, side by side with madmom, essentia and librosa.

Usage: ``python bench/bench_realmusic.py [--corpus DIR] [--tracks N] [--anchor-every K]
[--anchors madmom,essentia,librosa]``

The corpus is music rendered by third-party engines with exact ground truth from their
project files (``bench/realmusic/``: arrangements rendered by fluidsynth with a General MIDI
soundfont, Hydrogen, openmpt123 and LMMS); it is built on demand into ``.cache/realmusic/``.
All scores come from :func:`mainstage.training.evaluation.scoring.score_timeline` (mir_eval
metrics plus the project's drop metric), so ours and the anchors are scored by the same
code. Ours analyses every track; the anchors (slow: madmom runs at a few times real time
on two cores) every K-th track of each engine, and the side-by-side tables compare all
systems on exactly those tracks. Anchor results are cached by audio hash; ours is always
recomputed. Speed is measured uncached for every system on a 5-minute file (corpus tracks
joined), in the same run.

Prints the side-by-side tables (115-150 BPM and all), ours on the whole corpus by engine,
speed as ratios to ours measured in this run, and the worst tracks of ours per failure class.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchors import ANCHORS, run_cached  # noqa: E402

#: (column, score key, format); a key missing for a system prints "-".
COLUMNS = (
    ("tempo Acc1", "tempo_acc1", "pct"),
    ("beat F", "beat_f", "f"),
    ("CMLt", "beat_cmlt", "f"),
    ("AMLt", "beat_amlt", "f"),
    ("downbeat F", "downbeat_f", "f"),
    ("bounds F@3s", "boundary_f_3s", "f"),
    ("drops @2 bars", "drops_found_within_2_bars", "drops"),
    ("drop prec.", "drop_precision", "f"),
)


def corpus_tracks(corpus: Path) -> list[tuple[Path, Path]]:
    """``(audio, truth)`` pairs of a built corpus (truth files are timelines naming their audio)."""
    pairs = []
    for truth in sorted(corpus.glob("*.truth.json")):
        if ".tmp." in truth.name:  # a track being built
            continue
        doc = json.loads(truth.read_text())
        audio = truth.parent / doc["track"]["file"]
        if audio.is_file():
            pairs.append((audio, truth))
    return pairs


def ensure_corpus(corpus: Path) -> None:
    """Build (or complete) the corpus with the builder's defaults; finished tracks are skipped."""
    cmd = [sys.executable, str(ROOT / "bench" / "realmusic" / "build_corpus.py"), "--out", str(corpus)]
    print("building the corpus (cached tracks are skipped):", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def engine_of(name: str) -> tuple[str, int]:
    """``("rm", 12)`` for track ``rm012``: the engine prefix and the track index."""
    m = re.fullmatch(r"([a-z]+\d?)(\d{3})", name)
    return (m.group(1), int(m.group(2))) if m else (name, 0)


def anchor_timeline(res: dict, truth: dict) -> dict:
    """An anchor's output as a timeline (what the scoring takes); sections from its boundaries."""
    from mainstage.core.timeline import new_timeline

    dur = float(truth["track"]["duration_s"])
    bounds = sorted(b for b in (res.get("boundaries") or []) if 0.0 <= b < dur)
    sections = [{"label": "intro", "start_s": float(a), "end_s": float(b)}
                for a, b in zip(bounds, bounds[1:] + [dur]) if b > a]
    track = truth["track"]
    return new_timeline(file=track["file"], duration_s=dur, sample_rate=track["sample_rate"], sha256=track["sha256"],
                        bpm=res.get("bpm"), beats=[t for t in res.get("beats") or [] if 0 <= t <= dur],
                        downbeats=[t for t in res.get("downbeats") or [] if 0 <= t <= dur], sections=sections)


def _blank_missing(score: dict, res: dict) -> dict:
    """Scores of what a tool does not estimate (downbeats, boundaries, drops) become None, not 0."""
    if res.get("downbeats") is None:
        score["downbeat_f"] = None
    if res.get("boundaries") is None:
        score["boundary_f_05s"] = score["boundary_f_3s"] = None
    score["drops_found_within_2_bars"] = score["drop_precision"] = None
    return score


def _cell(v, kind) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    if kind == "pct":
        return f"{100 * v:.1f} %"
    if kind == "drops":
        return f"{v[0]} of {v[1]}"
    return f"{v:.3f}"


def summarise(scores: list[dict]) -> dict:
    """Mean of each column over tracks where it is defined; drops as (found, total)."""
    out = {}
    for _col, key, kind in COLUMNS:
        vals = [s[key] for s in scores if s.get(key) is not None]
        if kind == "drops":
            found = sum(s.get("drops_found_within_2_bars") or 0 for s in scores)
            total = sum(s.get("true_drops") or 0 for s in scores)
            out[key] = (found, total) if vals else None
        else:
            out[key] = float(np.mean([float(v) for v in vals])) if vals else None
    return out


def print_table(title: str, rows: dict[str, list[dict]]) -> None:
    print(f"\n{title}")
    widths = [max(len(c), 7) for c, _k, _f in COLUMNS]
    head = f"| {'system':10s} | " + " | ".join(c.rjust(w) for (c, _k, _f), w in zip(COLUMNS, widths)) + " |"
    print(head)
    print("|" + "|".join("-" * len(h) for h in head.split("|")[1:-1]) + "|")
    for system, scores in rows.items():
        s = summarise(scores)
        cells = [_cell(s[k], f).rjust(w) for (_c, k, f), w in zip(COLUMNS, widths)]
        print(f"| {system:10s} | " + " | ".join(cells) + " |")


def five_minute_file(pairs: list[tuple[Path, Path]], out: Path, seconds: float = 300.0) -> Path:
    """A ``seconds``-long WAV made of corpus tracks joined end to end (the speed test file)."""
    import soundfile as sf

    from mainstage.core.atomic import atomic_path

    if out.is_file() and sf.info(str(out)).duration >= seconds:
        return out
    parts, total = [], 0
    for audio, _truth in pairs:
        x, sr = sf.read(str(audio), dtype="float32", always_2d=True)
        parts.append(x)
        total += x.shape[0]
        if total >= seconds * sr:
            break
    with atomic_path(out) as tmp:
        sf.write(str(tmp), np.concatenate(parts)[: int(seconds * sr)], sr, format="WAV", subtype="PCM_16")
    return out


def speed_check(pairs: list[tuple[Path, Path]], anchors: list[str], corpus: Path) -> None:
    """Time ours and every anchor, uncached, on a 5-minute file, in this run."""
    import soundfile as sf

    from mainstage.core.analysis.track import analyze_track

    audio = str(five_minute_file(pairs, corpus / "speed-5min.wav"))
    dur = sf.info(audio).duration
    analyze_track(audio, genre=False, use_cache=False)  # warm-up: imports, OS file cache
    times = {}
    runs = []
    for _ in range(3):  # best of three: the machine may be busy
        t0 = time.perf_counter()
        analyze_track(audio, genre=False, use_cache=False)
        runs.append(time.perf_counter() - t0)
    times["ours"] = min(runs)
    for a in anchors:
        t0 = time.perf_counter()
        ANCHORS[a](audio, None)
        times[a] = time.perf_counter() - t0
    print(f"\nspeed on {Path(audio).name} ({dur:.0f} s; grid, sections, drops; no genres), measured in this run:")
    for name, sec in times.items():
        print(f"  {name:10s} {sec:7.2f} s  {dur / sec:7.1f}x real time  {sec / times['ours']:6.2f}x the time of ours")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=ROOT / ".cache" / "realmusic")
    ap.add_argument("--tracks", type=int, default=None, help="use the first N tracks (default: all)")
    ap.add_argument("--anchor-every", type=int, default=4, metavar="K",
                    help="run the anchors on every K-th track of each engine (default 4; 1 = all)")
    ap.add_argument("--anchors", default="madmom,essentia,librosa")
    ap.add_argument("--no-build", action="store_true", help="use the corpus as it is")
    args = ap.parse_args(argv)

    from mainstage.core.analysis.track import analyze_track
    from mainstage.training.evaluation.scoring import score_timeline

    if not args.no_build:
        ensure_corpus(args.corpus)
    pairs = corpus_tracks(args.corpus)[: args.tracks]
    anchors = [a for a in args.anchors.split(",") if a]
    unknown = set(anchors) - set(ANCHORS)
    if unknown:
        ap.error(f"unknown anchors: {sorted(unknown)} (have {sorted(ANCHORS)})")
    systems = ["ours", *anchors]
    scores: dict[str, list[dict | None]] = {s: [] for s in systems}
    names, bpms, engines, audio_s = [], [], [], 0.0
    cache = args.corpus / "anchors"
    for i, (audio, truth_path) in enumerate(pairs):
        truth = json.loads(truth_path.read_text())
        names.append(audio.stem)
        engine, idx = engine_of(audio.stem)
        engines.append(engine)
        bpms.append(truth["tempo"]["bpm"] or 0.0)
        audio_s += float(truth["track"]["duration_s"])
        est = analyze_track(audio, genre=False, use_cache=False)
        scores["ours"].append(score_timeline(est, truth))
        for a in anchors:
            if idx % args.anchor_every:
                scores[a].append(None)
                continue
            res = run_cached(a, str(audio), truth["track"]["sha256"], cache, n_sections=len(truth["sections"]))
            scores[a].append(_blank_missing(score_timeline(anchor_timeline(res, truth), truth), res))
        print(f"\r[{i + 1}/{len(pairs)}] {audio.name}", end="", flush=True)
    print(f"\n{len(pairs)} tracks, {audio_s / 3600:.2f} h of audio; engines: "
          + ", ".join(f"{e} {engines.count(e)}" for e in dict.fromkeys(engines)))

    side = [i for i in range(len(pairs)) if all(scores[a][i] is not None for a in anchors)]
    in_range = [i for i in side if 115.0 <= bpms[i] <= 150.0]
    print(f"\nside by side: every {args.anchor_every}. track of each engine, all systems on the same tracks")
    print_table(f"tracks at 115-150 BPM ({len(in_range)})", {s: [scores[s][i] for i in in_range] for s in systems})
    print_table(f"all of them ({len(side)})", {s: [scores[s][i] for i in side] for s in systems})
    by_engine = {f"ours {e}": [scores["ours"][i] for i in range(len(pairs)) if engines[i] == e]
                 for e in dict.fromkeys(engines)}
    print_table(f"ours on the whole corpus ({len(pairs)} tracks), by engine",
                {"ours all": scores["ours"], **by_engine})

    speed_check(pairs, anchors, args.corpus)

    print("\nworst tracks of ours:")
    ours = scores["ours"]
    classes = (
        ("beat F lowest", lambda s: s.get("beat_f") if s.get("beat_f") is not None else 1.0),
        ("phase/metre (AMLt - CMLt largest)",
         lambda s: -((s.get("beat_amlt") or 0.0) - (s.get("beat_cmlt") or 0.0))),
        ("downbeat F lowest", lambda s: s.get("downbeat_f") if s.get("downbeat_f") is not None else 1.0),
        ("boundary F@3s lowest", lambda s: s.get("boundary_f_3s") if s.get("boundary_f_3s") is not None else 1.0),
        ("drops missed", lambda s: -((s.get("true_drops") or 0) - (s.get("drops_found_within_2_bars") or 0))),
        ("drop precision lowest", lambda s: s.get("drop_precision") if s.get("drop_precision") is not None else 1.0),
    )
    for title, key in classes:
        order = sorted(range(len(ours)), key=lambda i: key(ours[i]))[:5]
        print(f"  {title}:")
        for i in order:
            s = ours[i]
            print(f"    {names[i]:8s} true {bpms[i]:6.1f} BPM, est {s.get('est_bpm') or 0:6.1f}; beat F "
                  f"{_cell(s.get('beat_f'), 'f')}, CMLt {_cell(s.get('beat_cmlt'), 'f')}, "
                  f"AMLt {_cell(s.get('beat_amlt'), 'f')}, downbeat F {_cell(s.get('downbeat_f'), 'f')}, "
                  f"bounds {_cell(s.get('boundary_f_3s'), 'f')}, drops {s.get('drops_found_within_2_bars')}"
                  f"/{s.get('true_drops')} (precision {_cell(s.get('drop_precision'), 'f')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
