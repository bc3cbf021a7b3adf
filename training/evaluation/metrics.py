"""Evaluation metrics of the genre models, at clip level and at track level.

The paper scores the argmax prediction against the *sharpened* label (one-hot of the
largest weight, ties going to the later genre, :func:`mainstage.core.genres.sharpen`)
with accuracy and weighted precision / recall / F1. Added here, for soft labels and
for a fuller picture:

- macro precision / recall / F1 (unweighted mean over the genres present in the
  labels, so a rare genre counts as much as a common one);
- top-2 accuracy (the sharpened label among the two most probable genres) and the
  top-2 overlap of mixtures;
- mean KL(label || prediction) in nats (the quantity the soft-label loss minimises);
- expected calibration error (top-label ECE, 15 equal-width confidence bins);
- the 8x8 confusion matrix (rows: sharpened label, columns: argmax prediction), and a
  PNG rendering of it (:func:`write_confusion_png`).

Track level (:func:`track_predictions`): a track's prediction is the (weighted) mean
of its clips' predicted distributions, its label the track's label; the same metrics
are then computed over tracks.
"""
from __future__ import annotations

import os

import numpy as np
from scipy.special import rel_entr
from sklearn import metrics as sk

from ...core.genres import GENRES, sharpen

#: Confidence bins of the expected calibration error.
ECE_BINS = 15


def label_classes(p_true) -> np.ndarray:
    """Class index of each label row after sharpening (ties to the later genre)."""
    t = np.asarray(p_true, dtype=np.float64)
    return np.argmax(sharpen(t), axis=-1)


def confusion_matrix(y_true, y_pred, n_classes: int = len(GENRES)) -> np.ndarray:
    """Counts ``(n_classes, n_classes)``: row = true class, column = predicted class.

    Raises
    ------
    ValueError
        A class index outside ``0 .. n_classes - 1``, or inputs of different lengths.
    """
    yt = np.asarray(y_true, dtype=np.int64).ravel()
    yp = np.asarray(y_pred, dtype=np.int64).ravel()
    if yt.size and yp.size and (min(yt.min(), yp.min()) < 0 or max(yt.max(), yp.max()) >= n_classes):
        raise ValueError(f"class indices must lie in 0..{n_classes - 1}")
    if yt.size == yp.size == 0:
        return np.zeros((n_classes, n_classes), dtype=np.int64)
    return sk.confusion_matrix(yt, yp, labels=np.arange(n_classes)).astype(np.int64)


