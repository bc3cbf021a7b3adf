"""Training losses: soft-label and track-level cross-entropy, targets of the hard-label mode, class weights.

The paper trains with cross-entropy against the soft label distribution ``t``:
``-sum_k t_k log p_k``, which equals ``KL(t || p)`` plus the (constant) entropy of ``t``.
"Hard" mode sharpens every label to one-hot first, ties going to the later genre
(:func:`mainstage.core.genres.sharpen`).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ...core.genres import N_GENRES, sharpen
from .config import LABEL_MODES


def prepare_targets(labels, mode: str = "soft") -> np.ndarray:
    """Training targets from soft labels ``(n, 8)``: renormalised (soft) or one-hot (hard).

    Parameters
    ----------
    labels : array_like, shape (n, 8)
        Non-negative genre weights (rows need not sum to 1).
    mode : {"soft", "hard"}
    """
    y = np.asarray(labels, dtype=np.float64)
    if mode not in LABEL_MODES:
        raise ValueError(f"label mode must be one of {LABEL_MODES}, got {mode!r}")
    if y.ndim != 2 or y.shape[1] != N_GENRES:
        raise ValueError(f"labels must have shape (n, {N_GENRES}), got {y.shape}")
    total = y.sum(axis=1, keepdims=True)
    if np.any(total <= 0) or np.any(y < 0):
        raise ValueError("every label needs non-negative weights with a positive sum")
    y = y / total
    return (sharpen(y) if mode == "hard" else y).astype(np.float32)


def class_weights(targets, eps: float = 1e-6) -> np.ndarray:
    """"Balanced" class weights ``n / (k * mass_c)`` from (soft or hard) targets, mean 1 over present classes.

    Classes absent from ``targets`` get weight 0 (nothing to learn from them anyway).
    """
    t = np.asarray(targets, dtype=np.float64)
    mass = t.sum(axis=0)
    present = mass > eps
    w = np.zeros(t.shape[1])
    w[present] = t.shape[0] / (present.sum() * mass[present])
    w[present] /= w[present].mean()
    return w.astype(np.float32)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, weight: torch.Tensor | None = None,
                       reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy against a target distribution, optionally class-weighted.

    ``loss_i = -sum_k w_k t_ik log softmax(logits_i)_k``; the mean is over the batch.
    With ``weight=None`` this is KL(t || p) + H(t).
    """
    return F.cross_entropy(logits.float(), targets.float(), weight=None if weight is None else weight.float(),
                           reduction=reduction)


def track_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, bag: torch.Tensor,
                        clip_weight: torch.Tensor | None = None, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy of each bag's (weighted) mean predicted distribution against its label.

    A bag holds clips of one track, which share the track's label. Only the bag's mean
    prediction has to match the label, so a clip holding only the secondary genre's
    parts of a mixture may say so; the runtime's whole-track summary is the same kind
    of weighted mean.

    Parameters
    ----------
    logits : (n, 8)
    targets : (n, 8)
        Label of each clip (the track's, or the clip's part mixture; a bag's target is
        their weighted mean).
    bag : (n,) int64
        Bag index of each clip (0 .. n_bags - 1).
    clip_weight : (n,), optional
        Weight of each clip in its bag's mean.
    weight : (8,), optional
        Class weights.
    """
    n_bags = int(bag.max()) + 1
    p = torch.softmax(logits.float(), dim=-1)
    w = torch.ones(p.shape[0], device=p.device) if clip_weight is None else clip_weight.float()
    num = torch.zeros(n_bags, p.shape[1], device=p.device).index_add_(0, bag, p * w[:, None])
    den = torch.zeros(n_bags, device=p.device).index_add_(0, bag, w)
    mean = num / den[:, None]
    t = torch.zeros(n_bags, p.shape[1], device=p.device).index_add_(0, bag, targets.float() * w[:, None])
    t = t / den[:, None]
    terms = t * torch.log(mean.clamp_min(1e-8))
    if weight is not None:
        terms = terms * weight.float()
    return -terms.sum(dim=1).mean()


def batch_share_loss(logits: torch.Tensor, targets: torch.Tensor, n_batch: int, world: int, *,
                     weight: torch.Tensor | None = None, bag: torch.Tensor | None = None, n_bags: int = 0,
                     n_single: int = 0, track_weight: float = 0.0, single: torch.Tensor | None = None) -> torch.Tensor:
    """This rank's share of a global batch's loss, scaled so that DDP's gradient average is the global mean.

    Parameters
    ----------
    logits, targets : (m, 8)
        The rank's rows of the global batch.
    n_batch : int
        Clips in the global batch.
    world : int
        Ranks (1 without distribution).
    weight : (8,), optional
        Class weights.
    bag : (m,) int64, optional
        Bag index of each row within the rank's rows (0 ..): the track-level loss.
        Without it, the soft cross-entropy of every clip.
    n_bags, n_single : int
        Bags, and clips with exact labels, in the global batch.
    track_weight : float
        Weight of the track-level loss; the clip-level loss (weight ``1 - track_weight``)
        then covers clips with exact labels only: a clip of a single-genre track is that
        genre, while a clip of a mixture may hold only some of the mixture's genres
        (unless its label is the mixture of its parts, ``ClipSet.exact``).
    single : (m,) bool, optional
        Which rows have exact labels (default: one-hot targets).
    """
    if logits.shape[0] == 0:
        return logits.sum() * 0.0
    if bag is None:
        return soft_cross_entropy(logits, targets, weight, reduction="sum") * (world / n_batch)
    local_bags = int(bag.max()) + 1
    track = track_cross_entropy(logits, targets, bag, None, weight) * (local_bags * world / n_bags)
    if single is None:
        single = targets.max(dim=1).values > 0.999
    clip = (soft_cross_entropy(logits[single], targets[single], weight, reduction="sum") * (world / n_single)
            if bool(single.any()) and n_single else logits.sum() * 0.0)
    return (1.0 - track_weight) * clip + track_weight * track
