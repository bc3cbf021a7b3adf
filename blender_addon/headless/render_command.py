"""``mainstage render TRACK_OR_TIMELINE -o out.mp4``: render the show to video with the track's audio."""
from __future__ import annotations

import argparse

HELP = "render the genre-reactive show of a track or timeline to an MP4 (H.264 + AAC audio) with Blender"
DESCRIPTION = (
    "Render a track's show with Blender (the bpy module): analyze the track (or read a timeline "
    "JSON, whose audio is its track.file relative to the timeline's folder), build the starter "
    "stage (or use --blend FILE and its role collections), apply the looks of the genre mapping "
    "and write an H.264 MP4 with the track's audio muxed in sync."
)


def _resolution(text: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1280x720)") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r}: width and height must be 16..8192")
    return w - w % 2, h - h % 2  # H.264 needs even sizes


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", metavar="TRACK_OR_TIMELINE", help="an audio file, or a timeline .json")
    p.add_argument("-o", "--out", required=True, metavar="OUT.mp4", help="video file to write")
    p.add_argument("--mapping", metavar="FILE", help="genre mapping JSON (default: the shipped mapping)")
    p.add_argument("--engine", choices=("eevee", "workbench", "cycles"), default="eevee",
                   help="render engine (default eevee; workbench is a fast preview)")
    p.add_argument("--resolution", type=_resolution, default=(1280, 720), metavar="WxH", help="default 1280x720")
    p.add_argument("--from", dest="t_from", type=float, metavar="S", help="start time in seconds")
    p.add_argument("--to", dest="t_to", type=float, metavar="S", help="end time in seconds")
    scene = p.add_mutually_exclusive_group()
    scene.add_argument("--stage", action="store_true", help="build the starter stage (the default)")
    scene.add_argument("--blend", metavar="FILE", help="use this .blend's role collections instead of the stage")
    p.add_argument("--fps", type=float, metavar="N", help="frame rate (default: the scene's, 24; 29.97 allowed)")
    p.add_argument("--no-glow", action="store_true",
                   help="no bloom compositor (a --blend with its own compositor keeps it anyway)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--allow-outside-paths", action="store_true",
                   help="accept a timeline whose track.file is absolute or outside its folder (the hash is still checked)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..core.errors import InputFileError, MainstageError
    from ..core.timeline import check_track_audio, load_timeline

    src = Path(args.input)
    if not src.exists():
        raise InputFileError(str(src), "no such file")
    if args.t_from is not None and args.t_to is not None and args.t_to <= args.t_from:
        raise MainstageError(f"--to ({args.t_to}) must be after --from ({args.t_from})")
    if args.fps is not None and not (1.0 <= args.fps <= 240.0):
        raise MainstageError(f"--fps {args.fps}: must be between 1 and 240")
    if args.blend and not Path(args.blend).is_file():
        raise InputFileError(args.blend, "no such .blend file")
    if not args.out.lower().endswith(".mp4"):
        raise MainstageError(f"{args.out}: the output must be an .mp4 file")
    from ..core.atomic import resolve_target
    resolve_target(args.out)  # a directory, FIFO or device at -o: refused in one line, never replaced
    mapping = None
    if args.mapping:
        from ..core.presets import load_mapping, shipped_looks
        mapping = load_mapping(args.mapping, known_presets=shipped_looks())
    if src.suffix.lower() == ".json":
        doc = load_timeline(src)
        audio = check_track_audio(doc, src, allow_outside=args.allow_outside_paths)  # inside its folder, same sha256
    else:
        from ..core.analysis.track import analyze_track
        if not args.quiet:
            print(f"analyzing {src} ...", flush=True)
        doc = analyze_track(src)
        audio = src
    dur = float(doc["track"]["duration_s"])
    for name, t in (("--from", args.t_from), ("--to", args.t_to)):
        if t is not None and not (0.0 <= t <= dur):
            raise MainstageError(f"{name} {t}: outside the track (0..{dur:.1f} s)")
    from .renderer import render_show, require_bpy
    require_bpy()
    res = render_show(doc, str(audio), args.out, mapping=mapping, engine=args.engine.upper(),
                      resolution=args.resolution, t_from=args.t_from, t_to=args.t_to,
                      blend=args.blend, fps=args.fps, progress=not args.quiet,
                      glow=not args.no_glow)
    a = res["apply"]
    print(f"wrote {res['path']}: {res['frames']} frames at {res['fps']:.3f} fps, "
          f"{a['keys']} keys from {len(a['looks'])} looks, rendered in {res['render_s']:.1f} s")
    roles = ", ".join(f"{k} {v}" for k, v in a["roles"].items() if v)
    print(f"scene: {'starter stage' if a.get('stage_built') else args.blend or 'existing stage'}; "
          f"roles: {roles or 'none'}")
    return 0
