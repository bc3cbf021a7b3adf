"""Optimiser and learning-rate schedule of a training run.

The paper's backbones train with Adam and a StepLR halving the rate every 2 epochs;
the default model with AdamW and OneCycle. Other schedules (cosine, linear, step,
constant) step per optimiser step, after an optional linear warm-up.
"""
from __future__ import annotations

import math

import torch

from .config import TrainConfig


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (default model, with weight decay) or Adam (the paper's backbones), at ``cfg.lr``."""
    if cfg.model == "default":
        return torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """The LR schedule of a resolved config.

    Returns
    -------
    (scheduler, step_per_batch, total_steps)
        ``step_per_batch``: the scheduler steps after every optimiser step (else once
        per epoch); ``total_steps``: optimiser steps of the whole run.
    """
    spe = steps_per_epoch
    total = max(1, cfg.epochs * spe)
    warm = int(cfg.warmup_steps) if cfg.warmup_steps else int(round(float(cfg.warmup_epochs) * spe))
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg.lr, total_steps=total, pct_start=0.15), \
            True, total
    if cfg.schedule == "step" and warm == 0:  # the paper: StepLR, halved every 2 epochs
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5), False, total
    kind = cfg.schedule

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        p = min(1.0, (s - warm) / max(1, total - warm))
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * p))
        if kind == "linear":
            return 1.0 - p
        if kind == "step":
            return 0.5 ** ((s // spe) // 2)
        return 1.0
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor), True, total
