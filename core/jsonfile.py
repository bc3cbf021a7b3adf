"""Strict reading of untrusted JSON files: one-line errors, no NaN/Infinity, no duplicate keys,
nesting at most :data:`MAX_DEPTH` deep."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputFileError

#: Deepest nesting of arrays/objects accepted. Our documents are < 10 deep; deep nesting is
#: refused before parsing because the parser, the schema validator and the encoder recurse.
MAX_DEPTH = 64

_BRACKET_STEP = np.zeros(256, dtype=np.int8)
_BRACKET_STEP[[ord("["), ord("{")]] = 1
_BRACKET_STEP[[ord("]"), ord("}")]] = -1


def nesting_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text, ignoring brackets inside strings.

    Written here rather than taken from a library because the point is to measure the
    depth *without* recursion (or a Python loop per character): numpy finds the quotes
    that are not escaped (those after an even run of backslashes), marks what lies inside
    strings, and takes a running sum of the remaining brackets. Malformed text gives some
    number; the parser reports the actual syntax error.
    """
    b = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    quote = b == ord('"')
    bs = np.flatnonzero(b == ord("\\"))
    if bs.size:  # a quote right after an odd run of backslashes is escaped
        brk = np.flatnonzero(np.diff(bs) != 1)
        starts = np.insert(bs[brk + 1], 0, bs[0])
        ends = np.append(bs[brk], bs[-1])
        after_odd = ends[(ends - starts) % 2 == 0] + 1
        quote[after_odd[after_odd < b.size]] = False
    pos = np.flatnonzero(quote | (_BRACKET_STEP[b] != 0))
    inside = (np.cumsum(quote[pos], dtype=np.int32) & 1).astype(bool)
    step = _BRACKET_STEP[b[pos]]
    step[inside] = 0
    depth = np.cumsum(step, dtype=np.int32)
    return int(depth.max()) if depth.size else 0


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
    """Parse JSON text strictly (no duplicate keys, no NaN/Infinity, at most :data:`MAX_DEPTH` deep).

    Raises
    ------
    InputFileError
        (or the subclass ``error``) with a one-line message naming ``source``.
    """
    if not text.strip():
        raise error(source, "empty file")
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise error(source, f"not valid JSON (nested {depth} levels deep; at most {MAX_DEPTH} allowed)")
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


def loads(text: str, *, strict: bool = True) -> Any:
    """:func:`json.loads` for untrusted text: depth-limited, no NaN/Infinity, and (``strict``,
    as :func:`parse_json`) no duplicate keys. ``strict=False`` suits other programs' files
    (a duplicate key keeps its last value, as in :mod:`json`).

    Raises
    ------
    ValueError
        Not valid JSON (``json.JSONDecodeError``), NaN/Infinity, a duplicate key, or nested
        deeper than :data:`MAX_DEPTH` (a one-line message without a source; :func:`parse_json`
        names one).
    """
    depth = nesting_depth(text)
    if depth > MAX_DEPTH:
        raise ValueError(f"nested {depth} levels deep (at most {MAX_DEPTH} allowed)")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates if strict else None,
                          parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
