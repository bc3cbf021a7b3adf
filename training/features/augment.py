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


__all__ = ["spec_augment", "apply_gain", "random_gain", "mixup", "mixup_pairs"]
