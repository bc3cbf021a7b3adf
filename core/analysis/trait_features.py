"""Per-bar DSP features of the measured traits (:mod:`.traits`), from the frame features and the grid.

Everything is read off :class:`~.onsets.TrackFeatures` (band energies, flux, pitch-class
profiles, loudness sums) on the beat grid, so the traits cost no second pass over the audio.
One row per bar (bar ``i`` from ``edges[i]`` to ``edges[i + 1]``), columns named by
:data:`FEATURE_NAMES`; levels are in dB relative to the track or to the bar itself, so the
mastering level does not matter. Groups:

* levels: bar loudness against the track's loud bars, the global peak against them (a
  saturated, limited master has little headroom), each band against the bar's total;
* beat-phase profiles: each band's level in the four quarters of a beat, and in 16 phases
  over the first and third beat of the bar (no clap there; the side-chain duck after a kick
  and the off-beat bass show up here), relative to the loudest phase;
* onset shapes: the mid- and high-band level from 2 frames before to 12 frames after each
  clear onset, relative to its peak (attack and decay of notes, pumping), and the onset rate;
* spread: 10th and 90th percentiles of the mid and high bands (reverb tails fill the gaps
  between hits);
* kick and bass layer evidence (:mod:`.layers`), the bass residual over the track's
  kick-alone template, roll and build flags;
* pitch classes: peakedness, entropy and frame-to-frame change of the harmony and bass
  pitch-class profiles (a held chord is flat and still, a melody peaked and moving).
"""
from __future__ import annotations

import numpy as np

from .layers import BarLayers, _bar_percentile, _beat_phase
from .onsets import TrackFeatures, pick_peaks

#: Phases per beat of the fine beat profiles.
PROFILE_BINS = 16
#: Frames around an onset (from, to) of the onset shapes.
SHAPE_FRAMES = (-2, 12)
#: Onsets weaker than this share of the 90th-percentile onset are not shaped.
SHAPE_MIN_STRENGTH = 0.2
#: Percentile of the kick bars' normalised low-band beat profiles taken as the kick alone.
KICK_TEMPLATE_PERCENTILE = 20.0
#: Phases (of PROFILE_BINS) over which the bass residual is averaged: past the kick's attack.
BASS_PHASES = (5, 15)
#: A pitch class counts in a frame's polyphony above this share of the frame's strongest class.
POLY_SHARE = 0.3
#: Lag (pitch-class frames, 46 ms each) of the hold similarity.
HOLD_FRAMES = 4
#: Phases per beat of the pitched-energy beat profiles (pitch-class frames are 46 ms).
CHROMA_PHASES = 6
#: Floor of every dB feature (silence).
FLOOR_DB = -60.0

_BANDS = ("low", "mid", "high")


def _names() -> tuple[str, ...]:
    n = ["loud_rel", "peak_rel"]
    n += [f"{b}_rel" for b in _BANDS]
    n += [f"{b}_q{q}" for b in _BANDS for q in range(4)]
    n += ["mid_p10", "mid_p90", "high_p10", "high_p90", "mid_spread", "high_spread"]
    n += ["kick_ratio", "kick_rel", "bass_rel", "bass_tot", "mid_onsets", "flux"]
    n += [f"{c}_{s}" for c in ("harm", "bch") for s in ("peak", "ent", "chg", "fpeak", "rel", "poly", "hold")]
    n += [f"{b}_p{j}" for b in _BANDS for j in range(PROFILE_BINS)]
    k = SHAPE_FRAMES[1] - SHAPE_FRAMES[0]
    n += [f"{b}_os{j}" for b in ("mid", "high") for j in range(k)] + ["mid_orate", "high_orate"]
    n += [f"{c}_b{j}" for c in ("harm", "bch") for j in range(CHROMA_PHASES)]
    n += ["bass_resid_max", "bass_resid_mean", "roll", "build", "kick_flag"]
    return tuple(n)


#: Column names of :func:`bar_features`.
FEATURE_NAMES = _names()


def _db(x) -> np.ndarray:
    return 10.0 * np.log10(np.maximum(np.asarray(x, dtype=np.float64), 1e-12))


