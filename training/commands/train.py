"""``mainstage train``: train a genre model on a manifest of labelled tracks."""
from __future__ import annotations

import argparse

HELP = "train a genre model (default or a paper backbone) on a manifest CSV of labelled tracks"
DESCRIPTION = (
    "Train a genre model. Tracks are prepared once into a shared feature cache (default: "
    "<manifest folder>/.mainstage-cache), split train/val/test at track level (stored in splits.json), "
    "training clips are re-sampled from each track's drops every epoch (4 per drop), the best epoch is "
    "chosen on validation, and test metrics are written to OUT/test_metrics.json and "
    "OUT/test_predictions.npz. Under torchrun (WORLD_SIZE > 1) it trains with DistributedDataParallel. "
    "Needs the training extras (torch, librosa)."
)
#: ``training.models.ARCHITECTURES``, spelled out because importing that module imports torch
#: (the CLI builds its help without it); tests/training/test_grid.py checks they agree.
MODELS = ("default", "vit_b_16", "vgg11_bn", "densenet201", "resnet152", "resnet18", "resnet34", "resnet50")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="MANIFEST.csv",
                   help="CSV: path,<8 genre columns>[,split][,truth]")
    p.add_argument("--model", default="default", choices=MODELS, help="architecture (default: %(default)s)")
    p.add_argument("--chroma", action="store_true", help="add CQT/VQT chroma channels (the paper's 'with chroma')")
    p.add_argument("--labels", default="soft", choices=("soft", "hard"),
                   help="soft distributions or sharpened one-hot labels (default: %(default)s)")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (checkpoints, metrics, cache)")
    p.add_argument("--epochs", type=int, help="epochs (default: 14 for default, 5 for paper backbones)")
    p.add_argument("--batch-size", type=int, help="clips per batch (default: 32 / 4)")
    p.add_argument("--lr", type=float, help="learning rate (default: 3e-3 AdamW / 1e-4 Adam)")
    p.add_argument("--class-weights", action="store_true", help="weight the loss by inverse class frequency")
    p.add_argument("--seed", type=int, default=0, help="seed of splits, clip sampling and init (default: 0)")
    p.add_argument("--clips-per-drop", type=int, default=4, help="random clips per drop section (default: 4)")
    p.add_argument("--clips-outside-drops", type=int, default=0,
                   help="extra clips per track from outside the drops (default: 0, the paper's drops only)")
    p.add_argument("--drops", default="auto", choices=("auto", "detect", "truth"),
                   help="drop sections from the detector or the manifest's truth files (default: auto)")
    p.add_argument("--track-loss", type=float, default=0.0, metavar="W",
                   help="weight (0-1) of a track-level loss on each track's mean prediction; the clip loss then "
                        "covers single-genre tracks only (default 0: the paper's clip loss on every clip)")
    p.add_argument("--select", default="loss", choices=("loss", "track", "f1"),
                   help="validation criterion for the best checkpoint: clip loss, track-level loss or F1 "
                        "(default: %(default)s)")
    p.add_argument("--width", type=int, help="default model: channels of the first stage")
    p.add_argument("--cache-dir", metavar="DIR",
                   help="prepared feature cache, shared by experiments (default: <manifest folder>/.mainstage-cache)")
    p.add_argument("--splits", metavar="FILE", dest="splits_file",
                   help="stored split file (default: CACHE_DIR/splits.json)")
    p.add_argument("--split", nargs=3, type=float, metavar=("TRAIN", "VAL", "TEST"), default=(0.8, 0.1, 0.1),
                   help="split fractions of tracks without a split column (default: 0.8 0.1 0.1)")
    p.add_argument("--group-by-artist", action="store_true",
                   help="keep all tracks of an artist (parsed from 'Artist - Title' file names) in one split")
    p.add_argument("--jobs", type=int, default=1, help="processes preparing uncached tracks (default: 1)")
    p.add_argument("--no-resample", action="store_true",
                   help="cut training clips once (the paper) instead of re-sampling them every epoch")
    p.add_argument("--gain-db", type=float, default=0.0, metavar="DB",
                   help="augmentation: random fade + spectral tilt up to +-DB dB per clip (default: 0 = off)")
    p.add_argument("--mixup", type=float, default=0.0, metavar="ALPHA",
                   help="augmentation: mixup of clip pairs and soft labels, Beta(ALPHA, ALPHA) (default: 0 = off)")
    p.add_argument("--amp-dtype", default="auto", choices=("auto", "bf16", "fp16"),
                   help="mixed-precision type with --amp (default: fp16 on CUDA, bf16 on CPU)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model for training")
    p.add_argument("--no-channels-last", action="store_true", help="keep the NCHW memory format on CUDA")
    p.add_argument("--accumulate", type=int, default=1, metavar="N",
                   help="gradient accumulation: micro-batches per optimiser step (default: 1)")
    p.add_argument("--schedule", default="auto", choices=("auto", "onecycle", "cosine", "linear", "step", "constant"),
                   help="LR schedule (default auto: the paper's StepLR for paper backbones, OneCycle for default)")
    p.add_argument("--warmup-epochs", type=float, default=0.0, metavar="E",
                   help="linear LR warm-up, in epochs (cosine/linear/step/constant; OneCycle has its own)")
    p.add_argument("--warmup-steps", type=int, default=0, metavar="N",
                   help="linear LR warm-up, in optimiser steps (wins over --warmup-epochs)")
    p.add_argument("--patience", type=int, metavar="N",
                   help="early stopping: stop after N epochs without a better validation score")
    p.add_argument("--checkpoint-every", type=int, default=0, metavar="STEPS",
                   help="also write OUT/last.pt every STEPS optimiser steps (mid-epoch resume)")
    p.add_argument("--tensorboard", action="store_true", help="TensorBoard logs in OUT/tensorboard (needs tensorboard)")
    p.add_argument("--no-sync-bn", action="store_true", help="distributed runs: keep BatchNorm statistics per rank")
    p.add_argument("--weights", metavar="FILE", help="local ImageNet weights (.pth state dict) for a paper backbone")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--amp", action="store_true", help="mixed precision (float16 on CUDA, bfloat16 on CPU)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--resume", metavar="CKPT|DIR|auto",
                   help="continue an interrupted run: a checkpoint, a run folder (its last.pt), or 'auto' "
                        "(OUT/last.pt when present, else start afresh)")
    p.add_argument("--no-augment", action="store_true", help="disable SpecAugment masks (default model)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..train import TrainConfig, train

    kwargs = {}
    if args.width is not None:
        if args.model != "default":
            from ...core.errors import MainstageError

            raise MainstageError("--width applies to --model default only")
        kwargs["width"] = args.width
    cfg = TrainConfig(
        data=args.data, out=args.out, model=args.model, chroma=args.chroma, labels=args.labels,
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, class_weights=args.class_weights,
        seed=args.seed, clips_per_drop=args.clips_per_drop, clips_outside_drops=args.clips_outside_drops,
        drops=args.drops, select=args.select, weights_path=args.weights, device=args.device, amp=args.amp,
        threads=args.threads, resume=args.resume, augment=not args.no_augment, model_kwargs=kwargs,
        progress=not args.quiet, cache_dir=args.cache_dir, track_loss=args.track_loss,
        splits_file=args.splits_file, split=tuple(args.split), group_by_artist=args.group_by_artist, jobs=args.jobs,
        resample=not args.no_resample, gain_db=args.gain_db, mixup=args.mixup, amp_dtype=args.amp_dtype,
        compile=args.compile, channels_last=not args.no_channels_last, accumulate=args.accumulate,
        schedule=args.schedule, warmup_epochs=args.warmup_epochs, warmup_steps=args.warmup_steps,
        patience=args.patience, checkpoint_every=args.checkpoint_every, tensorboard=args.tensorboard,
        sync_bn=not args.no_sync_bn,
    )
    train(cfg)
    return 0
