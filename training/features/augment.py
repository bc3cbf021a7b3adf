"""Training augmentations on batches of scaled log-mel clips.

Features are the paper's ``-power_to_db(ref=max) / 80`` per 4-bar window: 0 is the
window's loudest cell, 1 is 80 dB or more below it (``core.genre.features.window_features``).

Gain
----
Because every window is normalised to its own maximum, a *constant* gain is a
no-op: it moves every cell and the reference by the same number of dB (the only
exception, the absolute ``amin`` floor at -100 dB, lies far below the 80 dB range
for real music). :func:`random_gain` therefore applies what a constant gain cannot:
a gain that varies over the clip, relative to the clip's own maximum,

    g(f, t) = fade(t) + tilt(f)   (dB, each drawn uniformly in +-max_db)

a linear fade in dB from the clip's start to its end (a DJ's fader or a filter
sweep) plus a linear spectral tilt across the mel bands (a different master EQ).
The clip is then re-normalised exactly as the runtime would normalise that audio:
with ``d = -80 x`` the level in dB below the old maximum, ``d' = d + g``, the new
maximum ``r' = max(d')`` and ``x' = min((r' - d') / 80, 1) = min(x + (r' - g) / 80, 1)``.
Cells at the floor (``x = 1``, level unknown, 80 dB or more below) stay at the floor.

EQ and noise
------------
:func:`random_eq` applies low cuts, high cuts and shelves as a gain curve over the mel
bands (through :func:`apply_gain`); :func:`random_noise` adds stationary noise in the
power domain at a random SNR; :func:`random_warp` shifts the pitch (a warp of the band axis)
and the tempo (a resampling of the time axis).

Masks and mixup
---------------
:func:`spec_augment` masks time and frequency stripes with silence (1.0);
:func:`mixup` mixes pairs of neighbouring clips of a (shuffled) batch and their soft
labels with ``lambda ~ Beta(alpha, alpha)``.

Determinism
-----------
Every function draws its random numbers for the *whole* global batch in a fixed
order, from a generator the trainer seeds with ``(seed, epoch, step)``, and applies
them to the rows a process owns (``rows``). A distributed run therefore augments
each clip exactly as a single-process run does, and a resumed run as an
uninterrupted one.
"""
from __future__ import annotations

import numpy as np
import torch


def spec_augment(x: torch.Tensor, rng: np.random.Generator, n_time: int = 2, max_time: float = 0.1,
                 n_freq: int = 2, max_freq: int = 24, rows: range | None = None) -> torch.Tensor:
    """Mask random time and frequency stripes with silence (1.0); in place, per clip.

    Parameters
    ----------
    x : (b, c, 224, t) tensor
        The rows this process owns (``len(rows)`` of them).
    rng : numpy Generator
    rows : range, optional
        Positions of ``x``'s rows in the global batch; parameters are drawn for
        ``range(rows.stop)`` so that every process draws the same stream. Default:
        ``range(len(x))``.
    """
    b, _, nf, nt = x.shape
    rows = range(b) if rows is None else rows
    for i in range(rows.stop):
        mine = i >= rows.start
        for _ in range(n_time):
            w = int(rng.integers(0, int(max_time * nt) + 1))
            t0 = int(rng.integers(0, max(nt - w, 1)))
            if mine:
                x[i - rows.start, :, :, t0:t0 + w] = 1.0
        for _ in range(n_freq):
            w = int(rng.integers(0, max_freq + 1))
            f0 = int(rng.integers(0, max(nf - w, 1)))
            if mine:
                x[i - rows.start, :, f0:f0 + w, :] = 1.0
    return x


