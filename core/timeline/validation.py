"""Validation of timeline documents (schema ``mainstage.timeline/2``; version 1 is still read).

Two-fold: the JSON Schema ``schemas/timeline.schema.json`` (types, required fields, no
unknown keys) and cross-field rules that a schema cannot express (sorted times, times
inside the track, probability vectors summing to 1).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import schemas
from ..errors import InputFileError
from ..genres import GENRES

SCHEMA_ID = "mainstage.timeline/2"
#: Versions this code reads. Version 1 lacks the confidence and trait fields (all optional in 2).
READ_SCHEMA_IDS = ("mainstage.timeline/1", SCHEMA_ID)
#: Fields that need version 2.
V2_FIELDS = ("genre_confidence", "bar_traits")
#: Section labels, in the order of a track's arc.
SECTION_LABELS = ("intro", "build", "drop", "breakdown", "outro")
PROB_TOLERANCE = 1e-3
#: Slack (seconds) for times at the very end of the track, e.g. float rounding.
TIME_TOLERANCE = 1e-3


class TimelineError(InputFileError):
    """A timeline document is invalid. ``str(err)`` is one line naming the source and the problem."""


def _check_sorted(doc: dict, key: str, values: Sequence[float], duration: float, source: str) -> None:
    arr = np.asarray(values, dtype=np.float64)
    if arr.size == 0:
        return
    if not np.all(np.isfinite(arr)):
        raise TimelineError(source, f"{key} contains a non-finite time")
    bad = np.nonzero(np.diff(arr) <= 0)[0]
    if bad.size:
        i = int(bad[0]) + 1
        raise TimelineError(source, f"{key} are not strictly increasing: {key}[{i}]={arr[i]:.6g} after {arr[i - 1]:.6g}")
    if arr[-1] > duration + TIME_TOLERANCE:
        raise TimelineError(source, f"{key}[{arr.size - 1}]={arr[-1]:.6g} s is past the track end ({duration:.6g} s)")


def _check_spans(key: str, spans: Sequence[dict], duration: float, source: str, *, ordered: bool, disjoint: bool) -> None:
    prev_start, prev_end = -math.inf, -math.inf
    for i, span in enumerate(spans):
        s, e = float(span["start_s"]), float(span["end_s"])
        if not (math.isfinite(s) and math.isfinite(e)):
            raise TimelineError(source, f"{key}[{i}] has a non-finite time")
        if e <= s:
            raise TimelineError(source, f"{key}[{i}] ends ({e:.6g} s) before it starts ({s:.6g} s)")
        if e > duration + TIME_TOLERANCE:
            raise TimelineError(source, f"{key}[{i}] ends at {e:.6g} s, past the track end ({duration:.6g} s)")
        if ordered and s < prev_start:
            raise TimelineError(source, f"{key} are not sorted by start time at {key}[{i}]")
        if disjoint and s < prev_end - TIME_TOLERANCE:
            raise TimelineError(source, f"{key}[{i}] starts at {s:.6g} s, before {key}[{i - 1}] ends ({prev_end:.6g} s)")
        prev_start, prev_end = s, e


def _check_probs(key: str, probs: Sequence[float], source: str) -> None:
    total = float(np.sum(probs))
    if not math.isfinite(total) or abs(total - 1.0) > PROB_TOLERANCE:
        raise TimelineError(source, f"{key} sums to {total:.6g}, not 1 (tolerance {PROB_TOLERANCE:g})")


def _check_bar_traits(traits: dict, n_bars: int, source: str) -> None:
    """One row per downbeat, one finite value in [0, 1] per trait name."""
    names, rows = traits["names"], traits["values"]
    if len(rows) != n_bars:
        raise TimelineError(source, f"bar_traits.values has {len(rows)} rows for {n_bars} downbeats (one row per bar)")
    for i, row in enumerate(rows):
        if len(row) != len(names):
            raise TimelineError(source, f"bar_traits.values[{i}] has {len(row)} values for {len(names)} names")
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in row):
            raise TimelineError(source, f"bar_traits.values[{i}] holds a value outside [0, 1] or not finite")


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (a hostile value can be megabytes long)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _short_message(err) -> str:
    """A schema error's message with the offending value shortened."""
    msg = err.message
    if len(msg) <= 300:
        return msg
    value = _short(err.instance)
    return msg.replace(repr(err.instance), value) if repr(err.instance) in msg else msg[:300] + "..."


