"""Beat grid for electronic dance music: piecewise-linear grids locked to the kicks.

Dance music is played to a click: within one track the beat period is constant, so the
best beat tracker for it is not a frame-by-frame tracker but a fit. The track is cut into
constant-tempo segments (from the local tempo curve, then from jumps or drifts of the
kicks' phase against the fitted grid), and in each segment a linear grid
``t_k = t0 + k * P`` is fitted by weighted least squares to the onset (attack) peaks near
grid positions, starting where the onsets are densest and widening the window until it
covers the segment. A fit over minutes of kicks pins the tempo to a few thousandths of a
BPM, and the grid runs on unchanged through breakdowns without drums. Kick and snare/clap
peaks decide which pulse phase is the beat (not the off-beat hats).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import tempo as _tempo
from .onsets import TrackFeatures, kick_envelope, mid_envelope, onset_envelope, pick_peaks

#: Shortest audio that gets a beat grid (seconds).
MIN_DURATION_S = 5.0
#: Mono peak below which a file is treated as digital silence (about -90 dBFS).
SILENCE_PEAK = 3e-5
#: Minimum periodicity strength (normalised autocorrelation comb score) of a window
#: for it to count as having a pulse.
MIN_STRENGTH = 0.12
#: Windows whose pulse is weaker than this fraction of the median do not cut segments.
WEAK_PULSE = 0.5
#: Relative tempo difference (fraction) that starts a new tempo segment.
TEMPO_CHANGE = 0.004
#: Phase deviation (seconds) of the onsets from a fitted grid that splits a segment.
PHASE_SPLIT_S = 0.020
#: Fewest beats in a tempo segment.
MIN_SEGMENT_BEATS = 16


@dataclass
class GridSegment:
    """One constant-tempo stretch: beats at ``t0 + k * period`` for ``start_s <= t < end_s``."""

    start_s: float
    end_s: float
    period: float
    t0: float
    matched: int = 0
    residual_ms: float = float("nan")

    @property
    def bpm(self) -> float:
        return 60.0 / self.period

    def beats(self) -> np.ndarray:
        k0 = int(np.ceil((self.start_s - self.t0) / self.period - 1e-9))
        k1 = int(np.floor((self.end_s - self.t0) / self.period - 1e-9))
        if k1 < k0:
            return np.zeros(0)
        return self.t0 + np.arange(k0, k1 + 1) * self.period


@dataclass
class BeatGrid:
    """Result of beat tracking."""

    beats: np.ndarray
    segments: list[GridSegment]
    bpm: float | None
    warnings: list[str] = field(default_factory=list)
    #: Index of the tempo segment of each beat.
    beat_segment: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))


def _fit_grid(t: np.ndarray, w: np.ndarray, period: float, t0: float,
              tolerances=(0.15, 0.08, 0.05)) -> tuple[float, float, np.ndarray, float]:
    """Weighted least-squares refinement of (period, t0) on onsets near grid points.

    Returns (period, t0, matched mask, rms residual in seconds).
    """
    m = np.zeros(t.size, dtype=bool)
    rms = float("nan")
    for tol in tolerances:
        k = np.round((t - t0) / period)
        r = t - (t0 + k * period)
        m = np.abs(r) < min(tol * period, 0.08)
        if m.sum() < 4 or np.unique(k[m]).size < 3:
            break
        # Drop outliers beyond 3 robust standard deviations of the matched residuals.
        mad = np.median(np.abs(r[m] - np.median(r[m]))) * 1.4826
        if mad > 0:
            m &= np.abs(r - np.median(r[m])) < max(3 * mad, 0.004)
        ww = w[m]
        A = np.stack([np.ones(m.sum()), k[m]], axis=1)
        sw = np.sqrt(ww)
        coef, *_ = np.linalg.lstsq(A * sw[:, None], t[m] * sw, rcond=None)
        if coef[1] <= 0:
            break
        t0, period = float(coef[0]), float(coef[1])
        res = t[m] - (t0 + k[m] * period)
        rms = float(np.sqrt(np.average(res ** 2, weights=ww)))
    return period, t0, m, rms


def _phase_deviation(t: np.ndarray, w: np.ndarray, period: float, t0: float,
                     start: float, end: float, win_beats: int = 16, hop_beats: int = 4,
                     near_only: bool = False):
    """Local phase offset (s) of onsets against a grid, in sliding windows.

    ``near_only`` keeps only onsets within a quarter period of a beat (for onsets that
    include off-beat hits, which would pull the circular mean around).
    Returns (window centres, offset seconds, resultant length 0..1, onset weight).
    """
    frac = (t - t0) / period
    if near_only:
        near = np.abs(frac - np.round(frac)) < 0.25
        t, w, frac = t[near], w[near], frac[near]
    ph = np.exp(2j * np.pi * frac)
    win, hop = win_beats * period, hop_beats * period
    starts = np.arange(start, max(end - win, start) + 1e-9, hop)
    cs_w = np.concatenate([[0.0], np.cumsum(w)])
    cs_p = np.concatenate([[0.0], np.cumsum(w * ph)])
    lo = np.searchsorted(t, starts)
    hi = np.searchsorted(t, starts + win)
    wsum = cs_w[hi] - cs_w[lo]
    psum = cs_p[hi] - cs_p[lo]
    R = np.abs(psum) / np.maximum(wsum, 1e-12)
    off = np.angle(psum) / (2 * np.pi) * period
    return starts + win / 2, off, R, wsum


def _coarse_segments(lt: _tempo.LocalTempo, duration: float) -> list[tuple[float, float, float]]:
    """Cut the local tempo curve into (start, end, bpm) stretches of steady tempo."""
    pulse = lt.strength >= MIN_STRENGTH
    if not np.any(pulse):
        return []
    # Windows with a much weaker pulse than usual (drumless breakdowns, whose pads and
    # chords can suggest odd tempi) do not decide segments; they join their neighbours.
    active = np.nonzero(lt.strength >= max(MIN_STRENGTH, WEAK_PULSE * np.median(lt.strength[pulse])))[0]
    bpm = lt.bpm.copy()
    # Fold outliers (a window that locked to half, double, 2/3, 3/2, 3/4 or 4/3 of the tempo:
    # triplet-like rolls, dotted patterns) onto the main tempo.
    ref = np.median(bpm[active])
    for f in (0.5, 2.0, 2.0 / 3.0, 1.5, 0.75, 4.0 / 3.0):
        bad = np.abs(np.log(bpm * f / ref)) < 0.03
        bpm[bad] *= f
    groups: list[list[int]] = [[active[0]]]
    i = 1
    while i < active.size:
        cur = np.median(bpm[groups[-1]])
        j = active[i]
        if abs(np.log(bpm[j] / cur)) > TEMPO_CHANGE:
            nxt = active[i : i + 3]
            consistent = nxt.size >= 2 and np.all(np.abs(np.log(bpm[nxt] / bpm[j])) < TEMPO_CHANGE)
            if consistent:
                groups.append([j])
                i += 1
                continue
            i += 1  # an outlier window: ignore it
            continue
        groups[-1].append(j)
        i += 1
    # Merge groups too short to be a track, into the neighbour of closest tempo.
    min_windows = 3
    merged: list[list[int]] = []
    for g in groups:
        if merged and (len(g) < min_windows or abs(np.log(np.median(bpm[g]) / np.median(bpm[merged[-1]]))) < TEMPO_CHANGE):
            merged[-1].extend(g)
        else:
            merged.append(g)
    if len(merged) > 1 and len(merged[0]) < min_windows:
        merged[1] = merged[0] + merged[1]
        merged.pop(0)
    out = []
    for n, g in enumerate(merged):
        start = 0.0 if n == 0 else 0.5 * (lt.times[merged[n - 1][-1]] + lt.times[g[0]])
        end = duration if n == len(merged) - 1 else 0.5 * (lt.times[g[-1]] + lt.times[merged[n + 1][0]])
        out.append((start, end, float(np.median(bpm[g]))))
    return out


#: Non-octave tempo ratios that the kicks' alignment may settle (dotted or triplet-like
#: patterns make them the strongest periodicity of all onsets), and how much better the
#: kicks must line up on the alternative, and how well at least.
NON_OCTAVE_RATIOS = (2.0 / 3.0, 0.75, 4.0 / 3.0, 1.5)
KICK_ALIGN_GAIN = 2.0
KICK_ALIGN_MIN = 0.3


def _kick_aligned_tempo(kt: np.ndarray, kw: np.ndarray, start: float, end: float, bpm: float) -> float:
    """The tempo, among ``bpm`` and its 2/3, 3/4, 4/3 and 3/2 relatives, on whose beats the kicks line up.

    A bass line or hats in a dotted pattern can make 1.5 beats the strongest period of all
    onsets (a 127 BPM track read as 84.7). Kicks mark the beat: at the true tempo they fall
    on one phase of the grid, at a 3:2 or 4:3 relative on two to four phases that cancel.
    The salience of the kick peaks (weighted by squared height, so kicks outweigh a bass
    line's softer attacks in the same band) is compared at each candidate; an alternative
    wins only when clearly better (octave choices stay with the tempo prior).
    """
    sel = (kt >= start) & (kt < end)
    if np.count_nonzero(sel) < 8:
        return bpm
    t, w = kt[sel], kw[sel] ** 2

    def salience(b):
        return _tempo.refine_period(t, w, b, rel_range=0.006)[2]

    base = salience(bpm)
    best, best_sal = bpm, base
    for r in NON_OCTAVE_RATIOS:
        cand = bpm * r
        if not _tempo.BPM_RANGE[0] <= cand <= _tempo.BPM_RANGE[1]:
            continue
        sal = salience(cand)
        if sal >= KICK_ALIGN_MIN and sal > KICK_ALIGN_GAIN * base and sal > best_sal:
            best, best_sal = cand, sal
    return best


#: Von Mises concentration of the phase kernel (about 0.05 periods wide).
PHASE_KAPPA = 60.0
#: Weight of mid-band (snare, clap) onsets beside kicks when choosing the beat phase.
MID_PHASE_WEIGHT = 0.5


def _phase_profile(t: np.ndarray, w: np.ndarray, period: float, t_ref: float, phases: np.ndarray) -> np.ndarray:
    """Onset mass at each beat phase (fractions of a period after ``t_ref``), normalised to sum 1."""
    if t.size == 0 or w.sum() <= 0:
        return np.zeros(phases.size)
    x = (t - t_ref) / period
    k = np.exp(PHASE_KAPPA * (np.cos(2 * np.pi * (x[:, None] - phases[None, :])) - 1.0))
    prof = w @ k
    return prof / max(prof.sum(), 1e-12)


def _choose_phase(onsets, sel_k, sel_m, period: float, t0: float) -> float:
    """The beat phase: where kicks (and snares/claps) fall, not the strongest pulse.

    The periodogram phase of all onsets sits between beats when off-beat hits dominate
    (hats, chord stabs, an off-beat bass): kicks and snares/claps fall on the beats in
    dance music. Their onset mass is evaluated over a fine grid of phases (48 per beat)
    rather than at quarter shifts of the pulse, whose own phase may be off by a few
    hundredths of a beat; the maximum, refined parabolically, is the beat. Kick peaks
    weigh by their squared height, so that kicks outweigh the softer attacks of a bass line
    in the same band.
    """
    kt, kw, _, _, mt, mw, _, _ = onsets
    phases = np.arange(48) / 48.0
    prof = _phase_profile(kt[sel_k], kw[sel_k] ** 2, period, t0, phases)
    prof = prof + MID_PHASE_WEIGHT * _phase_profile(mt[sel_m], mw[sel_m], period, t0, phases)
    if not np.any(prof > 0):
        return t0
    j = int(np.argmax(prof))
    a, b, c = prof[j - 1], prof[j], prof[(j + 1) % phases.size]
    den = a - 2 * b + c
    off = 0.5 * (a - c) / den if abs(den) > 1e-12 else 0.0
    return float(t0 + (phases[j] + np.clip(off, -0.5, 0.5) / phases.size) * period)


def _hits(t: np.ndarray, grid: GridSegment, span: GridSegment, tol: float = 0.1) -> int:
    """Onsets in ``span``'s time range within ``tol`` periods of ``grid``'s beats."""
    x = t[(t >= span.start_s) & (t < span.end_s)]
    r = (x - grid.t0) / grid.period
    return int(np.count_nonzero(np.abs(r - np.round(r)) < tol))


def _recheck_phase(seg: GridSegment, onsets) -> GridSegment:
    """Shift a fitted grid by half a beat if both the kicks and the snares/claps of the whole
    segment fall there rather than on it (quarter shifts are left alone: syncopated kicks).

    The phase is first chosen in the densest stretch only, where an off-beat bass can
    outweigh the kicks; over the whole segment both kicks and claps must agree on the shift.
    """
    kt, kw, ot, ow, mt, mw = onsets[:6]
    sk = (kt >= seg.start_s) & (kt < seg.end_s)
    sm = (mt >= seg.start_s) & (mt < seg.end_s)
    shifts = np.array([0.0, 0.5])
    kick = _phase_profile(kt[sk], kw[sk] ** 2, seg.period, seg.t0, shifts)
    mid = _phase_profile(mt[sm], mw[sm], seg.period, seg.t0, shifts)
    # Only when kicks and snares/claps agree: a loud slap bass can outweigh the kicks in
    # the low band while the claps still mark the beat, and off-beat stabs the claps.
    if not (kick[1] > 1.1 * kick[0] and mid[1] > 1.1 * mid[0]):
        return seg
    sel = (ot >= seg.start_s) & (ot < seg.end_s)
    period, t0, m, rms = _fit_grid(ot[sel], ow[sel], seg.period, seg.t0 + 0.5 * seg.period)
    c = 0.5 * (seg.start_s + seg.end_s)
    k = (c - seg.t0) / seg.period - (c - t0) / period
    if m.sum() < 8 or abs(np.log(period / seg.period)) > 0.006 or abs(k - round(k)) < 0.1:
        return seg  # the refit slid back onto the old grid, or does not fit: keep the old one
    return GridSegment(seg.start_s, seg.end_s, period, t0, int(m.sum()), rms * 1000.0)


def _densest_window(t: np.ndarray, w: np.ndarray, start: float, end: float, width: float) -> tuple[float, float]:
    """The ``width``-second window inside [start, end] holding the most onset weight."""
    if end - start <= width or t.size == 0:
        return start, end
    c = np.concatenate([[0.0], np.cumsum(w)])
    lo_edges = np.clip(t - width / 2, start, end - width)
    mass = c[np.searchsorted(t, lo_edges + width)] - c[np.searchsorted(t, lo_edges)]
    a = float(lo_edges[int(np.argmax(mass))])
    return a, a + width


def _fit_segment(onsets, start, end, bpm, init_beats: int = 32, partial: bool = False):
    """Fit a grid to the onsets in [start, end).

    ``onsets`` = (kick, flux, mid, envelope) peak (times, strengths) pairs, flattened.
    The grid is first fitted where the onsets are densest (``init_beats`` beats), then
    the window doubles until it covers the segment, each fit seeding the next. Fitting
    a whole segment at once from a periodogram is ambiguous when the onsets come in
    clusters (two drops around a drumless breakdown): tempi that slip by whole beats
    across the gap fit the clusters almost as well.

    With ``partial``, a window that stops fitting (the segment holds a second tempo the
    coarse tempo curve did not separate) ends the growth, and the segment returned covers
    only the stretch that fitted; the caller fits the rest.
    """
    kt, kw, ot, ow, mt, mw, et, ew = onsets
    period0 = 60.0 / bpm
    esel = (et >= start) & (et < end)
    if np.count_nonzero(esel) < 8:
        return None
    a, b = _densest_window(et[esel], ew[esel], start, end, init_beats * period0)
    wsel = (et >= a) & (et < b)
    if np.count_nonzero(wsel) < 8:
        return None
    # Pulse from all onsets of the window (a kick pattern alone can be syncopated), then the beat phase.
    period0, t_pulse, _ = _tempo.refine_period(et[wsel], ew[wsel], bpm, rel_range=0.006)
    t_beat = _choose_phase(onsets, (kt >= a) & (kt < b), (mt >= a) & (mt < b), period0, t_pulse)
    fallback = None
    for t_init in dict.fromkeys((t_beat, t_pulse)):
        lo, hi = a, b
        period, t0 = period0, t_init
        ok = True
        fitted = None  # (lo, hi, period, t0, matched, rms) of the last window that fitted
        while True:
            sel = (ot >= lo) & (ot < hi)
            p2, t2, m, rms = _fit_grid(ot[sel], ow[sel], period, t0)
            # The fit must keep the pulse it started from: same tempo, same phase (off-beat
            # onsets could otherwise pull the grid onto 8th or 16th notes).
            c = 0.5 * (lo + hi)  # compare the phases where the onsets are, not at t = 0
            k = (c - t0) / period - (c - t2) / p2
            if m.sum() < 8 or abs(np.log(p2 * bpm / 60.0)) > 0.006 or abs(k - round(k)) > 0.15:
                ok = False
                break
            period, t0 = p2, t2
            fitted = (lo, hi, period, t0, int(m.sum()), rms)
            if lo <= start and hi >= end:
                break
            half = hi - lo
            lo, hi = max(start, lo - half / 2), min(end, hi + half / 2)
        if ok:
            return GridSegment(start, end, period, t0, int(m.sum()), rms * 1000.0)
        if partial and fitted is not None and fallback is None:
            flo, fhi, fp, ft0, fm, frms = fitted
            fallback = GridSegment(flo, fhi, fp, ft0, fm, frms * 1000.0)
    return fallback


def _fit_cover(onsets, start: float, end: float, lt: _tempo.LocalTempo, depth: int = 0) -> list[GridSegment]:
    """Grids covering [start, end): one if a single tempo fits, else pieces fitted one by one.

    The coarse tempo curve cannot separate tempo steps smaller than its resolution (a DJ
    mix going from 127 to 126 BPM); where one grid stops fitting, the rest of the
    stretch is fitted on its own, with the local tempo measured there.
    """
    sel = (lt.times >= start) & (lt.times < end) & (lt.strength >= MIN_STRENGTH)
    if depth > 8 or not np.any(sel):
        return []
    bpm = float(np.median(lt.bpm[sel]))
    if end - start < MIN_SEGMENT_BEATS * 60.0 / bpm:
        return []
    seg = _fit_segment(onsets, start, end, bpm, partial=True)
    if seg is None:
        # Not even the densest stretch fits the median tempo: cut at the largest step of
        # the local tempo curve and fit both sides (neighbours on one grid merge later).
        idx = np.nonzero(sel)[0]
        if idx.size < 2:
            return []
        j = int(np.argmax(np.abs(np.diff(np.log(lt.bpm[idx])))))
        cut = 0.5 * (lt.times[idx[j]] + lt.times[idx[j + 1]])
        return _fit_cover(onsets, start, cut, lt, depth + 1) + _fit_cover(onsets, cut, end, lt, depth + 1)
    seg_lo, seg_hi = seg.start_s, seg.end_s
    seg.start_s, seg.end_s = (start if seg_lo <= start + 1e-9 else seg_lo), (end if seg_hi >= end - 1e-9 else seg_hi)
    before = _fit_cover(onsets, start, seg.start_s, lt, depth + 1) if seg.start_s > start else []
    after = _fit_cover(onsets, seg.end_s, end, lt, depth + 1) if seg.end_s < end else []
    if not before and seg.start_s > start:
        seg.start_s = start  # too short or pulseless to hold its own grid: extend this one
    if not after and seg.end_s < end:
        seg.end_s = end
    return before + [seg] + after


def _split_on_phase(seg: GridSegment, onsets, depth: int = 0) -> list[GridSegment]:
    """Split a segment where the onsets drift or jump away from its fitted grid.

    Kick peaks (on the beat in dance music) show the drift best; where a segment has few
    kicks, the onsets near the beats are used.
    """
    if depth > 6 or (seg.end_s - seg.start_s) < 2 * MIN_SEGMENT_BEATS * seg.period:
        return [seg]
    kt, kw, ot, ow = onsets[:4]
    ksel = (kt >= seg.start_s) & (kt < seg.end_s)
    use_kicks = np.count_nonzero(ksel) >= 0.3 * (seg.end_s - seg.start_s) / seg.period
    t, w = (kt, kw) if use_kicks else (ot, ow)
    sel = (t >= seg.start_s) & (t < seg.end_s)
    ts, ws = t[sel], w[sel]
    if ts.size < 16:
        return [seg]
    c, off, R, wsum = _phase_deviation(ts, ws, seg.period, seg.t0, seg.start_s, seg.end_s, near_only=not use_kicks)
    good = (R > 0.5) & (wsum > 0.3 * np.median(wsum[wsum > 0])) if np.any(wsum > 0) else R > 1
    if good.sum() < 4:
        return [seg]
    og = np.unwrap(off[good] * 2 * np.pi / seg.period) * seg.period / (2 * np.pi)
    og -= np.median(og)  # kick peaks lag the attacks by a constant: only changes matter
    if np.max(np.abs(og)) < PHASE_SPLIT_S:
        return [seg]
    cg = c[good]
    def line(xs, ys):
        """Least-squares line through (xs, ys): (slope, sum of squared residuals)."""
        if xs.size < 2:
            return 0.0, 0.0
        A = np.stack([np.ones(xs.size), xs], axis=1)
        coef, *_ = np.linalg.lstsq(A, ys, rcond=None)
        return float(coef[1]), float(np.sum((ys - A @ coef) ** 2))

    # Best single change point of a two-piece linear model of the phase offset.
    best, best_sse = None, np.inf
    for k in range(2, cg.size - 1):
        sse = line(cg[:k], og[:k])[1] + line(cg[k:], og[k:])[1]
        if sse < best_sse:
            best, best_sse = k, sse
    if best is None:
        return [seg]
    A = np.stack([np.ones(cg.size), cg], axis=1)
    coef, *_ = np.linalg.lstsq(A, og, rcond=None)
    sse1 = float(np.sum((og - A @ coef) ** 2))
    if sse1 <= 0 or best_sse > 0.25 * sse1 or np.sqrt(sse1 / cg.size) < PHASE_SPLIT_S / 2:
        # The offset is (close to) one straight line: a small tempo error, refit as one.
        return [seg]
    cut = 0.5 * (cg[best - 1] + cg[best])
    parts = []
    for (a, b), (xs, ys) in zip(((seg.start_s, cut), (cut, seg.end_s)),
                                ((cg[:best], og[:best]), (cg[best:], og[best:]))):
        # A phase offset growing by ``slope`` seconds per second means beats that are
        # (1 + slope) times the grid's period apart: that is the part's tempo.
        slope = line(xs, ys)[0]
        s2 = _fit_segment(onsets, a, b, seg.bpm / (1.0 + slope))
        if s2 is None:
            return [seg]
        parts.append(s2)
    return _split_on_phase(parts[0], onsets, depth + 1) + _split_on_phase(parts[1], onsets, depth + 1)


def _place_boundaries(segs: list[GridSegment], t: np.ndarray, w: np.ndarray) -> None:
    """Move each boundary between two grids to where the onsets switch from one to the other."""
    for a, b in zip(segs[:-1], segs[1:]):
        lo = max(a.start_s, a.end_s - 16 * a.period)
        hi = min(b.end_s, b.end_s if b.end_s - b.start_s < 16 * b.period else b.start_s + 16 * b.period)
        sel = (t >= lo) & (t < hi)
        ts, ws = t[sel], w[sel]
        if ts.size == 0:
            continue

        def err(seg):
            r = (ts - seg.t0) / seg.period
            return np.abs(r - np.round(r)) * seg.period

        fa = (err(a) < 0.03).astype(float) * ws
        fb = (err(b) < 0.03).astype(float) * ws
        # cost of cutting before onset i: a-fits after the cut + b-fits before it
        cand = np.concatenate([[lo], ts, [hi]])
        ca = np.concatenate([[0.0], np.cumsum(fa)])
        cb = np.concatenate([[0.0], np.cumsum(fb)])
        cost = (ca[-1] - ca) + cb  # cut after the first i onsets
        ties = np.nonzero(cost <= cost.min() + 1e-9)[0]
        # Equally good cuts span a stretch that neither grid explains: cut in its middle.
        first_cut = 0.5 * (cand[ties[0]] + cand[ties[0] + 1])
        last_cut = 0.5 * (cand[ties[-1]] + cand[ties[-1] + 1])
        a.end_s = b.start_s = float(0.5 * (first_cut + last_cut))


def _active_span(feat: TrackFeatures) -> tuple[float, float]:
    """First and last time with sound (energy within 60 dB of the track's loudest frame)."""
    e = feat.low + feat.mid + feat.high
    if e.size == 0 or e.max() <= 0:
        return 0.0, 0.0
    on = np.nonzero(e > e.max() * 1e-6)[0]
    return on[0] / feat.fps, (on[-1] + 1) / feat.fps


def track_beats(feat: TrackFeatures) -> BeatGrid:
    """Beat grid of a track from its features.

    Returns a :class:`BeatGrid`; without a pulse (silence, noise, a very short file) its
    beats are empty and ``warnings`` says why.
    """
    dur = feat.duration_s
    if feat.peak < SILENCE_PEAK or feat.n_frames == 0:
        return BeatGrid(np.zeros(0), [], None, ["no beats found (silence)"])
    if dur < MIN_DURATION_S:
        return BeatGrid(np.zeros(0), [], None,
                        [f"no beats found (track too short: {dur:.1f} s, a beat grid needs {MIN_DURATION_S:.0f} s)"])
    env = onset_envelope(feat)
    lt = _tempo.local_tempo(env, feat.fps)
    coarse = _coarse_segments(lt, dur)
    if not coarse:
        return BeatGrid(np.zeros(0), [], None, ["no beats found (no steady pulse: noise or beatless audio)"])

    # Onsets to fit: kick peaks (precise) and all onset peaks.
    # Timing comes from spectral-flux peaks: the log-compressed flux responds to the
    # attack (click) of a kick, while low-band energy peaks 10-35 ms later, when a
    # kick's pitch sweep has fallen into the bass range. Kick and mid-band (snare, clap)
    # peaks decide which pulse phase is the beat.
    kt, kw = pick_peaks(kick_envelope(feat), feat.fps)
    ot, ow = pick_peaks(feat.flux, feat.fps, lag_frames=0.0)
    mt, mw = pick_peaks(mid_envelope(feat), feat.fps)
    et, ew = pick_peaks(env, feat.fps)
    onsets = (kt, kw, ot, ow, mt, mw, et, ew)
    segs: list[GridSegment] = []
    for start, end, bpm in coarse:
        bpm = _kick_aligned_tempo(kt, kw, start, end, bpm)
        seg = _fit_segment(onsets, start, end, bpm)
        pieces = [seg] if seg is not None else _fit_cover(onsets, start, end, lt)
        for piece in pieces:
            segs.extend(_split_on_phase(piece, onsets))
    if not segs:
        return BeatGrid(np.zeros(0), [], None, ["no beats found (no steady pulse: noise or beatless audio)"])
    # Merge neighbours that ended up on the same grid.
    merged = [segs[0]]
    for s in segs[1:]:
        p = merged[-1]
        same_tempo = abs(np.log(s.period / p.period)) < 5e-4
        if same_tempo:
            # One grid over both, its phase chosen where the onsets are densest (a drop's
            # kicks settle the phase of a kickless intro); kept apart unless it explains the
            # onsets of both about as well as their own grids do (a phase jump in a DJ mix).
            refit = _fit_segment(onsets, p.start_s, s.end_s, p.bpm)
            if refit is not None and all(_hits(kt, refit, q) >= 0.8 * _hits(kt, q, q) for q in (p, s)):
                merged[-1] = refit
                continue
        merged.append(s)
    segs = [_recheck_phase(s, onsets) for s in merged]
    _place_boundaries(segs, ot, ow)
    first, last = _active_span(feat)
    # (A beat up to 20 ms before the start is kept, at 0: the onsets' timing is a few ms early.)
    segs[0].start_s = max(-0.02, first - 0.5 * segs[0].period)
    # The grid ends half a beat after the last clear onset, not in a decaying reverb tail.
    strong = et[ew >= 0.1 * np.percentile(ew, 90)] if ew.size else et
    if strong.size:
        last = min(last, float(strong[-1]) + 0.5 * segs[-1].period)
    segs[-1].end_s = min(dur, last + 1e-6)

    beats, owner = [], []
    prev_end = -np.inf
    for i, s in enumerate(segs):
        b = s.beats()
        b = b[b > prev_end + 0.5 * s.period] if np.isfinite(prev_end) else b
        b = np.where((b < 0) & (b > -0.02), 0.0, b)  # a beat a hair before the start is the start
        b = b[(b >= 0) & (b <= dur)]
        beats.append(b)
        owner.append(np.full(b.size, i))
        if b.size:
            prev_end = b[-1]
    beats_arr = np.concatenate(beats) if beats else np.zeros(0)
    owner_arr = np.concatenate(owner) if owner else np.zeros(0, dtype=int)
    total = np.array([s.end_s - s.start_s for s in segs])
    main = segs[int(np.argmax(total))].bpm
    warnings = []
    if beats_arr.size < 4:
        return BeatGrid(np.zeros(0), [], None, ["no beats found (no steady pulse: noise or beatless audio)"])
    return BeatGrid(beats_arr, segs, float(main), warnings, owner_arr)
