"""Audio measurements used by the SynthHouse tests (numpy only, vectorised).

Kept independent from the generator: they look at rendered audio (and stems) the
way an analyst would, so a test fails if the sound stops carrying the trait.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def drop_rule(audio: np.ndarray, sr: int, frame: int = 8192, hop: int = 512, win: int = 128, tol_db: float = 2.0,
              min_s: float = 15.0, skip_s: float = 15.0) -> list[tuple[float, float]]:
    """The paper's rule-based drop detector (REFERENCE.md), vectorised.

    Mono RMS (frame 8192, hop 512, centred frames), dB re the track max, running max
    over 128 frames then running mean over 128 frames, frames within ``tol_db`` of the
    smoothed maximum, runs of at least ``min_s`` seconds, first ``skip_s`` seconds skipped.
    """
    y = audio.mean(axis=1) if audio.ndim == 2 else audio
    y = np.pad(y.astype(np.float64), frame // 2)
    n = 1 + (y.size - frame) // hop
    csum = np.concatenate([[0.0], np.cumsum(y * y)])
    idx = np.arange(n) * hop
    rms = np.sqrt(np.maximum(csum[idx + frame] - csum[idx], 0.0) / frame)
    db = 20 * np.log10(np.maximum(rms, 1e-10) / max(rms.max(), 1e-10))
    h = win // 2
    smax = sliding_window_view(np.pad(db, (h, win - h - 1), mode="edge"), win).max(axis=1)
    smooth = sliding_window_view(np.pad(smax, (h, win - h - 1), mode="edge"), win).mean(axis=1)
    t = idx / sr
    keep = t >= skip_s
    hit = keep & (smooth >= smooth[keep].max() - tol_db)
    edges = np.diff(np.concatenate([[0], hit.astype(np.int8), [0]]))
    runs = []
    for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        if t[b - 1] - t[a] >= min_s:
            runs.append((float(t[a]), float(t[b - 1])))
    return runs


def iou(a: tuple[float, float], b: tuple[float, float]) -> float:
    inter = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    union = max(a[1], b[1]) - min(a[0], b[0])
    return inter / union if union > 0 else 0.0


def segment(x: np.ndarray, sr: int, start_s: float, end_s: float) -> np.ndarray:
    return x[int(round(start_s * sr)):int(round(end_s * sr))]


def smooth_band(x: np.ndarray, sr: int, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth-magnitude band filter of a mono signal."""
    n = x.size
    X = np.fft.rfft(x)
    f = np.maximum(np.fft.rfftfreq(n, 1.0 / sr), 1e-3)
    g = np.ones_like(f)
    if hi is not None:
        g /= np.sqrt(1 + (f / hi) ** 4)
    if lo is not None:
        g /= np.sqrt(1 + (lo / f) ** 4)
    return np.fft.irfft(X * g, n)


def crest_db(x: np.ndarray) -> float:
    """Peak-to-RMS ratio in dB (low = squashed / clipped = distorted)."""
    y = x.mean(axis=1) if x.ndim == 2 else x
    return float(20 * np.log10(np.max(np.abs(y)) / np.sqrt(np.mean(y.astype(np.float64) ** 2))))


def power_spec(y: np.ndarray, n_fft: int = 4096, hop: int = 1024) -> np.ndarray:
    frames = sliding_window_view(y.astype(np.float64), n_fft)[::hop] * np.hanning(n_fft)
    return np.abs(np.fft.rfft(frames, axis=1)) ** 2


def spectral_flatness(y: np.ndarray, sr: int, lo: float, hi: float) -> float:
    """Mean spectral flatness (geometric / arithmetic mean power) in a band."""
    P = power_spec(y, 2048, 512)
    f = np.fft.rfftfreq(2048, 1.0 / sr)
    band = P[:, (f >= lo) & (f < hi)] + 1e-12
    return float(np.mean(np.exp(np.mean(np.log(band), axis=1)) / np.mean(band, axis=1)))


def stable_tonal_db(y: np.ndarray, sr: int, lo: float = 700.0, hi: float = 4000.0) -> float:
    """Energy of stable spectral peaks between ``lo`` and ``hi`` Hz relative to all energy (dB).

    A melodic lead or chords put sustained partials there; drums, rolling sub bass and
    noise do not. Peaks: bins 8x above the local (31-bin) median, present in two
    consecutive frames.
    """
    P = power_spec(y)
    f = np.fft.rfftfreq(4096, 1.0 / sr)
    M = P[:, (f > lo) & (f < hi)]
    # Local spectral level: moving average over 31 bins (cumulative sums, vectorised).
    c = np.cumsum(np.pad(M, ((0, 0), (16, 15)), mode="edge"), axis=1)
    local = (c[:, 31:] - c[:, :-31]) / 31.0
    peaks = M * (M > 6 * local)
    stable = peaks[1:] * (peaks[:-1] > 0)
    return float(10 * np.log10(stable.sum() / P.sum() + 1e-20))


def kick_pitch_and_length(mono: np.ndarray, sr: int, beat_times: np.ndarray) -> tuple[float, float]:
    """Median body pitch (Hz) and length (s, to -20 dB) of kicks at ``beat_times``.

    Meant for drum-only stretches (intro start): the low band there is the kick.
    """
    low = smooth_band(mono.astype(np.float64), sr, hi=200.0)
    pitches, lengths = [], []
    for t in beat_times:
        s = int(round(t * sr))
        seg = low[s + int(0.06 * sr): s + int(0.22 * sr)]
        spec = np.abs(np.fft.rfft(seg * np.hanning(seg.size), 1 << 16))
        f = np.fft.rfftfreq(1 << 16, 1.0 / sr)
        band = (f > 30) & (f < 160)
        pitches.append(f[band][np.argmax(spec[band])])
        env = np.abs(low[s: s + int(0.45 * sr)])
        env = np.maximum.accumulate(env[::-1])[::-1]
        below = np.flatnonzero(env < 0.1 * env.max())
        lengths.append(below[0] / sr if below.size else 0.45)
    return float(np.median(pitches)), float(np.median(lengths))


