"""Strict reading of untrusted JSON files: one-line errors, no NaN/Infinity, no duplicate keys."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .errors import InputFileError


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    out: dict = {}
    for k, v in pairs:
        if k in out:
            raise ValueError(f"duplicate key {k!r}")
        out[k] = v
    return out


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed")


def parse_json(text: str, source: str, error: type[InputFileError] = InputFileError) -> Any:
    """Parse JSON text strictly (no duplicate keys, no NaN/Infinity).

    Raises
    ------
    InputFileError
        (or the subclass ``error``) with a one-line message naming ``source``.
    """
    if not text.strip():
        raise error(source, "empty file")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except ValueError as exc:
        raise error(source, f"not valid JSON ({exc})") from None
    except RecursionError:
        raise error(source, "not valid JSON (nested too deeply)") from None


def read_json(path: str | os.PathLike, error: type[InputFileError] = InputFileError, *, what: str = "a JSON file",
              max_bytes: int | None = None) -> Any:
    """Read and parse a JSON file strictly (:func:`parse_json`).

    Parameters
    ----------
    error : type
        The :class:`InputFileError` subclass raised, e.g. ``TimelineError``.
    what : str
        What the file should be, for the error when the path is a folder ("a timeline file").
    max_bytes : int, optional
        Files larger than this are refused before they are read.
    """
    p = Path(path)
    source = str(p)
    if not p.exists():
        raise error(source, "no such file")
    if p.is_dir():
        raise error(source, f"is a directory, not {what}")
    try:
        size = p.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise error(source, f"file too large ({size} bytes; {what} is at most {max_bytes})")
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise error(source, "not a text file (invalid UTF-8)") from None
    except OSError as exc:
        raise error(source, f"cannot read: {exc.strerror or exc}") from None
    return parse_json(text, source, error)
