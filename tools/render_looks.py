"""Render the starter show the way a viewer sees it, and measure the stills.

Usage::

    python tools/render_looks.py [--out docs/img/looks] [--engine CYCLES|EEVEE|WORKBENCH] [--size 480x270]
                                 [--samples 16] [--tracks DIR] [--real] [--only NAME]

For each track (SynthHouse "Bass House" and "Deep House", seed 3, synthesised and analysed
with ``mainstage synth`` / ``mainstage analyze`` into ``--tracks``; with ``--real`` also a
real-music clip from ``tests/data/realmusic``), this starts from Blender's factory scene
(default cube, light and camera), loads the timeline, resets the shipped looks, clicks
Build Stage (the stage's own scene) and Apply Looks, then renders stills at a build, a drop
and a breakdown and prints per still:

* ``p99``: 99th percentile of the luminance (Rec. 709 weights on the PNG's display values);
* ``std``: the luminance's standard deviation (contrast);
* ``clip``: fraction of pixels with any channel >= 0.999;
* ``sat``: mean HSV saturation of the pixels brighter than 0.1 (value).

Needs the ``bpy`` module (``pip install 'mainstage-vfx[blender]'``). Stills are PNGs
``<track>_<moment>.png`` in ``--out``; ``--table`` prints the Markdown table for docs/looks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYNTH = (("bass_house", "Bass House"), ("deep_house", "Deep House"))
REAL_CLIP = "swing-build"


def _mainstage() -> str:
    exe = Path(sys.executable).with_name("mainstage")
    return str(exe) if exe.exists() else "mainstage"


def make_tracks(folder: Path, real: bool) -> list[tuple[str, Path]]:
    """(name, timeline path) of the tracks, synthesised and analysed when missing."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for slug, genre in SYNTH:
        wav, tl = folder / f"{slug}.wav", folder / f"{slug}.json"
        if not tl.exists():
            subprocess.run([_mainstage(), "synth", "--genre", genre, "--seed", "3", "-o", str(wav)], check=True)
            subprocess.run([_mainstage(), "analyze", str(wav), "-o", str(tl)], check=True)
        out.append((slug, tl))
    if real:
        src = ROOT / "tests" / "data" / "realmusic" / f"{REAL_CLIP}.ogg"
        tl = folder / f"real_{REAL_CLIP}.json"
        if not tl.exists():
            subprocess.run([_mainstage(), "analyze", str(src), "-o", str(tl)], check=True)
        out.append((f"real_{REAL_CLIP}", tl))
    return out


def moments(doc: dict) -> dict[str, float]:
    """Times (s) of a build, a drop and a breakdown: the middle of the first build, four bars
    (and a quarter beat) into the first drop, the middle of the first breakdown."""
    secs = doc.get("sections") or []
    bar = 4 * 60.0 / float(doc["tempo"]["bpm"])
    out = {}
    for label, key in (("build", "build"), ("drop", "drop"), ("breakdown", "breakdown")):
        s = next((s for s in secs if s["label"] == label), None)
        if s is None:
            continue
        if label == "drop":
            out[key] = min(s["start_s"] + 4 * bar + bar / 16, 0.5 * (s["start_s"] + s["end_s"]))
        else:
            out[key] = 0.5 * (s["start_s"] + s["end_s"]) + bar / 16
    if "drop" not in out and doc.get("drops"):
        d = doc["drops"][0]
        out["drop"] = min(d["start_s"] + 4 * bar + bar / 16, 0.5 * (d["start_s"] + d["end_s"]))
    return out


def image_stats(pixels: np.ndarray) -> dict[str, float]:
    """p99 / std of luminance, clipped fraction and mean saturation of an (h, w, 3) image in 0..1."""
    rgb = np.clip(pixels[..., :3], 0.0, 1.0)
    lum = rgb @ np.array([0.2126, 0.7152, 0.0722])
    mx, mn = rgb.max(axis=-1), rgb.min(axis=-1)
    sat = np.where(mx > 1e-6, (mx - mn) / np.maximum(mx, 1e-6), 0.0)
    lit = mx > 0.1
    return {"p99": float(np.percentile(lum, 99)), "std": float(lum.std()),
            "clip": float((rgb >= 0.999).any(axis=-1).mean()),
            "sat": float(sat[lit].mean()) if lit.any() else 0.0}


