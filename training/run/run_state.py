"""What a training run resumes from: its progress and the checkpoint dicts that store it.

``last.pt`` is written atomically at every epoch's end and, with ``checkpoint_every``,
every N optimiser steps; together with the generators' states (:mod:`.checkpoint`) it
lets a resumed run continue exactly as an uninterrupted one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ...core.genre.features import feature_params
from ...core.genres import GENRES
from .checkpoint import FORMAT, capture_rng, generator_state, restore_rng
from .config import TrainConfig
from .model_setup import TrainingModel
from ..models import count_parameters


@dataclass
class RunProgress:
    """Where a run stands: its history, the best epoch so far, early stopping, where to continue."""

    history: list[dict] = field(default_factory=list)
    best_score: float = math.inf
    best_epoch: int = -1
    #: Epochs since the best one (early stopping).
    bad_epochs: int = 0
    start_epoch: int = 0
    #: Optimiser-step position inside ``start_epoch`` (a mid-epoch checkpoint), else 0.
    start_step: int = 0
    #: Loss sum, clips and seconds of ``start_epoch`` before ``start_step``.
    resume_progress: dict | None = None
    temperature: float = 1.0

    def record(self, entry: dict, score: float) -> None:
        """Add an epoch's history entry and its selection score (lower is better)."""
        self.history.append(entry)
        if score < self.best_score:
            self.best_score, self.best_epoch, self.bad_epochs = score, entry["epoch"], 0
        else:
            self.bad_epochs += 1


def run_checkpoint(cfg: TrainConfig, net: TrainingModel, progress: RunProgress, epoch: int, val_metrics: dict,
                   data_description: dict, world: int, rng: np.random.Generator) -> dict:
    """Everything to resume: model, optimiser, scheduler, scaler, generators, history, early stopping.

    ``epoch`` is the last completed epoch; ``next`` says where training continues.
    """
    state = net.state()
    return {
        "format": FORMAT,
        "model_config": state.pop("model_config"),
        "state_dict": state.pop("state_dict"),
        "genres": list(GENRES),
        "features": feature_params(cfg.chroma),
        "labels": cfg.labels,
        "temperature": float(progress.temperature),
        "epoch": epoch,
        "next": {"epoch": epoch + 1, "step": 0},
        "best_epoch": progress.best_epoch,
        "best_score": float(progress.best_score),
        "bad_epochs": int(progress.bad_epochs),
        "val_metrics": val_metrics,
        "history": progress.history,
        "data": data_description,
        "train_config": cfg.to_plain(),
        "parameters": count_parameters(net.model),
        **state,
        "world_size": world,
        "rng": {**capture_rng(), "numpy": generator_state(rng)},
    }


def restore_run(ckpt: dict, net: TrainingModel, rng: np.random.Generator) -> RunProgress:
    """Load a :func:`run_checkpoint` into the model, the generators and ``rng``; returns the run's progress."""
    net.load_state(ckpt)
    saved = ckpt["rng"]
    restore_rng({k: (v.cpu() if isinstance(v, torch.Tensor) else [t.cpu() for t in v] if k == "cuda" else v)
                 for k, v in saved.items() if k != "numpy"})
    rng.bit_generator.state = saved["numpy"]
    return RunProgress(history=list(ckpt["history"]), best_score=float(ckpt["best_score"]),
                       best_epoch=int(ckpt["best_epoch"]), bad_epochs=int(ckpt["bad_epochs"]),
                       start_epoch=int(ckpt["next"]["epoch"]), start_step=int(ckpt["next"]["step"]),
                       resume_progress=ckpt.get("train_progress"))
