"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors and plain Python only.

A checkpoint is a dict::

    format        "mainstage.genre-checkpoint/1"
    model_config  the model's config() (plain dict; rebuilds the architecture)
    state_dict    model weights (tensors)
    genres        the 8 genre names, in output order
    features      feature parameters (core.features.feature_params)
    labels        "soft" or "hard"
    epoch, best_epoch, history, val_metrics, test_metrics, data, train_config
    optimizer, scheduler, rng   (for resuming; plain types + tensors)

Files are written atomically (temporary file + rename).
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from ..core.atomic import atomic_path
from ..core.errors import InputFileError
from ..core.genres import GENRES

FORMAT = "mainstage.genre-checkpoint/1"


def save_checkpoint(obj: dict, path: str | os.PathLike) -> None:
    """Write a checkpoint dict atomically."""
    obj = dict(obj)
    obj.setdefault("format", FORMAT)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """Read a checkpoint safely (``weights_only=True``) and check its format.

    Raises
    ------
    InputFileError
        Missing/corrupt file, unsafe content, or not a genre checkpoint.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError(str(p), "no such checkpoint file")
    try:
        ckpt = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # pickle errors, zip errors, unsafe globals
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise InputFileError(str(p), f"cannot load checkpoint ({msg[:160]})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputFileError(str(p), f"not a mainstage genre checkpoint (format {FORMAT!r} expected)")
    for key in ("model_config", "state_dict", "genres", "features"):
        if key not in ckpt:
            raise InputFileError(str(p), f"checkpoint lacks {key!r}")
    if list(ckpt["genres"]) != list(GENRES):
        raise InputFileError(str(p), f"checkpoint genre order {ckpt['genres']} differs from {list(GENRES)}")
    return ckpt


def model_from_checkpoint(ckpt: dict) -> torch.nn.Module:
    """Rebuild the model of a loaded checkpoint (eval mode)."""
    from .models import model_from_config

    model = model_from_config(ckpt["model_config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()
