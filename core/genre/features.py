"""Log-mel features of the genre models, in numpy only (no librosa, no torch).

The paper's features are ``librosa.feature.melspectrogram`` (44.1 kHz, n_fft 2048,
hop 512, 224 Slaney mel bands, Hann window, ``center=True`` with zero padding,
power 2) followed by ``librosa.power_to_db(ref=np.max, amin=1e-10, top_db=80)`` and
a scaling by -1/80, so a clip's loudest cell is 0 and everything 80 dB below it or
quieter is 1. librosa is not available at runtime (Blender, laptops), so this module
re-implements that path; ``tests/genre`` checks it against librosa within 1e-4.

Whole tracks are analysed in overlapping windows. Instead of recomputing the STFT
for every window, :func:`track_mel_db` computes the mel power of the whole track
once (in dB) and :func:`window_features` cuts the windows out of it, normalising each
one to its own maximum exactly as ``power_to_db(ref=np.max)`` does for a clip. Only
the one or two frames at a window's edges differ from a separately computed clip
(their STFT frames reach into the neighbouring audio instead of zero padding).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from ..errors import MainstageError

SAMPLE_RATE = 44100
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 224
AMIN = 1e-10
TOP_DB = 80.0

#: Everything a model's input depends on. Stored in every checkpoint and exported
#: model; :func:`check_feature_params` refuses models computed differently.
FEATURE_PARAMS: dict = {
    "kind": "log-mel",
    "sample_rate": SAMPLE_RATE,
    "n_fft": N_FFT,
    "hop_length": HOP_LENGTH,
    "win_length": N_FFT,
    "window": "hann",
    "center": True,
    "pad_mode": "constant",
    "power": 2.0,
    "n_mels": N_MELS,
    "fmin": 0.0,
    "fmax": SAMPLE_RATE / 2,
    "mel_scale": "slaney",
    "mel_norm": "slaney",
    "db_ref": "max",
    "amin": AMIN,
    "top_db": TOP_DB,
    "scale": -1.0 / TOP_DB,
}


class FeatureError(MainstageError, ValueError):
    """Audio or feature parameters that the feature code cannot handle."""


def feature_params(chroma: bool = False) -> dict:
    """The feature description stored with a model (a fresh dict).

    Parameters
    ----------
    chroma : bool
        Whether the model takes the paper's two chroma channels (CQT and VQT chroma,
        ``intervals='ji5'``) after the mel channel.
    """
    out = dict(FEATURE_PARAMS)
    out["chroma"] = bool(chroma)
    out["channels"] = ["mel", "cqt_chroma", "vqt_chroma"] if chroma else ["mel"]
    return out


def check_feature_params(params: dict, source: str = "model") -> None:
    """Raise :class:`FeatureError` if ``params`` differ from what this code computes.

    Only the keys of :data:`FEATURE_PARAMS` are compared (``chroma``/``channels``
    are checked by the caller, which knows whether it can compute chroma).
    """
    if not isinstance(params, dict):
        raise FeatureError(f"{source}: feature parameters must be an object")
    diffs = []
    for key, want in FEATURE_PARAMS.items():
        got = params.get(key, "<missing>")
        same = got == want
        if isinstance(want, float) and isinstance(got, (int, float)) and not isinstance(got, bool):
            same = abs(float(got) - want) <= 1e-9 * max(1.0, abs(want))
        if not same:
            diffs.append(f"{key}={got!r} (runtime computes {want!r})")
    if diffs:
        raise FeatureError(f"{source}: feature parameters differ from the runtime's: " + "; ".join(diffs))


# --- mel filterbank (Slaney scale and norm, as librosa.filters.mel defaults) -------------

_F_SP = 200.0 / 3
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = np.log(6.4) / 27.0


def hz_to_mel(freqs) -> np.ndarray:
    """Slaney mel scale (linear below 1 kHz, logarithmic above), as librosa's default."""
    f = np.asarray(freqs, dtype=np.float64)
    mels = f / _F_SP
    log_part = _MIN_LOG_MEL + np.log(np.maximum(f, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(f >= _MIN_LOG_HZ, log_part, mels)


def mel_to_hz(mels) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    freqs = _F_SP * m
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(m, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(m >= _MIN_LOG_MEL, log_part, freqs)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS,
                   fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """Triangular mel filters with Slaney normalisation, shape ``(n_mels, 1 + n_fft // 2)``, float32.

    Same construction as ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)``.
    """
    if fmax is None:
        fmax = sr / 2
    fftfreqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper)).astype(np.float32)
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    weights *= enorm[:, None]
    return weights


_FB_CACHE: dict[tuple, np.ndarray] = {}
_WIN_CACHE: dict[int, np.ndarray] = {}


def _cached_filterbank(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    key = (sr, n_fft, n_mels)
    if key not in _FB_CACHE:
        # Transposed and contiguous for the (frames, bins) @ (bins, mels) product.
        _FB_CACHE[key] = np.ascontiguousarray(mel_filterbank(sr, n_fft, n_mels).T)
    return _FB_CACHE[key]


def hann_window(n: int) -> np.ndarray:
    """Periodic Hann window (``scipy.signal.get_window('hann', n)``), float64."""
    if n not in _WIN_CACHE:
        _WIN_CACHE[n] = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)
    return _WIN_CACHE[n]


# --- spectrogram --------------------------------------------------------------------------

def n_frames(n_samples: int, hop_length: int = HOP_LENGTH) -> int:
    """Number of STFT frames librosa returns for ``n_samples`` samples with ``center=True``."""
    return 1 + int(n_samples) // hop_length


def _check_signal(y) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1:
        raise FeatureError(f"expected a mono signal (1-D array), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.floating):
        raise FeatureError(f"expected floating-point samples, got {y.dtype}")
    if y.size and not np.all(np.isfinite(y)):
        raise FeatureError("audio contains NaN or infinite samples")
    return y


def mel_power(y, *, sr: int = SAMPLE_RATE, n_fft: int = N_FFT, hop_length: int = HOP_LENGTH,
              n_mels: int = N_MELS, chunk_frames: int = 512, threads: int | None = None) -> np.ndarray:
    """Mel power spectrogram, shape ``(n_mels, 1 + len(y) // hop_length)``, float32.

    Equals ``librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
    n_mels=n_mels)`` (``center=True``, zero padding, Hann window, power 2). The STFT runs
    in blocks of ``chunk_frames`` frames (cache-sized, bounded memory) spread over
    ``threads`` threads (default: CPU count, at most 4); numpy's FFT and matrix product
    release the GIL, so the blocks run in parallel.
    """
    y = _check_signal(y)
    pad = n_fft // 2
    padded = np.zeros(y.size + 2 * pad, dtype=np.float64)
    padded[pad:pad + y.size] = y
    total = n_frames(y.size, hop_length)
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop_length][:total]
    window = hann_window(n_fft)
    fb_t = _cached_filterbank(sr, n_fft, n_mels)
    out = np.empty((total, n_mels), dtype=np.float32)

    def block(start: int) -> None:
        spec = np.fft.rfft(frames[start:start + chunk_frames] * window, axis=-1)
        sq = spec.view(np.float64)  # interleaved (re, im) pairs
        sq *= sq
        power = (sq[:, 0::2] + sq[:, 1::2]).astype(np.float32)
        np.matmul(power, fb_t, out=out[start:start + chunk_frames])

    starts = range(0, total, chunk_frames)
    if threads is None:
        threads = min(4, os.cpu_count() or 1)
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(block, starts))
    else:
        for start in starts:
            block(start)
    return np.ascontiguousarray(out.T)


