"""Training loop of the genre models: per-epoch validation, best checkpoint by validation, test at the end.

:class:`Trainer` holds the pieces as separate methods (data, model, optimiser, one
epoch, evaluation, checkpointing).

Data comes from the prepared feature cache (:mod:`mainstage.training.prepare`; by
default ``<manifest folder>/.mainstage-cache``, shared by every experiment on the
manifest) and the stored split (:mod:`mainstage.training.splits`, ``splits.json`` in
the cache folder). Training clips are re-sampled from the drops every epoch
(``resample``; a function of ``(seed, epoch, track)``), validation and test clips are
cut once with the seed.

Everything random in an epoch is a function of ``(seed, epoch, step)``: the clip order,
the crop offsets, the augmentations, and the torch generator (re-seeded before every
step, for dropout). A run resumed from a checkpoint (``resume``; written atomically at
every epoch's end and, with ``checkpoint_every``, every N optimiser steps) therefore
continues exactly as an uninterrupted run, and a distributed run (``torchrun``, see
:mod:`mainstage.training.distributed`) computes the same gradients as one process.

Outputs in ``out_dir`` (rank 0 only): ``best.pt`` (chosen on the validation split only,
never on test), ``last.pt`` (for resuming), ``history.json``, ``metrics.jsonl`` and
``metrics.csv`` (per epoch), ``test_metrics.json`` and ``test_predictions.npz`` (the
best checkpoint on the test split, clip level).
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import hashlib
import io
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..core.atomic import atomic_open, atomic_path, write_json_atomic
from ..core.errors import MainstageError
from ..core.features import feature_params
from ..core.genres import GENRES
from . import data as D
from . import distributed as dist_mod
from .augment import mixup, random_gain, spec_augment
from .checkpoint import (FORMAT, capture_rng, load_checkpoint, model_from_checkpoint, resolve_resume, restore_rng,
                         save_checkpoint)
from .losses import (class_weights, fit_temperature, genre_metrics, prepare_targets, soft_cross_entropy,
                     track_cross_entropy)
from .models import build_model, count_parameters, min_frames

SCHEDULES = ("auto", "onecycle", "cosine", "linear", "step", "constant")
AMP_DTYPES = ("auto", "bf16", "fp16")


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in its checkpoints)."""

    data: str
    out: str
    model: str = "default"
    chroma: bool = False
    labels: str = "soft"
    epochs: int | None = None          # default: 5 for paper backbones, 14 for "default"
    batch_size: int | None = None      # default: 4 (paper) / 32 (default model); the global batch
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
    cache_dir: str | None = None       # default: <manifest folder>/.mainstage-cache (shared by experiments)
    resume: str | None = None          # last.pt, a run folder, or "auto"
    model_kwargs: dict = field(default_factory=dict)
    progress: bool = True
    # --- data (step 6) ---
    resample: bool = True              # re-sample training clips every epoch (False: cut once, the paper)
    group_by_artist: bool = False      # keep an artist's tracks in one split
    splits_file: str | None = None     # default: <cache_dir>/splits.json
    jobs: int = 1                      # processes preparing uncached tracks
    gain_db: float = 0.0               # random fade + spectral tilt, +- dB (0 = off); see training/augment.py
    mixup: float = 0.0                 # mixup Beta(alpha, alpha) of clip pairs and their labels (0 = off)
    # --- optimisation ---
    amp_dtype: str = "auto"            # auto (fp16 on CUDA, bf16 on CPU) | bf16 | fp16
    channels_last: bool = True         # channels-last memory format on CUDA
    compile: bool = False              # torch.compile the training forward
    accumulate: int = 1                # micro-batches per optimiser step
    schedule: str = "auto"             # auto: StepLR (paper backbones) / OneCycle (default model)
    warmup_epochs: float = 0.0         # linear warm-up (cosine/linear/step/constant schedules)
    warmup_steps: int = 0              # ... in optimiser steps (wins over warmup_epochs)
    patience: int | None = None        # early stopping: epochs without a better validation score
    checkpoint_every: int = 0          # also write last.pt every N optimiser steps (0 = at epoch ends only)
    tensorboard: bool = False
    sync_bn: bool = True               # synchronise BatchNorm statistics across ranks (distributed runs)

    def resolved(self) -> "TrainConfig":
        """Copy with architecture-dependent defaults filled in."""
        paper = self.model != "default"
        c = dataclasses.replace(self)
        c.epochs = self.epochs if self.epochs is not None else (5 if paper else 14)
        c.batch_size = self.batch_size if self.batch_size is not None else (4 if paper else 32)
        c.lr = self.lr if self.lr is not None else (1e-4 if paper else 3e-3)
        c.cache_dir = self.cache_dir or str(Path(self.data).resolve().parent / ".mainstage-cache")
        c.split = tuple(float(x) for x in self.split)
        if c.schedule == "auto":
            c.schedule = "step" if paper else "onecycle"
        return c

    def to_plain(self) -> dict:
        d = dataclasses.asdict(self)
        d["split"] = list(d["split"])
        return d

    def check(self) -> None:
        """Raise :class:`MainstageError` for an impossible setting (one line)."""
        if self.schedule not in SCHEDULES:
            raise MainstageError(f"schedule must be one of {', '.join(SCHEDULES)}, got {self.schedule!r}")
        if self.amp_dtype not in AMP_DTYPES:
            raise MainstageError(f"amp dtype must be one of {', '.join(AMP_DTYPES)}, got {self.amp_dtype!r}")
        if int(self.accumulate) < 1:
            raise MainstageError(f"--accumulate must be >= 1, got {self.accumulate}")
        if self.batch_size is not None and int(self.batch_size) < 1:
            raise MainstageError(f"--batch-size must be >= 1, got {self.batch_size}")
        if self.mixup < 0 or self.gain_db < 0:
            raise MainstageError("--mixup and --gain-db must be >= 0")
        if self.mixup > 0 and self.track_loss > 0:
            raise MainstageError("--mixup cannot be combined with --track-loss (a mixed clip has no single track)")
        if self.patience is not None and int(self.patience) < 1:
            raise MainstageError(f"--patience must be >= 1, got {self.patience}")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _rng_state(rng: np.random.Generator) -> dict:
    st = rng.bit_generator.state
    return {"bit_generator": st["bit_generator"], "state": {k: int(v) for k, v in st["state"].items()},
            "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"])}


