"""The data of a training run: manifest rows, prepared tracks, the stored split, clip sets and targets.

Data comes from the prepared feature cache (:mod:`..features.prepare`; by default
``<manifest folder>/.mainstage-cache``, shared by every experiment on the manifest)
and the stored split (:mod:`..datasets.splits`, ``splits.json`` in the cache folder). Training
clips are re-sampled from the drops every epoch (``resample``; a function of
``(seed, epoch, track)``), validation and test clips are cut once with the seed.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.errors import MainstageError
from ...core.genres import GENRES
from . import distributed as dist_mod
from ..features.clips import ClipSet
from .config import TrainConfig
from .losses import prepare_targets
from ..datasets.manifest import read_manifest
from ..features.prepare import prepare_rows
from ..features.drops import load_truth
from ..features.part_labels import bar_part_labels
from ..features.prepared_clips import prepared_clipset
from ..datasets.splits import describe_splits, load_or_make_splits


class DataError(MainstageError, ValueError):
    """The training data cannot be used (no clips, empty split, ...)."""


class TrainingData:
    """Everything a run trains, selects and tests on.

    Parameters
    ----------
    cfg : TrainConfig
        A resolved config (:meth:`TrainConfig.resolved`).
    dist : distributed.DistInfo
        One process per node prepares missing tracks (the cache may be node-local)
        while the others wait; rank 0's split is used on every rank.
    log : callable

    Attributes
    ----------
    rows, tracks, failed
        Manifest rows, their prepared tracks (None where preparing failed) and the failures.
    splits : dict
        ``{"train" | "val" | "test": row indices}``.
    clips, targets : dict
        Per split: the clip set (training: epoch 0's clips) and its training targets.
    description : dict
        Plain description of the data (stored with checkpoints and exported models).
    """

    def __init__(self, cfg: TrainConfig, dist: dist_mod.DistInfo, log=print):
        self.cfg = c = cfg
        self.rows = read_manifest(c.data, allow_outside=c.allow_outside_paths)
        kw = dict(cache_dir=c.cache_dir, chroma=c.chroma, drops=c.drops, jobs=c.jobs)
        leader = dist.local_rank == 0
        prep = prepare_rows(self.rows, progress=c.progress and dist.main, compute=leader, **kw) if leader else None
        if dist.enabled:
            dist_mod.barrier(dist)
            if not leader:
                prep = prepare_rows(self.rows, progress=False, compute=False, **kw)
        self.tracks = prep["tracks"]
        self.failed = prep["failed"]
        if self.failed:
            log(f"{len(self.failed)} of {len(self.rows)} tracks could not be prepared and are left out; first: "
                f"{self.failed[0]}")
        if all(t is None for t in self.tracks):
            raise DataError(f"{c.data}: no track could be prepared ({self.failed[0]})")
        self.splits_path = c.splits_file or str(Path(c.cache_dir) / "splits.json")
        splits = None
        if dist.main:
            splits = load_or_make_splits(self.rows, self.splits_path, c.split, seed=c.seed,
                                         group_by_artist=c.group_by_artist, write=True, log=log)
        self.splits = dist_mod.broadcast_object(splits, dist)
        for name in ("train", "val"):
            if not self.splits[name]:
                raise DataError(f"{c.data}: the {name} split has no tracks (add tracks or set a split column)")
        self.parts = self._part_labels(log) if c.part_labels else {}
        kw = dict(seed=c.seed, per_drop=c.clips_per_drop, parts=self.parts)
        self.clips = {
            "train": self.train_clips(0),
            "val": prepared_clipset(self.rows, self.tracks, self.splits["val"], outside=c.clips_outside_drops, **kw),
            "test": prepared_clipset(self.rows, self.tracks, self.splits["test"], outside=0, **kw),
        }
        for name in ("train", "val"):
            if len(self.clips[name]) == 0:
                raise DataError(f"{c.data}: no clips in the {name} split (no drop found in its tracks?)")
        self.targets = {k: self.targets_of(v) for k, v in self.clips.items()}
        self.description = describe_splits(self.rows, self.splits)
        for k, v in self.clips.items():
            self.description[k]["clips"] = len(v)
        self.description["train"]["resampled_every_epoch"] = bool(c.resample)
        if self.failed:
            self.description["failed_tracks"] = list(self.failed)
        self._epoch: tuple[int, ClipSet, np.ndarray] | None = None

    def _part_labels(self, log) -> dict:
        """Row index -> per-bar part mixture, for the rows whose truth records parts (``part_labels``)."""
        parts = {}
        for i, (row, track) in enumerate(zip(self.rows, self.tracks)):
            if track is None or row.truth is None:
                continue
            grid = bar_part_labels(load_truth(Path(row.truth)))
            if grid is not None:
                parts[i] = grid
        log(f"part labels: {len(parts)} of {len(self.rows)} tracks record the genre of each part")
        return parts

    def targets_of(self, clips: ClipSet) -> np.ndarray:
        """Training targets ``(n, 8)`` of a clip set's labels (soft or hard, as configured)."""
        if not len(clips):
            return np.zeros((0, len(GENRES)), np.float32)
        return prepare_targets(clips.label_matrix(), self.cfg.labels).astype(np.float32)

    def train_clips(self, epoch: int) -> ClipSet:
        """The training clips of an epoch (the same every epoch with ``resample=False``)."""
        c = self.cfg
        return prepared_clipset(self.rows, self.tracks, self.splits["train"], seed=c.seed,
                                epoch=epoch if c.resample else None, per_drop=c.clips_per_drop,
                                outside=c.clips_outside_drops, parts=self.parts)

    def epoch_data(self, epoch: int) -> tuple[ClipSet, np.ndarray]:
        """The clips and targets an epoch trains on (the last epoch's are kept)."""
        key = epoch if self.cfg.resample else -1
        if self._epoch is None or self._epoch[0] != key:
            clips = self.clips["train"] if (epoch == 0 or not self.cfg.resample) else self.train_clips(epoch)
            self._epoch = (key, clips, self.targets_of(clips))
        return self._epoch[1], self._epoch[2]
