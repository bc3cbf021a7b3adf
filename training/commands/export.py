"""``mainstage export``: a training checkpoint -> ONNX model + metadata JSON for the runtime."""
from __future__ import annotations

import argparse

HELP = "export a genre-model checkpoint to ONNX (+ metadata JSON) for `mainstage analyze --model`"
DESCRIPTION = (
    "Export a checkpoint written by `mainstage train` to ONNX with a dynamic batch axis, write "
    "OUT.json (genres, feature parameters, input contract, training data, metrics) beside it, and "
    "check that ONNX Runtime matches torch within 1e-4. Needs the training extras (torch, onnx)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="best.pt from `mainstage train`")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="output model file")
    p.add_argument("--name", help="model name recorded in timelines (default: the file stem)")
    p.add_argument("--description", help="free text stored in the metadata")
    p.add_argument("--opset", type=int, default=18, help="ONNX opset (default: %(default)s)")
    p.add_argument("--fixed-frames", action="store_true",
                   help="fix the frame axis to 646 (7.5 s) instead of a dynamic clip length")


def run(args: argparse.Namespace) -> int:
    from ..export import export_checkpoint

    export_checkpoint(args.checkpoint, args.onnx, name=args.name, description=args.description, opset=args.opset,
                      dynamic_frames=not args.fixed_frames)
    return 0
