"""A randomised mixing / mastering chain: EQ, stereo width, bus compression, saturation, limiting.

Public API (also meant for other renderers, e.g. a General-MIDI one)::

    from mainstage.training.synthhouse.mastering import random_chain, apply_chain
    chain = random_chain(rng)                  # JSON-ready dict of every drawn setting
    chain = random_chain(rng, distortion=4.5)  # louder, harder limited (festival genres)
    out = apply_chain(audio, sr, chain)        # float32 (n, 2) in -> float32 (n, 2) out

The same chain applied to the same audio gives the same samples. :func:`apply_chain`
does not move anything in time: the filters are causal IIR sections (minimum phase,
like analogue and most digital mastering EQs; a kick's onset stays where it was), and
the dynamics stages only change gains.

Stages, in order:

1. EQ: a low cut (high-pass; usually a 20-45 Hz rumble filter, sometimes 50-110 Hz and,
   rarely, 120-200 Hz as on small speakers or a radio edit), a low shelf, a spectral
   tilt, a bell, a high shelf and a high cut (low-pass at 6-16 kHz, in some tracks).
   Biquads from the RBJ "Audio EQ Cookbook", Butterworth cuts from scipy.
2. Stereo width: mid/side scaling (``0.1`` = almost mono, ``2`` = very wide).
3. Bus compressor: stereo-linked RMS detector, ratio 1.5-4, attack 3-30 ms, linear-in-dB
   release, automatic make-up gain.
4. Saturation: parallel tanh waveshaper.
5. Limiter: input gain (the loudness of the master), look-ahead peak limiter with a
   linear-in-dB release, output ceiling.

The dynamics stages compute their gain on blocks (256 samples for the compressor, 64 for
the limiter) and interpolate it, which costs a few vectorised passes instead of a
per-sample Python loop; scipy has no compressor or limiter.
"""
from __future__ import annotations

import numpy as np

#: Bumped whenever the same chain would give different audio.
CHAIN_VERSION = 1


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


#: Probability that a track's chain carries a playback degradation (see :func:`random_chain`).
DEGRADE_PROB = 0.1
DEGRADATIONS = ("small_speaker", "radio", "dull")


