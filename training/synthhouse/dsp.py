"""Signal building blocks for SynthHouse: envelopes, FFT filters, shaped noise, wavetables.

Everything is vectorised numpy. There is no IIR filtering here: a per-sample recursive
filter is a Python loop (far too slow without scipy, which core may not import), so
static filters work in the frequency domain and time-varying "filter sweeps" of the
synth voices morph between pre-filtered single-cycle wavetables.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

#: Samples in one single-cycle wavetable (power of two; up to 1023 harmonics).
TABLE_SIZE = 2048
#: Number of brightness levels (low-pass cut-offs) per wavetable bank.
BANK_LEVELS = 20


def next_fast_len(n: int) -> int:
    """Smallest 5-smooth integer >= ``n`` (fast FFT size for pocketfft)."""
    n = int(n)
    if n <= 16:
        return max(n, 1)
    best = 1 << (n - 1).bit_length()
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            # Smallest power of two making p35 * 2**k >= n.
            q = -(-n // p35)
            p2 = 1 << (q - 1).bit_length()
            cand = p2 * p35
            if cand < best:
                best = cand
            p35 *= 3
        p5 *= 5
    return best


def seconds(n: int, sr: int) -> np.ndarray:
    """Time axis ``arange(n) / sr`` (float64)."""
    return np.arange(int(n), dtype=np.float64) / sr


def exp_decay(n: int, sr: int, decay_s: float, hold_s: float = 0.0) -> np.ndarray:
    """Envelope that holds at 1 for ``hold_s`` then decays by e every ``decay_s`` seconds."""
    t = seconds(n, sr)
    return np.exp(-np.maximum(t - hold_s, 0.0) / max(decay_s, 1e-4))


def adsr(n: int, sr: int, attack_s: float, decay_s: float, sustain: float, release_s: float,
         gate_s: float) -> np.ndarray:
    """Linear-attack, exponential decay/release envelope of ``n`` samples.

    The note is held for ``gate_s`` seconds, then released; ``n`` should cover
    ``gate_s + release_s``.
    """
    t = seconds(n, sr)
    a = max(attack_s, 1e-4)
    att = np.clip(t / a, 0.0, 1.0)
    dec = sustain + (1.0 - sustain) * np.exp(-np.maximum(t - a, 0.0) / max(decay_s, 1e-4))
    env = np.where(t < a, att, dec)
    gate = max(gate_s, 1e-3)
    level_at_gate = np.interp(gate, t, env) if n else 0.0
    rel = level_at_gate * np.exp(-np.maximum(t - gate, 0.0) / max(release_s, 1e-4) * 3.0)
    env = np.where(t < gate, env, rel)
    # A few-ms fade at the very end avoids a click when the buffer is cut.
    tail = min(n, int(0.004 * sr))
    if tail:
        env[n - tail:] *= np.linspace(1.0, 0.0, tail)
    return env


def fade_edges(x: np.ndarray, sr: int, fade_in_s: float = 0.002, fade_out_s: float = 0.004) -> np.ndarray:
    """Apply short linear fades to both ends of ``x`` (in place) and return it."""
    n = x.shape[0]
    fi = min(n, int(fade_in_s * sr))
    fo = min(n, int(fade_out_s * sr))
    if fi:
        x[:fi] *= np.linspace(0.0, 1.0, fi).reshape((fi,) + (1,) * (x.ndim - 1))
    if fo:
        x[n - fo:] *= np.linspace(1.0, 0.0, fo).reshape((fo,) + (1,) * (x.ndim - 1))
    return x


def band_response(freqs: np.ndarray, lo: float | None = None, hi: float | None = None,
                  order: int = 2, peak_hz: float | None = None, peak_gain: float = 0.0,
                  peak_width: float = 0.3) -> np.ndarray:
    """Magnitude response: Butterworth-shaped high-pass ``lo`` / low-pass ``hi`` and an optional bell.

    ``peak_gain`` is a linear boost (0 = none) of a log-Gaussian bell of ``peak_width``
    octaves (standard deviation) at ``peak_hz``.
    """
    f = np.maximum(np.asarray(freqs, dtype=np.float64), 1e-3)
    g = np.ones_like(f)
    if hi is not None:
        g /= np.sqrt(1.0 + (f / hi) ** (2 * order))
    if lo is not None:
        g /= np.sqrt(1.0 + (lo / f) ** (2 * order))
    if peak_hz is not None and peak_gain:
        g *= 1.0 + peak_gain * np.exp(-0.5 * (np.log2(f / peak_hz) / peak_width) ** 2)
    return g


def fft_filter(x: np.ndarray, sr: int, lo: float | None = None, hi: float | None = None, order: int = 2,
               peak_hz: float | None = None, peak_gain: float = 0.0, peak_width: float = 0.3) -> np.ndarray:
    """Zero-phase static filter of ``x`` (axis 0) through :func:`band_response`."""
    n = x.shape[0]
    if n == 0:
        return x
    nf = next_fast_len(n)
    spec = np.fft.rfft(x, nf, axis=0)
    g = band_response(np.fft.rfftfreq(nf, 1.0 / sr), lo, hi, order, peak_hz, peak_gain, peak_width)
    spec *= g.reshape((-1,) + (1,) * (x.ndim - 1))
    return np.fft.irfft(spec, nf, axis=0)[:n]


def white(rng: np.random.Generator, n: int, channels: int = 1) -> np.ndarray:
    """Gaussian white noise, shape (n,) or (n, channels)."""
    if channels == 1:
        return rng.standard_normal(int(n))
    return rng.standard_normal((int(n), channels))


def shaped_noise(rng: np.random.Generator, n: int, sr: int, magnitude, nfft: int = 1024,
                 channels: int = 1) -> np.ndarray:
    """Noise whose short-time spectrum follows ``magnitude(times, freqs) -> (frames, bins)``.

    White noise is filtered frame by frame in the STFT domain (square-root Hann
    analysis and synthesis windows at 50 % overlap, which reconstruct perfectly), so
    a time-varying band-pass such as a riser's sweep costs a few batched FFTs instead
    of a per-sample IIR loop. A flat magnitude of 1 returns unit-variance noise.
    """
    hop = nfft // 2
    window = np.sqrt(np.hanning(nfft + 1)[:-1])
    total = int(n) + 2 * nfft
    frames = (total - nfft) // hop + 1
    # Frame centres relative to the first returned sample (which is sample ``nfft``).
    times = (np.arange(frames) * hop + nfft / 2 - nfft) / sr
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    mag = np.asarray(magnitude(np.maximum(times, 0.0), freqs), dtype=np.float64)
    outs = []
    for _ in range(channels):
        x = rng.standard_normal(total)
        grains = np.lib.stride_tricks.sliding_window_view(x, nfft)[::hop][:frames] * window
        grains = np.fft.irfft(np.fft.rfft(grains, axis=1) * mag, nfft, axis=1) * window
        out = np.zeros((frames + 1) * hop + nfft)
        for k in range(2):  # frames k, k+2, ... do not overlap: one reshape each
            g = grains[k::2]
            out[k * hop: k * hop + g.size] += g.reshape(-1)
        outs.append(out[nfft:nfft + n])
    return outs[0] if channels == 1 else np.stack(outs, axis=1)


# ---------------------------------------------------------------------------
# Wavetables
# ---------------------------------------------------------------------------

def _base_amplitudes(kind: str, k: np.ndarray, pw: float) -> np.ndarray:
    """Sine-series amplitudes of the classic waveforms (band-limited by construction)."""
    if kind == "saw":
        return 2.0 / np.pi * ((-1.0) ** (k + 1)) / k
    if kind == "square":
        return np.where(k % 2 == 1, 4.0 / (np.pi * k), 0.0)
    if kind == "pulse":
        # Pulse of duty ``pw`` (as a cosine series; phase does not matter for timbre).
        return 4.0 / (np.pi * k) * np.sin(np.pi * k * pw)
    if kind == "triangle":
        return np.where(k % 2 == 1, 8.0 / (np.pi ** 2) * ((-1.0) ** ((k - 1) // 2)) / k ** 2, 0.0)
    if kind == "sine":
        return np.where(k == 1, 1.0, 0.0)
    raise ValueError(f"unknown waveform {kind!r}")


@lru_cache(maxsize=256)
def wavetable_bank(kind: str, n_harm: int, pw: float = 0.5, resonance: float = 0.0,
                   order: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Single-cycle tables of one waveform through low-pass filters of rising cut-off.

    Parameters
    ----------
    kind : {"saw", "square", "pulse", "triangle", "sine"}
    n_harm : int
        Highest harmonic kept (band limit: ``0.45 * sr / f0`` of the highest note).
    pw : float
        Pulse width for ``kind="pulse"``.
    resonance : float
        Height of the resonant bump at the cut-off (0 = plain Butterworth slope).
    order : int
        Filter order (slope ``6 * order`` dB/octave).

    Returns
    -------
    tables : np.ndarray, shape (BANK_LEVELS, TABLE_SIZE + 1)
        The tables; the extra last sample repeats the first (interpolation wrap).
    ratios : np.ndarray, shape (BANK_LEVELS,)
        Cut-off of each table, in harmonics of the fundamental.
    """
    n_harm = int(max(1, min(n_harm, TABLE_SIZE // 2 - 1)))
    k = np.arange(1, n_harm + 1, dtype=np.float64)
    amps = _base_amplitudes(kind, k, pw)
    ratios = np.geomspace(0.6, max(n_harm * 1.5, 0.7), BANK_LEVELS)
    resp = 1.0 / np.sqrt(1.0 + (k[None, :] / ratios[:, None]) ** (2 * order))
    if resonance:
        width = 0.12 * ratios[:, None] + 0.6
        resp = resp * (1.0 + resonance * np.exp(-0.5 * ((k[None, :] - ratios[:, None]) / width) ** 2))
    spec = np.zeros((BANK_LEVELS, TABLE_SIZE // 2 + 1), dtype=np.complex128)
    spec[:, 1:n_harm + 1] = -0.5j * TABLE_SIZE * amps[None, :] * resp
    tables = np.fft.irfft(spec, TABLE_SIZE, axis=1)
    tables = np.concatenate([tables, tables[:, :1]], axis=1)
    tables.setflags(write=False)
    ratios.setflags(write=False)
    return tables, ratios


def n_harmonics(f_max: float, sr: int) -> int:
    """Band limit (harmonic count) for a note whose highest frequency is ``f_max``.

    Rounded down to a few values per octave so that wavetable banks are shared by
    neighbouring notes (cache hits).
    """
    raw = max(1.0, 0.45 * sr / max(f_max, 1.0))
    q = 2.0 ** (np.floor(np.log2(raw) * 4.0) / 4.0)
    return int(max(1, min(TABLE_SIZE // 2 - 1, q)))


def phase_of(freq, n: int, sr: int, phase0: float = 0.0) -> np.ndarray:
    """Running phase in cycles for a constant or per-sample frequency."""
    if np.ndim(freq) == 0:
        return phase0 + np.arange(n, dtype=np.float64) * (float(freq) / sr)
    f = np.asarray(freq, dtype=np.float64)
    ph = np.cumsum(f) / sr
    return phase0 + ph - ph[0]


def wavetable_read(bank: tuple[np.ndarray, np.ndarray], phase: np.ndarray, cutoff_ratio) -> np.ndarray:
    """Read a wavetable bank at ``phase`` (cycles) with a (time-varying) cut-off.

    ``cutoff_ratio`` is the low-pass cut-off in harmonics of the fundamental (scalar
    or per-sample); it is mapped to a fractional bank level and the two neighbouring
    tables are blended, which gives a smooth filter sweep.
    """
    tables, ratios = bank
    pos = (phase - np.floor(phase)) * TABLE_SIZE
    i = pos.astype(np.int64)
    fr = pos - i
    levels = np.arange(len(ratios), dtype=np.float64)
    if np.ndim(cutoff_ratio) == 0:
        # Static filter: blend the two neighbouring tables once, then read one table.
        lv = float(np.interp(np.log(max(float(cutoff_ratio), 1e-3)), np.log(ratios), levels))
        j = min(int(lv), len(ratios) - 2)
        tab = tables[j] + (tables[j + 1] - tables[j]) * (lv - j)
        return tab[i] + (tab[i + 1] - tab[i]) * fr
    stride = tables.shape[1]
    flat = tables.reshape(-1)
    lv = np.interp(np.log(np.maximum(cutoff_ratio, 1e-3)), np.log(ratios), levels)
    j = np.minimum(np.floor(lv).astype(np.int64), len(ratios) - 2)
    w = lv - j
    base0 = j * stride + i
    base1 = base0 + stride
    a = flat[base0] + (flat[base0 + 1] - flat[base0]) * fr
    b = flat[base1] + (flat[base1 + 1] - flat[base1]) * fr
    return a + (b - a) * w


def osc(kind: str, freq, n: int, sr: int, cutoff_hz=None, phase0: float = 0.0, pw: float = 0.5,
        resonance: float = 0.0, order: int = 2) -> np.ndarray:
    """Band-limited oscillator with an optional (time-varying) resonant low-pass.

    Parameters
    ----------
    kind : str
        Waveform (see :func:`wavetable_bank`).
    freq : float or array (n,)
        Frequency in Hz (constant, or per sample for glides and vibrato).
    cutoff_hz : None, float or array (n,)
        Low-pass cut-off in Hz; None leaves the waveform unfiltered.
    """
    f = np.asarray(freq, dtype=np.float64)
    f_max = float(np.max(f)) if f.ndim else float(f)
    bank = wavetable_bank(kind, n_harmonics(f_max, sr), round(float(pw), 3), round(float(resonance), 3), int(order))
    phase = phase_of(freq, n, sr, phase0)
    if cutoff_hz is None:
        ratio = float(bank[1][-1])
    elif np.ndim(cutoff_hz) == 0:
        ratio = float(cutoff_hz) / max(float(np.mean(f)), 1.0)
    else:
        ratio = np.asarray(cutoff_hz, dtype=np.float64) / np.maximum(f, 1.0)
    return wavetable_read(bank, phase, ratio)


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power pan law; ``pan`` in [-1, 1]."""
    a = (pan + 1.0) * np.pi / 4.0
    return float(np.cos(a)), float(np.sin(a))


def to_stereo(x: np.ndarray, pan: float = 0.0) -> np.ndarray:
    """Mono (n,) -> stereo (n, 2) with constant-power panning (centre = both 0.707)."""
    if x.ndim == 2:
        return x
    lg, rg = pan_gains(pan)
    return np.stack([x * lg * np.sqrt(2.0), x * rg * np.sqrt(2.0)], axis=1)


def log_bell(freqs: np.ndarray, centre: np.ndarray, octaves: float) -> np.ndarray:
    """Log-Gaussian band-pass magnitude ``exp(-0.5 * (log2(f / centre) / octaves)^2)``.

    ``freqs`` (bins,) and ``centre`` (frames, 1) broadcast to (frames, bins).
    """
    lf = np.log2(np.maximum(freqs, 1.0))[None, :]
    return np.exp(-0.5 * ((lf - np.log2(centre)) / octaves) ** 2)


@lru_cache(maxsize=2)
def _white_spectrum(sr: int, n: int) -> np.ndarray:
    """Spectrum of a fixed (seeded) stereo white-noise buffer, shared by all noise loops."""
    rng = np.random.default_rng(0x5EED)
    spec = np.fft.rfft(rng.standard_normal((n, 2)), axis=0)
    spec.setflags(write=False)
    return spec


@lru_cache(maxsize=32)
def noise_loop(sr: int, lo: float, hi: float, seconds_: float = 3.0) -> np.ndarray:
    """A fixed band-passed stereo noise loop (deterministic), for cheap noise layers.

    All loops filter the same cached white-noise spectrum (one inverse FFT each).
    """
    n = next_fast_len(int(seconds_ * sr))
    spec = _white_spectrum(sr, n)
    g = band_response(np.fft.rfftfreq(n, 1.0 / sr), lo, hi)
    x = np.fft.irfft(spec * g[:, None], n, axis=0)
    x /= np.sqrt(np.mean(x ** 2))
    x.setflags(write=False)
    return x


def noise_slice(rng: np.random.Generator, n: int, sr: int, lo: float, hi: float) -> np.ndarray:
    """``n`` samples of :func:`noise_loop` from a random offset (wrapping around; a copy)."""
    loop = noise_loop(sr, float(lo), float(hi))
    size = loop.shape[0]
    off = int(rng.integers(size))
    if off + n <= size:
        return loop[off:off + n].copy()
    pieces = [loop[off:]]
    got = size - off
    while got < n:
        take = min(size, n - got)
        pieces.append(loop[:take])
        got += take
    return np.concatenate(pieces, axis=0)