def apply_gain(x: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """Apply a gain in dB to scaled log-mel clips and re-normalise each to its maximum.

    Parameters
    ----------
    x : (b, c, 224, t) tensor
        Only channel 0 (the mel) is changed; chroma channels are left as they are.
    gain_db : tensor broadcastable to (b, 224, t)

    Returns
    -------
    tensor
        ``x`` changed in place: ``min(x + (r' - g) / 80, 1)`` off the floor, 1 on it.
    """
    mel = x[:, 0]
    floor = mel >= 1.0
    g = gain_db.to(mel.dtype).expand_as(mel)
    level = g - 80.0 * mel  # dB relative to the old maximum, after the gain
    level = level.masked_fill(floor, -torch.inf)
    ref = level.amax(dim=(1, 2), keepdim=True)
    ref = torch.where(torch.isfinite(ref), ref, torch.zeros_like(ref))
    new = ((ref - level) / 80.0).clamp(0.0, 1.0).masked_fill(floor, 1.0)
    x[:, 0] = new
    return x


def random_gain(x: torch.Tensor, rng: np.random.Generator, max_db: float = 6.0, rows: range | None = None
                ) -> torch.Tensor:
    """Random fade over time plus spectral tilt, each up to ``max_db`` dB (see the module notes).

    Draws 3 numbers per clip of the global batch (``range(rows.stop)``), in place on ``x``.
    """
    b, _, nf, nt = x.shape
    rows = range(b) if rows is None else rows
    p = rng.uniform(-max_db, max_db, size=(rows.stop, 3))[rows.start:rows.stop]
    if b == 0 or max_db <= 0:
        return x
    p = torch.as_tensor(p, dtype=torch.float32, device=x.device)
    t = torch.linspace(0.0, 1.0, nt, device=x.device)
    f = torch.linspace(-0.5, 0.5, nf, device=x.device)
    fade = p[:, 0, None] + (p[:, 1, None] - p[:, 0, None]) * t[None, :]   # (b, t)
    tilt = p[:, 2, None] * f[None, :]                                    # (b, f)
    return apply_gain(x, fade[:, None, :] + tilt[:, :, None])


def mel_centres(n_mels: int = 224, sr: int = 44100) -> np.ndarray:
    """Centre frequencies (Hz) of the model's Slaney mel bands (0 Hz to Nyquist)."""
    import librosa

    return librosa.mel_frequencies(n_mels + 2, fmin=0.0, fmax=sr / 2.0, htk=False)[1:-1]


def eq_curves(params: np.ndarray, freqs: np.ndarray) -> np.ndarray:
    """Gain in dB per band ``(b, n_freqs)`` of random EQs.

    ``params`` rows: ``(low cut Hz or 0, low-cut slope dB/oct, high cut Hz or 0, high-cut
    slope dB/oct, low-shelf dB, low-shelf Hz, high-shelf dB, high-shelf Hz)``. Cuts fall at
    their slope below / above the corner (down to -60 dB); shelves are logistic in octaves.
    """
    f = np.maximum(np.asarray(freqs, dtype=np.float64), 1.0)[None, :]
    p = np.asarray(params, dtype=np.float64)
    g = np.zeros((p.shape[0], f.shape[1]))
    lo, lo_slope, hi, hi_slope = p[:, 0:1], p[:, 1:2], p[:, 2:3], p[:, 3:4]
    with np.errstate(divide="ignore", invalid="ignore"):
        g -= np.where(lo > 0, np.clip(lo_slope * np.log2(np.maximum(lo, 1.0) / f), 0.0, 60.0), 0.0)
        g -= np.where(hi > 0, np.clip(hi_slope * np.log2(f / np.maximum(hi, 1.0)), 0.0, 60.0), 0.0)
    g += p[:, 4:5] / (1.0 + np.exp(2.0 * np.log2(f / p[:, 5:6])))   # low shelf: full gain far below
    g += p[:, 6:7] / (1.0 + np.exp(-2.0 * np.log2(f / p[:, 7:8])))  # high shelf: full gain far above
    return g


def random_eq(x: torch.Tensor, rng: np.random.Generator, p: float = 0.5, rows: range | None = None,
              freqs: np.ndarray | None = None) -> torch.Tensor:
    """A random master EQ on a share ``p`` of the clips: low cut, high cut and shelves.

    What a DJ's EQ, a club system or a bad encode does to a track: a low cut at 40-250 Hz
    (12-36 dB/oct, a third of the EQ'd clips), a high cut at 3-14 kHz (another third), and
    +-8 dB low and high shelves (corners 80-400 Hz and 2.5-9 kHz) on all of them. Without
    it the default model hung Future Rave on one sub-bass cue (a 150 Hz low cut took that
    class from 95 % to 0 %). Draws 9 numbers per clip of the global batch, in place.
    """
    b, _, nf, nt = x.shape
    rows = range(b) if rows is None else rows
    # One (n, 9) draw: the first rows of a longer batch's draw are the same, so shards agree.
    u = rng.uniform(size=(rows.stop, 9))
    on = u[:, 0] < p
    kind = np.minimum((u[:, 1] * 3).astype(int), 2)  # 0: shelves only, 1: + low cut, 2: + high cut

    def span(col, lo_, hi_, log=False):
        return np.exp(np.log(lo_) + u[:, col] * np.log(hi_ / lo_)) if log else lo_ + u[:, col] * (hi_ - lo_)

    lo = np.where(kind == 1, span(2, 40.0, 250.0, log=True), 0.0)
    hi = np.where(kind == 2, span(3, 3000.0, 14000.0, log=True), 0.0)
    slope = span(4, 12.0, 36.0)
    params = np.stack([lo, slope, hi, slope, span(5, -8.0, 8.0), span(6, 80.0, 400.0, log=True),
                       span(7, -8.0, 8.0), span(8, 2500.0, 9000.0, log=True)], axis=1)[rows.start:rows.stop]
    mine = on[rows.start:rows.stop]
    if b == 0 or not mine.any():
        return x
    freqs = mel_centres(nf) if freqs is None else freqs
    g = torch.as_tensor(eq_curves(params[mine], freqs), dtype=torch.float32, device=x.device)
    idx = torch.as_tensor(np.nonzero(mine)[0], device=x.device)
    x[idx] = apply_gain(x[idx], g[:, :, None])
    return x


def random_noise(x: torch.Tensor, rng: np.random.Generator, p: float = 0.3, snr_db: tuple[float, float] = (12.0, 35.0),
                 rows: range | None = None, freqs: np.ndarray | None = None) -> torch.Tensor:
    """Add stationary noise (white to brown, random spectral slope) at a random SNR to a share ``p`` of the clips.

    Works on the power the scaled log-mel stands for: a cell's power is ``10^(-8 x)``
    relative to the clip's maximum (cells at the 80 dB floor count as 0); noise whose
    band powers follow ``bandwidth x f^slope`` (slope in [-2, 0]: brown to white, pink at
    -1) is scaled to the drawn SNR against the clip's total power, given chi-square
    fluctuations (2 degrees of freedom per cell, as a periodogram has), added, and the clip
    is re-normalised to its new maximum. Draws 4 numbers per clip of the global batch (one
    seeds the clip's fluctuations), in place.
    """
    b, _, nf, nt = x.shape
    rows = range(b) if rows is None else rows
    u = rng.uniform(size=(rows.stop, 4))  # one draw: shards of a batch agree (see random_eq)
    on = u[:, 0] < p
    snr = snr_db[0] + u[:, 1] * (snr_db[1] - snr_db[0])
    slope = -2.0 * u[:, 2]
    seeds = (u[:, 3] * 2.0 ** 53).astype(np.int64)  # per clip: its fluctuations
    mine = np.nonzero(on[rows.start:rows.stop])[0]
    if b == 0 or mine.size == 0:
        return x
    freqs = mel_centres(nf) if freqs is None else freqs
    f = np.maximum(freqs, 20.0)
    bw = np.gradient(f)
    # chi-square with 2 degrees of freedom, mean 1, is the standard exponential
    fluct = torch.from_numpy(np.stack([np.random.default_rng(int(seeds[rows.start + i])).standard_exponential(
        size=(nf, nt), dtype=np.float32) for i in mine.tolist()]))
    idx = torch.as_tensor(mine, device=x.device)
    mel = x[idx, 0].float()
    power = torch.where(mel >= 1.0, torch.zeros_like(mel), torch.exp(mel * np.float32(-8.0 * np.log(10.0))))
    shape = torch.as_tensor(bw[None, :] * f[None, :] ** slope[rows.start + mine][:, None], dtype=torch.float32)
    noise = shape[:, :, None] * fluct.to(x.device)
    scale = power.sum(dim=(1, 2)) / noise.sum(dim=(1, 2)) * torch.as_tensor(
        10.0 ** (-snr[rows.start + mine] / 10.0), dtype=torch.float32, device=x.device)
    total = power + noise * scale[:, None, None]
    db = torch.log10(total.clamp_min(1e-30))  # in bels
    top = db.amax(dim=(1, 2), keepdim=True)
    x[idx, 0] = ((top - db) / 8.0).clamp(0.0, 1.0).to(x.dtype)
    return x


def random_warp(x: torch.Tensor, rng: np.random.Generator, p: float = 0.5, max_semitones: float = 2.5,
                max_stretch: float = 0.08, rows: range | None = None, freqs: np.ndarray | None = None) -> torch.Tensor:
    """Shift the pitch and stretch the time axis of a share ``p`` of the clips (features only).

    A track pitched by ``s`` semitones has at frequency ``f`` what it had at ``f / 2^(s/12)``:
    each mel band is read, by linear interpolation between bands, at its shifted centre
    (bands shifted past the top read the floor). A clip ``r`` times slower (``r`` in
    ``1 +- max_stretch``) is resampled on the time axis: slower clips show the middle
    ``t / r`` frames over ``t``; faster ones are compressed and continue from their own
    start (a 4-bar window looped, as the music itself repeats). Without this the default model
    lost 10 points at +-2 semitones or +-6 % tempo. Draws 4 numbers per clip of the global
    batch, in place.
    """
    b, _, nf, nt = x.shape
    rows = range(b) if rows is None else rows
    u = rng.uniform(size=(rows.stop, 4))  # one draw: shards of a batch agree (see random_eq)
    mine = np.nonzero(u[rows.start:rows.stop, 0] < p)[0]
    if b == 0 or mine.size == 0:
        return x
    freqs = mel_centres(nf) if freqs is None else freqs
    bands = np.arange(nf, dtype=np.float64)
    for i in mine.tolist():
        g = rows.start + i
        semis = (2.0 * u[g, 1] - 1.0) * max_semitones
        r = 1.0 + (2.0 * u[g, 2] - 1.0) * max_stretch
        src = np.interp(freqs / 2.0 ** (semis / 12.0), freqs, bands, left=0.0, right=nf)  # band positions read
        lo_np = np.clip(np.floor(src).astype(np.int64), 0, nf - 1)
        lo = torch.as_tensor(lo_np, device=x.device)
        hi = torch.as_tensor(np.clip(lo_np + 1, 0, nf - 1), device=x.device)
        w = torch.as_tensor((src - lo_np)[:, None], dtype=x.dtype, device=x.device)
        c = x[i]  # (channels, f, t); only the mel channel is warped in frequency
        mel = c[0]
        warped = torch.lerp(mel.index_select(0, lo), mel.index_select(0, hi), w)
        warped[torch.as_tensor(src >= nf - 1, device=x.device)] = 1.0  # shifted past the top band: nothing
        if r >= 1.0:  # slower: the middle t / r frames spread over t
            span = nt / r
            t_src = (nt - span) / 2.0 + np.arange(nt) * (span / nt)
        else:  # faster: compressed, then looped
            t_src = np.mod(np.arange(nt) / r, nt)
        t0_np = np.clip(np.floor(t_src).astype(np.int64), 0, nt - 1)
        t0 = torch.as_tensor(t0_np, device=x.device)
        t1 = torch.as_tensor(np.where(t0_np + 1 < nt, t0_np + 1, 0), device=x.device)
        wt = torch.as_tensor(t_src - np.floor(t_src), dtype=x.dtype, device=x.device)
        x[i, 0] = torch.lerp(warped.index_select(1, t0), warped.index_select(1, t1), wt)
        if c.shape[0] > 1:  # chroma channels: time only (their rows are pitch classes, not bands)
            rest = c[1:]
            x[i, 1:] = torch.lerp(rest.index_select(2, t0), rest.index_select(2, t1), wt)
    return x


def mixup_pairs(n: int, rng: np.random.Generator, alpha: float) -> np.ndarray:
    """Mixing weights ``lambda`` of the pairs ``(0, 1), (2, 3), ...`` of a batch of ``n`` clips.

    Returns ``(n // 2,)`` draws of Beta(alpha, alpha), folded to ``>= 0.5`` so each clip
    stays the dominant part of its own mixture.
    """
    lam = rng.beta(alpha, alpha, size=n // 2) if alpha > 0 else np.ones(n // 2)
    return np.maximum(lam, 1.0 - lam)


def mixup(x: torch.Tensor, y: torch.Tensor, rng: np.random.Generator, alpha: float = 0.4,
          rows: range | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mix neighbouring clips ``(2k, 2k+1)`` of a shuffled batch and their label distributions.

    ``x_a' = l x_a + (1 - l) x_b``, ``x_b' = l x_b + (1 - l) x_a``, the same for the soft
    labels, ``l ~ Beta(alpha, alpha)`` per pair. The batch order is already random, so
    neighbours are random partners; pairing neighbours keeps each pair inside one
    process's rows when the rows are split at even positions. A last unpaired clip is
    left as it is.

    Parameters
    ----------
    x : (b, ...) tensor, y : (b, 8) tensor
        The rows ``rows`` of the global batch; ``rows.start`` must be even.
    """
    b = x.shape[0]
    rows = range(b) if rows is None else rows
    if rows.start % 2:
        raise ValueError("mixup needs the process's rows to start at an even position")
    lam_all = mixup_pairs(rows.stop if rows.stop % 2 == 0 else rows.stop - 1, rng, alpha)
    pairs = b // 2
    if pairs == 0:
        return x, y
    lam = torch.as_tensor(lam_all[rows.start // 2: rows.start // 2 + pairs], dtype=torch.float32, device=x.device)
    xa, xb = x[0:2 * pairs:2].clone(), x[1:2 * pairs:2].clone()
    ya, yb = y[0:2 * pairs:2].clone(), y[1:2 * pairs:2].clone()
    lx = lam.view(-1, *([1] * (x.dim() - 1))).to(x.dtype)
    ly = lam.view(-1, 1).to(y.dtype)
    x[0:2 * pairs:2] = lx * xa + (1 - lx) * xb
    x[1:2 * pairs:2] = lx * xb + (1 - lx) * xa
    y[0:2 * pairs:2] = ly * ya + (1 - ly) * yb
    y[1:2 * pairs:2] = ly * yb + (1 - ly) * ya
    return x, y


__all__ = ["spec_augment", "apply_gain", "random_gain", "random_eq", "random_noise", "random_warp", "eq_curves",
           "mel_centres",
           "mixup", "mixup_pairs"]
