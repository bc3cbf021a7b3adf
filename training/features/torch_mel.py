"""Batched log-mel features in torch (GPU or CPU), identical to :mod:`mainstage.core.genre.features`.

Used where many clips are featurised at once (training on a GPU, benchmarks). The
filterbank is the numpy one from ``core.genre.features``, so both paths share one
definition; ``tests/genre`` checks both against librosa within 1e-4.
"""
from __future__ import annotations

import torch
from torch import nn

from ...core.genre import features as F


class LogMel(nn.Module):
    """Waveforms ``(batch, samples)`` at 44.1 kHz -> scaled log-mel ``(batch, 224, frames)``.

    Each clip is normalised to its own maximum (``power_to_db(ref=np.max)``), floored
    80 dB below it and scaled by -1/80, as the paper does.

    Parameters
    ----------
    dtype : torch.dtype
        Precision of the STFT. float32 matches librosa within 1e-4 on real audio;
        float64 is available for reference computations.
    """

    def __init__(self, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.n_fft = F.N_FFT
        self.hop_length = F.HOP_LENGTH
        self.compute_dtype = dtype
        self.register_buffer("window", torch.hann_window(F.N_FFT, periodic=True, dtype=torch.float64).to(dtype),
                             persistent=False)
        fb = torch.from_numpy(F.mel_filterbank(F.SAMPLE_RATE, F.N_FFT, F.N_MELS))
        self.register_buffer("mel_fb", fb.to(dtype), persistent=False)

    def mel_power(self, wave: torch.Tensor) -> torch.Tensor:
        """Mel power ``(batch, 224, frames)`` (``librosa.feature.melspectrogram``)."""
        if wave.dim() == 1:
            wave = wave[None]
        spec = torch.stft(
            wave.to(self.compute_dtype), n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.n_fft,
            window=self.window, center=True, pad_mode="constant", return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()  # (batch, bins, frames)
        return torch.matmul(self.mel_fb, power)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        power = self.mel_power(wave)
        db = 10.0 * torch.log10(power.clamp_min(F.AMIN))
        ref = db.amax(dim=(-2, -1), keepdim=True)
        scaled = ((ref - db) / F.TOP_DB).clamp_max(1.0)
        return scaled.to(torch.float32)

