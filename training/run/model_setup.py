"""The model side of a training run: the model on its device, DDP, optimiser, LR schedule and mixed precision."""
from __future__ import annotations

import contextlib
import math

import numpy as np
import torch

from ...core.genres import GENRES
from . import distributed as dist_mod
from .config import TrainConfig
from .losses import class_weights
from ..models import build_model, min_frames
from .optimizer import build_optimizer, build_scheduler


def pick_device(name: str) -> torch.device:
    """The torch device of a ``--device`` value (``auto``: CUDA when available, else the CPU)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def steps_per_epoch(n_clips: int, batch_size: int, accumulate: int) -> int:
    """Optimiser steps of an epoch over ``n_clips`` clips."""
    return max(1, math.ceil(math.ceil(n_clips / batch_size) / accumulate))


class TrainingModel:
    """A model built for training, with everything that steps it.

    Parameters
    ----------
    cfg : TrainConfig
        A resolved config.
    device : torch.device
    dist : distributed.DistInfo
    n_train_clips : int
        Clips of a training epoch (for the LR schedule's length).
    train_targets : (n, 8) array
        Training targets (for ``class_weights``).

    Attributes
    ----------
    model
        The module whose weights are trained and saved.
    forward_model
        What the training step calls: ``model``, wrapped in DDP when distributed and
        compiled with ``compile``.
    optimizer, scheduler, scaler
        Adam(W), the LR schedule, the float16 gradient scaler (inactive otherwise).
    """

    def __init__(self, cfg: TrainConfig, device: torch.device, dist: dist_mod.DistInfo, n_train_clips: int,
                 train_targets: np.ndarray):
        self.cfg = c = cfg
        self.device = device
        kwargs = dict(c.model_kwargs)
        if c.model != "default" and c.weights_path:
            kwargs["weights_path"] = c.weights_path
        self.model = build_model(c.model, in_channels=3 if c.chroma else 1, n_classes=len(GENRES), **kwargs)
        self.min_frames = min_frames(self.model)
        if dist.enabled and c.sync_bn:
            self.model = dist_mod.convert_sync_batchnorm(self.model, device)
        self.model.to(device)
        self.channels_last = bool(c.channels_last and device.type == "cuda")
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
            if hasattr(self.model, "channels_last"):  # the patch model also converts its patch images
                self.model.channels_last = True
        self.optimizer = build_optimizer(self.model, c)
        self.scheduler, self.step_per_batch, self.total_steps = build_scheduler(
            self.optimizer, c, steps_per_epoch(n_train_clips, c.batch_size, c.accumulate))
        self.loss_weight = None
        if c.class_weights:
            self.loss_weight = torch.from_numpy(class_weights(train_targets)).to(device)
        cuda = device.type == "cuda"
        if c.amp_dtype == "auto":
            self.amp_dtype = torch.float16 if cuda else torch.bfloat16
        else:
            self.amp_dtype = torch.bfloat16 if c.amp_dtype == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=bool(c.amp and cuda and self.amp_dtype == torch.float16))
        self.ddp = None
        fwd = self.model
        if dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.ddp = DDP(self.model, device_ids=[device.index] if cuda else None)
            fwd = self.ddp
        self.forward_model = torch.compile(fwd, dynamic=True) if c.compile else fwd

    def autocast(self):
        """Mixed-precision context of the forward pass (a no-op without ``amp``)."""
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.cfg.amp)

    def no_sync(self, sync: bool):
        """DDP's ``no_sync`` between accumulated micro-batches (``sync=False``); else a no-op."""
        return contextlib.nullcontext() if (self.ddp is None or sync) else self.ddp.no_sync()

    def to_device(self, x) -> torch.Tensor:
        """A batch (numpy array or CPU tensor) on the model's device, in its memory format."""
        xt = (torch.from_numpy(x) if isinstance(x, np.ndarray) else x).to(self.device, non_blocking=True)
        if self.channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        return xt

    def optimizer_step(self) -> None:
        """Step the optimiser (through the gradient scaler) and, per batch, the LR schedule."""
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.step_per_batch and self.scheduler.last_epoch < self.total_steps:
            self.scheduler.step()

    def state(self) -> dict:
        """Checkpoint entries of the model and everything that steps it."""
        return {"model_config": self.model.config(),
                "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
                "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict()}

    def load_state(self, ckpt: dict) -> None:
        """Restore what :meth:`state` stored."""
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
