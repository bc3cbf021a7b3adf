"""``mainstage synth-dataset``: render a labelled SynthHouse training set with a manifest."""
from __future__ import annotations

import argparse

HELP = "render a SynthHouse dataset: audio, truth files and manifest.csv (resumable)"
DESCRIPTION = (
    "Render N pure tracks per genre plus a fraction F of extra 2-3 genre mixture tracks into DIR: "
    "DIR/audio/*, DIR/truth/*.truth.json and DIR/manifest.csv (path,<8 genres>,split,truth; "
    "split by track, stratified by dominant genre). Re-running into the same DIR skips complete tracks."
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tracks-per-genre", type=int, required=True, metavar="N", help="pure tracks per genre")
    p.add_argument("--mixtures", type=float, default=0.0, metavar="F",
                   help="extra mixture tracks as a fraction of the pure ones (default 0)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="dataset folder")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--structure", default=None,
                   help="track structure (default intro:4,build:4,drop:16,breakdown:4,build:4,drop:16,outro:4)")
    p.add_argument("--format", choices=("wav", "flac"), default="wav", help="audio format (default wav)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16, help="PCM bit depth (default 16)")
    p.add_argument("--jobs", type=int, default=1, help="parallel worker processes (default 1)")
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of tracks in the val split (default 0.15)")
    p.add_argument("--test-fraction", type=float, default=0.15, help="share of tracks in the test split (default 0.15)")
    p.add_argument("--gm-tracks-per-genre", type=int, default=0, metavar="N",
                   help="extra pure tracks per genre rendered by the GM engine (fluidsynth + General MIDI "
                        "soundfonts), named gm_<genre>_<i> (default 0)")
    p.add_argument("--gm-mixtures", type=float, default=0.0, metavar="F",
                   help="GM mixture tracks (gm_mix_<j>) as a fraction of the GM pure ones (default 0)")
    p.add_argument("--soundfont", action="append", default=None, metavar="SF2",
                   help="soundfont for the GM engine (.sf2/.sf3; repeat for several; default: the installed "
                        "FluidR3_GM, TimGM6mb and MuseScore General)")


def run(args: argparse.Namespace) -> int:
    from ..synthhouse.dataset import build_dataset

    info = build_dataset(args.output, args.tracks_per_genre, args.mixtures, seed=args.seed, structure=args.structure,
                         fmt=args.format, jobs=args.jobs, val_fraction=args.val_fraction,
                         test_fraction=args.test_fraction, bit_depth=args.bit_depth,
                         gm_tracks_per_genre=args.gm_tracks_per_genre, gm_mixtures=args.gm_mixtures,
                         soundfonts=args.soundfont)
    gm = f", {info['gm_tracks']} of them GM" if info["gm_tracks"] else ""
    print(f"wrote {info['manifest']} ({info['tracks']} tracks{gm}: {info['rendered']} rendered, "
          f"{info['skipped']} already complete)")
    return 0
