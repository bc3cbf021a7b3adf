"""Genre models: the paper's patch-sequence model (its four backbones, plus resnet18/34/50) and the fast default model.

All take ``(batch, channels, 224, frames)`` scaled log-mel (channels 1, or 3 with
chroma) and return 8 genre logits. :func:`build_model` rebuilds one from the plain
``config()`` dict stored in checkpoints.
"""
from __future__ import annotations

from torch import nn

from .fast import FastGenreNet
from .patch import BACKBONES, PAPER_BACKBONES, SMALL_BACKBONES, PatchSequenceModel

#: Names accepted by ``mainstage train --model``.
ARCHITECTURES = ("default",) + BACKBONES


def build_model(arch: str, *, in_channels: int = 1, n_classes: int = 8, weights_path: str | None = None,
                **kwargs) -> nn.Module:
    """Build a genre model by name.

    Parameters
    ----------
    arch : str
        ``"default"`` or a patch-model backbone (:data:`BACKBONES`: the paper's four and
        resnet18/34/50).
    in_channels : int
        1 (mel) or 3 (mel + CQT/VQT chroma).
    weights_path : str, optional
        Local ImageNet weights for a paper backbone (ignored by ``"default"``).
    **kwargs
        Further constructor arguments (as in a model's ``config()``).
    """
    if arch == "default":
        return FastGenreNet(in_channels=in_channels, n_classes=n_classes, **kwargs)
    if arch in BACKBONES:
        return PatchSequenceModel(arch, in_channels=in_channels, n_classes=n_classes, weights_path=weights_path,
                                  **kwargs)
    raise ValueError(f"unknown model {arch!r}; expected one of {ARCHITECTURES}")


def model_from_config(config: dict) -> nn.Module:
    """Inverse of ``model.config()``."""
    cfg = dict(config)
    return build_model(cfg.pop("arch"), **cfg)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def min_frames(model: nn.Module) -> int:
    """Shortest input (frames) the model accepts."""
    return int(getattr(model, "min_frames"))


__all__ = ["ARCHITECTURES", "BACKBONES", "PAPER_BACKBONES", "SMALL_BACKBONES", "FastGenreNet", "PatchSequenceModel",
           "build_model", "count_parameters", "model_from_config", "min_frames"]