def random_chain(rng: np.random.Generator, distortion: float | None = None, degrade: float = DEGRADE_PROB) -> dict:
    """Draw a mastering chain within realistic ranges (JSON-ready).

    Parameters
    ----------
    rng : numpy Generator
        The track's seeded stream; the draw always consumes the same amount of it.
    distortion : float, optional
        The track's distortion score (1-5, GENRES.md). Higher scores get louder,
        more compressed and saturated masters, as festival genres do. Default 2.5.
    degrade : float
        Probability of a playback degradation on top of the master: ``small_speaker``
        (low cut at 80-200 Hz), ``radio`` (low cut at 100-150 Hz and high cut at
        6-9 kHz) or ``dull`` (high cut at 6-11 kHz). It replaces the chain's own cuts and
        removes what a listener would use to hear a kick's pitch or a track's air; see
        :func:`degraded_bands`.

    Returns
    -------
    dict
        ``low_cut`` / ``high_cut`` (``{"hz", "order"}`` or None), ``low_shelf``,
        ``high_shelf``, ``bell`` (``{"hz", "gain_db", "q"}``), ``tilt_db`` (gain at
        10 kHz relative to 100 Hz, split around 1 kHz), ``width`` (side gain),
        ``compressor`` (or None), ``saturation`` (or None), ``limiter``,
        ``degrade`` (its kind, or None).
    """
    d = 2.5 if distortion is None else float(np.clip(distortion, 1.0, 5.0))
    u = (d - 1.0) / 4.0  # 0..1
    v = rng.random(8)  # the decisions
    x = rng.random(24)  # the values (all drawn, used or not: fixed consumption)

    def lin(i: int, lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(x[i])

    # Low cut: a rumble filter (20-45 Hz) in most masters; audible cuts are degradations.
    low_cut = None if v[0] < 0.2 else {"hz": _r(lin(0, 20, 45), 1), "order": 2 if x[1] < 0.5 else 4}
    high_cut = None if v[1] < 0.6 else {"hz": _r(lin(2, 11000, 16000), 0), "order": 2}
    kind = DEGRADATIONS[int(x[3] * len(DEGRADATIONS))] if v[2] < degrade else None
    if kind == "small_speaker":
        low_cut = {"hz": _r(lin(4, 80, 200), 1), "order": 2 if x[5] < 0.5 else 4}
    elif kind == "radio":
        low_cut = {"hz": _r(lin(4, 100, 150), 1), "order": 2 if x[5] < 0.5 else 4}
        high_cut = {"hz": _r(lin(6, 6000, 9000), 0), "order": 4}
    elif kind == "dull":
        high_cut = {"hz": _r(lin(6, 6000, 11000), 0), "order": 2 if x[5] < 0.5 else 4}
    low_shelf = {"hz": _r(lin(7, 60, 250), 1), "gain_db": _r(lin(8, -3.5, 3.5), 2)}
    # Real masters are darker than raw synth mixes: the high shelf and tilt lean down.
    high_shelf = {"hz": _r(lin(9, 4000, 12000), 0), "gain_db": _r(lin(10, -8.0, 2.0), 2)}
    tilt = _r(lin(11, -5.0, 1.0), 2)
    bell = {"hz": _r(np.exp(lin(12, np.log(250), np.log(5000))), 0), "gain_db": _r(lin(13, -3.5, 3.5), 2),
            "q": _r(lin(14, 0.6, 2.0), 2)}
    # Width: some near-mono masters, most around the mix's own width, some very wide.
    width = _r(lin(15, 0.1, 0.5) if v[3] < 0.08 else (lin(15, 0.9, 1.5) if v[3] < 0.7 else lin(15, 1.5, 2.2)), 3)
    comp = None
    if v[4] < 0.5 + 0.4 * u:
        # Glue compression (1-3 dB of gain reduction); the loudness comes from the limiter.
        comp = {"threshold_db": _r(-lin(16, 1.0, 4.0) - 3.0 * u, 2), "ratio": _r(lin(17, 1.3, 2.0) + 0.8 * u, 2),
                "attack_ms": _r(lin(18, 10.0, 30.0), 2), "release_db_s": _r(lin(19, 40.0, 150.0), 1)}
    sat = None
    if v[5] < 0.3 + 0.4 * u:
        sat = {"drive": _r(lin(20, 1.2, 2.0) + 1.5 * u, 3), "mix": _r(lin(21, 0.15, 0.5), 3)}
    limiter = {"gain_db": _r(lin(22, 0.0, 1.5) + 4.5 * u * (0.6 + 0.6 * float(v[6])), 2),
               "ceiling_db": _r(-0.1 - 1.4 * float(v[7]), 2), "release_db_s": _r(lin(23, 40.0, 250.0), 1)}
    return {"version": CHAIN_VERSION, "low_cut": low_cut, "high_cut": high_cut, "low_shelf": low_shelf,
            "high_shelf": high_shelf, "tilt_db": tilt, "bell": bell, "width": width, "compressor": comp,
            "saturation": sat, "limiter": limiter, "degrade": kind}


def degraded_bands(chain: dict | None) -> list[str]:
    """Bands a chain removes that carry genre traits: ``"low"`` (a low cut at 80 Hz or more: the
    kick's body and pitch, the sub bass) and ``"high"`` (a high cut below 11 kHz: the air, hats'
    top). Empty for an undegraded chain."""
    if not chain:
        return []
    out = []
    if chain.get("low_cut") and chain["low_cut"]["hz"] >= 80.0:
        out.append("low")
    if chain.get("high_cut") and chain["high_cut"]["hz"] < 11000.0:
        out.append("high")
    return out


# ---------------------------------------------------------------------------
# EQ
# ---------------------------------------------------------------------------

def shelf_sos(kind: str, f0: float, gain_db: float, sr: int, s: float = 1.0) -> np.ndarray:
    """RBJ cookbook low / high shelf as one sos row (b0 b1 b2 1 a1 a2)."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * f0 / sr
    cw, sw = np.cos(w0), np.sin(w0)
    alpha = sw / 2 * np.sqrt((a + 1 / a) * (1 / s - 1) + 2)
    sa = 2 * np.sqrt(a) * alpha
    if kind == "low":
        b = [a * ((a + 1) - (a - 1) * cw + sa), 2 * a * ((a - 1) - (a + 1) * cw), a * ((a + 1) - (a - 1) * cw - sa)]
        den = [(a + 1) + (a - 1) * cw + sa, -2 * ((a - 1) + (a + 1) * cw), (a + 1) + (a - 1) * cw - sa]
    else:
        b = [a * ((a + 1) + (a - 1) * cw + sa), -2 * a * ((a - 1) + (a + 1) * cw), a * ((a + 1) + (a - 1) * cw - sa)]
        den = [(a + 1) - (a - 1) * cw + sa, 2 * ((a - 1) - (a + 1) * cw), (a + 1) - (a - 1) * cw - sa]
    return np.concatenate([np.array(b) / den[0], [1.0], np.array(den[1:]) / den[0]])


def _biquad_bell(f0: float, gain_db: float, q: float, sr: int) -> np.ndarray:
    """RBJ cookbook peaking EQ as one sos row."""
    a = 10.0 ** (gain_db / 40.0)
    w0 = 2 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2 * q)
    cw = np.cos(w0)
    b = np.array([1 + alpha * a, -2 * cw, 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * cw, 1 - alpha / a])
    return np.concatenate([b / den[0], [1.0], den[1:] / den[0]])


def eq_sos(chain: dict, sr: int) -> np.ndarray:
    """All EQ stages of ``chain`` as one second-order-sections array (rows of b0 b1 b2 1 a1 a2)."""
    from scipy.signal import butter

    nyq = 0.5 * sr
    rows = []
    if chain.get("low_cut"):
        lc = chain["low_cut"]
        rows.append(butter(int(lc["order"]), min(float(lc["hz"]), 0.45 * sr), "highpass", fs=sr, output="sos"))
    if chain.get("high_cut") and chain["high_cut"]["hz"] < 0.95 * nyq:
        hc = chain["high_cut"]
        rows.append(butter(int(hc["order"]), float(hc["hz"]), "lowpass", fs=sr, output="sos"))
    singles = []
    ls = chain.get("low_shelf")
    if ls and ls["gain_db"]:
        singles.append(shelf_sos("low", ls["hz"], ls["gain_db"], sr))
    tilt = float(chain.get("tilt_db") or 0.0)
    if tilt:  # a gentle (S = 0.5) high shelf at 1 kHz, its level halved: -tilt/2 below, +tilt/2 above
        row = shelf_sos("high", 1000.0, tilt, sr, 0.5)
        row[:3] *= 10.0 ** (-tilt / 40.0)
        singles.append(row)
    bell = chain.get("bell")
    if bell and bell["gain_db"] and bell["hz"] < 0.45 * sr:
        singles.append(_biquad_bell(bell["hz"], bell["gain_db"], bell.get("q", 1.0), sr))
    hs = chain.get("high_shelf")
    if hs and hs["gain_db"] and hs["hz"] < 0.45 * sr:
        singles.append(shelf_sos("high", hs["hz"], hs["gain_db"], sr))
    if singles:
        rows.append(np.array(singles))
    return np.vstack(rows) if rows else np.zeros((0, 6))


def apply_eq(x: np.ndarray, sr: int, chain: dict) -> np.ndarray:
    """The EQ stages: one ``scipy.signal.sosfilt`` pass over both channels of float32 (n, 2) ``x``."""
    from scipy.signal import sosfilt

    sos = eq_sos(chain, sr)
    if sos.shape[0] == 0:
        return x
    # sosfilt hands back a transposed view; later stages reshape the interleaved samples.
    return np.ascontiguousarray(sosfilt(sos.astype(np.float32), x, axis=0))


# ---------------------------------------------------------------------------
# Dynamics (all in place on float32 (n, 2) arrays)
# ---------------------------------------------------------------------------

def _peak(x: np.ndarray) -> float:
    return max(float(x.max()), -float(x.min()), 0.0)


def _block_gain_to_samples(gain_db: np.ndarray, block: int, n: int) -> np.ndarray:
    """Per-block gains (dB, at block centres) -> per-sample linear gains (float32).

    Linear interpolation between block centres, computed as one broadcast ramp per block
    (cheaper than ``np.interp`` over millions of samples).
    """
    g = np.power(10.0, gain_db / 20.0).astype(np.float32)
    # Values at block edges: the mean of neighbouring centres (ends held).
    edges = np.concatenate([[g[0]], 0.5 * (g[1:] + g[:-1]), [g[-1]]]).astype(np.float32)
    half = block // 2
    ramp_a = np.linspace(0.0, 1.0, half, endpoint=False, dtype=np.float32)
    ramp_b = np.linspace(0.0, 1.0, block - half, endpoint=False, dtype=np.float32)
    first = edges[:-1, None] + (g - edges[:-1])[:, None] * ramp_a[None, :]
    second = g[:, None] + (edges[1:] - g)[:, None] * ramp_b[None, :]
    return np.concatenate([first, second], axis=1).reshape(-1)[:n]


def _block_reduce(x: np.ndarray, block: int, how: str) -> np.ndarray:
    """Per-block peak (``"peak"``) or mean square (``"ms"``) over both channels of (n, 2) ``x``.

    Works on the interleaved samples (a contiguous reshape, no copy), which is several
    times faster than reductions along the two-column axis; the last, partial block is
    reduced on its own.
    """
    n = x.shape[0]
    full = n // block
    flat = np.ascontiguousarray(x).reshape(-1)
    parts = [flat[: 2 * full * block].reshape(full, 2 * block)]
    if full * block < n:
        parts.append(flat[2 * full * block:].reshape(1, -1))
    out = []
    for v in parts:
        if how == "peak":
            out.append(np.maximum(np.maximum(v.max(axis=1), -v.min(axis=1)), 0.0).astype(np.float64))
        else:
            out.append(np.einsum("ij,ij->i", v, v, dtype=np.float64) / v.shape[1])
    return np.concatenate(out)


def _release(gr_db: np.ndarray, per_block_db: float) -> np.ndarray:
    """Gain reduction held and released linearly in dB: ``max_k(gr[k] - (b - k) * rate)``.

    Linear-in-dB release is what most limiters do; as a running maximum it needs no
    recursive loop.
    """
    idx = np.arange(gr_db.size) * per_block_db
    return np.maximum.accumulate(gr_db + idx) - idx


def compress(x: np.ndarray, sr: int, threshold_db: float, ratio: float, attack_ms: float, release_db_s: float,
             block: int = 256) -> np.ndarray:
    """Stereo-linked RMS bus compressor with automatic make-up gain (in place, float32 (n, 2)).

    ``threshold_db`` is relative to the loud level of the input (the 90th percentile of
    its block RMS), so the same settings compress any input by a similar amount.
    """
    n = x.shape[0]
    if n // block < 4:
        return x
    e = _block_reduce(x, block, "ms")
    nb = e.size
    lvl = 10 * np.log10(np.maximum(e, 1e-12))
    ref = float(np.percentile(lvl, 90))
    gr = np.maximum(0.0, (lvl - (ref + threshold_db)) * (1.0 - 1.0 / ratio))
    # Attack: a moving average over the attack time; release: linear in dB.
    k = max(1, int(round(attack_ms * 1e-3 * sr / block)))
    if 1 < k < nb:
        c = np.concatenate([[0.0], np.cumsum(gr)])
        gr = np.concatenate([np.full(k - 1, (c[k] - c[0]) / k), (c[k:] - c[:-k]) / k])[:nb]
    gr = _release(gr, release_db_s * block / sr)
    makeup = float(np.percentile(gr, 75))
    x *= _block_gain_to_samples(makeup - gr, block, n)[:, None]
    return x


def saturate(x: np.ndarray, drive: float, mix: float) -> np.ndarray:
    """Parallel tanh saturation, peak-normalised input (in place, float32)."""
    peak = _peak(x) or 1.0
    wet = np.tanh(x * np.float32(drive / peak))
    wet *= np.float32(mix * peak / np.tanh(drive))
    x *= np.float32(1.0 - mix)
    x += wet
    return x


def limit(x: np.ndarray, sr: int, gain_db: float, ceiling_db: float, release_db_s: float, block: int = 64) -> np.ndarray:
    """Look-ahead peak limiter: input gain, then no sample above the ceiling (in place, float32 (n, 2)).

    The input is first normalised to a peak of 1, so ``gain_db`` is how hard it is pushed.
    Each block's gain is the minimum needed by it and its neighbours (one block of
    look-ahead) and is interpolated between block centres, so it is down before a peak
    arrives; a final clip catches rounding.
    """
    n = x.shape[0]
    x *= np.float32(10 ** (gain_db / 20.0) / (_peak(x) or 1.0))
    ceil = 10 ** (ceiling_db / 20.0)
    a = _block_reduce(x, block, "peak")
    gr = np.maximum(0.0, 20 * np.log10(np.maximum(a, 1e-12) / ceil))
    gr = np.maximum(gr, np.maximum(np.concatenate([gr[1:], [0.0]]), np.concatenate([[0.0], gr[:-1]])))
    gr = _release(gr, release_db_s * block / sr)
    x *= _block_gain_to_samples(-gr, block, n)[:, None]
    np.clip(x, -ceil, ceil, out=x)
    return x


def set_width(x: np.ndarray, width: float) -> np.ndarray:
    """Mid/side width (in place on (n, 2)): side scaled by ``width``; the mono sum is unchanged."""
    if width == 1.0:
        return x
    mid = (x[:, 0] + x[:, 1]) * np.float32(0.5)
    side = (x[:, 0] - x[:, 1]) * np.float32(0.5 * width)
    np.add(mid, side, out=x[:, 0])
    np.subtract(mid, side, out=x[:, 1])
    return x


def apply_chain(audio: np.ndarray, sr: int, chain: dict) -> np.ndarray:
    """Run ``audio`` (float (n, 2)) through a chain from :func:`random_chain`.

    Returns a new float32 array whose peak is at most the limiter ceiling.
    """
    x = np.array(audio, dtype=np.float32, order="C", copy=True)
    x = apply_eq(x, sr, chain)
    set_width(x, float(chain.get("width", 1.0)))
    c = chain.get("compressor")
    if c:
        compress(x, sr, c["threshold_db"], c["ratio"], c["attack_ms"], c["release_db_s"])
    s = chain.get("saturation")
    if s:
        saturate(x, s["drive"], s["mix"])
    lim = chain["limiter"]
    limit(x, sr, lim["gain_db"], lim["ceiling_db"], lim["release_db_s"])
    return x


__all__ = ["random_chain", "apply_chain", "shelf_sos", "degraded_bands", "DEGRADE_PROB", "eq_sos", "apply_eq", "compress", "saturate", "limit", "set_width",
           "CHAIN_VERSION"]
