"""``mainstage train``: train a genre model on a manifest of labelled tracks."""
from __future__ import annotations

import argparse

HELP = "train a genre model (default or a paper backbone) on a manifest CSV of labelled tracks"
DESCRIPTION = (
    "Train a genre model. Clips are sampled from each track's drops (4 per drop), tracks are split "
    "train/val/test at track level, the best epoch is chosen on validation, and test metrics are "
    "written to OUT/test_metrics.json. Needs the training extras (torch, librosa)."
)
MODELS = ("default", "resnet152", "densenet201", "vgg11_bn", "vit_b_16")


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
    p.add_argument("--cache-dir", metavar="DIR", help="feature cache folder (default: OUT/cache)")
    p.add_argument("--weights", metavar="FILE", help="local ImageNet weights (.pth state dict) for a paper backbone")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--amp", action="store_true", help="mixed precision (float16 on CUDA, bfloat16 on CPU)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--resume", metavar="CKPT", help="continue from OUT/last.pt of an interrupted run")
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
    )
    train(cfg)
    return 0
