"""Whole-track genre inference: the bundled default model (ONNX Runtime) vs the paper's resnet152 patch loop.

Measures, on a 5-minute SynthHouse track with its exact bar grid:

1. the runtime path ``core.genre.analyze_genres``: log-mel features of the whole
   track + every 4-bar window (stepped one bar) through the default ONNX model;
2. the paper's way: the same windows through the patch-sequence model with a resnet152
   backbone, one backbone call per 224x224 patch (the reference's Python loop), in
   torch on the same CPU. That takes seconds per window, so only a few windows are
   timed and the per-window time is multiplied by the number of windows; the feature
   time of (1) is added, since both need the same log-mel input.

Prints both times and their ratio (measured in the same run). No timed assertions.
Usage: ``python bench/bench_genre_inference.py [--loop-windows 2] [--repeats 3]``
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def five_minute_track():
    """A 5-minute SynthHouse track (audio, downbeats); a toy fallback if SynthHouse is missing."""
    try:
        from mainstage.training.synthhouse import render_track

        res = render_track("Progressive House", seed=11, bpm=128.0, duration_s=300.0)
        return res.audio, np.asarray(res.truth["downbeats"]), "SynthHouse Progressive House, 128 BPM"
    except ImportError:
        sr, bpm = 44100, 128.0
        n = 300 * sr
        t = np.arange(n) / sr
        y = np.sin(2 * np.pi * 55 * t) * np.exp(-((t % (60 / bpm)) * 8)) + 0.05 * np.random.default_rng(0).standard_normal(n)
        return np.stack([y, y], axis=1).astype(np.float32), np.arange(0, 300, 240 / bpm), "toy 128 BPM"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--loop-windows", type=int, default=2, help="windows timed with the resnet152 patch loop")
    ap.add_argument("--repeats", type=int, default=3, help="runs of the default model (best is reported)")
    ap.add_argument("--model", help="ONNX model (default: the bundled one)")
    args = ap.parse_args()

    from mainstage.core.genre import features as F
    from mainstage.core.genre.inference import GenreModel, _frame_plan, analyze_genres, window_grid

    audio, downbeats, what = five_minute_track()
    duration = audio.shape[0] / 44100
    print(f"CPU: {cpu_name()} ({os.cpu_count()} cores); track: {what}, {duration:.0f} s")
    model = GenreModel.load(args.model)
    print(f"default model: {model.path.name} ({model.path.stat().st_size / 1e6:.2f} MB, "
          f"{model.metadata.get('parameters', 0):,} parameters)")

    # (1) runtime path, end to end (features + all windows).
    analyze_genres(audio, 44100, downbeats=downbeats, model=model)  # warm-up (ORT graph init)
    totals, feats = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        y = F.prepare_audio(audio, 44100)
        F.track_mel_db(y)
        feats.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        res = analyze_genres(audio, 44100, downbeats=downbeats, model=model)
        totals.append(time.perf_counter() - t0)
    n_win = len(res["genre_windows"])
    t_default = min(totals)
    t_feat = min(feats)
    print(f"default model, whole track: {t_default:.3f} s for {n_win} windows "
          f"(features alone {t_feat:.3f} s; median of {args.repeats}: {statistics.median(totals):.3f} s)")

    # (2) the reference's resnet152 per-patch loop on a few of the same windows.
    import torch

    from mainstage.training.models.patch import PatchSequenceModel

    torch.manual_seed(0)
    ref = PatchSequenceModel("resnet152").eval()
    starts, ends, _ = window_grid(duration, downbeats)
    first, lengths = _frame_plan(model, starts, ends)
    mel_db = F.track_mel_db(F.prepare_audio(audio, 44100))
    pick = np.linspace(0, n_win - 1, args.loop_windows).round().astype(int)
    x = torch.from_numpy(F.window_features(mel_db, first[pick], int(lengths[pick].min()))[:, None])
    n_patches = PatchSequenceModel.n_patches(x.shape[-1])
    with torch.no_grad():
        ref.forward_patch_loop(x[:1, :, :, :224 + 16])  # warm-up
        t0 = time.perf_counter()
        for i in range(len(pick)):
            ref.forward_patch_loop(x[i:i + 1])
        per_window = (time.perf_counter() - t0) / len(pick)
    t_paper = t_feat + per_window * n_win
    print(f"paper resnet152 patch loop: {per_window:.2f} s per window ({n_patches} patches, timed on "
          f"{len(pick)} windows) x {n_win} windows + features {t_feat:.2f} s = {t_paper:.1f} s (extrapolated)")
    print(f"speed-up of the default model: {t_paper / t_default:.0f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