def _check_finite(doc: dict, source: str) -> None:
    """Refuse NaN and infinities anywhere (JSON has none; they come from documents built in code
    or stored in a .blend, and the schema's range checks let NaN through)."""
    import json

    try:
        json.dumps(doc, allow_nan=False, default=_plain)
    except ValueError:
        stack: list[tuple[str, Any]] = [("", doc)]  # iterative: documents can be deep
        while stack:
            where, v = stack.pop()
            if isinstance(v, float) and not math.isfinite(v):
                raise TimelineError(source, f"{where.lstrip('.') or '(root)'} is {v!r}: numbers must be finite") from None
            if isinstance(v, dict):
                stack.extend((f"{where}.{k}", x) for k, x in v.items())
            elif isinstance(v, (list, tuple)):
                stack.extend((f"{where}[{i}]", x) for i, x in enumerate(v))
        raise TimelineError(source, "holds a number that is not finite") from None
    except TypeError:
        return  # not JSON types: the schema says where
    except RecursionError:
        raise TimelineError(source, "nested too deeply") from None


def _plain(o):
    if isinstance(o, (np.ndarray, np.generic)):
        return o.tolist()
    raise TypeError(type(o).__name__)


def validate_timeline(doc: Any, source: str = "<timeline>") -> dict:
    """Check a timeline document; return it unchanged when valid.

    Parameters
    ----------
    doc : object
        The parsed JSON document.
    source : str
        Name used in error messages (usually the file path).

    Raises
    ------
    TimelineError
        On the first problem found, with a one-line message naming ``source``, the
        field and the problem.
    """
    if not isinstance(doc, dict):
        raise TimelineError(source, f"a timeline must be a JSON object, got {type(doc).__name__}")
    version = doc.get("schema")
    if version not in READ_SCHEMA_IDS:
        raise TimelineError(source, f"unsupported schema version {_short(version)} (expected {SCHEMA_ID!r})")
    _check_finite(doc, source)
    if version != SCHEMA_ID:
        newer = [k for k in V2_FIELDS if k in doc]
        if newer:
            raise TimelineError(source, f"{newer[0]} needs schema {SCHEMA_ID!r} (the file says {version!r})")
    err = schemas.best_error("timeline", doc)
    if err is not None:
        raise TimelineError(source, f"{schemas.json_path(err.absolute_path)}: {_short_message(err)}")

    duration = float(doc["track"]["duration_s"])
    if list(doc["genres"]) != list(GENRES):
        raise TimelineError(source, f"genres must list the eight genres in the canonical order {list(GENRES)}, got {doc['genres']}")
    for key in ("beats", "downbeats", "phrases"):
        _check_sorted(doc, key, doc[key], duration, source)
    _check_spans("tempo.segments", doc["tempo"]["segments"], duration, source, ordered=True, disjoint=True)
    _check_spans("sections", doc["sections"], duration, source, ordered=True, disjoint=True)
    _check_spans("drops", doc["drops"], duration, source, ordered=True, disjoint=True)
    _check_spans("genre_windows", doc["genre_windows"], duration, source, ordered=True, disjoint=False)
    for i, w in enumerate(doc["genre_windows"]):
        _check_probs(f"genre_windows[{i}].probs", w["probs"], source)
    if doc["genre_summary"] is not None:
        _check_probs("genre_summary", doc["genre_summary"], source)
    if doc["genre_windows"] and doc["genre_summary"] is None:
        raise TimelineError(source, "genre_windows are present but genre_summary is null")
    if "bar_traits" in doc:
        _check_bar_traits(doc["bar_traits"], len(doc["downbeats"]), source)
    return doc
