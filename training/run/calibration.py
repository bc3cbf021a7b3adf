"""Calibration of a trained model: the softmax temperature fitted on validation predictions."""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import softmax


def fit_temperature(logits, targets, lo: float = 0.2, hi: float = 10.0, objective=None) -> float:
    """Temperature ``T`` minimising the soft cross-entropy of ``softmax(logits / T)``.

    Fitted on validation predictions (never test) by a bounded scalar search on
    ``log T`` in ``[log lo, log hi]``.

    Parameters
    ----------
    logits : (n, 8)
    targets : (n, 8)
        Target distributions.
    objective : callable, optional
        ``objective(probs) -> float`` replaces the clip-level cross-entropy.
    """
    t = np.asarray(targets, dtype=np.float64)
    z = np.asarray(logits, dtype=np.float64)

    def loss(log_t: float) -> float:
        p = softmax(z / float(np.exp(log_t)), axis=-1)
        if objective is not None:
            return float(objective(p))
        return float(-(t * np.log(np.maximum(p, 1e-300))).sum(axis=1).mean())

    res = minimize_scalar(loss, bounds=(np.log(lo), np.log(hi)), method="bounded", options={"xatol": 1e-10})
    return float(np.exp(res.x))
