"""Benchmark: analysis of a 2-hour 44.1 kHz stereo DJ mix, time and peak memory.

Usage: ``python bench/bench_long_mix.py [--hours 2] [--sets 4] [--no-baseline] [--keep FILE.wav]``

The mix is assembled from ``--sets`` distinct SynthHouse DJ sets (beat-matched tracks with
tempo steps), played one after the other and cycled until it lasts ``--hours``; it is
written block by block to a 16-bit WAV (about 1.3 GB for 2 hours). The analysis then runs
in a fresh process under ``/usr/bin/time -v`` (or ``getrusage`` when that is missing), so
the peak resident memory of the whole analysis, interpreter and libraries included, is
measured. For reference the same run measures the librosa baseline (``librosa.load`` at
22.05 kHz + ``beat_track``), which holds the whole signal in memory.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

OURS = """
import json, sys, time
from mainstage.core.analysis.track import analyze_track
t0 = time.perf_counter()
doc = analyze_track(sys.argv[1], genre=False, use_cache=False)
doc["analysis"]["bench_seconds"] = time.perf_counter() - t0
json.dump(doc, open(sys.argv[2], "w"))
"""

BASELINE = """
import json, sys, time
import librosa, numpy as np
t0 = time.perf_counter()
y, sr = librosa.load(sys.argv[1], sr=22050, mono=True)
tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
json.dump({"seconds": time.perf_counter() - t0, "bpm": float(np.atleast_1d(tempo)[0]),
           "beats": np.asarray(beats).tolist()}, open(sys.argv[2], "w"))
"""


def build_mix(path: Path, hours: float, n_sets: int, seed: int) -> dict:
    """Write the mix to ``path``; return its truth (beats, downbeats, tempo segments, drops)."""
    import soundfile as sf

    from mainstage.core.genres import GENRES
    from mainstage.training.synthhouse import render_set

    sets = []
    for i in range(n_sets):
        genres = [GENRES[(3 * i + k) % len(GENRES)] for k in range(3)]
        res = render_set(genres, seed=seed + i)
        sets.append(res)
        print(f"  set {i + 1}/{n_sets}: {', '.join(genres)} ({res.audio.shape[0] / res.sr / 60:.1f} min)", flush=True)
    sr = sets[0].sr
    target = int(hours * 3600 * sr)
    truth = {"beats": [], "downbeats": [], "segments": [], "drops": []}
    written = 0
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as fh:
        i = 0
        while written < target:
            res = sets[i % n_sets]
            n = min(res.audio.shape[0], target - written)
            fh.write(res.audio[:n])
            off, end = written / sr, (written + n) / sr
            t = res.truth
            truth["beats"] += [b + off for b in t["beats"] if b + off < end]
            truth["downbeats"] += [b + off for b in t["downbeats"] if b + off < end]
            truth["segments"] += [{"start_s": s["start_s"] + off, "end_s": min(s["end_s"] + off, end), "bpm": s["bpm"]}
                                  for s in t["tempo"]["segments"] if s["start_s"] + off < end]
            truth["drops"] += [{"start_s": d["start_s"] + off, "end_s": d["end_s"] + off}
                               for d in t["drops"] if d["end_s"] + off <= end]
            written += n
            i += 1
    truth["duration_s"] = written / sr
    return truth


def measure(script: str, args: list[str]) -> tuple[float, float]:
    """Run ``python -c script args`` in a fresh process; return (wall seconds, peak RSS in MiB)."""
    cmd = [sys.executable, "-c", script, *args]
    gnu_time = shutil.which("time") if os.path.exists("/usr/bin/time") else None
    t0 = time.perf_counter()
    if gnu_time:
        res = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(f"benchmark process failed:\n{res.stderr[-3000:]}")
        kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
        return wall, kb / 1024
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(cmd, check=True)
    wall = time.perf_counter() - t0
    return wall, max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024


def nearest(est, truth):
    est = np.sort(np.asarray(est, dtype=float))
    truth = np.asarray(truth, dtype=float)
    j = np.clip(np.searchsorted(est, truth), 1, est.size - 1)
    return np.minimum(np.abs(truth - est[j - 1]), np.abs(truth - est[j]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=2.0)
    ap.add_argument("--sets", type=int, default=4, help="distinct DJ sets rendered (then cycled)")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--no-baseline", action="store_true", help="skip the librosa reference run")
    ap.add_argument("--keep", metavar="FILE.wav", help="keep the mix at this path (reused if it exists)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        mix = Path(args.keep) if args.keep else Path(tmp) / "mix.wav"
        truth_path = mix.with_suffix(".bench-truth.json")
        if mix.exists() and truth_path.exists():
            truth = json.loads(truth_path.read_text())
        else:
            print(f"rendering a {args.hours:g} h mix from {args.sets} DJ sets ...", flush=True)
            truth = build_mix(mix, args.hours, args.sets, args.seed)
            truth_path.write_text(json.dumps(truth))
        size = mix.stat().st_size / 2 ** 30
        print(f"mix: {truth['duration_s'] / 3600:.2f} h, 44.1 kHz stereo 16-bit WAV, {size:.2f} GiB, "
              f"{len(truth['segments'])} tempo segments, {len(truth['beats'])} beats")

        out = Path(tmp) / "ours.json"
        wall, rss = measure(OURS, [str(mix), str(out)])
        doc = json.loads(out.read_text())
        err = nearest(doc["beats"], truth["beats"])
        print(f"ours:    analysis {doc['analysis']['bench_seconds']:.1f} s (process {wall:.1f} s), "
              f"peak memory {rss:.0f} MiB")
        print(f"         {len(doc['tempo']['segments'])} tempo segments found (truth {len(truth['segments'])}), "
              f"beat error median {np.median(err) * 1000:.1f} ms, {np.mean(err < 0.015) * 100:.1f} % within 15 ms, "
              f"downbeats within 20 ms: {np.mean(nearest(doc['downbeats'], truth['downbeats']) < 0.02) * 100:.1f} %, "
              f"drops {len(doc['drops'])} (truth {len(truth['drops'])})")
        if not args.no_baseline:
            bout = Path(tmp) / "base.json"
            bwall, brss = measure(BASELINE, [str(mix), str(bout)])
            base = json.loads(bout.read_text())
            berr = nearest(base["beats"], truth["beats"])
            print(f"librosa: analysis {base['seconds']:.1f} s (process {bwall:.1f} s), peak memory {brss:.0f} MiB, "
                  f"beat error median {np.median(berr) * 1000:.1f} ms, {np.mean(berr < 0.015) * 100:.1f} % within 15 ms")
            print(f"ratio:   {base['seconds'] / doc['analysis']['bench_seconds']:.1f}x faster, "
                  f"{brss / rss:.1f}x less memory")
    return 0


if __name__ == "__main__":
    sys.exit(main())
