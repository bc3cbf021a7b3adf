"""Where the kicks of a render start, relative to its truth beats (the alignment check).

:func:`kick_offsets_ms` works on the mixed audio: the low band (< 150 Hz) carries the
kick; at each kick beat the onset is where that band's envelope has climbed a quarter
of the way from its floor just before the beat to its peak just after it. The envelope
comes from a zero-phase filter, so it rises slightly before the waveform does.
:func:`attack_offsets_ms` is the sample-exact check for an isolated drum stem.
"""
from __future__ import annotations

import numpy as np

from ..synthhouse.dsp import band_response, next_fast_len


def kick_beats(truth: dict) -> np.ndarray:
    """Truth beat times (s) on which the plan puts a kick (``half`` bars: the first two beats)."""
    bars = truth["analysis"]["bars"]
    beats = np.asarray(truth["beats"], dtype=np.float64)
    out = []
    for i, bar in enumerate(bars):
        k = bar["roles"].get("kick")
        if k:
            out.extend(beats[4 * i:4 * i + (2 if k == "half" else 4)])
    return np.asarray(out)


def low_envelope(mono: np.ndarray, sr: int, lowpass_hz: float = 150.0) -> np.ndarray:
    """Amplitude envelope (magnitude of the analytic signal) of the band below ``lowpass_hz``."""
    n = mono.size
    nf = next_fast_len(n)
    spec = np.fft.rfft(np.asarray(mono, dtype=np.float64), nf)
    spec *= band_response(np.fft.rfftfreq(nf, 1.0 / sr), hi=lowpass_hz, order=4)
    full = np.zeros(nf, dtype=np.complex128)
    full[:spec.size] = spec
    full[1:(nf + 1) // 2] *= 2.0  # analytic signal: positive frequencies doubled, negative ones dropped
    if nf % 2 == 0:
        full[nf // 2 + 1:] = 0.0
    return np.abs(np.fft.ifft(full))[:n]


def kick_offsets_ms(audio: np.ndarray, sr: int, beats, window_s: float = 0.025, lowpass_hz: float = 150.0,
                    rise: float = 0.25) -> np.ndarray:
    """Kick onset minus beat (ms) at every beat in ``beats`` (s), measured on the mixed audio.

    In the envelope of the band below ``lowpass_hz`` (:func:`low_envelope`), the floor
    is its lowest point from ``window_s`` before the beat to 2 ms after it and the peak
    its highest point from there to ``window_s`` after the beat; the onset is where it
    first climbs ``rise`` of the way from the floor to the peak.
    """
    x = np.asarray(audio, dtype=np.float64)
    mono = x.mean(axis=1) if x.ndim == 2 else x
    env = low_envelope(mono, sr, lowpass_hz)
    w, early = int(window_s * sr), int(0.002 * sr)
    out = []
    for b in np.asarray(beats, dtype=np.float64):
        c = int(round(b * sr))
        i0, i1 = max(0, c - w), min(env.size, c + w)
        if i1 - i0 < 8 or c + early >= i1:
            continue
        f = i0 + int(np.argmin(env[i0:c + early]))
        seg = env[f:i1]
        thr = seg[0] + rise * (seg.max() - seg[0])
        out.append(((f + int(np.argmax(seg >= thr))) / sr - b) * 1000.0)
    return np.asarray(out)


def attack_offsets_ms(audio: np.ndarray, sr: int, beats, window_s: float = 0.03) -> np.ndarray:
    """Attack start minus beat (ms) of the hit at each beat, for an isolated drum stem.

    The envelope is the running peak over 1 ms. Before the hit's peak (within
    ``window_s`` after the beat) the envelope's lowest point in the 10 ms before the
    beat is the floor (the previous hit's tail); the onset is the first sample after it
    that rises 10 % of the way from the floor to the peak.
    """
    a = np.abs(np.asarray(audio, dtype=np.float32))
    a = a.max(axis=1) if a.ndim == 2 else a
    k = max(1, int(0.001 * sr))
    pad = np.concatenate([np.zeros(k - 1, np.float32), a])
    env = np.lib.stride_tricks.sliding_window_view(pad, k).max(axis=1)
    pre, w = int(0.01 * sr), int(window_s * sr)
    out = []
    for b in np.asarray(beats, dtype=np.float64):
        c = int(round(b * sr))
        i0, i1 = max(0, c - pre), min(env.size, c + w)
        seg = env[i0:i1]
        if seg.size < 4 or seg.max() <= 0:
            continue
        p = int(np.argmax(seg))
        q = int(np.argmin(seg[:p + 1]))
        thr = seg[q] + 0.1 * (seg[p] - seg[q])
        out.append(((i0 + q + int(np.argmax(seg[q:p + 1] >= thr))) / sr - b) * 1000.0)
    return np.asarray(out)
