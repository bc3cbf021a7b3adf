"""Predictions of a training run's model on a clip set and their metrics (validation, test, selection)."""
from __future__ import annotations

import numpy as np
import torch

from ...core.genre import NON_DROP_WEIGHT
from ...core.genres import GENRES
from . import distributed as dist_mod
from .batches import iterate_batches
from ..features.clips import ClipSet
from ..evaluation.metrics import genre_metrics
from .model_setup import TrainingModel


def predict_logits(net: TrainingModel, clips: ClipSet, batch_size: int, dist: dist_mod.DistInfo) -> np.ndarray:
    """Logits ``(n, 8)`` for a clip set, in the clip set's order.

    Batches are dealt out round-robin over the ranks of a distributed run and the
    logits gathered from all of them.
    """
    return predict_clips(net, clips, batch_size, dist, net.model, len(GENRES))


@torch.no_grad()
def predict_clips(net: TrainingModel, clips: ClipSet, batch_size: int, dist: dist_mod.DistInfo, forward,
                  width: int) -> np.ndarray:
    """``forward(x)`` ``(n, width)`` of every clip (eval mode, gathered from all ranks), in the clip set's order."""
    net.model.eval()
    out = np.zeros((len(clips), width), dtype=np.float32)
    parts = []
    for j, (x, idx) in enumerate(iterate_batches(clips, batch_size, min_frames=net.min_frames)):
        if dist.enabled and j % dist.world != dist.rank:
            continue
        with net.autocast():
            y = forward(net.to_device(x))
        parts.append((np.asarray(idx), y.float().cpu().numpy()))
    for rank_parts in dist_mod.all_gather_objects(parts, dist):
        for idx, lg in rank_parts:
            out[idx] = lg
    return out


def probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities ``(n, 8)``: softmax of ``logits / temperature`` (in torch, as the exported model)."""
    return torch.softmax(torch.from_numpy(logits) / temperature, dim=-1).numpy()


def cross_entropy(targets: np.ndarray, probs: np.ndarray) -> float:
    """Mean soft cross-entropy of predictions against target distributions (probabilities clipped at 1e-8)."""
    return float(np.mean(-np.sum(targets * np.log(np.clip(probs, 1e-8, 1)), axis=1)))


def track_metrics(clips: ClipSet, probs: np.ndarray) -> dict:
    """Metrics of each track's weighted mean clip prediction, weighted as the runtime's summary."""
    tracks = np.asarray(clips.track)
    w = np.where(np.asarray(clips.in_drop, bool), 1.0, NON_DROP_WEIGHT)
    labels = clips.track_label_matrix()
    uniq = np.unique(tracks)
    mean = np.stack([(probs[tracks == t] * w[tracks == t, None]).sum(0) / w[tracks == t].sum() for t in uniq])
    lab = np.stack([labels[tracks == t][0] for t in uniq])
    m = genre_metrics(lab, mean)
    m["loss"] = cross_entropy(lab, mean)
    return m


def clip_set_metrics(clips: ClipSet, targets: np.ndarray, probs: np.ndarray) -> dict:
    """Clip-level metrics, the loss against the training targets, and the track-level metrics (``track``)."""
    m = genre_metrics(clips.label_matrix(), probs)
    m["loss"] = cross_entropy(targets, probs)
    m["track"] = track_metrics(clips, probs)
    return m


def selection_score(val: dict, select: str) -> float:
    """Lower is better: validation clip loss (``loss``), track-level loss (``track``) or 1 - weighted F1 (``f1``)."""
    if select == "track":
        return val["track"]["loss"]
    return val["loss"] if select == "loss" else 1.0 - val["f1_weighted"]
