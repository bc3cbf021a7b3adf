"""Files a training run writes besides checkpoints: per-epoch metrics, TensorBoard scalars, test predictions.

In ``out_dir`` (rank 0 only): ``history.json``, ``metrics.jsonl`` and ``metrics.csv``
(per epoch, rewritten whole so that a resumed run has no duplicate rows),
``test_metrics.json`` and ``test_predictions.npz``.
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_open, atomic_path, write_json_atomic
from ...core.errors import MainstageError
from ...core.genres import GENRES
from ..features.clips import ClipSet

CSV_FIELDS = ("epoch", "lr", "train_loss", "val_loss", "val_accuracy", "val_f1_weighted", "val_top2", "val_kl",
              "val_track_loss", "val_track_f1_weighted", "seconds", "clips_per_s")


def flat_numbers(prefix: str, d: dict) -> dict:
    """The numbers of a nested dict, keys joined with ``_`` (``{"track": {"kl": x}}`` -> ``track_kl``)."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat_numbers(f"{prefix}{k}_", v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


def write_history(out: Path, history: list[dict]) -> None:
    """``history.json``, ``metrics.jsonl`` and ``metrics.csv`` of the epochs so far."""
    write_json_atomic(out / "history.json", history)
    lines = []
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    w.writeheader()
    for h in history:
        flat = {"epoch": h["epoch"], "lr": h.get("lr"), "train_loss": h["train_loss"],
                "seconds": h.get("seconds"), "clips_per_s": h.get("clips_per_s"),
                **flat_numbers("val_", h.get("val", {}))}
        lines.append(json.dumps(flat, allow_nan=False))
        w.writerow({k: flat.get(k, "") for k in CSV_FIELDS})
    with atomic_open(out / "metrics.jsonl", "w", encoding="utf-8") as fh:
        fh.write("".join(x + "\n" for x in lines))
    with atomic_open(out / "metrics.csv", "w", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())


class TensorBoardLog:
    """Per-epoch scalars in ``OUT/tensorboard`` (needs the tensorboard package)."""

    def __init__(self, out: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise MainstageError("--tensorboard needs the tensorboard package (pip install tensorboard)") from None
        self.writer = SummaryWriter(str(out / "tensorboard"))

    def add_epoch(self, entry: dict) -> None:
        """Train loss, learning rate and every validation number of a history entry."""
        e = entry["epoch"]
        self.writer.add_scalar("train/loss", entry["train_loss"], e)
        self.writer.add_scalar("train/lr", entry["lr"], e)
        for k, v in flat_numbers("", entry["val"]).items():
            self.writer.add_scalar(f"val/{k}", v, e)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def write_test_predictions(path: Path, clips: ClipSet, probs: np.ndarray, rows) -> None:
    """``test_predictions.npz``: clip-level ``probs``, ``labels``, ``track`` (manifest row),
    ``in_drop``, ``paths`` (each clip's track path), ``spans`` (s), ``genres`` — for track-level metrics."""
    arrays = {
        "probs": np.asarray(probs, np.float32).reshape(-1, len(GENRES)),
        "labels": clips.label_matrix(),
        "track": np.asarray(clips.track, np.int64),
        "in_drop": np.asarray(clips.in_drop, bool),
        "paths": np.asarray([str(rows[i].path) for i in clips.track], dtype=np.str_),
        "spans": np.asarray(clips.spans, np.float64).reshape(-1, 2),
        "genres": np.asarray(GENRES, dtype=np.str_),
    }
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
