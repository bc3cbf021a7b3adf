"""What one training step sees: this rank's rows of a planned global batch, cut and augmented.

Everything random in a step is a function of ``(seed, epoch, step)``: the crop offsets,
the augmentations and the torch generator (:func:`step_seed`, re-seeded before every
step, for dropout). A resumed run therefore continues exactly as an uninterrupted
run, and a distributed run (see :mod:`.distributed`) computes the same gradients as
one process.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from . import distributed as dist_mod
from ..features.augment import mel_centres, mixup, random_eq, random_gain, random_noise, random_warp, spec_augment
from .batches import clip_lengths, stack_clips
from .config import TrainConfig


#: Band centres for the EQ and noise augmentations (the model's 224 Slaney mel bands).
MEL_CENTRES = mel_centres()


def step_seed(*parts: int) -> int:
    """A 63-bit seed from integers (stable across processes and Python versions)."""
    h = hashlib.sha256(json.dumps([int(p) for p in parts]).encode()).digest()
    return int.from_bytes(h[:8], "little") >> 1


def build_batch(cfg: TrainConfig, dist: dist_mod.DistInfo, epoch: int, step: int, clips, targets: np.ndarray,
                idx: np.ndarray, bag: np.ndarray | None, min_frames: int, lengths: np.ndarray | None = None):
    """This rank's rows of global batch ``step``: ``(x, y, rows, local bag or None)``.

    ``x`` and ``y`` are CPU tensors (clips cut to one length, augmented as configured);
    ``rows`` are their positions in the global batch; the local bag numbers start at 0.
    """
    n = len(idx)
    if bag is not None:
        rows = dist_mod.bag_shard(bag, dist.world, dist.rank) if dist.enabled else range(n)
    else:
        rows = dist_mod.shard_bounds(n, dist.world, dist.rank) if dist.enabled else range(n)
    x = stack_clips(clips.features, idx, min_frames, np.random.default_rng([cfg.seed, epoch, step, 1]), rows=rows,
                    lengths=clip_lengths(clips.features) if lengths is None else lengths)
    y = targets[idx][rows.start:rows.stop].copy()
    xt = torch.from_numpy(x)
    yt = torch.from_numpy(y)
    if cfg.augment and cfg.model == "default":
        spec_augment(xt, np.random.default_rng([cfg.seed, epoch, step, 2]), rows=rows)
    if cfg.gain_db > 0:
        random_gain(xt, np.random.default_rng([cfg.seed, epoch, step, 3]), max_db=cfg.gain_db, rows=rows)
    if cfg.eq > 0:
        random_eq(xt, np.random.default_rng([cfg.seed, epoch, step, 5]), p=cfg.eq, rows=rows, freqs=MEL_CENTRES)
    if cfg.warp > 0:
        random_warp(xt, np.random.default_rng([cfg.seed, epoch, step, 7]), p=cfg.warp, rows=rows, freqs=MEL_CENTRES)
    if cfg.noise > 0:
        random_noise(xt, np.random.default_rng([cfg.seed, epoch, step, 6]), p=cfg.noise, rows=rows, freqs=MEL_CENTRES)
    if cfg.mixup > 0 and bag is None:
        xt, yt = mixup(xt, yt, np.random.default_rng([cfg.seed, epoch, step, 4]), alpha=cfg.mixup, rows=rows)
    local_bag = None if bag is None else bag[rows.start:rows.stop] - (bag[rows.start] if len(rows) else 0)
    return xt, yt, rows, local_bag


def prefetch_batches(cfg: TrainConfig, dist: dist_mod.DistInfo, epoch: int, first: int, plan, clips,
                     targets: np.ndarray, min_frames: int, workers: int):
    """Yield ``(step, batch)`` from step ``first`` on, building the next batches in background threads.

    Cutting clips from the memory-mapped cache and augmenting them overlaps the model's
    step. Each batch is a pure function of ``(seed, epoch, step)``, so the threads cannot
    change what a step sees.

    Parameters
    ----------
    plan : list of (idx, bag)
        The epoch's global batches (:func:`~.batches.plan_epoch`).
    workers : int
        Threads building batches (1 on CPU, where the model needs the cores).
    """
    depth = 2 * workers + 1
    lengths = clip_lengths(clips.features)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batches") as ex:
        def submit(k):
            return ex.submit(build_batch, cfg, dist, epoch, k, clips, targets, *plan[k], min_frames, lengths)

        futs = {k: submit(k) for k in range(first, min(first + depth, len(plan)))}
        try:
            for step in range(first, len(plan)):
                res = futs.pop(step).result()
                if step + depth < len(plan):
                    futs[step + depth] = submit(step + depth)
                yield step, res
        finally:
            for f in futs.values():
                f.cancel()
