"""Which layers play in each bar: kick, bass, snare rolls (from the frame features and the grid).

A drop in dance music is where the full low end, kick and bass together, comes back after a
stretch without it; a build is where a snare or clap roll drives into it. Both are read off
per-bar evidence on the beat grid:

* kick: the low-band onset strength within a tenth of a beat of the beats, against the same
  strength between the beats (a kick hits on the beat; a roll or a bass line hits between);
* bass: the level (80th percentile) of the low-band energy between the beats (from 0.3 to 0.9
  of each beat, past the kick's attack), in dB; an off-beat or rolling bass line fills it, a kick alone hardly does;
* roll: mid-band onsets per bar (claps and snares; a 16th-note roll has 12 or more);
* level: the bar's loudness (dB) and high-band energy, for the section labels.

Thresholds are relative to the track itself (its loudest kicks and bass), so mastering level
does not matter.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .onsets import TrackFeatures, kick_envelope, mid_envelope, pick_peaks

#: Half-width (beats) of the on-beat window for kick strength.
ON_BEAT = 0.1
#: Off-beat window (fractions of a beat) for the bass energy.
BASS_WINDOW = (0.3, 0.9)
#: Percentile of the off-beat low-band frames of a bar taken as its bass level: the level
#: of the bass notes, however few the pattern plays in that bar.
BASS_PERCENTILE = 80.0
#: A bar has a kick when its on-beat kick strength reaches this share of the track's loud kicks
#: (90th percentile over bars) and is this many times its off-beat strength.
KICK_SHARE = 0.35
KICK_CONTRAST = 1.5
#: Kick bars split into with and without bass where their off-beat low energy falls into two
#: groups at least this far apart (dB); otherwise every kick bar has bass.
BASS_SPLIT_DB = 4.0
BASS_FLOOR_DB = 12.0
#: Mid-band onsets in a bar that make a roll (16th notes; at least) ...
ROLL_ONSETS = 12
#: ... and at least this many times the median count of the kick bars (claps, stabs).
ROLL_FACTOR = 1.5
#: Longest build (bars) and the bar multiple its length is rounded to.
MAX_BUILD_BARS = 16
BUILD_STEP_BARS = 4
#: A bar before a roll is part of the build while it has this many mid-band onsets and its
#: mid- or high-band level is this much (dB) below the next bar's.
BUILD_MIN_ONSETS = 4
BUILD_RISE_DB = 0.2


@dataclass
class BarLayers:
    """Per-bar layer evidence (one entry per bar, bar ``i`` from ``edges[i]`` to ``edges[i + 1]``)."""

    edges: np.ndarray
    kick_on: np.ndarray
    kick_off: np.ndarray
    bass_db: np.ndarray
    mid_onsets: np.ndarray
    loud_db: np.ndarray
    high_db: np.ndarray
    mid_db: np.ndarray
    kick: np.ndarray
    bass: np.ndarray

    # The derived flags are computed once: labelling reads them bar by bar.
    @cached_property
    def full(self) -> np.ndarray:
        """Bars with kick and bass (the drop's low end), outside builds.

        A roll's snare fills the low band between the beats like a bass line, so build bars
        are never full. Bass lines often rest or move up an octave for a bar or two of a
        4-bar pattern, so a kick bar without bass still counts as full when bass plays
        within two bars on both sides, or within the next two bars when it follows a full
        bar or a bar without kick (a drop whose bass enters in its third bar). A kick bar
        right after kick bars without bass stays as it is: the kick alone (an intro) ends
        where the bass comes in.
        """
        k, b = self.kick & ~self.build, self.bass
        out = k & b
        for i in np.nonzero(k & ~b)[0]:
            before = b[max(0, i - 2):i] & k[max(0, i - 2):i]
            after = b[i + 1:i + 3] & k[i + 1:i + 3]
            if not np.any(after) or not np.all(k[i + 1:i + 1 + int(np.argmax(after)) + 1]):
                continue
            if np.any(before) or i == 0 or out[i - 1] or not k[i - 1]:
                out[i] = True
        return out

    @cached_property
    def build(self) -> np.ndarray:
        """Bars of a build: each run of roll bars, and before it the bars over which the roll
        still climbs (quieter 8th-note hits: at least ``BUILD_MIN_ONSETS`` mid-band onsets and
        a mid- or high-band level rising bar by bar), at most ``MAX_BUILD_BARS`` in all and
        rounded to a multiple of 4 bars when within a bar of one (builds are 4, 8 or 16 bars)."""
        roll = self.roll
        out = roll.copy()
        n = roll.size
        i = 0
        while i < n:
            if not roll[i]:
                i += 1
                continue
            j = i
            while j < n and roll[j]:
                j += 1
            a = i
            while (j - a < MAX_BUILD_BARS and a > 0 and not roll[a - 1]
                   and self.mid_onsets[a - 1] >= BUILD_MIN_ONSETS
                   and (self.mid_db[a - 1] < self.mid_db[a] - BUILD_RISE_DB
                        or self.high_db[a - 1] < self.high_db[a] - BUILD_RISE_DB)):
                a -= 1
            k = j - a
            r = int(round(k / BUILD_STEP_BARS)) * BUILD_STEP_BARS
            if r and abs(r - k) <= 1 and j - r >= 0:
                a = j - r
            out[a:j] = True
            i = j
        return out

    @cached_property
    def roll(self) -> np.ndarray:
        """Bars with a snare/clap roll (two bars or more): many more mid-band onsets than the
        track's kick bars have."""
        m = self.mid_onsets
        typical = float(np.median(m[self.kick])) if np.any(self.kick) else float(np.median(m)) if m.size else 0.0
        raw = m >= max(ROLL_ONSETS, ROLL_FACTOR * typical)
        # A roll lasts two bars or more; a single busy bar is a fill.
        prev = np.concatenate([[False], raw[:-1]])
        nxt = np.concatenate([raw[1:], [False]])
        return raw & (prev | nxt)


def _beat_phase(times: np.ndarray, beats: np.ndarray) -> np.ndarray:
    """Position of each time in beats (fractional index into ``beats``; extrapolated at the ends)."""
    if beats.size < 2:
        return np.zeros_like(times)
    period = float(np.median(np.diff(beats)))
    idx = np.interp(times, beats, np.arange(beats.size, dtype=np.float64))
    idx = np.where(times < beats[0], (times - beats[0]) / period, idx)
    return np.where(times > beats[-1], beats.size - 1 + (times - beats[-1]) / period, idx)


def _bar_means(x: np.ndarray, mask: np.ndarray, bar_of: np.ndarray, n: int) -> np.ndarray:
    keep = mask & (bar_of >= 0) & (bar_of < n)
    s = np.bincount(bar_of[keep], weights=x[keep], minlength=n)[:n]
    c = np.bincount(bar_of[keep], minlength=n)[:n]
    return s / np.maximum(c, 1)


def _bar_percentile(x: np.ndarray, mask: np.ndarray, bar_of: np.ndarray, n: int, q: float) -> np.ndarray:
    keep = mask & (bar_of >= 0) & (bar_of < n)
    xs, bs = x[keep], bar_of[keep]
    order = np.argsort(bs, kind="stable")
    xs, bs = xs[order], bs[order]
    bounds = np.searchsorted(bs, np.arange(n + 1))
    return np.array([np.percentile(xs[a:b], q) if b > a else 0.0 for a, b in zip(bounds[:-1], bounds[1:])])


def _smooth_flags(x: np.ndarray) -> np.ndarray:
    """Median of three bars: a single bar does not flip a layer on or off."""
    if x.size < 3:
        return x.copy()
    p = np.concatenate([x[:1], x, x[-1:]]).astype(np.int8)
    return (p[:-2] + p[1:-1] + p[2:]) >= 2


def bar_layers(feat: TrackFeatures, beats: np.ndarray, downbeats: np.ndarray, end_s: float) -> BarLayers:
    """Layer evidence and kick/bass flags for every bar of the grid."""
    db = np.asarray(downbeats, dtype=np.float64)
    beats = np.asarray(beats, dtype=np.float64)
    n = db.size
    edges = np.append(db, max(end_s, db[-1] + 1e-3)) if n else np.zeros(1)
    empty = np.zeros(n)
    if n == 0 or beats.size < 2:
        z = np.zeros(n, dtype=bool)
        return BarLayers(edges, empty, empty, empty, empty, empty, empty, empty, z, z)
    t = feat.times()
    bar_of = np.searchsorted(edges, t, side="right") - 1
    pos = _beat_phase(t, beats)
    frac = pos - np.floor(pos)
    on = (frac < ON_BEAT) | (frac > 1.0 - ON_BEAT)
    off_bass = (frac >= BASS_WINDOW[0]) & (frac <= BASS_WINDOW[1])
    kick = kick_envelope(feat)
    kick_on = _bar_means(kick, on, bar_of, n)
    kick_off = _bar_means(kick, ~on, bar_of, n)
    bass_db = 10 * np.log10(np.maximum(_bar_percentile(feat.low, off_bass, bar_of, n, BASS_PERCENTILE), 1e-12))
    allf = np.ones(t.size, dtype=bool)
    loud_db = 10 * np.log10(np.maximum(_bar_means(feat.low + feat.mid + feat.high, allf, bar_of, n), 1e-12))
    high_db = 10 * np.log10(np.maximum(_bar_means(feat.high, allf, bar_of, n), 1e-12))
    mid_db = 10 * np.log10(np.maximum(_bar_means(feat.mid, allf, bar_of, n), 1e-12))
    mt, mw = pick_peaks(mid_envelope(feat), feat.fps)
    strong = mw > 0.2 * np.percentile(mw, 90) if mw.size else np.zeros(0, dtype=bool)
    mid_onsets = np.bincount(np.clip(np.searchsorted(edges, mt[strong], side="right") - 1, 0, n - 1),
                             minlength=n)[:n].astype(float) if np.any(strong) else empty

    ref_kick = float(np.percentile(kick_on, 90))
    has_kick = (kick_on >= KICK_SHARE * ref_kick) & (kick_on >= KICK_CONTRAST * kick_off) & (ref_kick > 0)
    has_kick = _smooth_flags(has_kick)
    has_bass = _smooth_flags(bass_db >= bass_threshold(bass_db[has_kick])) if np.any(has_kick) else np.zeros(n, bool)
    return BarLayers(edges, kick_on, kick_off, bass_db, mid_onsets, loud_db, high_db, mid_db, has_kick, has_bass)


def bass_threshold(levels: np.ndarray, min_split_db: float = BASS_SPLIT_DB) -> float:
    """Level (dB) above which a kick bar has bass: Otsu's split of the bars' off-beat low energy.

    Kick bars without bass (an intro or outro with the kick alone) sit clearly below those
    with it; where the levels do not fall into two groups ``min_split_db`` apart, all have bass.
    Bars more than ``BASS_FLOOR_DB`` below the loud bass bars (90th percentile) never have
    it: the split may fall between a kick alone and a kick with a pad, below both.
    """
    x = np.sort(np.asarray(levels, dtype=np.float64))
    if x.size < 2:
        return -np.inf
    floor = float(np.percentile(x, 90)) - BASS_FLOOR_DB
    c = np.cumsum(x)
    k = np.arange(1, x.size)
    lo_mean, hi_mean = c[:-1] / k, (c[-1] - c[:-1]) / (x.size - k)
    between = k * (x.size - k) * (hi_mean - lo_mean) ** 2
    j = int(np.argmax(between))
    if hi_mean[j] - lo_mean[j] < min_split_db:
        return floor
    return max(float(0.5 * (x[j] + x[j + 1])), floor)


#: A drop candidate whose bass is more than this (dB, median over its bars) below the loudest
#: candidate's of the same tempo segment is an intro or breakdown with a quieter bass line.
DROP_LEVEL_DB = 4.0
#: A loudness step (dB) inside a run of full bars without a gap before it that starts a drop.
STEP_DB = 5.0


def _step_up(x: np.ndarray, width: int = 4) -> np.ndarray:
    """Mean of the ``width`` values from each index on minus the mean of the ``width`` before."""
    out = np.full(x.size, -np.inf)
    c = np.concatenate([[0.0], np.cumsum(x)])
    for i in range(width, x.size - width + 1):
        out[i] = (c[i + width] - c[i]) / width - (c[i] - c[i - width]) / width
    return out


def loud_drops(runs: list[tuple[int, int, bool]], layers: BarLayers, segment: np.ndarray | None = None,
               within_db: float = DROP_LEVEL_DB) -> list[tuple[int, int]]:
    """Drops (bar ranges) from the runs of full bars of :func:`drop_bars`, narrowed to the drop itself.

    * A run after a gap is a drop candidate; a run without one only where its loudness
      steps up by ``STEP_DB`` inside it (4 bars after against 4 before), from there on.

    * A candidate whose bass is more than ``within_db`` (median over its first 8 bars) below
      the loudest candidate's of the same tempo segment (``segment``: one id per bar; tracks of
      a DJ mix are compared separately) is an intro or breakdown with a quieter bass line.
    * Where the bar loudness steps up by ``within_db`` or more (4 bars after against 4
      before) at least 4 bars into a candidate, the drop starts there: the full low end
      came in earlier, under a quieter intro or build.
    * A tail of 4 bars or more whose bass or loudness falls ``within_db`` below the
      drop's (its first 8 bars) is an outro keeping kick and bass, not the drop.
    """
    bass_db, loud = layers.bass_db, layers.loud_db
    ranges = []
    for a, b, gap in runs:
        if gap:
            ranges.append((a, b))
        elif b - a >= 8:
            step = _step_up(loud[a:b])
            j = int(np.argmax(step))
            if step[j] >= STEP_DB:
                ranges.append((a + j, b))
    if not ranges:
        return ranges
    narrowed = []
    for a, b in ranges:
        if b - a >= 8:
            step = _step_up(loud[a:b])
            j = int(np.argmax(step))
            if j >= 4 and step[j] >= within_db:
                a += j
        head = slice(a, min(b, a + 8))  # the drop's level: its first 8 bars
        quiet = ((bass_db[a:b] < float(np.median(bass_db[head])) - within_db)
                 | (loud[a:b] < float(np.median(loud[head])) - within_db))
        keep = np.nonzero(~quiet)[0]
        tail = b - a - (int(keep[-1]) + 1 if keep.size else 0)
        narrowed.append((a, b - tail) if tail >= 4 and b - tail > a else (a, b))
    seg = np.zeros(bass_db.size, dtype=int) if segment is None else np.asarray(segment)
    level = [float(np.median(bass_db[a:min(b, a + 8)])) for a, b in narrowed]
    ids = [int(seg[a]) for a, _ in narrowed]
    top = {i: max(lv for lv, j in zip(level, ids) if j == i) for i in set(ids)}
    return [r for r, lv, i in zip(narrowed, level, ids) if lv >= top[i] - within_db]


def drop_bars(full: np.ndarray, quiet_bars: int = 4) -> list[tuple[int, int, bool]]:
    """Runs of full bars ``(a, b, after_gap)``: bars ``[a, b)``, and whether ``quiet_bars`` bars
    without the full low end precede them (the drop rule's own condition).

    A run starting within the first ``quiet_bars`` bars never counts as after a gap (the
    track starts full); :func:`loud_drops` keeps a run without a gap only where the
    loudness steps up inside it (a drop after a build that keeps kick and bass).
    """
    out = []
    d = np.diff(np.concatenate([[0], full.astype(np.int8), [0]]))
    for a, b in zip(np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]):
        out.append((int(a), int(b), bool(a >= quiet_bars and not np.any(full[a - quiet_bars:a]))))
    return out