def swing_lag(hats: np.ndarray, sr: int, bar_starts: np.ndarray, bpm: float) -> float:
    """Delay (fraction of a 16th) of off-16th hat hits relative to the straight grid.

    Folds the hat stem's energy envelope (3 ms) over all odd 16th steps of the given
    bars and returns the lag where it peaks.
    """
    y = hats.mean(axis=1) if hats.ndim == 2 else hats
    n = int(0.003 * sr)
    env = np.convolve(y.astype(np.float64) ** 2, np.ones(n) / n, mode="same")
    step = 15.0 / bpm
    lags = np.linspace(-0.1, 0.6, 71)
    energy = np.zeros_like(lags)
    for b0 in bar_starts:
        for k in (1, 3, 5, 7, 9, 11, 13, 15):
            t = b0 + (k + lags) * step
            idx = np.round(t * sr).astype(int)
            idx = idx[idx < env.size]
            energy[: idx.size] += env[idx]
    # Hat hits peak within a few ms of their onset: the lag of the folded maximum.
    return float(lags[np.argmax(energy)])


def rise_time(x: np.ndarray, sr: int) -> float:
    """Median 10-90 % rise time (s) of note onsets in a stem (the groove / attack trait)."""
    y = x.mean(axis=1) if x.ndim == 2 else x
    n = int(0.002 * sr)
    env = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(n) / n, mode="same"))
    if env.max() <= 0:
        return float("nan")
    thr = 0.1 * np.percentile(env, 99)
    up = np.flatnonzero((env[1:] >= thr) & (env[:-1] < thr))
    rises = []
    look = int(0.06 * sr)
    for i in up:
        seg = env[i: i + look]
        if seg.size < look:
            continue
        top = int(np.argmax(seg))
        if top >= look - look // 10:
            continue  # still rising at the window end: overlapping notes, not one attack
        peak = seg[top]
        j10 = np.argmax(seg >= 0.1 * peak)
        j90 = np.argmax(seg >= 0.9 * peak)
        rises.append((j90 - j10) / sr)
    return float(np.median(rises)) if rises else float("nan")


def trait_values(tracks: dict, genre: str, key: str) -> np.ndarray:
    """One measured value per seed for ``genre`` from the ``trait_tracks`` fixture."""
    return np.array([m.values[key] for (g, _), m in tracks.items() if g == genre])


def tail_floor_db(y: np.ndarray, sr: int, lo: float = 1000.0, hi: float = 6000.0) -> float:
    """Quiet-moment level of the mid-high band relative to its loud moments (dB).

    Reverb tails fill the gaps between hits: the 10th percentile of the band's
    frame energy rises towards the 90th.
    """
    P = power_spec(y, 2048, 512)
    f = np.fft.rfftfreq(2048, 1.0 / sr)
    e = P[:, (f > lo) & (f < hi)].sum(axis=1)
    return float(10 * np.log10(np.percentile(e, 10) / np.percentile(e, 90)))


def activity(x: np.ndarray, sr: int, frame_s: float = 0.01, floor_db: float = -20.0) -> tuple[float, float]:
    """(note onsets per second, fraction of frames sounding) of a stem.

    A frame "sounds" when within ``floor_db`` of the stem's loud level (99th
    percentile); an onset is a silent -> sounding transition. Fragmented parts have
    many onsets and many rests.
    """
    y = x.mean(axis=1) if x.ndim == 2 else x
    n = int(frame_s * sr)
    m = y.size // n
    rms = np.sqrt(np.mean(y[: m * n].astype(np.float64).reshape(m, n) ** 2, axis=1))
    if rms.max() <= 0:
        return 0.0, 0.0
    on = rms > np.percentile(rms, 99) * 10 ** (floor_db / 20)
    onsets = np.count_nonzero(on[1:] & ~on[:-1])
    return onsets / (m * frame_s), float(on.mean())


def note_rise_times(x: np.ndarray, sr: int, onsets: np.ndarray, window_s: float = 0.06) -> np.ndarray:
    """10-90 % rise time (s) of the envelope after each known note onset.

    The rise is measured from the level at the onset (a previous note may still
    ring) to the highest level within ``window_s`` (or before the next onset).
    """
    y = x.mean(axis=1) if x.ndim == 2 else x
    n = int(0.001 * sr)
    env = np.sqrt(np.convolve(y.astype(np.float64) ** 2, np.ones(n) / n, mode="same"))
    out = []
    on = np.round(np.asarray(onsets) * sr).astype(int)
    for k, i in enumerate(on):
        end = min(i + int(window_s * sr), on[k + 1] if k + 1 < on.size else env.size, env.size)
        seg = env[i:end]
        if seg.size < int(0.005 * sr):
            continue
        base, peak = seg[0], seg.max()
        if peak <= base * 1.5:
            continue
        j10 = np.argmax(seg >= base + 0.1 * (peak - base))
        j90 = np.argmax(seg >= base + 0.9 * (peak - base))
        out.append((j90 - j10) / sr)
    return np.array(out)