def read_png(path: str) -> np.ndarray:
    """An image file's pixels (h, w, 4) as floats, through Blender's image loader."""
    import bpy
    img = bpy.data.images.load(path, check_existing=False)
    w, h = img.size
    px = np.empty(w * h * 4, dtype=np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    return px.reshape(h, w, 4)[::-1]


def render_track(name: str, timeline: Path, out: Path, engine: str, size: tuple[int, int], samples: int) -> list[dict]:
    """Factory scene -> timeline -> Build Stage -> Apply -> stills; the stats of each still."""
    import bpy
    from mainstage.blender_addon.headless.renderer import _register
    bpy.ops.wm.read_factory_settings(use_empty=False)  # the default cube, light and camera
    _register()
    bpy.ops.msvfx.load_timeline(filepath=str(timeline))
    bpy.ops.msvfx.presets_reset()
    bpy.ops.msvfx.build_stage()
    scene = bpy.context.scene
    assert scene.name.startswith("Mainstage Stage"), scene.name
    bpy.ops.msvfx.apply_show()
    from mainstage.blender_addon.scene import render as R
    r = scene.render
    r.engine = R.ENGINES[engine]
    r.resolution_x, r.resolution_y, r.resolution_percentage = size[0], size[1], 100
    if engine == "CYCLES":
        scene.cycles.samples = samples
        scene.cycles.use_denoising = True
    elif engine == "EEVEE":
        scene.eevee.taa_render_samples = samples
    R.set_glow(scene, True)
    doc = json.loads(scene.msvfx.timeline_text.as_string())
    fps = r.fps / r.fps_base
    rows = []
    for key, t in moments(doc).items():
        path = str(out / f"{name}_{key}.png")
        frame = int(round(scene.frame_start + t * fps))
        t1 = time.perf_counter()
        R.render_still(scene, frame, path)
        stats = image_stats(read_png(path))
        rows.append({"track": name, "moment": key, "t": round(t, 2), "frame": frame, "file": os.path.basename(path),
                     "render_s": round(time.perf_counter() - t1, 1), **{k: round(v, 3) for k, v in stats.items()}})
        print(f"{name:22s} {key:9s} t={t:6.1f}s  p99 {stats['p99']:.2f}  std {stats['std']:.3f}  "
              f"clip {stats['clip']:.2%}  sat {stats['sat']:.0%}  ({rows[-1]['render_s']} s)", flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    """The stats as a Markdown table."""
    lines = ["| track | moment | luminance p99 | contrast (std) | clipped | mean saturation | still |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['track']} | {r['moment']} | {r['p99']:.2f} | {r['std']:.3f} | {r['clip']:.2%} | "
                     f"{r['sat']:.0%} | ![](img/looks/{r['file']}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "looks"))
    ap.add_argument("--tracks", default=str(ROOT / ".cache" / "render_looks"))
    ap.add_argument("--engine", default="CYCLES", choices=("CYCLES", "EEVEE", "WORKBENCH"))
    ap.add_argument("--size", default="480x270")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--real", action="store_true", help="also a real-music clip (tests/data/realmusic)")
    ap.add_argument("--only", default=None, help="render only the track with this name")
    ap.add_argument("--table", action="store_true", help="print the Markdown table at the end")
    ap.add_argument("--json", default=None, help="write the stats to this JSON file")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    size = tuple(int(x) for x in args.size.lower().split("x"))
    rows = []
    for name, tl in make_tracks(Path(args.tracks), args.real):
        if args.only and name != args.only:
            continue
        rows += render_track(name, tl, out, args.engine, size, args.samples)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    if args.table:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
