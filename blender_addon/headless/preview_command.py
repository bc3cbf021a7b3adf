"""``mainstage preview TIMELINE --audio A --out DIR``: a short preview video, contact sheet and genre plot."""
from __future__ import annotations

import argparse

HELP = "render a short preview of a timeline's show (video, contact sheet, genre plot) with Blender"
DESCRIPTION = (
    "Build the starter stage, apply the shipped looks and render a preview window of the show "
    "(a genre change and a drop, Workbench, 640x360) to DIR/preview.mp4 with the audio, plus "
    "DIR/contact_sheet.png and DIR/genre_timeline.png. This is the visual half of 'mainstage demo'."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("timeline", metavar="TIMELINE", help="a timeline .json")
    p.add_argument("--audio", required=True, metavar="FILE", help="the timeline's audio file")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--seconds", type=float, default=24.0, metavar="S", help="preview length (default 24 s)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..core.errors import InputFileError
    from .renderer import render_demo, require_bpy

    if not Path(args.audio).is_file():
        raise InputFileError(args.audio, "no such audio file")
    require_bpy()
    shown = render_demo(args.timeline, args.audio, args.out, seconds=args.seconds)
    a, b = shown["window_s"]
    print(f"      applied {shown['apply']['keys']} keyframes on {shown['apply']['fcurves']} F-curves; "
          f"rendered {a:.0f}-{b:.0f} s of the mix in {shown['render_s']:.0f} s")
    for name in ("video", "contact_sheet", "genre_plot"):
        print(f"      wrote {shown[name]}")
    return 0
