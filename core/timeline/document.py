"""Timeline documents as files: assembling, loading and saving them (atomically)."""
from __future__ import annotations

import json
import os
from typing import Sequence

import numpy as np

from .. import __version__
from ..atomic import write_json_atomic
from ..genres import GENRES
from ..jsonfile import read_json
from .validation import SCHEMA_ID, TimelineError, validate_timeline


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
    return validate_timeline(read_json(path, TimelineError, what="a timeline file"), str(path))


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
    genre_confidence: dict | None = None,
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
    if genre_confidence is not None:
        doc["genre_confidence"] = dict(genre_confidence)
    return to_builtin(doc)