def _bar_sum(values: np.ndarray, bar_of: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(bar_of, weights=values, minlength=n)[:n]


def _binned(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Mean of ``x`` per (row, col) cell (0 where a cell is empty)."""
    flat = rows * n_cols + cols
    s = np.bincount(flat, weights=x, minlength=n_rows * n_cols)[: n_rows * n_cols]
    c = np.bincount(flat, minlength=n_rows * n_cols)[: n_rows * n_cols]
    return (s / np.maximum(c, 1)).reshape(n_rows, n_cols)


def _chroma_stats(chroma: np.ndarray, fps: float, edges: np.ndarray, n: int) -> list[np.ndarray]:
    """Peakedness, entropy, frame-to-frame change, mean frame peakedness, level (dB), polyphony
    (pitch classes per frame above :data:`POLY_SHARE` of its strongest) and hold (similarity of
    frames :data:`HOLD_FRAMES` apart: a held chord stays, a melody moves) per bar."""
    t = np.arange(chroma.shape[0]) / fps
    b = np.searchsorted(edges, t, side="right") - 1
    ok = (b >= 0) & (b < n)
    b, ch = b[ok], chroma[ok].astype(np.float64)
    cnt = np.maximum(np.bincount(b, minlength=n)[:n], 1)
    mean = np.stack([_bar_sum(ch[:, k], b, n) for k in range(12)], axis=1) / cnt[:, None]
    tot = mean.sum(axis=1)
    p = mean / np.maximum(tot[:, None], 1e-12)
    ent = -(p * np.log(np.maximum(p, 1e-12))).sum(axis=1)
    unit = ch / np.maximum(np.linalg.norm(ch, axis=1, keepdims=True), 1e-9)
    step = np.concatenate([[0.0], 1.0 - (unit[1:] * unit[:-1]).sum(axis=1)])
    fpeak = ch.max(axis=1) / np.maximum(ch.sum(axis=1), 1e-12)
    poly = (ch > POLY_SHARE * ch.max(axis=1, keepdims=True)).sum(axis=1).astype(np.float64)
    hold = np.ones(unit.shape[0])
    if unit.shape[0] > HOLD_FRAMES:
        hold[HOLD_FRAMES:] = (unit[HOLD_FRAMES:] * unit[:-HOLD_FRAMES]).sum(axis=1)
    return [p.max(axis=1), ent, _bar_sum(step, b, n) / cnt, _bar_sum(fpeak, b, n) / cnt, _db(tot),
            _bar_sum(poly, b, n) / cnt, _bar_sum(hold, b, n) / cnt]


def _onset_shapes(x: np.ndarray, fps: float, edges: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean dB shape around the clear onsets of a band in each bar, and onsets per second."""
    lo, hi = SHAPE_FRAMES
    width = hi - lo
    env = np.maximum(np.diff(np.sqrt(np.maximum(x, 0.0)), prepend=0.0), 0.0)
    times, strength = pick_peaks(env, fps)
    dur = np.maximum(np.diff(edges), 1e-9)
    if times.size == 0:
        return np.zeros((n, width)), np.zeros(n)
    frame = np.round(times * fps + 0.5).astype(int)
    bar = np.searchsorted(edges, times, side="right") - 1
    keep = ((frame + lo >= 0) & (frame + hi < x.size) & (bar >= 0) & (bar < n)
            & (strength > SHAPE_MIN_STRENGTH * np.percentile(strength, 90)))
    if not np.any(keep):
        return np.zeros((n, width)), np.zeros(n)
    lx = _db(x)
    seg = lx[frame[keep][:, None] + np.arange(lo, hi)[None, :]]
    seg -= seg.max(axis=1, keepdims=True)
    b = bar[keep]
    cnt = np.bincount(b, minlength=n)[:n]
    shape = np.stack([_bar_sum(seg[:, j], b, n) for j in range(width)], axis=1) / np.maximum(cnt, 1)[:, None]
    return shape, cnt / dur


def bass_residual(feat: TrackFeatures, beats: np.ndarray, edges: np.ndarray, kick: np.ndarray,
                  t: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Low-band level between the kicks above what the kick alone leaves there (dB; max and mean
    over the beats of each bar).

    Each beat's low-band profile (``PROFILE_BINS`` phases, dB relative to its loudest phase in
    the first quarter: the kick) is compared with the track's kick-alone template, the
    ``KICK_TEMPLATE_PERCENTILE``-th percentile of the profiles of its kick bars; the positive
    excess over ``BASS_PHASES`` is the evidence of a bass line, however long the kick rings.
    """
    n = edges.size - 1
    nb = beats.size
    zeros = np.zeros(n)
    if nb < 2 or n == 0:
        return zeros, zeros
    bi = np.floor(pos).astype(int)
    ok = (bi >= 0) & (bi < nb)
    ph = np.minimum(((pos - np.floor(pos)) * PROFILE_BINS).astype(int), PROFILE_BINS - 1)
    prof = _db(_binned(feat.low[ok].astype(np.float64), bi[ok], ph[ok], nb, PROFILE_BINS))
    prof -= prof[:, : PROFILE_BINS // 4].max(axis=1, keepdims=True)
    bar_of_beat = np.searchsorted(edges, beats + 1e-6, side="right") - 1
    inside = (bar_of_beat >= 0) & (bar_of_beat < n)
    kick_beat = np.zeros(nb, dtype=bool)
    kick_beat[inside] = kick[bar_of_beat[inside]]
    if kick_beat.sum() < 8:
        return zeros, zeros
    template = np.percentile(prof[kick_beat], KICK_TEMPLATE_PERCENTILE, axis=0)
    excess = np.maximum(prof - template, 0.0)[:, BASS_PHASES[0]:BASS_PHASES[1]].mean(axis=1)
    bb, ex = bar_of_beat[inside], excess[inside]
    mx = np.zeros(n)
    np.maximum.at(mx, bb, ex)
    mean = _bar_sum(ex, bb, n) / np.maximum(np.bincount(bb, minlength=n)[:n], 1)
    return mx, mean


def bar_features(feat: TrackFeatures, beats: np.ndarray, downbeats: np.ndarray, layers: BarLayers,
                 build: np.ndarray | None = None) -> np.ndarray:
    """Per-bar trait features, shape ``(bars, len(FEATURE_NAMES))``, all finite.

    Parameters
    ----------
    feat : TrackFeatures
    beats, downbeats : arrays of seconds
        The beat grid; bar ``i`` runs from ``layers.edges[i]`` to ``layers.edges[i + 1]``.
    layers : BarLayers
        Kick / bass / roll evidence of the same bars (:func:`.layers.bar_layers`).
    build : (bars,) bool array, optional
        Bars labelled ``build`` by the section labelling.
    """
    beats = np.asarray(beats, dtype=np.float64)
    downbeats = np.asarray(downbeats, dtype=np.float64)
    edges = layers.edges
    n = downbeats.size
    if n == 0:
        return np.zeros((0, len(FEATURE_NAMES)))
    t = feat.times()
    bar_of = np.searchsorted(edges, t, side="right") - 1
    ok = (bar_of >= 0) & (bar_of < n)
    pos = _beat_phase(t, beats)
    frac = pos - np.floor(pos)
    cols: list[np.ndarray] = []
    add = cols.append

    bands = {"low": feat.low.astype(np.float64), "mid": feat.mid.astype(np.float64), "high": feat.high.astype(np.float64)}
    cnt = np.maximum(np.bincount(bar_of[ok], minlength=n)[:n], 1)
    band_db = {b: _db(_bar_sum(x[ok], bar_of[ok], n) / cnt) for b, x in bands.items()}
    tot_db = _db(sum(10 ** (v / 10) for v in band_db.values()))

    # Levels: loudness (22.05 kHz sums) against the track's loud bars, the peak against them.
    hop_t = (np.arange(feat.loud_sumsq.size) + 0.5) * 512 / 22050.0
    lb = np.searchsorted(edges, hop_t, side="right") - 1
    lok = (lb >= 0) & (lb < n)
    e = _bar_sum(feat.loud_sumsq[lok], lb[lok], n) / np.maximum(np.bincount(lb[lok], minlength=n)[:n] * 512, 1)
    loud = _db(e)
    ref = float(np.percentile(loud, 95))
    add(loud - ref)
    add(np.full(n, 20 * np.log10(max(feat.peak, 1e-6)) - ref))
    for b in _BANDS:
        add(band_db[b] - tot_db)
    quarter = np.minimum((frac * 4).astype(int), 3)
    for b in _BANDS:
        q = _db(_binned(bands[b][ok], bar_of[ok], quarter[ok], n, 4)) - band_db[b][:, None]
        cols.extend(q.T)

    allf = np.ones(t.size, dtype=bool)
    p = {}
    for b in ("mid", "high"):
        for q in (10, 90):
            p[b, q] = _db(_bar_percentile(bands[b], allf, bar_of, n, q))
            add(p[b, q] - tot_db)
    add(p["mid", 90] - p["mid", 10])
    add(p["high", 90] - p["high", 10])

    kick_ref = float(np.percentile(layers.kick_on, 90)) if n else 0.0
    add(np.log((layers.kick_on + 1e-9) / (layers.kick_off + 1e-9)))
    add(np.log((layers.kick_on + 1e-9) / (kick_ref + 1e-9)))
    add(layers.bass_db - float(np.percentile(layers.bass_db, 90)))
    add(layers.bass_db - tot_db)
    add(np.log1p(layers.mid_onsets))
    add(np.log(_bar_sum(feat.flux[ok].astype(np.float64), bar_of[ok], n) / cnt + 1e-6))

    for chroma in (feat.chroma, feat.bass_chroma):
        peak, ent, chg, fpeak, level, poly, hold = _chroma_stats(chroma, feat.chroma_fps, edges, n)
        cols.extend([peak, ent, chg, fpeak, level - tot_db, poly, hold])

    # Fine profiles over the first and third beats of each bar (no clap on them).
    first_beat = np.searchsorted(beats, downbeats - 1e-6)
    in_bar = np.floor(pos).astype(int) - first_beat[np.clip(bar_of, 0, n - 1)]
    odd = ok & (in_bar % 2 == 0)
    ph = np.minimum((frac * PROFILE_BINS).astype(int), PROFILE_BINS - 1)
    for b in _BANDS:
        prof = _db(_binned(bands[b][odd], bar_of[odd], ph[odd], n, PROFILE_BINS))
        cols.extend((prof - prof.max(axis=1, keepdims=True)).T)

    rates = []
    for b in ("mid", "high"):
        shape, rate = _onset_shapes(bands[b], feat.fps, edges, n)
        cols.extend(shape.T)
        rates.append(np.log1p(rate))
    cols.extend(rates)

    # Pitched energy over the beat (all beats): the side-chain duck after each kick, the
    # attack of the notes; hats and claps are noise and spread over the pitch classes.
    ct = np.arange(feat.chroma.shape[0]) / feat.chroma_fps
    cb = np.searchsorted(edges, ct, side="right") - 1
    cpos = _beat_phase(ct, beats)
    cph = np.minimum(((cpos - np.floor(cpos)) * CHROMA_PHASES).astype(int), CHROMA_PHASES - 1)
    cok = (cb >= 0) & (cb < n)
    for chroma in (feat.chroma, feat.bass_chroma):
        e = chroma.sum(axis=1).astype(np.float64)
        prof = _db(_binned(e[cok], cb[cok], cph[cok], n, CHROMA_PHASES))
        cols.extend((prof - prof.max(axis=1, keepdims=True)).T)

    mx, mean = bass_residual(feat, beats, edges, layers.kick, t, pos)
    cols.extend([mx, mean, layers.roll.astype(float),
                 np.zeros(n) if build is None else np.asarray(build, dtype=float)[:n],
                 layers.kick.astype(float)])
    X = np.stack(cols, axis=1)
    X = np.nan_to_num(X, nan=0.0, posinf=0.0, neginf=FLOOR_DB)
    return np.maximum(X, FLOOR_DB)
