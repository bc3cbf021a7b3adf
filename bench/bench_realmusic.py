"""Benchmark: track analysis on real rendered music, side by side with madmom, essentia and librosa.

Usage: ``python bench/bench_realmusic.py [--corpus DIR] [--tracks N] [--anchors madmom,essentia,librosa]``

The corpus is music rendered by a third-party engine with exact ground truth from its
project files (``bench/realmusic/``: arrangements as MIDI files rendered by fluidsynth with
General MIDI soundfonts); it is built on demand into ``.cache/realmusic/``. Every system
analyses the same files in this run; all scores come from
:func:`mainstage.training.evaluation.scoring.score_timeline` (mir_eval metrics plus the
project's drop metric), so ours and the anchors are scored by the same code. Anchor
results are cached by audio hash (they are slow); ours is always recomputed. Speed is
measured uncached for every system on the longest track, in the same run.

Prints the table for the tracks at 115-150 BPM and for all tracks, speed as ratios to
ours measured in this run, and the worst tracks of ours per failure class.
"""
from __future__ import annotations

import argparse
import json
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
    for truth in sorted(corpus.rglob("*.truth.json")):
        doc = json.loads(truth.read_text())
        audio = truth.parent / doc["track"]["file"]
        if audio.is_file():
            pairs.append((audio, truth))
    return pairs


def ensure_corpus(corpus: Path, tracks: int | None) -> None:
    have = len(corpus_tracks(corpus))
    if have and (tracks is None or have >= tracks):
        return
    cmd = [sys.executable, str(ROOT / "bench" / "realmusic" / "build_corpus.py"), "--out", str(corpus)]
    if tracks:
        cmd += ["--tracks", str(tracks)]
    print("building the corpus:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


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


def speed_check(pairs: list[tuple[Path, Path]], anchors: list[str]) -> None:
    """Time ours and every anchor, uncached, on the longest corpus track, in this run."""
    from mainstage.core.analysis.track import analyze_track

    durations = [json.loads(t.read_text())["track"]["duration_s"] for _a, t in pairs]
    i = int(np.argmax(durations))
    audio, dur = str(pairs[i][0]), float(durations[i])
    analyze_track(audio, genre=False, use_cache=False)  # warm-up: imports, OS file cache
    times = {}
    t0 = time.perf_counter()
    analyze_track(audio, genre=False, use_cache=False)
    times["ours"] = time.perf_counter() - t0
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
    ap.add_argument("--anchors", default="madmom,essentia,librosa")
    args = ap.parse_args(argv)

    from mainstage.core.analysis.track import analyze_track
    from mainstage.training.evaluation.scoring import score_timeline

    ensure_corpus(args.corpus, args.tracks)
    pairs = corpus_tracks(args.corpus)[: args.tracks]
    anchors = [a for a in args.anchors.split(",") if a]
    unknown = set(anchors) - set(ANCHORS)
    if unknown:
        ap.error(f"unknown anchors: {sorted(unknown)} (have {sorted(ANCHORS)})")
    systems = ["ours", *anchors]
    scores: dict[str, list[dict]] = {s: [] for s in systems}
    names, bpms, audio_s = [], [], 0.0
    cache = args.corpus / "anchors"
    for i, (audio, truth_path) in enumerate(pairs):
        truth = json.loads(truth_path.read_text())
        names.append(audio.stem)
        bpms.append(truth["tempo"]["bpm"] or 0.0)
        audio_s += float(truth["track"]["duration_s"])
        est = analyze_track(audio, genre=False, use_cache=False)
        scores["ours"].append(score_timeline(est, truth))
        for a in anchors:
            res = run_cached(a, str(audio), truth["track"]["sha256"], cache, n_sections=len(truth["sections"]))
            scores[a].append(_blank_missing(score_timeline(anchor_timeline(res, truth), truth), res))
        print(f"\r[{i + 1}/{len(pairs)}] {audio.name}", end="", flush=True)
    print(f"\n{len(pairs)} tracks, {audio_s / 3600:.2f} h of audio")

    in_range = [i for i, b in enumerate(bpms) if 115.0 <= b <= 150.0]
    print_table(f"tracks at 115-150 BPM ({len(in_range)})", {s: [scores[s][i] for i in in_range] for s in systems})
    print_table(f"all tracks ({len(pairs)})", scores)

    speed_check(pairs, anchors)

    print("\nworst tracks of ours:")
    ours = scores["ours"]
    classes = (
        ("beat F lowest", lambda s: s.get("beat_f") if s.get("beat_f") is not None else 1.0),
        ("phase/metre (AMLt - CMLt largest)",
         lambda s: -((s.get("beat_amlt") or 0.0) - (s.get("beat_cmlt") or 0.0))),
        ("downbeat F lowest", lambda s: s.get("downbeat_f") if s.get("downbeat_f") is not None else 1.0),
        ("boundary F@3s lowest", lambda s: s.get("boundary_f_3s") if s.get("boundary_f_3s") is not None else 1.0),
    )
    for title, key in classes:
        order = sorted(range(len(ours)), key=lambda i: key(ours[i]))[:5]
        print(f"  {title}:")
        for i in order:
            s = ours[i]
            print(f"    {names[i]:32s} true {bpms[i]:6.1f} BPM, est {s.get('est_bpm') or 0:6.1f}; beat F "
                  f"{_cell(s.get('beat_f'), 'f')}, CMLt {_cell(s.get('beat_cmlt'), 'f')}, "
                  f"AMLt {_cell(s.get('beat_amlt'), 'f')}, downbeat F {_cell(s.get('downbeat_f'), 'f')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
