"""Photosensitivity cap: the planned show's flashes counted, and thinned to three a second.

WCAG 2.3.1 (general flash threshold): no more than three *flashes* in any one-second
period, a flash being a pair of opposing changes in relative luminance of 10 % or more of
the maximum relative luminance, where the darker state is below 0.8 of it.

The luminance of a source (the lights, each emissive material role, the world background)
is estimated from the planned keys as level x relative luminance of its color (light
``energy`` x Y(color), emission strength x Y(color), background strength x Y(color)),
normalized by its maximum over the show: the brightest moment counts as white. Sources
light different parts of the picture, so each is checked on its own. Between two keys
every planned curve is monotone, so the turning points of a source's luminance are at
its keys; a *transition* is a swing between consecutive turning points that passes the
thresholds, and a window holds ``floor(transitions / 2)`` flashes.

Capping thins the pulse events (strobes included) of an offending source: every event
whose own luminance swing would pass the threshold is a flash candidate; candidates are
kept in order of musical weight (downbeats, then beats, then everything else, each in
time order) while they stay at least a third of a second from every kept one (events on
one frame are one flash), so no second holds four. Events below the threshold stay. A
run of removed events becomes a steady level at their mean (:func:`steady_fill`): fewer
flashes, not a darker show.
"""
from __future__ import annotations

import numpy as np

from .channel import INTERP, Channel

#: A change of at least this fraction of the maximum luminance is a transition.
FLASH_DEPTH = 0.1
#: ... when its darker state is below this fraction of the maximum.
DARK_LIMIT = 0.8
#: Flashes allowed in any window of :data:`WINDOW_S` seconds.
MAX_FLASHES = 3
WINDOW_S = 1.0
#: Events whose own swing is above this fraction of :data:`FLASH_DEPTH` are flash candidates
#: (a safety margin: the estimate ignores what other envelopes add around them).
MARGIN = 0.7
#: Least spacing (s) of kept flash events, tried in turn until a source is under the cap.
GAPS_S = (1.0 / 3.0, 1.0 / 3.0, 0.5, 1.0)
#: Luminance sources: name -> (level channel, color channel) of a :class:`..plan.Plan`.
SOURCES = {
    "lights": ("lights.energy", "lights.color"),
    "screens": ("screens.emission_strength", "screens.color"),
    "pulse": ("pulse.emission_strength", "pulse.color"),
    "lasers": ("lasers.emission_strength", "lasers.color"),
    "world": ("world.strength", "world.color"),
}
#: Relative luminance of linear RGB (ITU-R BT.709, as WCAG uses).
LUMA = np.array([0.2126, 0.7152, 0.0722])


def channel_at(ch: Channel, frames: np.ndarray) -> np.ndarray:
    """Values of a channel at ``frames``, as Blender evaluates it (held after constant keys).

    Between keys the curve is taken as linear (exact at keys and for constant keys; the
    other curves are monotone between keys, which is all flash counting needs).
    """
    f = np.asarray(frames, dtype=np.float64)
    v = ch.values if ch.values.ndim == 2 else ch.values[:, None]
    i = np.clip(np.searchsorted(ch.frames, f, side="right") - 1, 0, len(ch.frames) - 1)
    lin = np.stack([np.interp(f, ch.frames, v[:, k]) for k in range(v.shape[1])], axis=1)
    held = (ch.interp[i] == INTERP["constant"])[:, None]
    out = np.where(held, v[i], lin)
    return out if ch.values.ndim == 2 else out[:, 0]


def luminance(level: Channel, color: Channel) -> tuple[np.ndarray, np.ndarray]:
    """Luminance proxy of a source: ``level x Y(color)`` at the union of both channels' keys.

    Returns
    -------
    frames : (n,) int64
    lum : (n,) float
    """
    F = np.union1d(level.frames, color.frames)
    return F, channel_at(level, F) * (channel_at(color, F) @ LUMA)


def transitions(frames: np.ndarray, lum: np.ndarray, peak: float | None = None) -> np.ndarray:
    """Frames at which a qualifying luminance change ends (sorted).

    Parameters
    ----------
    frames, lum : (n,)
        A luminance curve at its keys (:func:`luminance`).
    peak : float, optional
        The maximum luminance the thresholds refer to (default: the curve's own).
    """
    m = float(lum.max()) if peak is None and len(lum) else float(peak or 0.0)
    if m <= 0 or len(lum) < 2:
        return np.zeros(0, dtype=np.int64)
    y = lum / m
    keep = np.concatenate([[True], np.diff(y) != 0])
    f, y = frames[keep], y[keep]
    if len(y) < 2:
        return np.zeros(0, dtype=np.int64)
    d = np.sign(np.diff(y))
    turn = np.concatenate([[True], d[1:] != d[:-1], [True]])
    ft, yt = _merge_small_swings(f[turn], y[turn])
    ok = (np.abs(np.diff(yt)) >= FLASH_DEPTH) & (np.minimum(yt[:-1], yt[1:]) < DARK_LIMIT)
    return ft[1:][ok].astype(np.int64)


