"""Tempo estimation: windowed autocorrelation of the onset envelope with a house-music prior.

The onset envelope's autocorrelation is evaluated at every candidate beat period and its
multiples (a comb), which makes the true beat period and its slower octaves score alike;
a log-normal prior centred on 125 BPM then settles the octave, so house tracks between
115 and 135 BPM never come out at half or double tempo. Windows of a few seconds give a
local tempo curve from which constant-tempo segments (DJ mixes) are cut.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Range of tempi considered (BPM).
BPM_RANGE = (60.0, 200.0)
#: Tempo prior: centre (BPM) and width (octaves, one standard deviation).
PRIOR_BPM = 125.0
PRIOR_OCTAVES = 0.5
#: Harmonic weights of the comb over autocorrelation lags L, 2L, 3L, 4L.
COMB_WEIGHTS = (1.0, 0.5, 0.33, 0.25)
#: Grid of candidate tempi (BPM).
BPM_STEP = 0.1


@dataclass
class LocalTempo:
    """Tempo curve of a track.

    Attributes
    ----------
    times : (w,) window centres (s)
    bpm : (w,) best tempo per window
    strength : (w,) periodicity strength of that tempo (normalised autocorrelation, 0..1)
    energy : (w,) mean onset strength of the window (0 for silence)
    """

    times: np.ndarray
    bpm: np.ndarray
    strength: np.ndarray
    energy: np.ndarray


def bpm_grid() -> np.ndarray:
    """Candidate tempi (BPM)."""
    return np.arange(BPM_RANGE[0], BPM_RANGE[1] + BPM_STEP / 2, BPM_STEP)


def tempo_prior(bpm: np.ndarray, center: float = PRIOR_BPM, octaves: float = PRIOR_OCTAVES) -> np.ndarray:
    """Log-normal prior weight of each tempo (1 at ``center``)."""
    return np.exp(-0.5 * (np.log2(np.asarray(bpm, dtype=np.float64) / center) / octaves) ** 2)


def _windowed_acf(env: np.ndarray, win: int, hop: int, max_lag: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised autocorrelation (lags 0..max_lag) of overlapping windows; returns (starts, acf)."""
    n = env.size
    if n < win:
        starts = np.array([0])
        frames = np.zeros((1, win), dtype=np.float64)
        frames[0, :n] = env
    else:
        starts = np.arange(0, n - win + 1, hop)
        if starts[-1] != n - win:
            starts = np.append(starts, n - win)
        frames = np.lib.stride_tricks.sliding_window_view(env.astype(np.float64), win)[starts]
    frames = frames - frames.mean(axis=1, keepdims=True)
    nfft = 1 << int(np.ceil(np.log2(2 * win)))
    spec = np.fft.rfft(frames, nfft, axis=1)
    acf = np.fft.irfft(spec.real ** 2 + spec.imag ** 2, nfft, axis=1)[:, : max_lag + 1]
    # Unbiased estimate (fewer products at longer lags), then normalise by lag 0.
    acf = acf / (win - np.arange(max_lag + 1))[None, :]
    acf /= np.maximum(acf[:, :1], 1e-20)
    return starts, acf


def comb_scores(acf: np.ndarray, fps: float, bpms: np.ndarray) -> np.ndarray:
    """Comb score of each tempo for each autocorrelation row (linear interpolation of lags)."""
    max_lag = acf.shape[1] - 1
    out = np.zeros((acf.shape[0], bpms.size))
    wsum = 0.0
    for k, w in enumerate(COMB_WEIGHTS, start=1):
        lag = k * 60.0 * fps / bpms
        ok = lag <= max_lag
        if not np.any(ok):
            continue
        lag_c = np.minimum(lag, max_lag - 1e-9)
        i0 = np.floor(lag_c).astype(int)
        frac = lag_c - i0
        val = acf[:, i0] * (1 - frac) + acf[:, np.minimum(i0 + 1, max_lag)] * frac
        out += w * np.where(ok[None, :], np.maximum(val, 0.0), 0.0)
        wsum += w
    return out / max(wsum, 1e-9)


