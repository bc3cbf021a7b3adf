"""The ``mainstage`` command line: one console command with subcommands.

Each subcommand lives in its own module exposing ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``. Modules are imported to build the parser, so they keep
heavy imports (numpy is fine; torch, bpy, librosa are not) inside ``run``.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from . import __version__
from .errors import MainstageError

#: (subcommand, module). Training commands live in the ``training`` package.
#: Module names starting with "." are relative to this package.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("synth", ".commands.synth"),
    ("synth-dataset", ".commands.synth_dataset"),
    ("validate", ".commands.validate"),
    ("analyze", ".commands.analyze"),
    ("demo", ".commands.demo"),
    ("render", "mainstage.blender_addon.commands.render"),
    ("train", "mainstage.training.commands.train"),
    ("export", "mainstage.training.commands.export"),
    ("dataset", "mainstage.training.commands.dataset"),
    ("grid", "mainstage.training.commands.grid"),
    ("embed", "mainstage.training.commands.embed"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mainstage",
        description="Mainstage VFX: analyse dance tracks into timelines and drive Blender visuals with them.",
    )
    parser.add_argument("--version", action="version", version=f"mainstage-vfx {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, modname in COMMANDS:
        try:
            mod = importlib.import_module(modname, __package__)
        except ModuleNotFoundError as exc:
            if exc.name and importlib.util.resolve_name(modname, __package__).startswith(exc.name):
                continue  # command not part of this installation
            raise
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
    except KeyboardInterrupt:
        print(f"mainstage {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
