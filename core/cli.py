"""The ``mainstage`` command line: one console command with subcommands.

Subcommands are registered by the packages that provide them, as entry points of the
group ``mainstage.commands`` (``pyproject.toml``): ``analyze`` and ``validate`` come from
core, the training and Blender commands from their own packages, so core names neither.
Each entry point is a module exposing ``HELP``, ``add_arguments(parser)`` and
``run(args) -> int``. Modules are imported to build the parser, so they keep heavy
imports (numpy is fine; torch, bpy, librosa are not) inside ``run``.
"""
from __future__ import annotations

import argparse
import sys
from importlib import metadata
from types import ModuleType

from . import __version__
from .errors import FileSystemError, MainstageError

ENTRY_POINT_GROUP = "mainstage.commands"


def commands() -> dict[str, metadata.EntryPoint]:
    """The registered subcommands, ``{name: entry point}`` sorted by name."""
    eps = {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    return dict(sorted(eps.items()))


def command_module(name: str) -> ModuleType | None:
    """The module of subcommand ``name``, or None when no installed package provides it."""
    ep = commands().get(name)
    if ep is None:
        return None
    try:
        return ep.load()
    except ModuleNotFoundError as exc:
        if exc.name and ep.value.startswith(exc.name):
            return None  # registered, but its package is not part of this installation
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mainstage",
        description="Mainstage VFX: analyse dance tracks into timelines and drive Blender visuals with them.",
    )
    parser.add_argument("--version", action="version", version=f"mainstage-vfx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in commands():
        mod = command_module(name)
        if mod is None:
            continue
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mainstage`` console script. Returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except MainstageError as exc:
        print(f"mainstage {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # permission denied, no space left, ...: the user's environment, not a bug
        print(f"mainstage {args.command}: error: {FileSystemError.from_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"mainstage {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
