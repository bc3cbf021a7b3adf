"""``mainstage embed``: plot a trained model's clip embeddings in 2-D (PCA, t-SNE, UMAP)."""
from __future__ import annotations

import argparse

from ..run.config import DROP_SOURCES

HELP = "plot a genre model's clip embeddings in 2-D (PCA, t-SNE, UMAP), coloured by genre"
DESCRIPTION = (
    "Cut clips from the drops of a manifest's tracks (by default the test split of the checkpoint's training "
    "run), take the model's embedding (the input of its final layer) for each, reduce them to 2-D with PCA, "
    "t-SNE and UMAP and plot one panel per method coloured by the tracks' dominant genre (the paper's Fig. 2). "
    "Needs the training extras (torch, scikit-learn, umap-learn, matplotlib)."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="trained checkpoint (best.pt)")
    p.add_argument("--data", required=True, metavar="MANIFEST.csv", help="CSV: path,<8 genre columns>[,split][,truth]")
    p.add_argument("--plot", metavar="OUT.png", help="PNG to write")
    p.add_argument("--save-npz", metavar="FILE.npz",
                   help="also write embeddings, labels, predictions and 2-D projections as .npz")
    p.add_argument("--split", default="test", choices=("test", "val", "train", "all"),
                   help="tracks to embed: a split of the checkpoint's training run, or all (default: %(default)s)")
    p.add_argument("--methods", default="pca,tsne,umap", metavar="LIST",
                   help="comma-separated projections: pca, tsne, umap (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of t-SNE and UMAP (default: 0)")
    p.add_argument("--clips-per-drop", type=int, default=4, metavar="N", help="clips per drop section (default: 4)")
    p.add_argument("--drops", choices=DROP_SOURCES,
                   help="drop sections from the detector or the manifest's truth files (default: the training "
                        "run's setting)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, ... (default: auto)")
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--dpi", type=int, default=100, help="PNG resolution (default: 100; 4.5 x 4.8 inches per panel)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ...core.errors import MainstageError

    if not args.plot and not args.save_npz:
        raise MainstageError("give --plot OUT.png and/or --save-npz FILE.npz")
    if args.dpi < 10 or args.dpi > 1000:
        raise MainstageError(f"--dpi must be between 10 and 1000, got {args.dpi}")
    from ..evaluation.embed import embed
    from ..evaluation.projections import parse_methods

    methods = parse_methods(args.methods)  # before loading torch: a typo fails fast
    import torch

    if args.threads:
        torch.set_num_threads(int(args.threads))
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        torch.device(device)
    except (RuntimeError, ValueError):
        raise MainstageError(f"--device {args.device!r} is not a torch device (cpu, cuda, cuda:1, ...)") from None
    res = embed(args.checkpoint, args.data, plot=args.plot, npz=args.save_npz, split=args.split, methods=methods,
                seed=args.seed, per_drop=args.clips_per_drop, drops=args.drops, device=device, dpi=args.dpi,
                progress=not args.quiet)
    which = "" if args.split == "all" else f"{args.split} "
    print(f"embedded {res['clips']} drop clips of {res['tracks']} {which}tracks ({res['dim']}-d, "
          f"{res['model']} model); projections: {', '.join(res['methods'])}"
          + (f"; {len(res['skipped'])} tracks without a drop clip skipped" if res["skipped"] else ""))
    if res["plot"]:
        print(f"wrote {res['plot']['path']} ({res['plot']['size'][0]} x {res['plot']['size'][1]} px)")
    if res["npz"]:
        print(f"wrote {res['npz']}")
    return 0
