"""Reading a timeline's genre windows as arrays and at any time."""
from __future__ import annotations

import numpy as np

from ..genres import GENRES


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
