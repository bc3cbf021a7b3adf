"""Drop detection: the paper's loudness rule, vectorised, then snapped to the bar grid.

The rule (see ``shared/REFERENCE.md``): mono audio at 22.05 kHz without its first 15 s;
RMS over 8192-sample frames every 512 samples, in dB relative to the loudest frame
(floored 80 dB below it, like ``librosa.amplitude_to_db(ref=np.max)``); a running maximum
over 128 frames, then a running mean over 128 frames (about 3 s each); frames within
``threshold_db`` of the smoothed curve's maximum are "drop"; runs of at least
``min_length_s`` are the drops. The paper states 1.5 dB; its code uses 2 dB, our default.

Smoothing blurs the edges by up to about 1.5 s, so each boundary is then moved to the
downbeat near it with the largest loudness step (a phrase start when it is about as
good): drops begin and end on bar lines.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from .onsets import LOUD_HOP, LOUD_SR


@dataclass(frozen=True)
class DropParams:
    """Parameters of the drop rule (defaults: the reference implementation)."""

    frame_length: int = 8192
    hop_length: int = LOUD_HOP
    sample_rate: int = LOUD_SR
    max_frames: int = 128
    mean_frames: int = 128
    threshold_db: float = 2.0
    min_length_s: float = 15.0
    skip_s: float = 15.0
    top_db: float = 80.0
    #: How far (seconds) a boundary may move when snapped to the grid.
    snap_window_s: float = 3.5
    #: "layers": drops where kick and bass return after 4 bars without them (:mod:`.layers`);
    #: "paper": the reference loudness rule above (snapped to bar lines).
    method: str = "layers"

    def to_dict(self) -> dict:
        return asdict(self)


def rms_frames(sumsq_hops: np.ndarray, params: DropParams = DropParams()) -> np.ndarray:
    """RMS of centred frames (librosa ``rms(center=True)``) from per-hop sums of squares.

    Frame ``m`` covers samples ``[m*hop - frame/2, m*hop + frame/2)`` of the zero-padded
    signal, i.e. ``frame/hop`` consecutive hop sums.
    """
    if params.frame_length % params.hop_length:
        raise ValueError("frame_length must be a multiple of hop_length")
    k = params.frame_length // params.hop_length
    s = np.asarray(sumsq_hops, dtype=np.float64)
    n_frames = s.size + 1 if s.size else 0  # 1 + len(y) // hop, y padded by frame/2 each side
    padded = np.concatenate([np.zeros(k // 2), s, np.zeros(k)])
    c = np.concatenate([[0.0], np.cumsum(padded)])
    idx = np.arange(n_frames)
    energy = c[idx + k] - c[idx]
    return np.sqrt(np.maximum(energy, 0.0) / params.frame_length)


def loudness_db(sumsq_hops: np.ndarray, params: DropParams = DropParams()) -> np.ndarray:
    """RMS in dB relative to the loudest frame, floored ``top_db`` below it."""
    rms = rms_frames(sumsq_hops, params)
    if rms.size == 0:
        return rms
    ref = max(float(rms.max()), 1e-10)
    db = 20.0 * np.log10(np.maximum(rms, 1e-5) / ref)
    return np.maximum(db, -params.top_db)


def running_max(x: np.ndarray, width: int) -> np.ndarray:
    """Centred running maximum (edges use the part of the window inside the signal)."""
    if x.size == 0 or width <= 1:
        return x.copy()
    left = width // 2
    padded = np.pad(x, (left, width - 1 - left), mode="constant", constant_values=-np.inf)
    return np.lib.stride_tricks.sliding_window_view(padded, width).max(axis=1)


def running_mean(x: np.ndarray, width: int) -> np.ndarray:
    """Centred running mean (edges average the part of the window inside the signal)."""
    if x.size == 0 or width <= 1:
        return x.copy()
    left = width // 2
    c = np.concatenate([[0.0], np.cumsum(x, dtype=np.float64)])
    i = np.arange(x.size)
    lo = np.clip(i - left, 0, x.size)
    hi = np.clip(i - left + width, 0, x.size)
    return (c[hi] - c[lo]) / (hi - lo)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]))


@dataclass
class DropCurve:
    """Intermediate curves of the drop rule (for plots and tests)."""

    times: np.ndarray
    db: np.ndarray
    smoothed: np.ndarray
    is_drop: np.ndarray


def drop_curve(sumsq_hops: np.ndarray, params: DropParams = DropParams()) -> DropCurve:
    """Apply the rule to the loudness of a track; times in seconds from the track start."""
    hop_s = params.hop_length / params.sample_rate
    skip = int(round(params.skip_s / hop_s))
    rest = np.asarray(sumsq_hops, dtype=np.float64)[skip:]
    db = loudness_db(rest, params)
    smoothed = running_mean(running_max(db, params.max_frames), params.mean_frames)
    is_drop = smoothed >= smoothed.max() - params.threshold_db if smoothed.size else np.zeros(0, bool)
    times = params.skip_s + np.arange(db.size) * hop_s if skip < len(sumsq_hops) else np.zeros(0)
    return DropCurve(times, db, smoothed, is_drop)


def detect_drops(sumsq_hops: np.ndarray, params: DropParams = DropParams()) -> list[tuple[float, float]]:
    """Drop sections ``(start_s, end_s)`` found by the paper's rule (not snapped)."""
    cur = drop_curve(sumsq_hops, params)
    hop_s = params.hop_length / params.sample_rate
    out = []
    for a, b in _runs(cur.is_drop):
        if (b - a) * hop_s >= params.min_length_s:
            out.append((float(cur.times[a]), float(cur.times[b - 1] + hop_s)))
    return out