def local_tempo(env: np.ndarray, fps: float, win_s: float = 12.0, hop_s: float = 3.0) -> LocalTempo:
    """Best tempo in overlapping windows of the onset envelope.

    Parameters
    ----------
    env : (n,) onset envelope
    fps : envelope frame rate
    win_s, hop_s : window length and hop in seconds
    """
    bpms = bpm_grid()
    win = int(round(win_s * fps))
    hop = max(1, int(round(hop_s * fps)))
    max_lag = int(np.ceil(len(COMB_WEIGHTS) * 60.0 * fps / BPM_RANGE[0])) + 2
    max_lag = min(max_lag, win - 1)
    starts, acf = _windowed_acf(np.asarray(env, dtype=np.float64), win, hop, max_lag)
    scores = comb_scores(acf, fps, bpms)
    best = pick_octave(scores, bpms)
    # Parabolic refinement on the tempo grid.
    i = np.clip(best, 1, bpms.size - 2)
    r = np.arange(best.size)
    a, b, c = scores[r, i - 1], scores[r, i], scores[r, i + 1]
    den = a - 2 * b + c
    off = np.where(np.abs(den) > 1e-12, 0.5 * (a - c) / np.where(den == 0, 1, den), 0.0)
    bpm = bpms[i] + np.clip(off, -1, 1) * BPM_STEP
    strength = scores[r, best]
    cs = np.concatenate([[0.0], np.cumsum(env, dtype=np.float64)])
    stop = np.minimum(starts + win, env.size)
    energy = (cs[stop] - cs[starts]) / np.maximum(stop - starts, 1)
    return LocalTempo(times=(starts + win / 2) / fps, bpm=bpm, strength=strength, energy=energy)


def pick_octave(scores: np.ndarray, bpms: np.ndarray) -> np.ndarray:
    """Index of the chosen tempo in each row of comb ``scores``.

    The strongest periodicity is found without any prior; the prior then only chooses
    among its octaves (half, same, double tempo), each taken at its own local score
    maximum. A prior over all tempi would also override genuine non-octave tempi
    (a 97 BPM groove pulled to its 4:3 relative at 129 BPM).
    """
    prior = tempo_prior(bpms)
    raw = np.argmax(scores, axis=1)
    out = raw.copy()
    log_b = np.log(bpms)
    for r, j in enumerate(raw):
        best_val = -1.0
        for f in (0.5, 1.0, 2.0):
            target = np.log(bpms[j] * f)
            near = np.nonzero(np.abs(log_b - target) < 0.02)[0]
            if near.size == 0:
                continue
            k = near[np.argmax(scores[r, near])]
            val = scores[r, k] * prior[k]
            if val > best_val:
                best_val, out[r] = val, k
    return out


def refine_period(times: np.ndarray, weights: np.ndarray, bpm: float, rel_range: float = 0.02,
                  n_steps: int | None = None) -> tuple[float, float, float]:
    """Precise beat period of a set of onset times by a fine periodogram search.

    Evaluates ``|sum_j w_j exp(-2 pi i f t_j)|`` for beat frequencies ``f`` within
    ``±rel_range`` of ``bpm / 60``; the maximum gives the period and its complex angle
    the phase.

    Returns
    -------
    period : float, seconds
    phase : float, seconds (a beat falls at ``phase + k * period``)
    salience : float, 0..1 (weighted fraction of onsets in phase with the pulse)
    """
    times = np.asarray(times, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    if times.size == 0:
        return 60.0 / bpm, 0.0, 0.0
    f0 = bpm / 60.0
    span = max(float(times.max() - times.min()), 1.0)
    if n_steps is None:
        # Steps of a tenth of the periodogram's resolution (1 / span).
        n_steps = int(min(4001, max(41, 2 * rel_range * f0 * span * 10)))
    freqs = np.linspace(f0 * (1 - rel_range), f0 * (1 + rel_range), n_steps)
    ref = float(np.average(times, weights=weights)) if weights.sum() > 0 else float(times.mean())
    tt = times - ref
    # Blocks keep the (steps x onsets) phase matrix small.
    mag = np.empty(n_steps)
    vals = np.empty(n_steps, dtype=np.complex128)
    step = max(1, 2_000_000 // max(times.size, 1))
    for s in range(0, n_steps, step):
        ph = np.exp(-2j * np.pi * np.outer(freqs[s : s + step], tt))
        v = ph @ weights
        vals[s : s + step] = v
        mag[s : s + step] = np.abs(v)
    j = int(np.argmax(mag))
    if 0 < j < n_steps - 1:
        a, b, c = mag[j - 1], mag[j], mag[j + 1]
        den = a - 2 * b + c
        off = 0.5 * (a - c) / den if abs(den) > 1e-12 else 0.0
    else:
        off = 0.0
    f = freqs[j] + float(np.clip(off, -1, 1)) * (freqs[1] - freqs[0] if n_steps > 1 else 0.0)
    period = 1.0 / f
    v = np.sum(weights * np.exp(-2j * np.pi * f * tt))
    phase = ref - np.angle(v) / (2 * np.pi * f)  # exp(-2 pi i f (t - phase)) aligned
    phase = phase % period
    salience = float(abs(v) / max(weights.sum(), 1e-12))
    return period, float(phase), salience