def expected_calibration_error(y_true, probs, n_bins: int = ECE_BINS) -> float:
    """Top-label expected calibration error.

    Each row's confidence is its largest predicted probability and it is "correct"
    when that genre is the (sharpened) label. Rows are grouped into ``n_bins``
    equal-width confidence bins ``(k/n, (k+1)/n]``; ECE is the row-weighted mean of
    ``|accuracy - mean confidence|`` over the bins.

    Parameters
    ----------
    y_true : array_like, shape (n,)
        True class indices.
    probs : array_like, shape (n, k)
        Predicted distributions.
    """
    p = np.asarray(probs, dtype=np.float64)
    yt = np.asarray(y_true, dtype=np.int64)
    if len(p) == 0:
        return 0.0
    conf = p.max(axis=1)
    correct = (np.argmax(p, axis=1) == yt).astype(np.float64)
    # Bin k holds confidences in (k/n, (k+1)/n]; a confidence of exactly 0 goes to bin 0.
    bins = np.clip(np.ceil(conf * n_bins).astype(np.int64) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.sum() / len(p) * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def kl_divergence(p_true, p_pred, eps: float = 1e-8) -> np.ndarray:
    """Per-row ``KL(p_true || p_pred)`` in nats; rows are renormalised, predictions clipped at ``eps``."""
    t = np.asarray(p_true, dtype=np.float64)
    p = np.clip(np.asarray(p_pred, dtype=np.float64), eps, 1.0)
    t = t / t.sum(axis=-1, keepdims=True)
    p = p / p.sum(axis=-1, keepdims=True)
    return rel_entr(t, p).sum(axis=-1)


def top2_overlap(p_true, p_pred) -> float:
    """Mean share of a label's (up to) two largest genres found among the two most probable ones.

    The strict reading of top-2 accuracy for mixtures: a two-genre label scores 0.5 when
    only one of its genres is among the prediction's two largest.
    """
    t = np.asarray(p_true, dtype=np.float64)
    p = np.asarray(p_pred, dtype=np.float64)
    top2 = np.argsort(-p, axis=1, kind="stable")[:, :2]
    k = np.minimum((t > 0).sum(axis=1), 2)
    true_top2 = np.argsort(-t, axis=1, kind="stable")[:, :2]
    hits = (true_top2[:, :, None] == top2[:, None, :]).any(axis=2)  # (n, 2)
    hits[:, 1] &= k == 2
    return float(np.mean(hits.sum(axis=1) / np.maximum(k, 1)))


def genre_metrics(p_true, p_pred, n_bins: int = ECE_BINS) -> dict:
    """All metrics of predicted distributions against (soft) labels.

    Parameters
    ----------
    p_true : array_like, shape (n, 8)
        Labels (soft or one-hot; rows need not sum to 1).
    p_pred : array_like, shape (n, 8)
        Predicted distributions.

    Returns
    -------
    dict
        ``n``; ``accuracy``; ``precision_weighted``, ``recall_weighted``,
        ``f1_weighted`` (the paper's three); ``precision_macro``, ``recall_macro``,
        ``f1_macro``; ``top2``, ``top2_overlap``; ``kl`` (mean KL(label || prediction),
        nats); ``ece`` (top-label, ``n_bins`` bins); ``support`` (rows per sharpened
        label, 8 ints); ``confusion`` (8x8 counts, rows = label, columns = prediction);
        ``per_class`` (precision / recall / F1 lists in genre order). Only ``{"n": 0}``
        for empty input.
    """
    t = np.asarray(p_true, dtype=np.float64)
    p = np.asarray(p_pred, dtype=np.float64)
    if len(t) == 0:
        return {"n": 0}
    if t.shape != p.shape or t.ndim != 2:
        raise ValueError(f"labels and predictions must have the same (n, k) shape, got {t.shape} and {p.shape}")
    classes = np.arange(t.shape[1])
    y_true = label_classes(t)
    y_pred = np.argmax(p, axis=1)
    prec, rec, f1, support = sk.precision_recall_fscore_support(y_true, y_pred, labels=classes, average=None,
                                                                zero_division=0)
    weighted = sk.precision_recall_fscore_support(y_true, y_pred, labels=classes, average="weighted",
                                                  zero_division=0)
    macro = sk.precision_recall_fscore_support(y_true, y_pred, labels=np.unique(y_true), average="macro",
                                               zero_division=0)
    out = {"n": int(len(t)), "accuracy": float(sk.accuracy_score(y_true, y_pred))}
    for avg, scores in (("weighted", weighted), ("macro", macro)):
        out |= {f"{name}_{avg}": float(v) for name, v in zip(("precision", "recall", "f1"), scores)}
    return out | {
        "top2": float(sk.top_k_accuracy_score(y_true, p, k=2, labels=classes)),
        "top2_overlap": top2_overlap(t, p),
        "kl": float(np.mean(kl_divergence(t, p))),
        "ece": expected_calibration_error(y_true, p, n_bins),
        "support": support.astype(np.int64).tolist(),
        "confusion": confusion_matrix(y_true, y_pred, len(classes)).tolist(),
        "per_class": {"precision": [float(v) for v in prec], "recall": [float(v) for v in rec],
                      "f1": [float(v) for v in f1]},
    }


def track_predictions(probs, labels, track, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-track mean predictions.

    Parameters
    ----------
    probs : (n, k) clip predictions
    labels : (n, k) clip labels (a track's clips share its label; the first is used)
    track : (n,) track id of each clip (any hashable numpy dtype)
    weights : (n,), optional
        Weight of each clip in its track's mean (e.g. 1 in a drop, less elsewhere).

    Returns
    -------
    track_probs : (m, k), track_labels : (m, k), track_ids : (m,)
        In the order of ``np.unique(track)``.
    """
    p = np.asarray(probs, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.float64)
    tr = np.asarray(track)
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    ids, inv = np.unique(tr, return_inverse=True)
    num = np.zeros((len(ids), p.shape[1]))
    np.add.at(num, inv, p * w[:, None])
    den = np.bincount(inv, weights=w, minlength=len(ids))
    first = np.full(len(ids), -1)
    for i in range(len(tr) - 1, -1, -1):
        first[inv[i]] = i
    return num / np.maximum(den, 1e-12)[:, None], lab[first], ids


def track_metrics(probs, labels, track, weights=None, n_bins: int = ECE_BINS) -> dict:
    """:func:`genre_metrics` over tracks (mean of each track's clip predictions)."""
    if len(np.asarray(probs)) == 0:
        return {"n": 0}
    tp, tl, _ = track_predictions(probs, labels, track, weights)
    return genre_metrics(tl, tp, n_bins)


def write_confusion_png(path: str | os.PathLike, confusion, title: str = "", normalise: bool = True,
                        class_names=GENRES) -> None:
    """Render a confusion matrix to a PNG (matplotlib Agg backend, written atomically).

    Parameters
    ----------
    confusion : (k, k) counts, rows = true class, columns = predicted class
    normalise : bool
        Colour by row share (recall per class); the cells are annotated with counts.
    """
    # A bare Figure renders through the Agg canvas; pyplot (and its global backend) is never touched.
    from matplotlib.figure import Figure

    from ...core.atomic import atomic_path

    cm = np.asarray(confusion, dtype=np.float64)
    k = cm.shape[0]
    if cm.shape != (k, k):
        raise ValueError(f"confusion matrix must be square, got {cm.shape}")
    rows = cm.sum(axis=1, keepdims=True)
    shade = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0) if normalise else cm
    fig = Figure(figsize=(7.2, 6.2), dpi=110)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(shade, cmap="Blues", vmin=0, vmax=1 if normalise else max(cm.max(), 1))
    names = list(class_names)[:k]
    ax.set_xticks(range(k), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label (sharpened)")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if shade[i, j] > 0.6 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="row share" if normalise else "count")
    if title:
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
