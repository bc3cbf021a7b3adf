"""Per-window model outputs, embeddings and log-mel statistics; domain classifiers and scores.

:func:`window_outputs` cuts the model's 4-bar windows exactly as the runtime does
(:func:`mainstage.core.genre.window_grid`, windows centred and rounded to multiples of
``FRAME_QUANTUM`` frames, each scaled to its own maximum) and runs them through
``GenreModel.predict(x, with_embedding=True)``. The benchmark compares its probabilities
with :func:`mainstage.core.genre.analyze_genres` (``smoothing=0``) to prove that the
embeddings belong to the runtime's windows.

:func:`domain_auc` is the real-vs-synthetic classifier: standardised features, logistic
regression, out-of-fold scores from ``StratifiedGroupKFold`` (folds grouped by track, so no
track has windows on both sides of a split, and stratified so every fold holds real and
synthetic tracks), ROC AUC of the pooled out-of-fold scores.
"""
from __future__ import annotations

import numpy as np


class NoEmbedding(RuntimeError):
    """The model has no embedding output."""


def require_embedding(model) -> None:
    if not getattr(model, "has_embedding", False):
        raise NoEmbedding(
            f"{model.path}: the genre model has no embedding output (GenreModel.has_embedding is False), "
            "so the real-vs-synthetic classifier on its embedding and the novelty score cannot be measured. "
            "Use a model exported with the pooled embedding (metadata output.embedding), or for the current "
            "bundled model a development copy: python bench/genre_robustness/dev_model.py --out "
            "/tmp/genre_dev/default_emb.onnx, then --model /tmp/genre_dev/default_emb.onnx")


def window_outputs(model, y: np.ndarray, downbeats, *, embedding: bool = True) -> dict:
    """Windows of mono 44.1 kHz audio ``y`` on ``downbeats``: probabilities, embeddings, log-mel stats.

    Returns
    -------
    dict
        ``starts``, ``ends`` (s), ``probs`` (n, 8), ``embedding`` (n, D) or None,
        ``logmel`` (n, 2 * 224: per-band mean and standard deviation over the window's frames
        of the model input) and ``loudness_db`` (mean mel power, the runtime's silence test).
    """
    from mainstage.core.genre import features as F
    from mainstage.core.genre import window_grid
    from mainstage.core.genre.inference import FRAME_QUANTUM

    meta = model.metadata["window"]
    dur = y.size / F.SAMPLE_RATE
    db = downbeats if downbeats is not None and len(downbeats) >= 2 else None
    starts, ends, _on_grid = window_grid(dur, db, bars=int(meta["bars"]), step_bars=int(meta["step_bars"]),
                                         fallback_s=float(meta["fallback_s"]),
                                         fallback_step_s=float(meta["fallback_step_s"]))
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    raw = np.maximum(np.rint((ends - starts) * fps).astype(np.int64), 1)
    q = np.maximum(FRAME_QUANTUM * np.rint(raw / FRAME_QUANTUM).astype(np.int64), FRAME_QUANTUM)
    lengths = np.array([model.frames_for(int(n)) for n in q], dtype=np.int64)
    first = np.rint((starts + ends) * 0.5 * fps - lengths / 2.0).astype(np.int64)
    mel_db = F.track_mel_db(y)
    n = starts.size
    probs = np.zeros((n, 8))
    emb = None
    logmel = np.zeros((n, 2 * F.N_MELS), dtype=np.float32)
    loud = np.zeros(n)
    power = np.power(np.float32(10.0), mel_db * np.float32(0.1)).mean(axis=0, dtype=np.float64)
    csum = np.concatenate([[0.0], np.cumsum(power)])
    for length in np.unique(lengths):
        sel = np.flatnonzero(lengths == length)
        x = F.window_features(mel_db, first[sel], int(length))
        logmel[sel, :F.N_MELS] = x.mean(axis=2)
        logmel[sel, F.N_MELS:] = x.std(axis=2)
        s = np.clip(first[sel], 0, power.size)
        e = np.clip(first[sel] + int(length), 0, power.size)
        loud[sel] = 10.0 * np.log10(np.maximum((csum[e] - csum[s]) / np.maximum(e - s, 1), F.AMIN))
        if embedding:
            p, e_ = model.predict(x[:, None], with_embedding=True)
            if emb is None:
                emb = np.zeros((n, e_.shape[1]), dtype=np.float32)
            emb[sel] = e_
        else:
            p = model.predict(x[:, None])
        probs[sel] = p
    return {"starts": starts, "ends": ends, "probs": probs, "embedding": emb, "logmel": logmel, "loudness_db": loud}


def entropy_bits(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return -(p * np.log2(p)).sum(axis=1)


def auroc(pos, neg) -> float | None:
    """ROC AUC of scores where ``pos`` should score higher than ``neg``."""
    from sklearn.metrics import roc_auc_score

    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        return None
    y = np.concatenate([np.ones(pos.size), np.zeros(neg.size)])
    return float(roc_auc_score(y, np.concatenate([pos, neg])))


def domain_auc(x_real: np.ndarray, groups_real, x_syn: np.ndarray, groups_syn, n_splits: int = 5,
               C: float = 1.0) -> dict:
    """Cross-validated ROC AUC of a logistic-regression real-vs-synthetic window classifier.

    Folds: ``StratifiedGroupKFold`` by track (grouped like ``GroupKFold``, and every fold holds
    both classes). Classes are balanced by weight. Returns the pooled
    out-of-fold AUC, the per-fold AUCs and the counts.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = np.concatenate([np.asarray(x_real, np.float64), np.asarray(x_syn, np.float64)])
    y = np.concatenate([np.ones(len(x_real)), np.zeros(len(x_syn))])
    groups = np.array([f"r:{g}" for g in groups_real] + [f"s:{g}" for g in groups_syn])
    n_groups = len(set(groups))
    k = max(2, min(n_splits, n_groups))
    oof = np.zeros(len(y))
    folds = []
    for train, test in StratifiedGroupKFold(n_splits=k).split(x, y, groups):
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000, class_weight="balanced"))
        if len(set(y[train])) < 2:
            oof[test] = 0.5
            continue
        clf.fit(x[train], y[train])
        oof[test] = clf.decision_function(x[test])
        if len(set(y[test])) == 2:
            folds.append(float(roc_auc_score(y[test], oof[test])))
    return {"auc": float(roc_auc_score(y, oof)), "fold_aucs": [round(a, 4) for a in folds], "folds": k,
            "windows_real": int(len(x_real)), "windows_synthetic": int(len(x_syn)),
            "tracks_real": len(set(groups_real)), "tracks_synthetic": len(set(groups_syn)), "C": C}
