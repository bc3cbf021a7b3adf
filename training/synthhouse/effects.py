"""Mix effects: generated-noise reverb, side-chain pumping, waveshaping, filters, master chain."""
from __future__ import annotations

import numpy as np

from .dsp import band_response, fft_filter, next_fast_len, seconds, shaped_noise


def reverb_ir(rng: np.random.Generator, sr: int, rt60: float, predelay: float = 0.02, damping: float = 0.5,
              low_cut: float = 200.0, early: int = 6) -> np.ndarray:
    """Stereo room impulse response: exponentially decaying noise with frequency-dependent decay.

    Parameters
    ----------
    rt60 : float
        Time for the tail to fall by 60 dB at low-mid frequencies (seconds).
    damping : float
        0..1; how much faster high frequencies die (air and wall absorption).
    low_cut : float
        High-pass of the tail (Hz): house reverbs sit in the mid-highs, not the sub.

    Returns
    -------
    np.ndarray, shape (n, 2), unit energy per channel.
    """
    n = int((predelay + rt60 * 1.1) * sr)

    def mag(times, freqs):
        f = np.maximum(freqs[None, :], 1.0)
        rt = rt60 / (1.0 + damping * 3.0 * (f / 8000.0) ** 1.5)
        lin = np.exp(-6.91 * np.maximum(times[:, None] - predelay, 0.0) / rt)
        hp = 1.0 / np.sqrt(1.0 + (low_cut / f) ** 4)  # the tail stays out of the sub
        return lin * hp * (times[:, None] >= predelay)

    ir = shaped_noise(rng, n, sr, mag, nfft=1024, channels=2)
    # A few discrete early reflections give the room a size.
    taps = (predelay + rng.uniform(0.003, 0.04, early)) * sr
    for i, tap in enumerate(taps.astype(int)):
        if tap < n:
            ir[tap, i % 2] += rng.uniform(0.3, 0.7) * np.sqrt(sr / 1000.0) * 0.05
    fade = min(n, int(0.05 * sr))
    ir[n - fade:] *= np.linspace(1, 0, fade)[:, None]
    ir /= np.sqrt(np.sum(ir ** 2, axis=0, keepdims=True)) + 1e-12
    return ir


class Convolver:
    """FFT convolution of mono inputs with a fixed stereo impulse response.

    The IR spectrum is cached per FFT size, so convolving many similar-length loops
    costs one forward and one inverse transform each.
    """

    def __init__(self, ir: np.ndarray):
        self.ir = np.asarray(ir, dtype=np.float64)
        self._spec: dict[int, np.ndarray] = {}

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Convolve mono ``x`` (n,) -> stereo (n + len(ir) - 1, 2)."""
        n = x.shape[0] + self.ir.shape[0] - 1
        nf = next_fast_len(n)
        H = self._spec.get(nf)
        if H is None:
            H = self._spec[nf] = np.fft.rfft(self.ir, nf, axis=0)
        X = np.fft.rfft(x, nf)
        return np.fft.irfft(X[:, None] * H, nf, axis=0)[:n]


def pump_curve(n: int, sr: int, depth: float, release_s: float, shape: float = 1.5) -> np.ndarray:
    """Gain reduction of one side-chain "duck": ``depth`` at the kick, back to 0 after ``release_s``.

    Returns the reduction (to subtract from 1), length ``n``.
    """
    t = seconds(n, sr)
    u = np.clip(t / max(release_s, 1e-3), 0.0, 1.0)
    attack = np.clip(t / 0.004, 0.0, 1.0)  # 4 ms attack avoids clicks
    return depth * attack * (1.0 - u) ** shape


def waveshape(x: np.ndarray, drive: float, asym: float = 0.0) -> np.ndarray:
    """Soft-clipping waveshaper ``tanh(drive * x)`` with optional asymmetry (even harmonics)."""
    if drive <= 1e-3:
        return x
    if asym:
        y = np.tanh(drive * (x + asym)) - np.tanh(drive * asym)
    else:
        y = np.tanh(x * np.asarray(drive, dtype=x.dtype))
    return y / np.asarray(np.tanh(drive), dtype=y.dtype)


def lowpass(x: np.ndarray, sr: int, cutoff: float, order: int = 2) -> np.ndarray:
    """Zero-phase low-pass (frequency domain)."""
    return fft_filter(x, sr, hi=cutoff, order=order)


def sweep_filter(x: np.ndarray, sr: int, cut0: float, cut1: float) -> np.ndarray:
    """Low-pass whose cut-off moves from ``cut0`` to ``cut1`` over the length of ``x``.

    Approximated by cross-fading two static low-passes (two FFT filters, no IIR loop).
    """
    if cut0 >= 15000 and cut1 >= 15000:
        return x
    n = x.shape[0]
    nf = next_fast_len(n)
    spec = np.fft.rfft(x, nf, axis=0)
    f = np.fft.rfftfreq(nf, 1.0 / sr)
    shape = (-1,) + (1,) * (x.ndim - 1)
    a = np.fft.irfft(spec * band_response(f, hi=cut0).reshape(shape), nf, axis=0)[:n]
    b = np.fft.irfft(spec * band_response(f, hi=cut1).reshape(shape), nf, axis=0)[:n]
    ramp = np.linspace(0.0, 1.0, n).reshape(shape)
    return a + (b - a) * ramp


def master(x: np.ndarray, drive: float, ceiling: float = 0.97) -> np.ndarray:
    """Master chain: glue saturation scaled by ``drive``, then peak normalisation to ``ceiling``.

    ``x`` is float32 (n, 2); it is processed in place. The saturation is
    :func:`waveshape` without asymmetry, inlined to avoid temporaries.
    """
    peak = float(np.max(np.abs(x))) or 1.0
    x *= np.float32(1.0 / peak)
    if drive > 0.05:  # in place: tanh(drive * x), no full-length temporaries
        np.multiply(x, np.float32(drive), out=x)
        np.tanh(x, out=x)
    peak = float(np.max(np.abs(x))) or 1.0
    x *= np.float32(ceiling / peak)
    return x