def power_to_db(S, *, ref: str | float = "max", amin: float = AMIN, top_db: float | None = TOP_DB) -> np.ndarray:
    """``librosa.power_to_db`` for real power spectrograms (``ref='max'`` means ``np.max``)."""
    S = np.asarray(S)
    ref_value = float(np.max(S)) if (isinstance(ref, str) and ref == "max") else abs(float(ref))
    log_spec = 10.0 * np.log10(np.maximum(amin, S))
    log_spec -= 10.0 * np.log10(max(amin, ref_value))
    if top_db is not None:
        log_spec = np.maximum(log_spec, log_spec.max() - top_db)
    return log_spec


def scale_db(S_db) -> np.ndarray:
    """The paper's scaling of ``power_to_db(ref=max)`` output: ``-dB / 80`` (0 loudest, 1 quietest)."""
    return (np.asarray(S_db) * np.float32(-1.0 / TOP_DB)).astype(np.float32)


def log_mel(y, sr: int = SAMPLE_RATE) -> np.ndarray:
    """The paper's clip feature: scaled log-mel, shape ``(224, frames)``, values in [0, 1].

    ``y`` must be mono at :data:`SAMPLE_RATE` (see :func:`prepare_audio`).
    """
    if sr != SAMPLE_RATE:
        raise FeatureError(f"log_mel needs audio at {SAMPLE_RATE} Hz, got {sr} Hz (use prepare_audio)")
    # Clipped to [0, 1]: float32 rounding can leave the loudest cell at -1e-8.
    return np.clip(scale_db(power_to_db(mel_power(y))), 0.0, 1.0)


