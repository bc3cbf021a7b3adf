"""Benchmark: SynthHouse render speed of 3-minute tracks (single process).

Prints, per genre, the render time (wall and process CPU) of a 180 s track, its real-time factor (audio
seconds per render second; the baseline "real time" is the track's own duration),
and the speed-up over a naive renderer measured in the same run: the same engine
with every loop and note cache disabled, so each bar is synthesised note by note
from scratch (measured on NAIVE_BARS bars spread over the track, scaled to its length).

Usage: python bench/bench_synth.py [--genres all|NAME,...] [--seconds 180] [--naive-bars 16]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from mainstage.core.genres import GENRES
from mainstage.training.synthhouse.engine import Engine
from mainstage.training.synthhouse.plan import bar_times, plan_track


def render_seconds(params: dict, reuse: bool = True) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) to render ``params``."""
    t0, c0 = time.perf_counter(), time.process_time()
    Engine(params, reuse=reuse).render()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--genres", default="all")
    ap.add_argument("--seconds", type=float, default=180.0)
    ap.add_argument("--naive-bars", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    genres = GENRES if args.genres == "all" else [g.strip() for g in args.genres.split(",")]

    # Warm-up (imports, wavetable caches) so that the first genre is not penalised.
    Engine(plan_track("Deep House", seed=0, bars=8)).render()

    print(f"{'genre':18s} {'audio s':>8s} {'render s':>9s} {'cpu s':>6s} {'x realtime':>11s} {'naive s (est)':>14s} {'speed-up':>9s}")
    rows = []
    cpus = []
    for g in genres:
        params = plan_track(g, seed=args.seed, duration_s=args.seconds)
        dur = float(bar_times(params)[-1])
        t, cpu = render_seconds(params)
        cpus.append(cpu)
        # Naive baseline on bars spread evenly over the same track, scaled per bar.
        step = max(1, len(params["bars"]) // args.naive_bars)
        head = dict(params, bars=params["bars"][::step][: args.naive_bars])
        t_naive = render_seconds(head, reuse=False)[0] * len(params["bars"]) / len(head["bars"])
        rows.append((dur, t, t_naive))
        print(f"{g:18s} {dur:8.1f} {t:9.2f} {cpu:6.2f} {dur / t:11.1f} {t_naive:14.1f} {t_naive / t:9.1f}")
    dur, t, tn = (np.array(c) for c in zip(*rows))
    print(f"{'mean':18s} {dur.mean():8.1f} {t.mean():9.2f} {np.mean(cpus):6.2f} {np.mean(dur / t):11.1f} {tn.mean():14.1f} {np.mean(tn / t):9.1f}")
    print(f"slowest genre: {t.max():.2f} s wall ({max(cpus):.2f} s CPU) for {dur[np.argmax(t)]:.0f} s of audio "
          "(target < 3 s for a 3-minute track; CPU time is what an idle machine's wall time would be)")


if __name__ == "__main__":
    main()
