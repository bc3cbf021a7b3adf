"""The timeline document: the contract between track analysis and the Blender scene.

A timeline is a JSON object (schema ``mainstage.timeline/1``) described by
``schemas/timeline.schema.json`` and documented in ``docs/timeline.md``. This module
creates, validates, loads and saves such documents. Validation is two-fold: the JSON
Schema (types, required fields, no unknown keys) and cross-field rules that a schema
cannot express (sorted times, times inside the track, probability vectors summing to 1).
"""
from __future__ import annotations

import hashlib
import json
import math
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from . import __version__
from .atomic import write_json_atomic
from .errors import InputFileError
from .genres import GENRES

SCHEMA_ID = "mainstage.timeline/1"
SECTION_LABELS = ("intro", "build", "drop", "breakdown", "outro")
PROB_TOLERANCE = 1e-3
#: Slack (seconds) for times at the very end of the track, e.g. float rounding.
TIME_TOLERANCE = 1e-3


class TimelineError(InputFileError):
    """A timeline document is invalid. ``str(err)`` is one line naming the source and the problem."""


@lru_cache(maxsize=1)
def timeline_schema() -> dict:
    """The JSON Schema of the timeline format (a dict)."""
    text = resources.files(__package__).joinpath("schemas/timeline.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator():
    import jsonschema

    schema = timeline_schema()
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _path_str(path: Iterable) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


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
    if version != SCHEMA_ID:
        raise TimelineError(source, f"unsupported schema version {version!r} (expected {SCHEMA_ID!r})")
    import jsonschema

    errors = sorted(_validator().iter_errors(doc), key=lambda e: (len(e.path), list(map(str, e.path))))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise TimelineError(source, f"{_path_str(err.absolute_path)}: {err.message}")

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
    return doc


def _json_default(o):
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def to_builtin(obj):
    """Convert numpy scalars/arrays inside ``obj`` to plain Python (for JSON)."""
    return json.loads(json.dumps(obj, default=_json_default))


def load_timeline(path: str | os.PathLike) -> dict:
    """Read and validate a timeline JSON file.

    Raises
    ------
    TimelineError
        If the file is missing, unreadable, not JSON, or not a valid timeline.
    """
    p = Path(path)
    source = str(p)
    if not p.exists():
        raise TimelineError(source, "no such file")
    if p.is_dir():
        raise TimelineError(source, "is a directory, not a timeline file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TimelineError(source, "not a text file (invalid UTF-8)") from None
    except OSError as exc:
        raise TimelineError(source, f"cannot read: {exc.strerror or exc}") from None
    if not text.strip():
        raise TimelineError(source, "empty file")
    try:
        doc = json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(f"{c} is not allowed")))
    except ValueError as exc:
        raise TimelineError(source, f"not valid JSON ({exc})") from None
    return validate_timeline(doc, source)


def save_timeline(doc: dict, path: str | os.PathLike) -> None:
    """Validate ``doc`` and write it to ``path`` atomically."""
    doc = to_builtin(doc)
    validate_timeline(doc, str(path))
    write_json_atomic(path, doc)


def new_timeline(
    *,
    file: str,
    duration_s: float,
    sample_rate: int,
    sha256: str,
    channels: int | None = None,
    bpm: float | None = None,
    tempo_segments: Sequence[dict] = (),
    beats: Sequence[float] = (),
    downbeats: Sequence[float] = (),
    phrases: Sequence[float] = (),
    sections: Sequence[dict] = (),
    drops: Sequence[dict] = (),
    genre_windows: Sequence[dict] = (),
    genre_summary: Sequence[float] | None = None,
    model: dict | None = None,
    analysis: dict | None = None,
    warnings: Sequence[str] = (),
) -> dict:
    """Assemble a timeline document (plain Python types) from its parts. Not validated."""
    track = {"file": str(file), "duration_s": float(duration_s), "sample_rate": int(sample_rate), "sha256": sha256}
    if channels is not None:
        track["channels"] = int(channels)
    doc = {
        "schema": SCHEMA_ID,
        "generator": {"name": "mainstage-vfx", "version": __version__},
        "track": track,
        "tempo": {"bpm": None if bpm is None else float(bpm), "segments": list(tempo_segments)},
        "beats": [float(t) for t in beats],
        "downbeats": [float(t) for t in downbeats],
        "phrases": [float(t) for t in phrases],
        "sections": list(sections),
        "drops": list(drops),
        "genres": list(GENRES),
        "genre_windows": list(genre_windows),
        "genre_summary": None if genre_summary is None else [float(x) for x in genre_summary],
        "model": model,
        "analysis": dict(analysis or {}),
        "warnings": list(warnings),
    }
    return to_builtin(doc)


def genre_matrix(doc: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Genre windows as arrays: ``(starts, ends, probs)`` with ``probs`` of shape (n, 8)."""
    wins = doc["genre_windows"]
    starts = np.array([w["start_s"] for w in wins], dtype=np.float64)
    ends = np.array([w["end_s"] for w in wins], dtype=np.float64)
    probs = np.array([w["probs"] for w in wins], dtype=np.float64).reshape(-1, len(GENRES))
    return starts, ends, probs


def genre_at(doc: dict, t: float | np.ndarray) -> np.ndarray:
    """Genre distribution at time(s) ``t``: the mean of all windows covering ``t``.

    Times covered by no window get the whole-track summary (or uniform if none).
    """
    starts, ends, probs = genre_matrix(doc)
    tt = np.atleast_1d(np.asarray(t, dtype=np.float64))
    cover = (tt[:, None] >= starts[None, :]) & (tt[:, None] < ends[None, :])
    counts = cover.sum(axis=1, keepdims=True)
    out = cover.astype(np.float64) @ probs
    fallback = np.asarray(doc.get("genre_summary") or np.full(len(GENRES), 1.0 / len(GENRES)), dtype=np.float64)
    out = np.where(counts > 0, out / np.maximum(counts, 1), fallback[None, :])
    return out[0] if np.ndim(t) == 0 else out
