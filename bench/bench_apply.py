"""Benchmark: applying the genre looks in Blender (bpy 5.0) to a 5-minute track and a 1-hour mix.

    .venv/bin/python bench/bench_apply.py

Each timeline (a synthetic DJ set through four genres with drops, training/synthhouse/timelines.py)
is stored in a scene with the starter stage, then *Apply Looks* (``bpy.ops.msvfx.apply_show``:
read + validate the stored timeline, plan with numpy, replace the previous keys, write them
with ``foreach_set``) is timed. Baseline, measured in the same run: the same keys written the
naive way (set the property, ``keyframe_insert`` per key) for a sample of keys, extrapolated to
the full count.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

import bpy  # noqa: E402
import numpy as np  # noqa: E402
from mainstage.training.synthhouse.timelines import SET_PLAN, synthetic_set  # noqa: E402

import mainstage.blender_addon as addon  # noqa: E402


def scene_with(doc):
    bpy.ops.wm.read_factory_settings(use_empty=True)
    if not hasattr(bpy.types.Scene, "msvfx"):
        addon.register()
    from mainstage.blender_addon.scene import presets_io, stage, sync
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = 30, 1.0
    sync.apply_timeline(scene, doc, None)
    presets_io.reset_to_defaults(scene.msvfx)
    stage.build_stage(scene)
    return scene


def time_apply(doc, repeats=3) -> tuple[float, int]:
    scene_with(doc)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        assert bpy.ops.msvfx.apply_show() == {"FINISHED"}
        best = min(best, time.perf_counter() - t0)
    from mainstage.blender_addon.scene import keys
    n = sum(len(f.keyframe_points) for id_ in keys.animated_ids()
            for bag in id_.animation_data.action.layers[0].strips[0].channelbags for f in bag.fcurves)
    return best, n


def naive_rate(sample: int = 3000) -> float:
    """Seconds per key with keyframe_insert (light energy of one light, on distinct frames)."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    light = bpy.data.lights.new("naive", "SPOT")
    values = np.random.default_rng(0).uniform(100, 2000, sample)
    t0 = time.perf_counter()
    for i, v in enumerate(values):
        light.energy = float(v)
        light.keyframe_insert("energy", frame=float(i * 3))
    return (time.perf_counter() - t0) / sample


def main() -> int:
    five = synthetic_set(bpm=121.6, plan=SET_PLAN + SET_PLAN[:5])
    hour = synthetic_set(bpm=124.8, repeat=18)
    per_key = naive_rate()
    print(f"baseline keyframe_insert: {per_key * 1e6:.1f} us/key (3000-key sample)")
    for name, doc in (("5-minute track", five), ("1-hour mix", hour)):
        dur = doc["track"]["duration_s"]
        t, n = time_apply(doc, repeats=3 if dur < 600 else 1)
        naive = per_key * n
        print(f"{name} ({dur / 60:.1f} min, {len(doc['beats'])} beats): Apply Looks {t:.2f} s for {n} keys; "
              f"naive keyframe_insert ~{naive:.1f} s (extrapolated) -> {naive / t:.0f}x faster; "
              f"target {'2' if dur < 600 else '20'} s: {'OK' if t < (2 if dur < 600 else 20) else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