# --- whole tracks, cut into windows -----------------------------------------------------

def track_mel_db(y, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mel power of a whole track in dB (``10 log10 max(amin, S)``), shape ``(224, frames)``, float32.

    Not yet normalised: :func:`window_features` subtracts each window's maximum.
    """
    if sr != SAMPLE_RATE:
        raise FeatureError(f"track_mel_db needs audio at {SAMPLE_RATE} Hz, got {sr} Hz (use prepare_audio)")
    S = mel_power(y)
    np.maximum(S, np.float32(AMIN), out=S)
    np.log10(S, out=S)
    S *= np.float32(10.0)
    return S


def window_features(mel_db: np.ndarray, starts, length: int, out: np.ndarray | None = None) -> np.ndarray:
    """Cut windows out of :func:`track_mel_db` output and normalise each like a clip.

    Parameters
    ----------
    mel_db : np.ndarray, shape (n_mels, frames)
    starts : array_like of int
        First frame of each window. Windows reaching past either end of the track are
        padded with silence (dB of ``amin``), as a clip's zero padding would be.
    length : int
        Frames per window.

    Returns
    -------
    np.ndarray, shape (n_windows, n_mels, length), float32
        ``-max(dB - max(dB), -80) / 80`` per window, the paper's scaled log-mel.
    """
    starts = np.asarray(starts, dtype=np.int64).reshape(-1)
    n_mels, total = mel_db.shape
    floor = np.float32(10.0 * np.log10(AMIN))
    lo = int(min(0, starts.min(initial=0)))
    hi = int(max(total, (starts.max(initial=0) + length)))
    if lo < 0 or hi > total:  # pad once so that every window is a plain slice
        padded = np.full((n_mels, hi - lo), floor, dtype=np.float32)
        padded[:, -lo:-lo + total] = mel_db
        mel_db, starts = padded, starts - lo
    if out is None:
        out = np.empty((starts.size, n_mels, length), dtype=np.float32)
    for i, s in enumerate(starts.tolist()):  # one contiguous block copy per window
        out[i] = mel_db[:, s:s + length]
    ref = out.max(axis=(1, 2), keepdims=True)
    # (ref - dB) / 80 clipped to [0, 1] == -max(dB - ref, -80) / 80
    np.subtract(ref, out, out=out)
    out *= np.float32(1.0 / TOP_DB)
    np.minimum(out, np.float32(1.0), out=out)
    return out


def prepare_audio(audio, sr: int) -> np.ndarray:
    """Mono float32 audio at :data:`SAMPLE_RATE` from ``(n,)`` or ``(n, channels)`` samples at ``sr``.

    Channels are averaged (as ``librosa.load(mono=True)``); other rates are converted
    with soxr (high quality).
    """
    a = np.asarray(audio)
    if a.ndim == 2:
        a = a.mean(axis=1)
    elif a.ndim != 1:
        raise FeatureError(f"expected audio of shape (n,) or (n, channels), got {a.shape}")
    a = _check_signal(a.astype(np.float32, copy=False))
    if int(sr) <= 0:
        raise FeatureError(f"bad sample rate {sr}")
    if int(sr) != SAMPLE_RATE:
        import soxr

        a = soxr.resample(a, int(sr), SAMPLE_RATE, quality="HQ").astype(np.float32, copy=False)
    return np.ascontiguousarray(a)
