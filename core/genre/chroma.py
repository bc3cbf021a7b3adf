"""The paper's chroma channels (CQT chroma and VQT chroma with ``intervals='ji5'``) via librosa.

Models trained "with chroma" take three channels: the scaled log-mel, the CQT
chromagram and the VQT chromagram, each chromagram resized from 12 to 224 rows.
librosa is an optional dependency of the runtime (the ``train`` extra): it is imported
only for chroma models, and a clear error says how to install it when it is missing.
"""
from __future__ import annotations

import numpy as np

from ..errors import MainstageError
from . import features as F


class ChromaUnavailableError(MainstageError, RuntimeError):
    """Chroma features were requested but librosa is not installed."""


def librosa():
    """The librosa module, or :class:`ChromaUnavailableError` saying how to install it."""
    try:
        import librosa
    except ImportError:
        raise ChromaUnavailableError(
            "this model uses chroma features (CQT/VQT chromagrams), which need librosa; "
            "install it with: pip install 'mainstage-vfx[train]' (or pick a mel-only model)"
        ) from None
    return librosa


def resize_rows(chroma: np.ndarray, rows: int = F.N_MELS) -> np.ndarray:
    """Linear interpolation of ``(bins, frames)`` to ``(rows, frames)``.

    Pixel-centre alignment (``align_corners=False``), the convention of
    ``cv2.resize``/``torch.nn.functional.interpolate``, so each of the 12 chroma bins
    covers an equal band of about 18.7 rows.
    """
    bins = chroma.shape[0]
    pos = (np.arange(rows, dtype=np.float64) + 0.5) * (bins / rows) - 0.5
    pos = np.clip(pos, 0.0, bins - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, bins - 1)
    frac = (pos - lo).astype(np.float32)[:, None]
    return (chroma[lo] * (1.0 - frac) + chroma[hi] * frac).astype(np.float32)


def chroma_channels(y, sr: int = F.SAMPLE_RATE) -> np.ndarray:
    """CQT and VQT (``intervals='ji5'``) chromagrams, resized to 224 rows.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono audio at 44.1 kHz.

    Returns
    -------
    np.ndarray, shape (2, 224, 1 + n // 512), float32, values in [0, 1]
        Same frame grid as :func:`mainstage.core.genre.features.mel_power`.
    """
    lr = librosa()
    y = np.asarray(y, dtype=np.float32)
    frames = F.n_frames(y.size)
    cqt = lr.feature.chroma_cqt(y=y, sr=sr, hop_length=F.HOP_LENGTH)
    vqt = lr.feature.chroma_vqt(y=y, sr=sr, hop_length=F.HOP_LENGTH, intervals="ji5")
    out = np.zeros((2, F.N_MELS, frames), dtype=np.float32)
    for i, c in enumerate((cqt, vqt)):
        n = min(frames, c.shape[1])
        out[i, :, :n] = resize_rows(c[:, :n])
    return out


def clip_features(y, sr: int = F.SAMPLE_RATE, chroma: bool = True) -> np.ndarray:
    """The paper's clip input: ``(3, 224, frames)`` = mel, CQT chroma, VQT chroma (or ``(1, ...)`` mel only)."""
    mel = F.log_mel(y, sr)[None]
    if not chroma:
        return mel
    return np.concatenate([mel, chroma_channels(y, sr)], axis=0)
