"""``mainstage grid``: the paper's Table 2 grid (backbones x hard/soft labels x with/without chroma)."""
from __future__ import annotations

import argparse

from ..run.config_cli import add_config_options, config_values

HELP = "train the paper's grid of models x hard/soft labels x with/without chroma and write Table 2"
DESCRIPTION = (
    "Train one model per grid cell (MODEL-LABELS-CHROMA) into OUT/<cell>/ with `mainstage train`'s "
    "trainer, sharing one feature cache and one track-level split, then write OUT/table2.md (the "
    "paper's Table 2 layout at clip and track level, every metric per cell, the default model "
    "separately), OUT/grid.json and confusion-matrix PNGs. Resumable: finished cells are skipped, "
    "interrupted ones resume from last.pt. A failing cell is reported and the others still run; "
    "the exit code is 1 if any cell failed. Needs the training extras (torch, librosa)."
)

#: TrainConfig fields given to every cell, as `mainstage train` options.
CELL_OPTIONS = ("clips_per_drop", "clips_outside_drops", "drops", "select", "track_loss", "class_weights",
                "calibrate", "augment", "cache_dir", "device", "amp", "threads")


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
    add_config_options(p, ["seed"])
    p.add_argument("--jobs", type=int, default=1,
                   help="cells trained at once in worker processes (default: 1, in this process)")
    p.add_argument("--devices", metavar="LIST",
                   help="with --jobs: devices handed to the workers, e.g. cuda:0,cuda:1 (one cell per device)")
    p.add_argument("--tracks-per-genre", metavar="SPLIT=N,...",
                   help="use at most N tracks per dominant genre of a split, e.g. train=8,val=3 "
                        "(CPU-sized runs; the subset manifest is written to OUT/manifest.csv)")
    g = p.add_argument_group("training options passed to every cell (see `mainstage train --help`)")
    add_config_options(g, CELL_OPTIONS)
    g.add_argument("--width", type=int, help="default model: channels of the first stage")
    g.add_argument("--weights-dir", metavar="DIR", help="local ImageNet weights, DIR/<backbone>.pth")
    g.add_argument("--checkpoint-backbone", type=int, default=0, metavar="N",
                   help="patch models: activation checkpointing over chunks of N patches (saves memory)")
    add_config_options(p, ["progress"])


def run(args: argparse.Namespace) -> int:
    from ..grid.run import run_grid
    from ..grid.cells import parse_chroma, parse_labels, parse_models, parse_per_model, parse_tracks_per_genre

    data = args.data
    if data.lower().endswith(".json"):
        # one command from the authors' Label Studio export to Table 2: import, then the grid
        from pathlib import Path

        from ...core.errors import MainstageError
        from ..datasets.labelstudio import import_labelstudio, summary_lines

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
        **config_values(args, ("seed", "progress", *CELL_OPTIONS)),
        "width": args.width, "weights_dir": args.weights_dir, "checkpoint_backbone": args.checkpoint_backbone,
    }
    if not options["cache_dir"]:  # unset: run_grid chooses (the full manifest's cache for a subset)
        del options["cache_dir"]
    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
    res = run_grid(data, args.out, models=models, labels=labels, chroma=chroma, options=options,
                   tracks_per_genre=parse_tracks_per_genre(args.tracks_per_genre), jobs=max(1, args.jobs),
                   devices=devices)
    if res["failed"]:
        print(f"mainstage grid: {len(res['failed'])} cell(s) failed: {', '.join(res['failed'])} "
              f"(see {args.out}/<cell>/error.log)")
        return 1
    return 0