def _merge_small_swings(ft: np.ndarray, yt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop reversals smaller than :data:`FLASH_DEPTH` from alternating extremes (hysteresis).

    A small swing between two interior extremes enclosed by its neighbours (the maximum
    before it is higher, the minimum after it lower, or the reverse) is no change of
    direction: both extremes go, so the large change through it counts once.
    """
    for _ in range(16):
        if len(yt) < 4:
            break
        k = np.flatnonzero(np.abs(np.diff(yt))[1:-1] < FLASH_DEPTH) + 1
        if len(k) == 0:
            break
        up = yt[k + 1] > yt[k]
        dom = np.where(up, (yt[k - 1] >= yt[k + 1]) & (yt[k + 2] <= yt[k]),
                       (yt[k - 1] <= yt[k + 1]) & (yt[k + 2] >= yt[k]))
        k = k[dom]
        if len(k) == 0:
            break
        k = k[np.concatenate([[True], np.diff(k) >= 2])]
        drop = np.zeros(len(yt), dtype=bool)
        drop[k] = drop[k + 1] = True
        ft, yt = ft[~drop], yt[~drop]
    return ft, yt


def max_flashes(trans: np.ndarray, fps: float, window_s: float = WINDOW_S) -> int:
    """Most flashes (``floor(transitions / 2)``) in any window of ``window_s`` seconds."""
    if len(trans) == 0:
        return 0
    t = np.sort(np.asarray(trans, dtype=np.float64))
    n = np.searchsorted(t, t + window_s * fps - 1e-9, side="left") - np.arange(len(t))
    return int(n.max()) // 2


def select_events(frames: np.ndarray, rank: np.ndarray, gap: int) -> np.ndarray:
    """Which flash events to keep: by rank (high first), then time, at least ``gap`` frames apart.

    Events on the frame of a kept event are kept too (they are the same flash).

    Parameters
    ----------
    frames : (m,) int
        Frame of each candidate event.
    rank : (m,) int
        Musical weight (higher is kept first).
    gap : int
        Least distance in frames between two kept events on different frames.

    Returns
    -------
    (m,) bool
    """
    keep = np.zeros(len(frames), dtype=bool)
    acc = np.zeros(0, dtype=np.int64)
    big = np.iinfo(np.int64).max // 4
    for lv in np.unique(rank)[::-1]:
        idx = np.flatnonzero(rank == lv)
        idx = idx[np.argsort(frames[idx], kind="stable")]
        f = frames[idx].astype(np.int64)
        if len(acc):
            pos = np.searchsorted(acc, f)
            dprev = np.where(pos > 0, f - acc[np.clip(pos - 1, 0, None)], big)
            dnext = np.where(pos < len(acc), acc[np.clip(pos, None, len(acc) - 1)] - f, big)
            same = (dprev == 0) | (dnext == 0)
            free = np.minimum(dprev, dnext) >= gap
        else:
            same, free = np.zeros(len(f), dtype=bool), np.ones(len(f), dtype=bool)
        take = same.copy()
        cand = np.flatnonzero(free & ~same)
        fc = f[cand]
        d = np.diff(fc)
        if np.all((d == 0) | (d >= gap)):
            take[cand] = True
        else:  # a sequential pass over the (few) close ones
            last = None
            for c, fr in zip(cand.tolist(), fc.tolist()):
                if last is None or fr == last or fr - last >= gap:
                    take[c] = True
                    last = fr
        keep[idx[take]] = True
        acc = np.unique(np.concatenate([acc, f[take]]))
    return keep


def steady_fill(frames: np.ndarray, beat_len: np.ndarray, removed: np.ndarray, amps: np.ndarray,
                area_beats: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The steady level that stands in for each run of removed events of one rule.

    A run of consecutive removed events becomes one hold at their mean contribution
    (amplitude x the share of its spacing the envelope covers), from the kept event just
    before the run (so that flash carries the level down) to the event after it: the light
    stays as bright on average, without the flicker.

    Parameters
    ----------
    frames : (n,) int
        Frames of the rule's events, increasing.
    beat_len : (n,)
        Length of a beat in frames at each event.
    removed : (n,) bool
    amps : (n,) amplitudes.
    area_beats : float
        Area of the rule's unit envelope in beats (:func:`.envelopes.mean_level`).

    Returns
    -------
    starts, ends : (m,) int64 frames; levels : (m,) float
    """
    n = len(frames)
    if n == 0 or not removed.any():
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)
    # on whole frames, as the keys are: an envelope lasts one frame at least
    sp = np.diff(frames).astype(np.float64)
    sp = np.append(sp, np.median(sp) if len(sp) else 1.0)
    area = np.maximum(area_beats * np.asarray(beat_len, dtype=np.float64), 1.0)
    contrib = np.where(removed, amps * np.clip(area / np.maximum(sp, 1.0), 0.0, 1.0), 0.0)
    d = np.diff(np.concatenate([[0], removed.astype(np.int8), [0]]))
    a, b = np.flatnonzero(d == 1), np.flatnonzero(d == -1)  # run = events a .. b-1
    step = int(np.rint(np.median(np.diff(frames)))) if n > 1 else 1
    prev, nxt = frames[np.maximum(a - 1, 0)], frames[np.minimum(b, n - 1)]
    start = np.where((a > 0) & (frames[a] - prev <= 2 * step), prev, frames[a])
    end = np.where((b < n) & (nxt - frames[b - 1] <= 2 * step), nxt, frames[b - 1] + step)
    cs = np.concatenate([[0.0], np.cumsum(contrib)])
    return start.astype(np.int64), end.astype(np.int64), (cs[b] - cs[a]) / (b - a)


def event_rank(frames: np.ndarray, downbeat_frames: np.ndarray, beat_frames: np.ndarray) -> np.ndarray:
    """Musical weight of events: 2 on a downbeat's frame, 1 on a beat's, else 0."""
    return np.where(np.isin(frames, downbeat_frames), 2, np.where(np.isin(frames, beat_frames), 1, 0))
