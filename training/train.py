"""Training loop of the genre models: per-epoch validation, best checkpoint by validation, test at the end.

:class:`Trainer` holds the pieces as separate methods (data, model, optimiser, one
epoch, evaluation, checkpointing) so that later work (distributed training, grid
runs over data settings) replaces pieces instead of rewriting the loop. Mixed
precision (``amp``) and resuming (``resume``) already work.

Outputs in ``out_dir``: ``best.pt`` (chosen on the validation split only, never on
test), ``last.pt`` (for resuming), ``history.json`` (per-epoch metrics) and
``test_metrics.json`` (the best checkpoint on the test split).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.atomic import write_json_atomic
from ..core.features import feature_params
from ..core.genres import GENRES
from . import data as D
from .checkpoint import FORMAT, load_checkpoint, model_from_checkpoint, save_checkpoint
from .losses import (class_weights, fit_temperature, genre_metrics, prepare_targets, soft_cross_entropy,
                     track_cross_entropy)
from .models import build_model, count_parameters, min_frames


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in its checkpoints)."""

    data: str
    out: str
    model: str = "default"
    chroma: bool = False
    labels: str = "soft"
    epochs: int | None = None          # default: 5 for paper backbones, 14 for "default"
    batch_size: int | None = None      # default: 4 (paper) / 32 (default model)
    lr: float | None = None            # default: 1e-4 Adam (paper) / 3e-3 AdamW (default model)
    weight_decay: float = 1e-4
    class_weights: bool = False
    seed: int = 0
    clips_per_drop: int = 4
    clips_outside_drops: int = 0
    drops: str = "auto"
    split: tuple = (0.8, 0.1, 0.1)
    select: str = "loss"               # validation criterion for the best checkpoint: loss | track | f1
    calibrate: bool = True             # fit a softmax temperature on validation after training
    track_loss: float = 0.0            # weight of the track-level (bag) loss, 0 = the paper's clip loss only;
    #                                    with it, the clip loss covers single-genre tracks only
    bag_size: int = 8                  # clips per track bag for the track-level loss
    augment: bool = True               # SpecAugment-style masks (default model only)
    device: str = "auto"
    amp: bool = False
    threads: int | None = None
    weights_path: str | None = None    # local ImageNet weights of a paper backbone
    cache_dir: str | None = None       # default: <out>/cache
    resume: str | None = None
    model_kwargs: dict = field(default_factory=dict)
    progress: bool = True

    def resolved(self) -> "TrainConfig":
        """Copy with architecture-dependent defaults filled in."""
        paper = self.model != "default"
        c = dataclasses.replace(self)
        c.epochs = self.epochs if self.epochs is not None else (5 if paper else 14)
        c.batch_size = self.batch_size if self.batch_size is not None else (4 if paper else 32)
        c.lr = self.lr if self.lr is not None else (1e-4 if paper else 3e-3)
        c.cache_dir = self.cache_dir or str(Path(self.out) / "cache")
        c.split = tuple(float(x) for x in self.split)
        return c

    def to_plain(self) -> dict:
        d = dataclasses.asdict(self)
        d["split"] = list(d["split"])
        return d


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def spec_augment(x: torch.Tensor, rng: np.random.Generator, n_time: int = 2, max_time: float = 0.1,
                 n_freq: int = 2, max_freq: int = 24) -> torch.Tensor:
    """Mask random time and frequency stripes with silence (1.0); in place, per clip."""
    b, _, nf, nt = x.shape
    for i in range(b):
        for _ in range(n_time):
            w = int(rng.integers(0, int(max_time * nt) + 1))
            t0 = int(rng.integers(0, max(nt - w, 1)))
            x[i, :, :, t0:t0 + w] = 1.0
        for _ in range(n_freq):
            w = int(rng.integers(0, max_freq + 1))
            f0 = int(rng.integers(0, max(nf - w, 1)))
            x[i, :, f0:f0 + w, :] = 1.0
    return x


