"""Benchmark: our track analysis against a librosa baseline on the same 5-minute track.

Usage: ``python bench/bench_analysis.py [--genre "Bass House"] [--seed 7] [--repeat 3]``

The track is a 5-minute 44.1 kHz stereo SynthHouse render written to WAV (exact truth).
Both pipelines start from the file and are timed in this run, alternately (so both see
the same machine load) ``--repeat`` times after a warm-up (numba's JIT in librosa and the
OS file cache are excluded for both); best and median times are printed:

* ours: ``mainstage.core.analysis.track.analyze_track`` (decode, sha256, grid, downbeats,
  phrases, drops, sections, timeline validation), no cache;
* baseline: ``librosa.load(sr=22050)`` + ``librosa.beat.beat_track`` + the paper's RMS drop
  rule (``librosa.feature.rms``, max- then mean-smoothing, 2 dB, 15 s).

It prints seconds, the speed ratio and the accuracy of both (tempo error, median beat
error against the truth beats, drops found within one bar), then the same tempo check
on real recorded loops (Debian's sonic-pi-samples) tiled to 60 s.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def baseline(path: str):
    """librosa pipeline: load at 22.05 kHz, beat_track, RMS drop rule. Returns (bpm, beats, drops)."""
    import librosa
    from scipy.ndimage import maximum_filter1d, uniform_filter1d

    y, sr = librosa.load(path, sr=22050, mono=True)
    tempo, beats = librosa.beat.beat_track(y=y, sr=sr, units="time")
    skip = int(15 * sr)
    rms = librosa.feature.rms(y=y[skip:], frame_length=8192, hop_length=512)[0]
    db = librosa.amplitude_to_db(rms, ref=np.max)
    sm = uniform_filter1d(maximum_filter1d(db, 128), 128)
    mask = sm >= sm.max() - 2.0
    d = np.diff(np.concatenate([[0], mask.astype(int), [0]]))
    hop = 512 / sr
    drops = [(15 + a * hop, 15 + b * hop) for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0])
             if (b - a) * hop >= 15.0]
    return float(np.atleast_1d(tempo)[0]), np.asarray(beats), drops


def ours(path: str):
    from mainstage.core.analysis.track import analyze_track

    doc = analyze_track(path, genre=False, use_cache=False)
    return doc["tempo"]["bpm"], np.asarray(doc["beats"]), [(d["start_s"], d["end_s"]) for d in doc["drops"]]


def timed_pair(path, repeat):
    """Time ours and the baseline alternately (same machine load for both) after a warm-up.

    Returns ((our times, our result), (baseline times, baseline result)).
    """
    res_o, res_b = ours(path), baseline(path)  # warm-up: imports, numba JIT, file cache
    t_o, t_b = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res_o = ours(path)
        t_o.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res_b = baseline(path)
        t_b.append(time.perf_counter() - t0)
    return (np.array(t_o), res_o), (np.array(t_b), res_b)


def nearest(est, truth):
    est = np.sort(np.asarray(est, dtype=float))
    if est.size == 0:
        return np.full(len(truth), np.inf)
    j = np.clip(np.searchsorted(est, truth), 1, est.size - 1)
    return np.minimum(np.abs(truth - est[j - 1]), np.abs(truth - est[j]))


def drops_within_bar(est, truth_drops, bar):
    hit = 0
    for t in truth_drops:
        if any(abs(a - t["start_s"]) < bar and abs(b - t["end_s"]) < bar for a, b in est):
            hit += 1
    return hit


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genre", default="Bass House")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)

    from mainstage.training.synthhouse import render_track, write_track

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "five_minutes.wav")
        res = render_track(args.genre, seed=args.seed, duration_s=300)
        write_track(res, path)
        truth = res.truth
        dur = truth["track"]["duration_s"]
        print(f"track: SynthHouse {args.genre!r} seed {args.seed}, {dur:.1f} s, 44.1 kHz stereo WAV, "
              f"{truth['tempo']['bpm']:.2f} BPM, {len(truth['drops'])} drops")
        (times_o, (bpm_o, beats_o, drops_o)), (times_b, (bpm_b, beats_b, drops_b)) = timed_pair(path, args.repeat)
        t_ours, t_base = float(times_o.min()), float(times_b.min())

    tb = np.asarray(truth["beats"])
    bar = 240.0 / truth["tempo"]["bpm"]
    print(f"{'':10s} {'best s':>8s} {'tempo err':>10s} {'beat err med':>13s} {'beats<15ms':>10s} {'drops':>6s}")
    for name, t, bpm, beats, drops in (("ours", t_ours, bpm_o, beats_o, drops_o),
                                       ("librosa", t_base, bpm_b, beats_b, drops_b)):
        e = nearest(beats, tb)
        print(f"{name:10s} {t:8.3f} {bpm - truth['tempo']['bpm']:+10.3f} {np.median(e) * 1000:11.1f}ms "
              f"{np.mean(e < 0.015) * 100:9.1f}% {drops_within_bar(drops, truth['drops'], bar)}/{len(truth['drops'])}")
    print(f"speed (best of {args.repeat}): ours {t_ours:.3f} s vs librosa {t_base:.3f} s -> "
          f"{t_base / t_ours:.1f}x faster ({dur / t_ours:.0f}x real time)")
    print(f"speed (median):    ours {np.median(times_o):.3f} s vs librosa {np.median(times_b):.3f} s -> "
          f"{np.median(times_b) / np.median(times_o):.1f}x faster")

    loops = {"loop_garzul": 16, "loop_mika": 16, "loop_breakbeat": 4, "loop_amen_full": 16}
    root = Path("/usr/share/sonic-pi/samples")
    if not root.is_dir():
        print("sonic-pi-samples not installed: real-loop comparison skipped (apt-get install sonic-pi-samples)")
        return 0
    import soundfile as sf

    print("real loops tiled to 60 s (true tempo from the loop length):")
    print(f"{'loop':16s} {'true':>9s} {'ours':>9s} {'librosa':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        for name, n_beats in loops.items():
            x, sr = sf.read(root / f"{name}.flac", dtype="float32")
            true = 60.0 * n_beats * sr / x.shape[0]
            y = np.tile(x, (int(np.ceil(60 * sr / x.shape[0])), 1))
            p = str(Path(tmp) / f"{name}.wav")
            sf.write(p, y, sr)
            print(f"{name:16s} {true:9.3f} {ours(p)[0]:9.3f} {baseline(p)[0]:9.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
