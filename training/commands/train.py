"""``mainstage train``: train a genre model on a manifest of labelled tracks."""
from __future__ import annotations

import argparse

from ..run.config_cli import add_config_options, config_values

HELP = "train a genre model (default or a paper backbone) on a manifest CSV of labelled tracks"
DESCRIPTION = (
    "Train a genre model. Tracks are prepared once into a shared feature cache (default: "
    "<manifest folder>/.mainstage-cache), split train/val/test at track level (stored in splits.json), "
    "training clips are re-sampled from each track's drops every epoch (4 per drop), the best epoch is "
    "chosen on validation, and test metrics are written to OUT/test_metrics.json and "
    "OUT/test_predictions.npz. Under torchrun (WORLD_SIZE > 1) it trains with DistributedDataParallel. "
    "Needs the training extras (torch, librosa)."
)
#: TrainConfig options `mainstage train` leaves out: it always calibrates (`mainstage grid` offers the switch).
NOT_OFFERED = ("calibrate",)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_options(p, exclude=NOT_OFFERED)
    p.add_argument("--width", type=int, help="default model: channels of the first stage")


def run(args: argparse.Namespace) -> int:
    from ...core.errors import MainstageError
    from ..run.config import TrainConfig
    from ..run.train import train

    kwargs = {}
    if args.width is not None:
        if args.model != "default":
            raise MainstageError("--width applies to --model default only")
        kwargs["width"] = args.width
    train(TrainConfig(**config_values(args, exclude=NOT_OFFERED), model_kwargs=kwargs))
    return 0