def _step_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes and Python versions)."""
    h = hashlib.sha256(json.dumps([int(p) for p in parts]).encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


def _flat(prefix: str, d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(f"{prefix}{k}_", v))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[f"{prefix}{k}"] = v
    return out


class Trainer:
    """One training run. Call :meth:`fit`; the pieces are public for reuse."""

    def __init__(self, config: TrainConfig):
        config.check()
        self.cfg = config.resolved()
        self.cfg.check()
        self.out = Path(self.cfg.out)
        self.device = pick_device(self.cfg.device)
        info = dist_mod.env_info()
        if info.enabled and self.device.type == "cuda" and self.cfg.device in ("auto", "cuda"):
            self.device = torch.device("cuda", info.local_rank)
        self.dist = dist_mod.setup(self.device)
        if self.dist.main:
            self.out.mkdir(parents=True, exist_ok=True)
        if self.cfg.threads:
            torch.set_num_threads(int(self.cfg.threads))
        torch.manual_seed(self.cfg.seed)
        random.seed(self.cfg.seed)
        np.random.seed(self.cfg.seed % (2 ** 32))
        self.rng = np.random.default_rng(self.cfg.seed)
        self.history: list[dict] = []
        self.best_score = math.inf
        self.best_epoch = -1
        self.start_epoch = 0
        self.start_step = 0
        self.resume_progress: dict | None = None
        self.bad_epochs = 0
        self.temperature = 1.0
        self._train_epoch_cache: tuple[int, D.ClipSet, np.ndarray] | None = None
        self.tb = None

    # --- data ------------------------------------------------------------------------
    def setup_data(self, log=print) -> None:
        """Read the manifest, prepare (or find) the cached features, load or make the split."""
        from .prepare import prepare_rows
        from .splits import load_or_make_splits

        c = self.cfg
        self.rows = D.read_manifest(c.data)
        kw = dict(cache_dir=c.cache_dir, chroma=c.chroma, drops=c.drops, jobs=c.jobs)
        # One process per node prepares missing tracks (the cache may be node-local); the others wait.
        leader = self.dist.local_rank == 0
        prep = prepare_rows(self.rows, progress=c.progress and self.dist.main, compute=leader, **kw) if leader else None
        if self.dist.enabled:
            dist_mod.barrier(self.dist)
            if not leader:
                prep = prepare_rows(self.rows, progress=False, compute=False, **kw)
        self.tracks = prep["tracks"]
        self.failed = prep["failed"]
        if self.failed:
            log(f"{len(self.failed)} of {len(self.rows)} tracks could not be prepared and are left out; first: "
                f"{self.failed[0]}")
        if all(t is None for t in self.tracks):
            raise D.DataError(f"{c.data}: no track could be prepared ({self.failed[0]})")
        splits_file = c.splits_file or str(Path(c.cache_dir) / "splits.json")
        self.splits_path = splits_file
        splits = None
        if self.dist.main:
            splits = load_or_make_splits(self.rows, splits_file, c.split, seed=c.seed,
                                         group_by_artist=c.group_by_artist, write=True, log=log)
        self.splits = dist_mod.broadcast_object(splits, self.dist)  # rank 0's split on every rank
        for name in ("train", "val"):
            if not self.splits[name]:
                raise D.DataError(f"{c.data}: the {name} split has no tracks (add tracks or set a split column)")
        kw = dict(seed=c.seed, per_drop=c.clips_per_drop)
        self.clips = {
            "train": self.train_clips(0),
            "val": D.prepared_clipset(self.rows, self.tracks, self.splits["val"], outside=c.clips_outside_drops, **kw),
            "test": D.prepared_clipset(self.rows, self.tracks, self.splits["test"], outside=0, **kw),
        }
        for name in ("train", "val"):
            if len(self.clips[name]) == 0:
                raise D.DataError(f"{c.data}: no clips in the {name} split (no drop found in its tracks?)")
        self.targets = {k: self._targets(v) for k, v in self.clips.items()}
        self.data_description = D.describe(self.rows, self.splits)
        for k, v in self.clips.items():
            self.data_description[k]["clips"] = len(v)
        self.data_description["train"]["resampled_every_epoch"] = bool(c.resample)
        if self.failed:
            self.data_description["failed_tracks"] = list(self.failed)

    def _targets(self, clips: D.ClipSet) -> np.ndarray:
        if not len(clips):
            return np.zeros((0, len(GENRES)), np.float32)
        return prepare_targets(clips.label_matrix(), self.cfg.labels).astype(np.float32)

    def train_clips(self, epoch: int) -> D.ClipSet:
        """The training clips of an epoch (the same every epoch with ``resample=False``)."""
        c = self.cfg
        return D.prepared_clipset(self.rows, self.tracks, self.splits["train"], seed=c.seed,
                                  epoch=epoch if c.resample else None, per_drop=c.clips_per_drop,
                                  outside=c.clips_outside_drops)

    def epoch_data(self, epoch: int) -> tuple[D.ClipSet, np.ndarray]:
        if self._train_epoch_cache is None or self._train_epoch_cache[0] != (epoch if self.cfg.resample else -1):
            clips = self.clips["train"] if (epoch == 0 or not self.cfg.resample) else self.train_clips(epoch)
            self._train_epoch_cache = (epoch if self.cfg.resample else -1, clips, self._targets(clips))
        return self._train_epoch_cache[1], self._train_epoch_cache[2]

    def plan_epoch(self, epoch: int, clips: D.ClipSet) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """The epoch's global batches: ``(clip indices, bag index per clip or None)``.

        A function of ``(seed, epoch)`` only: every rank and every resumed run plans the same.
        """
        c = self.cfg
        rng = np.random.default_rng([c.seed, epoch, 101])
        n = len(clips)
        if c.track_loss <= 0:
            order = rng.permutation(n)
            return [(order[b:b + c.batch_size], None) for b in range(0, n, c.batch_size)]
        return D.plan_track_batches(clips, c.batch_size, c.bag_size, rng)

    # --- model -----------------------------------------------------------------------
    def _steps_per_epoch(self) -> int:
        c = self.cfg
        return max(1, math.ceil(math.ceil(len(self.clips["train"]) / c.batch_size) / c.accumulate))

    def setup_model(self) -> None:
        c = self.cfg
        kwargs = dict(c.model_kwargs)
        if c.model != "default" and c.weights_path:
            kwargs["weights_path"] = c.weights_path
        self.model = build_model(c.model, in_channels=3 if c.chroma else 1, n_classes=len(GENRES), **kwargs)
        self.min_frames = min_frames(self.model)
        if self.dist.enabled and c.sync_bn:
            self.model = dist_mod.convert_sync_batchnorm(self.model, self.device)
        self.model.to(self.device)
        self.channels_last = bool(c.channels_last and self.device.type == "cuda")
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
            if hasattr(self.model, "channels_last"):  # the patch model also converts its patch images
                self.model.channels_last = True
        if c.model == "default":
            self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=c.lr, weight_decay=c.weight_decay)
        else:  # the paper: Adam
            self.optimizer = torch.optim.Adam(self.model.parameters(), lr=c.lr)
        spe = self._steps_per_epoch()
        self.total_steps = max(1, c.epochs * spe)
        warm = int(c.warmup_steps) if c.warmup_steps else int(round(float(c.warmup_epochs) * spe))
        if c.schedule == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=c.lr,
                                                                 total_steps=self.total_steps, pct_start=0.15)
            self.step_per_batch = True
        elif c.schedule == "step" and warm == 0:  # the paper: StepLR, halved every 2 epochs
            self.scheduler = torch.optim.lr_scheduler.StepLR(self.optimizer, step_size=2, gamma=0.5)
            self.step_per_batch = False
        else:
            total, kind = self.total_steps, c.schedule

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
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)
            self.step_per_batch = True
        self.loss_weight = None
        if c.class_weights:
            self.loss_weight = torch.from_numpy(class_weights(self.targets["train"])).to(self.device)
        cuda = self.device.type == "cuda"
        if c.amp_dtype == "auto":
            self.amp_dtype = torch.float16 if cuda else torch.bfloat16
        else:
            self.amp_dtype = torch.bfloat16 if c.amp_dtype == "bf16" else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=bool(c.amp and cuda and self.amp_dtype == torch.float16))
        self.ddp = None
        fwd = self.model
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.ddp = DDP(self.model, device_ids=[self.device.index] if cuda else None)
            fwd = self.ddp
        self.forward_model = torch.compile(fwd, dynamic=True) if c.compile else fwd

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.cfg.amp)

    def _to_device(self, x: np.ndarray) -> torch.Tensor:
        xt = torch.from_numpy(x).to(self.device, non_blocking=True)
        if self.channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        return xt

    # --- epochs ----------------------------------------------------------------------
    def _batch(self, epoch: int, step: int, clips, targets, idx, bag, lengths=None):
        """This rank's rows of global batch ``step``: ``(x, y, rows, local bag or None)``."""
        c = self.cfg
        n = len(idx)
        if bag is not None:
            rows = dist_mod.bag_shard(bag, self.dist.world, self.dist.rank) if self.dist.enabled else range(n)
        else:
            rows = dist_mod.shard_bounds(n, self.dist.world, self.dist.rank) if self.dist.enabled else range(n)
        x = D._stack(clips, idx, self.min_frames, np.random.default_rng([c.seed, epoch, step, 1]), rows=rows,
                     lengths=D.clip_lengths(clips) if lengths is None else lengths)
        y = targets[idx][rows.start:rows.stop].copy()
        xt = torch.from_numpy(x)
        yt = torch.from_numpy(y)
        if c.augment and c.model == "default":
            spec_augment(xt, np.random.default_rng([c.seed, epoch, step, 2]), rows=rows)
        if c.gain_db > 0:
            random_gain(xt, np.random.default_rng([c.seed, epoch, step, 3]), max_db=c.gain_db, rows=rows)
        if c.mixup > 0 and bag is None:
            xt, yt = mixup(xt, yt, np.random.default_rng([c.seed, epoch, step, 4]), alpha=c.mixup, rows=rows)
        local_bag = None if bag is None else bag[rows.start:rows.stop] - (bag[rows.start] if len(rows) else 0)
        return xt, yt, rows, local_bag

    def _prefetch(self, epoch: int, first: int, plan, clips, targets):
        """Yield ``(step, batch)`` from ``first`` on, building the next batches in background threads
        (cutting clips from the memory-mapped cache and augmenting them overlaps the model's step).

        Each batch is a pure function of ``(seed, epoch, step)``, so the threads cannot change
        what a step sees: 1 thread on CPU (the model needs the cores), 4 on GPUs.
        """
        from concurrent.futures import ThreadPoolExecutor

        workers = 1 if self.device.type == "cpu" else 4
        depth = 2 * workers + 1
        lengths = D.clip_lengths(clips)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batches") as ex:
            futs = {}
            for k in range(first, min(first + depth, len(plan))):
                futs[k] = ex.submit(self._batch, epoch, k, clips, targets, *plan[k], lengths)
            try:
                for step in range(first, len(plan)):
                    res = futs.pop(step).result()
                    if step + depth < len(plan):
                        k = step + depth
                        futs[k] = ex.submit(self._batch, epoch, k, clips, targets, *plan[k], lengths)
                    yield step, res
            finally:
                for f in futs.values():
                    f.cancel()

    def _loss(self, logits: torch.Tensor, yt: torch.Tensor, bag_local, idx, bag, targets) -> torch.Tensor:
        """This rank's share of the global batch's loss, scaled so DDP's gradient average is the global mean."""
        c = self.cfg
        w = float(self.dist.world)
        n = len(idx)
        if logits.shape[0] == 0:
            return logits.sum() * 0.0
        if bag is None:
            return soft_cross_entropy(logits, yt, self.loss_weight, reduction="sum") * (w / n)
        # Track-level loss on every track's bag; the clip-level loss only on clips of
        # single-genre tracks: such a clip is that genre, while a clip of a mixture may
        # hold only some of the mixture's genres.
        n_bags = int(bag.max()) + 1
        n_single = int(np.sum(targets[idx].max(axis=1) > 0.999))
        bl = torch.from_numpy(np.asarray(bag_local, dtype=np.int64)).to(self.device)
        local_bags = int(bag_local.max()) + 1
        track = track_cross_entropy(logits, yt, bl, None, self.loss_weight) * (local_bags * w / n_bags)
        single = yt.max(dim=1).values > 0.999
        clip = (soft_cross_entropy(logits[single], yt[single], self.loss_weight, reduction="sum") * (w / n_single)
                if bool(single.any()) and n_single else logits.sum() * 0.0)
        return (1.0 - c.track_loss) * clip + c.track_loss * track

    def _optimizer_step(self) -> None:
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.step_per_batch and self.scheduler.last_epoch < self.total_steps:
            self.scheduler.step()

    def train_epoch(self, epoch: int) -> dict:
        """Train one epoch (from ``self.start_step`` when resuming inside it)."""
        c = self.cfg
        self.model.train()
        clips, targets = self.epoch_data(epoch)
        plan = self.plan_epoch(epoch, clips)
        first = self.start_step if epoch == self.start_epoch else 0
        prog = (self.resume_progress or {}) if first else {}
        total = float(prog.get("loss_sum", 0.0)) if self.dist.main else 0.0
        seen = int(prog.get("clips", 0))
        t_prev = float(prog.get("seconds", 0.0))
        t0 = time.perf_counter()
        bar = None
        if c.progress and self.dist.main:
            from tqdm import tqdm

            bar = tqdm(total=len(plan), initial=first, desc=f"epoch {epoch + 1}/{c.epochs}", unit="batch",
                       leave=False, dynamic_ncols=True)
        acc = max(1, int(c.accumulate))
        self.optimizer.zero_grad(set_to_none=True)
        try:
            for step, (xt, yt, rows, bag_local) in self._prefetch(epoch, first, plan, clips, targets):
                idx, bag = plan[step]
                torch.manual_seed(_step_seed(c.seed, epoch, step, self.dist.rank))
                xt = xt.to(self.device, non_blocking=True)
                if self.channels_last:
                    xt = xt.contiguous(memory_format=torch.channels_last)
                yt = yt.to(self.device)
                boundary = (step + 1) % acc == 0 or step == len(plan) - 1
                sync = contextlib.nullcontext() if (self.ddp is None or boundary) else self.ddp.no_sync()
                with sync:
                    with self.autocast():
                        logits = self.forward_model(xt)
                    loss = self._loss(logits, yt, bag_local, idx, bag, targets)
                    self.scaler.scale(loss / acc).backward()
                if boundary:
                    self._optimizer_step()
                # loss * n / world summed over ranks = the global batch's mean loss * n
                total += float(loss.detach()) * len(idx) / self.dist.world
                seen += len(idx)
                if bar is not None:
                    el = t_prev + time.perf_counter() - t0
                    bar.set_postfix(loss=f"{total * self.dist.world / max(seen, 1):.4f}",
                                    clips_s=f"{seen / max(el, 1e-9):.1f}")
                    bar.update(1)
                if boundary and c.checkpoint_every and step + 1 < len(plan):
                    opt_steps = (step + 1 + acc - 1) // acc
                    if opt_steps % int(c.checkpoint_every) == 0:
                        loss_sum = float(dist_mod.all_reduce_sum([total], self.dist, self.device)[0])
                        if self.dist.main:
                            ck = self.checkpoint_dict(epoch - 1, self.history[-1]["val"] if self.history else {})
                            ck["next"] = {"epoch": epoch, "step": step + 1}
                            ck["train_progress"] = {"loss_sum": loss_sum, "clips": seen,
                                                    "seconds": t_prev + time.perf_counter() - t0}
                            save_checkpoint(ck, self.out / "last.pt")
                        if self.dist.main:
                            total = loss_sum
                        else:
                            total = 0.0
        finally:
            if bar is not None:
                bar.close()
        total = float(dist_mod.all_reduce_sum([total], self.dist, self.device)[0])
        if not self.step_per_batch:
            self.scheduler.step()
        seconds = t_prev + time.perf_counter() - t0
        return {"loss": total / max(seen, 1), "clips": seen, "seconds": seconds,
                "clips_per_s": seen / max(seconds, 1e-9)}

    @torch.no_grad()
    def predict_logits(self, clips: D.ClipSet, batch_size: int | None = None) -> np.ndarray:
        """Logits ``(n, 8)`` for a clip set, in the clip set's order (gathered from all ranks)."""
        self.model.eval()
        out = np.zeros((len(clips), len(GENRES)), dtype=np.float32)
        dummy = np.zeros((len(clips), len(GENRES)), dtype=np.float32)
        parts = []
        for j, (x, _, idx) in enumerate(D.iterate_batches(clips, dummy, batch_size or self.cfg.batch_size,
                                                          shuffle=False, min_frames=self.min_frames)):
            if self.dist.enabled and j % self.dist.world != self.dist.rank:
                continue
            with self.autocast():
                logits = self.model(self._to_device(x))
            parts.append((np.asarray(idx), logits.float().cpu().numpy()))
        for rank_parts in dist_mod.all_gather_objects(parts, self.dist):
            for idx, lg in rank_parts:
                out[idx] = lg
        return out

    def predict(self, clips: D.ClipSet, batch_size: int | None = None) -> np.ndarray:
        """Probabilities ``(n, 8)`` (softmax of logits / temperature)."""
        return torch.softmax(torch.from_numpy(self.predict_logits(clips, batch_size)) / self.temperature,
                             dim=-1).numpy()

    def evaluate(self, split: str, return_probs: bool = False):
        clips = self.clips[split]
        if not len(clips):
            return ({"n": 0}, np.zeros((0, len(GENRES)), np.float32)) if return_probs else {"n": 0}
        probs = self.predict(clips)
        t = self.targets[split]
        loss = float(np.mean(-np.sum(t * np.log(np.clip(probs, 1e-8, 1)), axis=1)))
        m = genre_metrics(clips.label_matrix(), probs)
        m["loss"] = loss
        m["track"] = self.track_metrics(clips, probs)
        return (m, probs) if return_probs else m

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
        """Everything to resume: model, optimiser, scheduler, scaler, generators, history, early stopping.

        ``epoch`` is the last completed epoch; ``next`` says where training continues.
        """
        return {
            "format": FORMAT,
            "model_config": self.model.config(),
            "state_dict": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "genres": list(GENRES),
            "features": feature_params(self.cfg.chroma),
            "labels": self.cfg.labels,
            "temperature": float(self.temperature),
            "epoch": epoch,
            "next": {"epoch": epoch + 1, "step": 0},
            "best_epoch": self.best_epoch,
            "best_score": float(self.best_score),
            "bad_epochs": int(self.bad_epochs),
            "val_metrics": val_metrics,
            "history": self.history,
            "data": self.data_description,
            "train_config": self.cfg.to_plain(),
            "parameters": count_parameters(self.model),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "world_size": self.dist.world,
            "rng": {**capture_rng(), "numpy": _rng_state(self.rng)},
        }

    def resume_from(self, path: str) -> None:
        ckpt = load_checkpoint(path, map_location=self.device)
        self.model.load_state_dict(ckpt["state_dict"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        rng = ckpt.get("rng", {})
        restore_rng({k: (v.cpu() if isinstance(v, torch.Tensor) else [t.cpu() for t in v] if k == "cuda" else v)
                     for k, v in rng.items() if k in ("torch", "cuda", "python", "numpy_legacy")})
        if "numpy" in rng:
            self.rng.bit_generator.state = rng["numpy"]
        self.history = list(ckpt.get("history", []))
        self.best_epoch = int(ckpt.get("best_epoch", -1))
        self.best_score = float(ckpt.get("best_score", math.inf))
        self.bad_epochs = int(ckpt.get("bad_epochs", 0))
        nxt = ckpt.get("next") or {"epoch": int(ckpt["epoch"]) + 1, "step": 0}
        self.start_epoch, self.start_step = int(nxt["epoch"]), int(nxt["step"])
        self.resume_progress = ckpt.get("train_progress")

    def score(self, val: dict) -> float:
        """Lower is better: validation clip loss, track-level loss, or 1 - weighted F1."""
        if self.cfg.select == "track":
            return val["track"]["loss"]
        return val["loss"] if self.cfg.select == "loss" else 1.0 - val["f1_weighted"]

    # --- logs ------------------------------------------------------------------------
    CSV_FIELDS = ("epoch", "lr", "train_loss", "val_loss", "val_accuracy", "val_f1_weighted", "val_top2", "val_kl",
                  "val_track_loss", "val_track_f1_weighted", "seconds", "clips_per_s")

    def write_metrics_logs(self) -> None:
        """``metrics.jsonl`` and ``metrics.csv`` from the history (rewritten whole: resume-safe)."""
        lines = []
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.CSV_FIELDS, extrasaction="ignore")
        w.writeheader()
        for h in self.history:
            val = h.get("val", {})
            flat = {"epoch": h["epoch"], "lr": h.get("lr"), "train_loss": h["train_loss"],
                    "seconds": h.get("seconds"), "clips_per_s": h.get("clips_per_s"),
                    **{f"val_{k}": v for k, v in _flat("", val).items()}}
            lines.append(json.dumps(flat, allow_nan=False))
            w.writerow({k: flat.get(k, "") for k in self.CSV_FIELDS})
        with atomic_open(self.out / "metrics.jsonl", "w", encoding="utf-8") as fh:
            fh.write("".join(x + "\n" for x in lines))
        with atomic_open(self.out / "metrics.csv", "w", encoding="utf-8", newline="") as fh:
            fh.write(buf.getvalue())

    def _tensorboard(self, entry: dict) -> None:
        if self.tb is None:
            return
        e = entry["epoch"]
        self.tb.add_scalar("train/loss", entry["train_loss"], e)
        self.tb.add_scalar("train/lr", entry["lr"], e)
        for k, v in _flat("", entry["val"]).items():
            self.tb.add_scalar(f"val/{k}", v, e)
        self.tb.flush()

    def write_test_predictions(self, probs: np.ndarray) -> None:
        """``test_predictions.npz``: clip-level ``probs``, ``labels``, ``track`` (manifest row),
        ``in_drop``, ``paths`` (each clip's track path), ``spans`` (s) — for track-level metrics."""
        clips = self.clips["test"]
        arrays = {
            "probs": np.asarray(probs, np.float32).reshape(-1, len(GENRES)),
            "labels": clips.label_matrix(),
            "track": np.asarray(clips.track, np.int64),
            "in_drop": np.asarray(clips.in_drop, bool),
            "paths": np.asarray([str(self.rows[i].path) for i in clips.track], dtype=np.str_),
            "spans": np.asarray(clips.spans, np.float64).reshape(-1, 2),
            "genres": np.asarray(GENRES, dtype=np.str_),
        }
        with atomic_path(self.out / "test_predictions.npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, **arrays)

    # --- the run ---------------------------------------------------------------------
    def fit(self, log=print) -> dict:
        try:
            return self._fit(log if self.dist.main else (lambda *a, **k: None))
        finally:
            if self.tb is not None:
                self.tb.close()
            if self.dist.enabled:
                dist_mod.cleanup()

    def _fit(self, log) -> dict:
        c = self.cfg
        if c.tensorboard and self.dist.main:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise MainstageError("--tensorboard needs the tensorboard package (pip install tensorboard)") from None
            self.tb = SummaryWriter(str(self.out / "tensorboard"))
        resume = resolve_resume(c.resume, self.out)  # a bad --resume fails before the data is prepared
        self.setup_data(log=log)
        self.setup_model()
        if resume is not None:
            self.resume_from(str(resume))
            log(f"resuming from {resume} at epoch {self.start_epoch + 1}"
                + (f", step {self.start_step}" if self.start_step else ""))
        where = f"{self.device}" + (f" x {self.dist.world} processes" if self.dist.enabled else "")
        log(f"model {c.model}: {count_parameters(self.model):,} parameters on {where}; clips "
            + ", ".join(f"{k} {len(v)}" for k, v in self.clips.items())
            + (" (training clips re-sampled every epoch)" if c.resample else ""))
        stopped = False
        for epoch in range(self.start_epoch, c.epochs):
            if c.patience and self.bad_epochs >= int(c.patience):
                stopped = True
                break
            lr = float(self.optimizer.param_groups[0]["lr"])
            tr = self.train_epoch(epoch)
            t_eval = time.perf_counter()
            val = self.evaluate("val")
            entry = {"epoch": epoch, "lr": lr, "train_loss": tr["loss"], "val": val,
                     "seconds": tr["seconds"] + time.perf_counter() - t_eval,
                     "train_clips": tr["clips"], "clips_per_s": tr["clips_per_s"]}
            self.history.append(entry)
            s = self.score(val)
            if s < self.best_score:
                self.best_score, self.best_epoch, self.bad_epochs = s, epoch, 0
            else:
                self.bad_epochs += 1
            if self.dist.main:
                ck = self.checkpoint_dict(epoch, val)
                if self.best_epoch == epoch:
                    save_checkpoint(ck, self.out / "best.pt")
                save_checkpoint(ck, self.out / "last.pt")
                write_json_atomic(self.out / "history.json", self.history)
                self.write_metrics_logs()
                self._tensorboard(entry)
            self.start_step = 0
            log(f"epoch {epoch + 1}/{c.epochs}: train loss {tr['loss']:.4f}, val loss {val['loss']:.4f}, "
                f"val F1 {val['f1_weighted']:.3f}, val KL {val['kl']:.3f}, track KL {val['track']['kl']:.3f} "
                f"({entry['seconds']:.0f} s, {tr['clips_per_s']:.0f} clips/s)"
                + (" *" if self.best_epoch == epoch else ""))
        if stopped or (c.patience and self.bad_epochs >= int(c.patience) and len(self.history) < c.epochs):
            log(f"early stop: no better validation score for {self.bad_epochs} epochs "
                f"(best epoch {self.best_epoch + 1})")
        dist_mod.barrier(self.dist)
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
        test, test_probs = self.evaluate("test", return_probs=True)
        best["test_metrics"] = test
        result = {"best_epoch": self.best_epoch, "temperature": self.temperature, "val": best["val_metrics"],
                  "test": test, "model": c.model, "labels": c.labels, "chroma": c.chroma,
                  "data": self.data_description, "epochs_run": len(self.history),
                  "early_stopped": bool(len(self.history) < c.epochs)}
        if self.dist.main:
            save_checkpoint(best, self.out / "best.pt")
            write_json_atomic(self.out / "test_metrics.json", result)
            self.write_test_predictions(test_probs)
        dist_mod.barrier(self.dist)
        if test.get("n"):
            log(f"test (best epoch {self.best_epoch + 1}): accuracy {test['accuracy']:.3f}, "
                f"weighted F1 {test['f1_weighted']:.3f}, top-2 {test['top2']:.3f}, KL {test['kl']:.3f}")
        return result


def train(config: TrainConfig, log=print) -> dict:
    """Run one training; returns the test metrics dict (also written to ``test_metrics.json``)."""
    return Trainer(config).fit(log=log)


__all__ = ["TrainConfig", "Trainer", "train", "load_checkpoint", "model_from_checkpoint", "spec_augment"]