def _rng_state(rng: np.random.Generator) -> dict:
    st = rng.bit_generator.state
    return {"bit_generator": st["bit_generator"], "state": {k: int(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


class Trainer:
    """One training run. Call :meth:`fit`; the pieces are public for reuse."""

    def __init__(self, config: TrainConfig):
        self.cfg = config.resolved()
        self.out = Path(self.cfg.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.device = pick_device(self.cfg.device)
        if self.cfg.threads:
            torch.set_num_threads(int(self.cfg.threads))
        torch.manual_seed(self.cfg.seed)
        self.rng = np.random.default_rng(self.cfg.seed)
        self.history: list[dict] = []
        self.best_score = math.inf
        self.best_epoch = -1
        self.start_epoch = 0
        self.temperature = 1.0

    # --- data ------------------------------------------------------------------------
    def setup_data(self) -> None:
        c = self.cfg
        self.rows = D.read_manifest(c.data)
        self.splits = D.split_tracks(self.rows, c.split, seed=c.seed)
        for name in ("train", "val"):
            if not self.splits[name]:
                raise D.DataError(f"{c.data}: the {name} split has no tracks (add tracks or set a split column)")
        kw = dict(seed=c.seed, per_drop=c.clips_per_drop, drops=c.drops, chroma=c.chroma, cache_dir=c.cache_dir,
                  progress=c.progress)
        self.clips = {
            "train": D.build_clipset(self.rows, self.splits["train"], outside=c.clips_outside_drops, **kw),
            "val": D.build_clipset(self.rows, self.splits["val"], outside=c.clips_outside_drops, **kw),
            "test": D.build_clipset(self.rows, self.splits["test"], outside=0, **kw),
        }
        for name in ("train", "val"):
            if len(self.clips[name]) == 0:
                raise D.DataError(f"{c.data}: no clips in the {name} split (no drop found in its tracks?)")
        self.targets = {k: prepare_targets(v.label_matrix(), c.labels) if len(v) else np.zeros((0, 8), np.float32)
                        for k, v in self.clips.items()}
        self.data_description = D.describe(self.rows, self.splits)
        for k, v in self.clips.items():
            self.data_description[k]["clips"] = len(v)

    # --- model -----------------------------------------------------------------------
    def setup_model(self) -> None:
        c = self.cfg
        kwargs = dict(c.model_kwargs)
        if c.model != "default" and c.weights_path:
            kwargs["weights_path"] = c.weights_path
        self.model = build_model(c.model, in_channels=3 if c.chroma else 1, n_classes=len(GENRES), **kwargs)
        self.model.to(self.device)
        self.min_frames = min_frames(self.model)
        if c.model == "default":
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
            steps = max(1, c.epochs * math.ceil(len(self.clips["train"]) / c.batch_size))
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=c.lr, total_steps=steps,
                                                                 pct_start=0.15)
            self.step_per_batch = True
        else:  # the paper: Adam, StepLR
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=c.lr)
            self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.5)
            self.step_per_batch = False
        self.loss_weight = None
        if c.class_weights:
            self.loss_weight = torch.from_numpy(class_weights(self.targets["train"])).to(self.device)
        amp_cuda = c.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp_cuda)
        self.amp_dtype = torch.float16 if amp_cuda else torch.bfloat16

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.cfg.amp)

    # --- epochs ----------------------------------------------------------------------
    def train_epoch(self, epoch: int) -> dict:
        c = self.cfg
        self.model.train()
        total, n = 0.0, 0
        if c.track_loss > 0:
            batches = D.iterate_track_batches(self.clips["train"], self.targets["train"], c.batch_size, c.bag_size,
                                              self.rng, min_frames=self.min_frames)
        else:
            batches = ((x, y, i, None) for x, y, i in D.iterate_batches(
                self.clips["train"], self.targets["train"], c.batch_size, shuffle=True, rng=self.rng,
                min_frames=self.min_frames))
        for x, y, idx, bag in batches:
            xt = torch.from_numpy(x)
            if c.augment and c.model == "default":
                spec_augment(xt, self.rng)
            xt, yt = xt.to(self.device, non_blocking=True), torch.from_numpy(y).to(self.device)
            with self.autocast():
                logits = self.model(xt)
            if bag is None:
                loss = soft_cross_entropy(logits, yt, self.loss_weight)
            else:
                # Track-level loss on every track's bag; the clip-level loss only on clips of
                # single-genre tracks: such a clip is that genre, while a clip of a mixture may
                # hold only some of the mixture's genres.
                track = track_cross_entropy(logits, yt, torch.from_numpy(bag).to(self.device), None,
                                            self.loss_weight)
                single = yt.max(dim=1).values > 0.999
                clip = (soft_cross_entropy(logits[single], yt[single], self.loss_weight)
                        if bool(single.any()) else logits.sum() * 0.0)
                loss = (1.0 - c.track_loss) * clip + c.track_loss * track
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(loss).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            if self.step_per_batch:
                self.scheduler.step()
            total += float(loss.detach()) * len(x)
            n += len(x)
        if not self.step_per_batch:
            self.scheduler.step()
        return {"loss": total / max(n, 1)}

    @torch.no_grad()
    def predict_logits(self, clips: D.ClipSet, batch_size: int | None = None) -> np.ndarray:
        """Logits ``(n, 8)`` for a clip set, in the clip set's order."""
        self.model.eval()
        out = np.zeros((len(clips), len(GENRES)), dtype=np.float32)
        dummy = np.zeros((len(clips), len(GENRES)), dtype=np.float32)
        for x, _, idx in D.iterate_batches(clips, dummy, batch_size or self.cfg.batch_size, shuffle=False,
                                           min_frames=self.min_frames):
            with self.autocast():
                logits = self.model(torch.from_numpy(x).to(self.device))
            out[idx] = logits.float().cpu().numpy()
        return out

    def predict(self, clips: D.ClipSet, batch_size: int | None = None) -> np.ndarray:
        """Probabilities ``(n, 8)`` (softmax of logits / temperature)."""
        return torch.softmax(torch.from_numpy(self.predict_logits(clips, batch_size)) / self.temperature,
                             dim=-1).numpy()

    def evaluate(self, split: str) -> dict:
        clips = self.clips[split]
        if not len(clips):
            return {"n": 0}
        probs = self.predict(clips)
        t = self.targets[split]
        loss = float(np.mean(-np.sum(t * np.log(np.clip(probs, 1e-8, 1)), axis=1)))
        m = genre_metrics(clips.label_matrix(), probs)
        m["loss"] = loss
        m["track"] = self.track_metrics(clips, probs)
        return m

    @staticmethod
    def track_metrics(clips: D.ClipSet, probs: np.ndarray) -> dict:
        """Metrics of each track's weighted mean clip prediction, weighted as the runtime's summary."""
        from ..core.genre_model import NON_DROP_WEIGHT

        tracks = np.asarray(clips.track)
        w = np.where(np.asarray(clips.in_drop, bool), 1.0, NON_DROP_WEIGHT)
        labels = clips.label_matrix()
        uniq = np.unique(tracks)
        mean = np.stack([(probs[tracks == t] * w[tracks == t, None]).sum(0) / w[tracks == t].sum() for t in uniq])
        lab = np.stack([labels[tracks == t][0] for t in uniq])
        m = genre_metrics(lab, mean)
        m["loss"] = float(np.mean(-np.sum(lab * np.log(np.clip(mean, 1e-8, 1)), axis=1)))
        return m

    # --- checkpoints -----------------------------------------------------------------
    def checkpoint_dict(self, epoch: int, val_metrics: dict) -> dict:
        return {
            "format": FORMAT,
            "model_config": self.model.config(),
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "genres": list(GENRES),
            "features": feature_params(self.cfg.chroma),
            "labels": self.cfg.labels,
            "temperature": float(self.temperature),
            "epoch": epoch,
            "best_epoch": self.best_epoch,
            "best_score": float(self.best_score),
            "val_metrics": val_metrics,
            "history": self.history,
            "data": self.data_description,
            "train_config": self.cfg.to_plain(),
            "parameters": count_parameters(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": {"torch": torch.get_rng_state(), "numpy": _rng_state(self.rng)},
        }

    def resume_from(self, path: str) -> None:
        ckpt = load_checkpoint(path)
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        torch.set_rng_state(ckpt["rng"]["torch"])
        self.rng.bit_generator.state = ckpt["rng"]["numpy"]
        self.history = list(ckpt.get("history", []))
        self.best_epoch = int(ckpt.get("best_epoch", -1))
        self.best_score = float(ckpt.get("best_score", math.inf))
        self.start_epoch = int(ckpt["epoch"]) + 1

    def score(self, val: dict) -> float:
        """Lower is better: validation clip loss, track-level loss, or 1 - weighted F1."""
        if self.cfg.select == "track":
            return val["track"]["loss"]
        return val["loss"] if self.cfg.select == "loss" else 1.0 - val["f1_weighted"]

    # --- the run ---------------------------------------------------------------------
    def fit(self, log=print) -> dict:
        c = self.cfg
        self.setup_data()
        self.setup_model()
        if c.resume:
            self.resume_from(c.resume)
        log(f"model {c.model}: {count_parameters(self.model):,} parameters on {self.device}; clips "
            + ", ".join(f"{k} {len(v)}" for k, v in self.clips.items()))
        for epoch in range(self.start_epoch, c.epochs):
            t0 = time.perf_counter()
            tr = self.train_epoch(epoch)
            val = self.evaluate("val")
            entry = {"epoch": epoch, "train_loss": tr["loss"], "val": val, "seconds": time.perf_counter() - t0}
            self.history.append(entry)
            s = self.score(val)
            if s < self.best_score:
                self.best_score, self.best_epoch = s, epoch
                save_checkpoint(self.checkpoint_dict(epoch, val), self.out / "best.pt")
            save_checkpoint(self.checkpoint_dict(epoch, val), self.out / "last.pt")
            write_json_atomic(self.out / "history.json", self.history)
            log(f"epoch {epoch + 1}/{c.epochs}: train loss {tr['loss']:.4f}, val loss {val['loss']:.4f}, "
                f"val F1 {val['f1_weighted']:.3f}, val KL {val['kl']:.3f}, track KL {val['track']['kl']:.3f} "
                f"({entry['seconds']:.0f} s)"
                + (" *" if self.best_epoch == epoch else ""))
        # Calibrate on validation, then test once, with the checkpoint chosen on validation.
        best = load_checkpoint(self.out / "best.pt")
        self.model.load_state_dict(best["state_dict"])
        if c.calibrate and len(self.clips["val"]) < 16:
            log(f"calibration skipped: only {len(self.clips['val'])} validation clips")
        elif c.calibrate:
            val_clips = self.clips["val"]
            objective = None
            if c.select == "track":  # calibrate what is selected on: the track-level mean
                objective = lambda p: self.track_metrics(val_clips, p)["loss"]  # noqa: E731
            self.temperature = fit_temperature(self.predict_logits(val_clips), self.targets["val"],
                                               objective=objective)
            best["temperature"] = self.temperature
            best["val_metrics_uncalibrated"] = best["val_metrics"]
            best["val_metrics"] = self.evaluate("val")
            log(f"calibration: temperature {self.temperature:.3f} (val loss {best['val_metrics_uncalibrated']['loss']:.4f}"
                f" -> {best['val_metrics']['loss']:.4f})")
        test = self.evaluate("test")
        best["test_metrics"] = test
        save_checkpoint(best, self.out / "best.pt")
        result = {"best_epoch": self.best_epoch, "temperature": self.temperature, "val": best["val_metrics"], "test": test,
                  "model": c.model, "labels": c.labels, "chroma": c.chroma, "data": self.data_description}
        write_json_atomic(self.out / "test_metrics.json", result)
        if test.get("n"):
            log(f"test (best epoch {self.best_epoch + 1}): accuracy {test['accuracy']:.3f}, "
                f"weighted F1 {test['f1_weighted']:.3f}, top-2 {test['top2']:.3f}, KL {test['kl']:.3f}")
        return result


def train(config: TrainConfig, log=print) -> dict:
    """Run one training; returns the test metrics dict (also written to ``test_metrics.json``)."""
    return Trainer(config).fit(log=log)


__all__ = ["TrainConfig", "Trainer", "train", "load_checkpoint", "model_from_checkpoint"]
