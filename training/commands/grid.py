"""``mainstage grid``: the paper's Table 2 grid (backbones x hard/soft labels x with/without chroma)."""
from __future__ import annotations

import argparse

HELP = "train the paper's grid of models x hard/soft labels x with/without chroma and write Table 2"
DESCRIPTION = (
    "Train one model per grid cell (MODEL-LABELS-CHROMA) into OUT/<cell>/ with `mainstage train`'s "
    "trainer, sharing one feature cache and one track-level split, then write OUT/table2.md (the "
    "paper's Table 2 layout at clip and track level, every metric per cell, the default model "
    "separately), OUT/grid.json and confusion-matrix PNGs. Resumable: finished cells are skipped, "
    "interrupted ones resume from last.pt. A failing cell is reported and the others still run; "
    "the exit code is 1 if any cell failed. Needs the training extras (torch, librosa)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", required=True, metavar="MANIFEST.csv|EXPORT.json",
                   help="CSV: path,<8 genre columns>[,split][,truth]; or a Label Studio JSON export "
                        "(with --audio-dir), imported first into OUT/manifest-labelstudio.csv")
    p.add_argument("--audio-dir", metavar="DIR",
                   help="with a Label Studio export as --data: the folder of its audio files")
    p.add_argument("--out", required=True, metavar="DIR", help="grid folder (one sub-folder per cell)")
    p.add_argument("--models", default="paper,default", metavar="LIST",
                   help="comma-separated models: paper (= vit_b_16,vgg11_bn,densenet201,resnet152), default, "
                        "resnet18, resnet34, resnet50, ... (default: %(default)s)")
    p.add_argument("--labels", default="hard,soft", metavar="LIST", help="label modes (default: %(default)s)")
    p.add_argument("--chroma", default="yes,no", metavar="LIST",
                   help="with (yes) and/or without (no) chroma channels (default: %(default)s)")
    p.add_argument("--epochs", metavar="N|MODEL:N,...",
                   help="epochs, for all models or per model, e.g. resnet18:2,default:14 "
                        "(default: 5 for patch models, 14 for default)")
    p.add_argument("--batch-size", metavar="N|MODEL:N,...", help="clips per batch (default: 4 / 32)")
    p.add_argument("--lr", metavar="LR|MODEL:LR,...", help="learning rate (default: 1e-4 Adam / 3e-3 AdamW)")
    p.add_argument("--seed", type=int, default=0, help="seed of split, clip sampling and init (default: 0)")
    p.add_argument("--jobs", type=int, default=1,
                   help="cells trained at once in worker processes (default: 1, in this process)")
    p.add_argument("--devices", metavar="LIST",
                   help="with --jobs: devices handed to the workers, e.g. cuda:0,cuda:1 (one cell per device)")
    p.add_argument("--tracks-per-genre", metavar="SPLIT=N,...",
                   help="use at most N tracks per dominant genre of a split, e.g. train=8,val=3 "
                        "(CPU-sized runs; the subset manifest is written to OUT/manifest.csv)")
    g = p.add_argument_group("training options passed to every cell (see `mainstage train --help`)")
    g.add_argument("--clips-per-drop", type=int, default=4, help="random clips per drop section (default: 4)")
    g.add_argument("--clips-outside-drops", type=int, default=0,
                   help="extra clips per track outside drops (default: 0)")
    g.add_argument("--drops", default="auto", choices=("auto", "detect", "truth"), help="drop source (default: auto)")
    g.add_argument("--select", default="loss", choices=("loss", "track", "f1"),
                   help="validation criterion for the best checkpoint (default: loss)")
    g.add_argument("--track-loss", type=float, default=0.0, metavar="W",
                   help="weight of the track-level loss (default 0)")
    g.add_argument("--class-weights", action="store_true", help="weight the loss by inverse class frequency")
    g.add_argument("--no-calibrate", action="store_true", help="skip the validation temperature fit")
    g.add_argument("--no-augment", action="store_true", help="disable SpecAugment masks (default model)")
    g.add_argument("--width", type=int, help="default model: channels of the first stage")
    g.add_argument("--weights-dir", metavar="DIR", help="local ImageNet weights, DIR/<backbone>.pth")
    g.add_argument("--checkpoint-backbone", type=int, default=0, metavar="N",
                   help="patch models: activation checkpointing over chunks of N patches (saves memory)")
    g.add_argument("--cache-dir", metavar="DIR",
                   help="prepared-feature cache shared by the cells (default: the manifest's .mainstage-cache)")
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    g.add_argument("--amp", action="store_true", help="mixed precision (float16 on CUDA, bfloat16 on CPU)")
    g.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from ..grid import (parse_chroma, parse_labels, parse_models, parse_per_model, parse_tracks_per_genre,
                        run_grid)

    data = args.data
    if data.lower().endswith(".json"):
        # one command from the authors' Label Studio export to Table 2: import, then the grid
        from pathlib import Path

        from ...core.errors import MainstageError
        from ..labelstudio import import_labelstudio, summary_lines

        if not args.audio_dir:
            raise MainstageError(f"{data}: a Label Studio export needs --audio-dir (the folder of its audio)")
        Path(args.out).mkdir(parents=True, exist_ok=True)
        data = str(Path(args.out) / "manifest-labelstudio.csv")
        rep = import_labelstudio([args.data], args.audio_dir, data,
                                 report=str(Path(args.out) / "labelstudio-report.json"))
        for line in summary_lines(rep):
            print(line)
        if not rep["counts"].get("matched"):
            raise MainstageError(f"{args.data}: no task matched an audio file in {args.audio_dir}")
    elif args.audio_dir:
        from ...core.errors import MainstageError

        raise MainstageError("--audio-dir applies to a Label Studio export given as --data")
    models = parse_models(args.models)
    labels = parse_labels(args.labels)
    chroma = parse_chroma(args.chroma)
    options = {
        "epochs": parse_per_model(args.epochs, "epochs", int),
        "batch_size": parse_per_model(args.batch_size, "batch-size", int),
        "lr": parse_per_model(args.lr, "lr", float),
        "seed": args.seed, "clips_per_drop": args.clips_per_drop, "clips_outside_drops": args.clips_outside_drops,
        "drops": args.drops, "select": args.select, "track_loss": args.track_loss,
        "class_weights": args.class_weights, "calibrate": not args.no_calibrate, "augment": not args.no_augment,
        "width": args.width, "weights_dir": args.weights_dir, "checkpoint_backbone": args.checkpoint_backbone,
        "device": args.device, "amp": args.amp, "threads": args.threads,
        "progress": not args.quiet,
    }
    if args.cache_dir:
        options["cache_dir"] = args.cache_dir
    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
    res = run_grid(data, args.out, models=models, labels=labels, chroma=chroma, options=options,
                   tracks_per_genre=parse_tracks_per_genre(args.tracks_per_genre), jobs=max(1, args.jobs),
                   devices=devices)
    if res["failed"]:
        print(f"mainstage grid: {len(res['failed'])} cell(s) failed: {', '.join(res['failed'])} "
              f"(see {args.out}/<cell>/error.log)")
        return 1
    return 0
