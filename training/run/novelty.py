"""The novelty score of a trained model: a Mahalanobis distance on its pooled clip embedding.

The model's own top probability is no test of whether a window is like the training
music: on real tracks the default model is as sure of itself as on SynthHouse. A
distance on the embedding is (Lee et al., "A Simple Unified Framework for Detecting
Out-of-Distribution Samples", NeurIPS 2018). Here one Gaussian is fitted to the
training clips' embeddings (mean, covariance shrunk towards its mean variance so that
directions the training data never moves in do not dominate), the distance is

    d(e) = sqrt(|W (e - mu)|^2 / D)        (W = covariance^-1/2, D = embedding size)

and it is divided by its ``quantile`` on the *validation* clips (other tracks than the
fit), so that 1.0 is the threshold: about 1 % of in-domain windows lie above it.
The exported graph computes this itself (:mod:`..export`), so the runtime needs no
statistics file.

scikit-learn's ``LedoitWolf`` would choose the shrinkage itself; a fixed shrinkage is
used instead so that the fit stays a few lines of torch-free numpy that a checkpoint
stores as tensors (``weights_only`` loading).
"""
from __future__ import annotations

import numpy as np
import torch

#: Weight of the scaled identity in the shrunk covariance.
SHRINKAGE = 0.1
#: Validation quantile that becomes novelty 1.0.
QUANTILE = 0.99


def fit_novelty(train_embeddings: np.ndarray, val_embeddings: np.ndarray, *, shrinkage: float = SHRINKAGE,
                quantile: float = QUANTILE) -> dict:
    """Fit the novelty statistics; returns a checkpoint-ready dict of tensors and numbers.

    Parameters
    ----------
    train_embeddings : (n, d) array
        Embeddings the Gaussian is fitted on (the training clips; with fewer clips than
        dimensions the shrinkage grows to ``d / (n + d)``).
    val_embeddings : (m, d) array
        Embeddings of other tracks; their ``quantile`` of the raw distance becomes 1.0.

    Returns
    -------
    dict
        ``mean`` (d,) and ``whiten`` (d, d) float32 tensors, ``scale`` (the raw distance
        that maps to 1.0), ``quantile``, ``shrinkage``, ``n_fit``, ``n_threshold`` and the
        validation distances' median (``val_median``, in novelty units).
    """
    x = np.asarray(train_embeddings, dtype=np.float64)
    v = np.asarray(val_embeddings, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 16 or v.ndim != 2 or v.shape[1] != x.shape[1] or len(v) < 8:
        raise ValueError(f"novelty fit needs >= 16 training and >= 8 validation clips (got {x.shape} and {v.shape})")
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    d = cov.shape[0]
    # Fewer clips than dimensions leave the sample covariance singular: shrink harder then.
    shrinkage = max(float(shrinkage), d / (len(x) + d))
    cov = (1.0 - shrinkage) * cov + shrinkage * (np.trace(cov) / d) * np.eye(d)
    vals, vecs = np.linalg.eigh(cov)
    whiten = (vecs / np.sqrt(np.maximum(vals, 1e-12))).T  # rows: principal directions / their std
    raw_val = raw_distance(v, mean, whiten)
    scale = float(np.quantile(raw_val, quantile))
    return {"mean": torch.from_numpy(mean.astype(np.float32)), "whiten": torch.from_numpy(whiten.astype(np.float32)),
            "scale": scale, "quantile": float(quantile), "shrinkage": float(shrinkage), "n_fit": int(len(x)),
            "n_threshold": int(len(v)), "val_median": float(np.median(raw_val) / scale)}


def raw_distance(embeddings: np.ndarray, mean: np.ndarray, whiten: np.ndarray) -> np.ndarray:
    """``sqrt(|W (e - mu)|^2 / D)`` per row (before dividing by the threshold scale)."""
    z = (np.asarray(embeddings, dtype=np.float64) - mean) @ np.asarray(whiten, dtype=np.float64).T
    return np.sqrt(np.mean(z * z, axis=1))


class NoveltyHead(torch.nn.Module):
    """The novelty score in the exported graph: ``(batch, D)`` embeddings -> ``(batch,)`` novelty."""

    def __init__(self, stats: dict):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(stats["mean"], dtype=torch.float32).clone())
        self.register_buffer("whiten_t", torch.as_tensor(stats["whiten"], dtype=torch.float32).t().contiguous())
        self.inv_scale = 1.0 / float(stats["scale"])

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        z = (e - self.mean) @ self.whiten_t
        return torch.sqrt(torch.mean(z * z, dim=-1)) * self.inv_scale


__all__ = ["fit_novelty", "raw_distance", "NoveltyHead", "SHRINKAGE", "QUANTILE"]
