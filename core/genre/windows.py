"""Analysis windows of the genre model and what is done with their distributions.

Windows are exactly 4 bars of the beat grid, stepped by one bar over the whole track
(the grid is extended at both ends with the first and last bar lengths). Without a
grid: 7.5 s windows stepped 1.875 s. Window distributions are smoothed over
neighbouring windows and summarised into one whole-track distribution, weighted
towards the drops.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: Weight of a window outside the drops in the whole-track summary, relative to a window
#: inside a drop (1): the paper's labels describe drops, so the summary is essentially the
#: mean over the drops, and the rest of the track counts only where no drop was found.
NON_DROP_WEIGHT = 0.05
#: Without known drops, windows within this many dB of the loudest window count as drops
#: (the paper's drop rule uses 2 dB).
LOUD_WINDOW_DB = 2.0
#: Default radius (windows, i.e. bars on a grid) of the moving average over window
#: distributions: genres change over phrases, not bars, and single windows of
#: drumless breakdowns or builds are the least certain. 0 turns smoothing off.
DEFAULT_SMOOTHING = 2


def extend_grid(downbeats, duration_s: float) -> np.ndarray:
    """Bar lines covering the whole track: the downbeats, extended backwards with the first bar
    length and forwards with the last one, within ``[0, duration_s]``."""
    db = np.asarray(downbeats, dtype=np.float64).reshape(-1)
    db = db[np.isfinite(db)]
    if db.size < 2:
        return db
    first_bar, last_bar = db[1] - db[0], db[-1] - db[-2]
    before = db[0] - first_bar * np.arange(int(db[0] // first_bar) if first_bar > 0 else 0, 0, -1)
    # A bar line up to 1 ms past the end (the audio's length rounded to whole samples) still
    # counts as the track's last bar line; windows are clipped to the track end later.
    tol = 1e-3
    n_after = int(math.floor((duration_s + tol - db[-1]) / last_bar)) if last_bar > 0 else 0
    after = db[-1] + last_bar * np.arange(1, n_after + 1)
    grid = np.concatenate([before, db, after])
    return grid[(grid >= -1e-9) & (grid <= duration_s + tol)]


def window_grid(duration_s: float, downbeats: Sequence[float] | None = None, *, bars: int = 4,
                step_bars: int = 1, fallback_s: float = 7.5, fallback_step_s: float = 1.875
                ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Analysis windows ``(starts, ends, on_grid)``.

    With a grid of at least ``bars + 1`` bar lines: windows of exactly ``bars`` bars,
    starting on every ``step_bars``-th bar line. Otherwise windows of ``fallback_s``
    seconds every ``fallback_step_s`` seconds. All windows lie inside the track; a track
    shorter than one window gets one window covering all of it.
    """
    duration_s = float(duration_s)
    if duration_s <= 0:
        return np.zeros(0), np.zeros(0), False
    if downbeats is not None and len(downbeats) >= 2:
        grid = extend_grid(downbeats, duration_s)
        if grid.size >= bars + 1:
            starts = grid[:-bars:step_bars]
            ends = grid[bars::step_bars]
            n = min(starts.size, ends.size)
            return starts[:n], ends[:n], True
    if duration_s <= fallback_s:
        return np.array([0.0]), np.array([duration_s]), False
    n = int(math.floor((duration_s - fallback_s) / fallback_step_s + 1e-9)) + 1
    starts = np.arange(n) * fallback_step_s
    return starts, starts + fallback_s, False


def smooth_windows(probs: np.ndarray, radius: int) -> np.ndarray:
    """Centred moving average over ``2 * radius + 1`` neighbouring windows (shrinks at the ends)."""
    p = np.asarray(probs, dtype=np.float64)
    if radius <= 0 or len(p) < 2:
        return p.copy()
    c = np.concatenate([np.zeros((1, p.shape[1])), np.cumsum(p, axis=0)])
    idx = np.arange(len(p))
    lo = np.clip(idx - radius, 0, len(p))
    hi = np.clip(idx + radius + 1, 0, len(p))
    out = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return out / out.sum(axis=1, keepdims=True)


def _overlap(starts, ends, spans) -> np.ndarray:
    """Fraction of each window covered by the union of ``spans``."""
    cover = np.zeros(len(starts))
    for s, e in spans:
        cover += np.clip(np.minimum(ends, e) - np.maximum(starts, s), 0, None)
    return np.minimum(cover / np.maximum(ends - starts, 1e-9), 1.0)


def summarize(starts, ends, probs, *, drops=None, loudness_db=None, exclude=None) -> np.ndarray | None:
    """Whole-track distribution: window probabilities averaged with weight ``0.05 + drop share``.

    ``drops`` (list of ``{"start_s", "end_s"}`` or pairs) give each window's drop share;
    without drops, windows within 2 dB of the loudest window (``loudness_db``) count as drop.
    Windows where ``exclude`` (boolean mask) is set, e.g. silent ones, count for nothing; when
    every window is excluded the result is None.
    """
    p = np.asarray(probs, dtype=np.float64)
    keep = np.ones(len(p), bool) if exclude is None else ~np.asarray(exclude, bool)
    if p.size == 0 or not keep.any():
        return None
    if not keep.all():
        starts, ends, p = np.asarray(starts)[keep], np.asarray(ends)[keep], p[keep]
        loudness_db = None if loudness_db is None else np.asarray(loudness_db)[keep]
    if drops:
        spans = [(float(d["start_s"]), float(d["end_s"])) if isinstance(d, dict) else (float(d[0]), float(d[1]))
                 for d in drops]
        share = _overlap(np.asarray(starts), np.asarray(ends), spans)
    elif loudness_db is not None and len(loudness_db) == len(p):
        ld = np.asarray(loudness_db, dtype=np.float64)
        share = (ld >= ld.max() - LOUD_WINDOW_DB).astype(np.float64)
    else:
        share = np.zeros(len(p))
    w = NON_DROP_WEIGHT + share
    s = (w[:, None] * p).sum(axis=0) / w.sum()
    return s / s.sum()


