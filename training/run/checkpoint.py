"""Checkpoints that load with ``torch.load(weights_only=True)``: tensors and plain Python only.

A checkpoint is a dict::

    format        "mainstage.genre-checkpoint/1"
    model_config  the model's config() (plain dict; rebuilds the architecture)
    state_dict    model weights (tensors)
    genres        the 8 genre names, in output order
    features      feature parameters (core.genre.features.feature_params)
    labels        "soft" or "hard"
    temperature   softmax temperature fitted on validation
    epoch, best_epoch, best_score, history, val_metrics, test_metrics, data, train_config, parameters
    optimizer, scheduler, scaler, rng, next, bad_epochs, world_size, train_progress
                  (resuming; see :mod:`.run_state`)

Files are written atomically (temporary file + rename).
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from ...core.atomic import atomic_path
from ...core.errors import InputFileError
from ...core.genres import GENRES
from .safe_load import load_tensors

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
    ckpt = load_tensors(p, map_location)  # one line for unsafe, corrupt or missing files
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise InputFileError(str(p), f"not a mainstage genre checkpoint (format {FORMAT!r} expected)")
    for key in ("model_config", "state_dict", "genres", "features"):
        if key not in ckpt:
            raise InputFileError(str(p), f"checkpoint lacks {key!r}")
    if list(ckpt["genres"]) != list(GENRES):
        raise InputFileError(str(p), f"checkpoint genre order {ckpt['genres']} differs from {list(GENRES)}")
    return ckpt


def resolve_resume(resume: str | os.PathLike | None, out: str | os.PathLike) -> Path | None:
    """The checkpoint a ``--resume`` value names.

    Parameters
    ----------
    resume : str or None
        A checkpoint file, a run's output folder (its ``last.pt``), or ``"auto"``
        (``OUT/last.pt`` when it exists, else start afresh).
    out : the run's output folder

    Raises
    ------
    InputFileError
        The named file or folder has no checkpoint.
    """
    if resume is None or str(resume) == "":
        return None
    if str(resume) == "auto":
        last = Path(out) / "last.pt"
        return last if last.is_file() else None
    p = Path(resume)
    if p.is_dir():
        if not (p / "last.pt").is_file():
            raise InputFileError(str(p), "no last.pt to resume from in this folder")
        return p / "last.pt"
    if not p.is_file():
        raise InputFileError(str(p), "no such checkpoint file to resume from")
    return p


def capture_rng() -> dict:
    """State of every global generator (torch, CUDA, numpy legacy, Python), checkpoint-safe types."""
    py = random.getstate()
    np_legacy = np.random.get_state()
    out = {
        "torch": torch.get_rng_state(),
        "python": [int(py[0]), [int(x) for x in py[1]], py[2]],
        "numpy_legacy": [str(np_legacy[0]), torch.from_numpy(np.asarray(np_legacy[1], dtype=np.int64)),
                         int(np_legacy[2]), int(np_legacy[3]), float(np_legacy[4])],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state_all()
    return out


def restore_rng(state: dict) -> None:
    """Restore what :func:`capture_rng` captured (the CUDA part only where CUDA is available)."""
    if "torch" in state:
        torch.set_rng_state(state["torch"])
    if "python" in state:
        v, internal, gauss = state["python"]
        random.setstate((int(v), tuple(int(x) for x in internal), gauss))
    if "numpy_legacy" in state:
        name, keys, pos, has_gauss, cached = state["numpy_legacy"]
        np.random.set_state((name, np.asarray(keys, dtype=np.uint32), int(pos), int(has_gauss), float(cached)))
    if "cuda" in state and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(state["cuda"])
        except (RuntimeError, IndexError):
            pass  # resumed on fewer GPUs: CUDA generators start from their seed


def generator_state(rng: np.random.Generator) -> dict:
    """State of a numpy ``Generator`` as plain ints (``rng.bit_generator.state = ...`` restores it)."""
    st = rng.bit_generator.state
    return {"bit_generator": st["bit_generator"], "state": {k: int(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def model_from_checkpoint(ckpt: dict) -> torch.nn.Module:
    """Rebuild the model of a loaded checkpoint (eval mode)."""
    from ..models import model_from_config

    model = model_from_config(ckpt["model_config"])
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()