def detect_drops_per_segment(sumsq_hops: np.ndarray, spans: list[tuple[float, float]],
                             params: DropParams = DropParams()) -> list[tuple[float, float]]:
    """The rule applied to each tempo segment of a DJ mix on its own.

    The rule's threshold is relative to the loudest moment; over a whole mix that is the
    loudest track's drop, and quieter tracks' drops would be lost. Each segment (about
    one track) is therefore judged against its own maximum; the first ``skip_s`` seconds
    are skipped in the first segment only (the start of the mix).
    """
    hop_s = params.hop_length / params.sample_rate
    out: list[tuple[float, float]] = []
    for i, (a, b) in enumerate(spans):
        i0, i1 = int(round(max(a, 0.0) / hop_s)), int(round(b / hop_s))
        local = replace(params, skip_s=params.skip_s if i == 0 else 0.0)
        offset = i0 * hop_s
        out += [(offset + s, offset + e) for s, e in detect_drops(np.asarray(sumsq_hops)[i0:i1], local)]
    return out


def _snap(t: float, grid: np.ndarray, phrases: np.ndarray, db_t: np.ndarray, db: np.ndarray,
          bar_s: float, rising: bool, window: float) -> float:
    cand = grid[np.abs(grid - t) <= window]
    if cand.size == 0:
        return t
    cs = np.concatenate([[0.0], np.cumsum(db)])

    def mean_between(a, b):
        i, j = np.searchsorted(db_t, [a, b])
        return (cs[j] - cs[i]) / (j - i) if j > i else np.nan

    step = np.array([mean_between(c, c + bar_s) - mean_between(c - bar_s, c) for c in cand])
    if not rising:
        step = -step
    if not np.any(np.isfinite(step)):
        return float(cand[np.argmin(np.abs(cand - t))])
    step = np.where(np.isfinite(step), step, -np.inf)
    best = int(np.argmax(step))
    if phrases.size:
        is_phrase = np.isin(np.round(cand, 4), np.round(phrases, 4))
        if np.any(is_phrase):
            pi = np.nonzero(is_phrase)[0]
            pbest = pi[np.argmax(step[pi])]
            if step[pbest] >= 0.9 * step[best] and step[pbest] > 0:
                best = int(pbest)
    return float(cand[best])


def drops_from_bars(ranges: list[tuple[int, int]], edges: np.ndarray, sumsq_hops: np.ndarray,
                    params: DropParams = DropParams()) -> list[dict]:
    """Drops given as bar ranges ``[a, b)`` of the bar ``edges`` (s), with their loudness (dBFS)."""
    rms, t = _rms_and_times(sumsq_hops, params)
    return [{"start_s": float(edges[a]), "end_s": float(edges[b]), "loudness_db": _span_db(rms, t, edges[a], edges[b])}
            for a, b in ranges]


def _rms_and_times(sumsq_hops: np.ndarray, params: DropParams) -> tuple[np.ndarray, np.ndarray]:
    """RMS frames of the drop rule and their times (s)."""
    rms = rms_frames(sumsq_hops, params)
    return rms, np.arange(rms.size) * (params.hop_length / params.sample_rate)


def _span_db(rms: np.ndarray, t: np.ndarray, start: float, end: float) -> float:
    """Mean RMS level (dBFS, mean square of the frames) between two times."""
    i, j = np.searchsorted(t, [start, end])
    ms = np.mean(rms[i:j] ** 2) if j > i else 0.0
    return float(10 * np.log10(max(ms, 1e-10)))


def snap_drops(drops: list[tuple[float, float]], downbeats: np.ndarray, phrases: np.ndarray,
               sumsq_hops: np.ndarray, duration_s: float, params: DropParams = DropParams()) -> list[dict]:
    """Move drop boundaries onto bar lines and attach each drop's loudness.

    Returns ``[{"start_s", "end_s", "loudness_db"}]`` (loudness: mean RMS in dBFS),
    sorted, non-overlapping, each at least one bar long.
    """
    rms, t = _rms_and_times(sumsq_hops, params)
    db_abs = 20.0 * np.log10(np.maximum(rms, 1e-5))
    grid = np.asarray(downbeats, dtype=np.float64)
    # Bar line after the last downbeat (end of the last bar) is a valid end boundary too.
    if grid.size >= 2:
        grid = np.append(grid, min(grid[-1] + np.median(np.diff(grid[-8:])), duration_s))
    phrases = np.asarray(phrases, dtype=np.float64)
    bar_s = float(np.median(np.diff(grid))) if grid.size >= 2 else 2.0
    out: list[dict] = []
    for a, b in drops:
        if grid.size >= 2:
            a2 = _snap(a, grid, phrases, t, db_abs, bar_s, True, params.snap_window_s)
            b2 = _snap(b, grid, phrases, t, db_abs, bar_s, False, params.snap_window_s)
        else:
            a2, b2 = a, b
        b2 = min(b2, duration_s)
        if out and a2 < out[-1]["end_s"]:
            a2 = out[-1]["end_s"]
        if b2 - a2 < min(bar_s, 1.0):
            continue
        out.append({"start_s": float(a2), "end_s": float(b2), "loudness_db": _span_db(rms, t, a2, b2)})
    return out
