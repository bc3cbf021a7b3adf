"""The settings of a training run (:class:`TrainConfig`) and the values its options accept.

This module imports no torch, so that the command line can be built from it: every
field that ``mainstage train`` (or ``mainstage grid``) offers as an option carries its
help text, flag and choices in its metadata (:func:`option`; see :mod:`.config_cli`).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from ...core.errors import MainstageError

#: ``training.models.ARCHITECTURES``, spelled out because importing that module imports torch
#: (the CLI builds its help without it); tests/training/test_grid.py checks they agree.
MODELS = ("default", "vit_b_16", "vgg11_bn", "densenet201", "resnet152", "resnet18", "resnet34", "resnet50")
LABEL_MODES = ("soft", "hard")
DROP_SOURCES = ("auto", "detect", "truth")
SELECT_CRITERIA = ("loss", "track", "f1")
SCHEDULES = ("auto", "onecycle", "cosine", "linear", "step", "constant")
AMP_DTYPES = ("auto", "bf16", "fp16")


def option(help: str, *, flag: str | None = None, short: str | None = None, metavar=None, choices=None,
           nargs: int | None = None, type=None) -> dict:
    """Field metadata describing a :class:`TrainConfig` field's command-line option.

    Parameters
    ----------
    help : str
        Help text (``%(default)s`` is the field's default).
    flag : str, optional
        The long option; default ``--<field-name>``, or ``--no-<field-name>`` for a
        boolean that is on by default (the option turns it off).
    short : str, optional
        A short option as well (``-q``).
    metavar, choices, nargs, type
        As for ``argparse``; ``type`` defaults to the field's annotated type.
    """
    spec = {"help": help, "flag": flag, "short": short, "metavar": metavar, "choices": choices, "nargs": nargs,
            "type": type}
    return {"option": {k: v for k, v in spec.items() if v is not None}}


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in its checkpoints)."""

    data: str = field(metadata=option("CSV: path,<8 genre columns>[,split][,truth]", metavar="MANIFEST.csv"))
    out: str = field(metadata=option("output folder (checkpoints, metrics, cache)", metavar="DIR"))
    model: str = field(default="default", metadata=option("architecture (default: %(default)s)", choices=MODELS))
    chroma: bool = field(default=False, metadata=option("add CQT/VQT chroma channels (the paper's 'with chroma')"))
    labels: str = field(default="soft", metadata=option(
        "soft distributions or sharpened one-hot labels (default: %(default)s)", choices=LABEL_MODES))
    epochs: int | None = field(default=None, metadata=option(
        "epochs (default: 14 for default, 5 for paper backbones)"))
    #: The global batch: a distributed run splits each batch over its ranks.
    batch_size: int | None = field(default=None, metadata=option("clips per batch (default: 32 / 4)"))
    lr: float | None = field(default=None, metadata=option("learning rate (default: 3e-3 AdamW / 1e-4 Adam)"))
    weight_decay: float = 1e-4
    class_weights: bool = field(default=False, metadata=option("weight the loss by inverse class frequency"))
    seed: int = field(default=0, metadata=option("seed of splits, clip sampling and init (default: 0)"))
    clips_per_drop: int = field(default=4, metadata=option("random clips per drop section (default: 4)"))
    clips_outside_drops: int = field(default=0, metadata=option(
        "extra clips per track from outside the drops (default: 0, the paper's drops only)"))
    drops: str = field(default="auto", metadata=option(
        "drop sections from the detector or the manifest's truth files (default: auto)", choices=DROP_SOURCES))
    split: tuple = field(default=(0.8, 0.1, 0.1), metadata=option(
        "split fractions of tracks without a split column (default: 0.8 0.1 0.1)", nargs=3, type=float,
        metavar=("TRAIN", "VAL", "TEST")))
    select: str = field(default="loss", metadata=option(
        "validation criterion for the best checkpoint: clip loss, track-level loss or F1 (default: %(default)s)",
        choices=SELECT_CRITERIA))
    #: Fit a softmax temperature on the validation split after training.
    calibrate: bool = field(default=True, metadata=option("skip the validation temperature fit"))
    track_loss: float = field(default=0.0, metadata=option(
        "weight (0-1) of a track-level loss on each track's mean prediction; the clip loss then covers "
        "single-genre tracks only (default 0: the paper's clip loss on every clip)", metavar="W"))
    #: Clips per track bag of the track-level loss.
    bag_size: int = 8
    part_labels: bool = field(default=False, metadata=option(
        "label each clip of a generated track (truth files that record the genre behind every part, "
        "as SynthHouse's) with the mixture of its parts instead of the track's label"))
    augment: bool = field(default=True, metadata=option("disable SpecAugment masks (default model)"))
    device: str = field(default="auto", metadata=option("cpu, cuda, cuda:1, ... (default: auto)"))
    amp: bool = field(default=False, metadata=option("mixed precision (float16 on CUDA, bfloat16 on CPU)"))
    threads: int | None = field(default=None, metadata=option("CPU threads for torch"))
    weights_path: str | None = field(default=None, metadata=option(
        "local ImageNet weights (.pth state dict) for a paper backbone", flag="--weights", metavar="FILE"))
    cache_dir: str | None = field(default=None, metadata=option(
        "prepared feature cache, shared by experiments (default: <manifest folder>/.mainstage-cache)",
        metavar="DIR"))
    resume: str | None = field(default=None, metadata=option(
        "continue an interrupted run: a checkpoint, a run folder (its last.pt), or 'auto' "
        "(OUT/last.pt when present, else start afresh)", metavar="CKPT|DIR|auto"))
    #: Further arguments of the model's constructor (e.g. the default model's ``width``).
    model_kwargs: dict = field(default_factory=dict)
    progress: bool = field(default=True, metadata=option("no progress bars", flag="--quiet", short="-q"))
    resample: bool = field(default=True, metadata=option(
        "cut training clips once (the paper) instead of re-sampling them every epoch"))
    group_by_artist: bool = field(default=False, metadata=option(
        "keep all tracks of an artist (parsed from 'Artist - Title' file names) in one split"))
    splits_file: str | None = field(default=None, metadata=option(
        "stored split file (default: CACHE_DIR/splits.json)", flag="--splits", metavar="FILE"))
    jobs: int = field(default=1, metadata=option("processes preparing uncached tracks (default: 1)"))
    allow_outside_paths: bool = field(default=False, metadata=option(
        "accept manifest paths that are absolute or outside the manifest's folder"))
    gain_db: float = field(default=0.0, metadata=option(
        "augmentation: random fade + spectral tilt up to +-DB dB per clip (default: 0 = off)", metavar="DB"))
    eq: float = field(default=0.0, metadata=option(
        "augmentation: share of clips given a random master EQ (low/high cut, shelves) (default: 0 = off)",
        metavar="P"))
    noise: float = field(default=0.0, metadata=option(
        "augmentation: share of clips given stationary noise at 12-35 dB SNR (default: 0 = off)", metavar="P"))
    warp: float = field(default=0.0, metadata=option(
        "augmentation: share of clips pitch-shifted up to +-2.5 semitones and stretched up to +-8 %% "
        "in time (default: 0 = off)", metavar="P"))
    mixup: float = field(default=0.0, metadata=option(
        "augmentation: mixup of clip pairs and soft labels, Beta(ALPHA, ALPHA) (default: 0 = off)",
        metavar="ALPHA"))
    amp_dtype: str = field(default="auto", metadata=option(
        "mixed-precision type with --amp (default: fp16 on CUDA, bf16 on CPU)", choices=AMP_DTYPES))
    channels_last: bool = field(default=True, metadata=option("keep the NCHW memory format on CUDA"))
    compile: bool = field(default=False, metadata=option("torch.compile the model for training"))
    accumulate: int = field(default=1, metadata=option(
        "gradient accumulation: micro-batches per optimiser step (default: 1)", metavar="N"))
    schedule: str = field(default="auto", metadata=option(
        "LR schedule (default auto: the paper's StepLR for paper backbones, OneCycle for default)",
        choices=SCHEDULES))
    warmup_epochs: float = field(default=0.0, metadata=option(
        "linear LR warm-up, in epochs (cosine/linear/step/constant; OneCycle has its own)", metavar="E"))
    warmup_steps: int = field(default=0, metadata=option(
        "linear LR warm-up, in optimiser steps (wins over --warmup-epochs)", metavar="N"))
    patience: int | None = field(default=None, metadata=option(
        "early stopping: stop after N epochs without a better validation score", metavar="N"))
    checkpoint_every: int = field(default=0, metadata=option(
        "also write OUT/last.pt every STEPS optimiser steps (mid-epoch resume)", metavar="STEPS"))
    tensorboard: bool = field(default=False, metadata=option("TensorBoard logs in OUT/tensorboard (needs tensorboard)"))
    sync_bn: bool = field(default=True, metadata=option("distributed runs: keep BatchNorm statistics per rank"))

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
        """The config as plain types (for checkpoints and JSON)."""
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
        if not (0.0 <= self.eq <= 1.0 and 0.0 <= self.noise <= 1.0 and 0.0 <= self.warp <= 1.0):
            raise MainstageError(f"--eq, --noise and --warp are shares of clips in [0, 1], got {self.eq}, "
                                 f"{self.noise} and {self.warp}")
        if self.mixup > 0 and self.track_loss > 0:
            raise MainstageError("--mixup cannot be combined with --track-loss (a mixed clip has no single track)")
        if self.patience is not None and int(self.patience) < 1:
            raise MainstageError(f"--patience must be >= 1, got {self.patience}")
