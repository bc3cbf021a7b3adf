"""Command-line options of :class:`~.config.TrainConfig` fields, made from the fields' metadata.

``mainstage train`` offers (nearly) every field; ``mainstage grid`` passes some of them
to every cell. Each option stores into the field's own name, so :func:`config_values`
reads the parsed values back by field name.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from .config import TrainConfig


def option_fields() -> list[dataclasses.Field]:
    """The :class:`TrainConfig` fields that have a command-line option, in field order."""
    return [f for f in dataclasses.fields(TrainConfig) if "option" in f.metadata]


def _value_type(hint):
    """``int`` of ``int | None`` and the like; None for ``str`` (argparse's default)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    return None if hint is str else hint


def add_config_options(parser, names=None, *, exclude=()) -> None:
    """Add the options of :class:`TrainConfig` fields to an ``argparse`` parser or group.

    Parameters
    ----------
    parser : argparse.ArgumentParser or argument group
    names : iterable of str, optional
        Fields to add, in this order (default: every field with an option).
    exclude : iterable of str
        Fields to leave out.

    Notes
    -----
    A boolean field that is off by default becomes a switch (``--chroma``), one that is
    on by default a switch that turns it off (``--no-augment``); a field without a
    default is a required option.
    """
    by_name = {f.name: f for f in option_fields()}
    hints = typing.get_type_hints(TrainConfig)
    for name in (list(by_name) if names is None else list(names)):
        if name in exclude:
            continue
        f = by_name[name]
        spec = dict(f.metadata["option"])
        flags = [spec.pop("short")] if "short" in spec else []
        flag = spec.pop("flag", None)
        kw: dict = {"dest": f.name, **spec}
        if hints[f.name] is bool:
            on = f.default is True
            flags.append(flag or ("--no-" if on else "--") + f.name.replace("_", "-"))
            kw["action"] = "store_false" if on else "store_true"
        else:
            flags.append(flag or "--" + f.name.replace("_", "-"))
            if f.default is dataclasses.MISSING:
                kw["required"] = True
            else:
                kw["default"] = f.default
            value_type = kw.pop("type", None) or _value_type(hints[f.name])
            if value_type is not None:
                kw["type"] = value_type
        parser.add_argument(*flags, **kw)


def config_values(args: argparse.Namespace, names=None, *, exclude=()) -> dict:
    """The values of the options :func:`add_config_options` added, by field name (lists as tuples)."""
    chosen = [f.name for f in option_fields()] if names is None else list(names)
    values = {name: getattr(args, name) for name in chosen if name not in exclude}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
