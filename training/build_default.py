"""Build the bundled default genre model from scratch (what ``make model`` runs).

Steps, all seeded (same machine and library versions -> same model):

1. render a SynthHouse training set (``mainstage synth-dataset``): pure tracks of the
   eight genres plus 2-3 genre mixtures, with train/val/test splits;
2. train the default model on it (clips from the detected drops plus a few from the
   other sections, soft labels, clip + track-level loss, best epoch by validation);
3. export it to ``core/genre/models/default.onnx`` + ``default.json``;
4. render a held-out set with another seed (new tracks, never seen in training) and a
   SynthHouse DJ-set mix, evaluate the exported model on them through the runtime path
   and store the results under ``metrics.held_out`` in ``default.json``.

``python -m mainstage.training.build_default [--work out/model] [--jobs 2]``
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

#: Track structure of the training material: every section type long enough for whole
#: 4-bar windows (the runtime labels every bar, not only drops).
STRUCTURE = "intro:8,build:8,drop:16,breakdown:8,build:8,drop:16,outro:8"
#: 16 SynthHouse tracks per genre plus 2.5 x 128 mixtures, and 8 GM-rendered tracks per genre
#: (training/gmrender: the same arrangements through fluidsynth and GM soundfonts) plus 32 mixtures.
TRAIN_SET = {"tracks_per_genre": 16, "mixtures": 2.5, "seed": 1, "gm_tracks_per_genre": 8, "gm_mixtures": 0.5}
HELD_OUT_SET = {"tracks_per_genre": 4, "mixtures": 2.0, "seed": 99}
DJ_SET_SEED = 7
#: Augmentations (training/features/augment.py): spectral tilt and fades up to 6 dB, a random
#: master EQ (low/high cuts, shelves) on half the clips, noise at 12-35 dB SNR on a quarter, and
#: pitch (+-2.5 semitones) and tempo (+-8 %) warps of the features on half.
#: Mixup stays off: it cannot be combined with the track-level loss (a mixed clip has no track).
#: Part labels (``part_labels``, training/features/part_labels.py) stay off: tried for this recipe
#: (18 epochs, track_loss 0.5) they lowered the held-out clip KL but raised the mixtures' track KL
#: from 0.252 to 0.290 (docs/genre-model.md, "Loss, labels, metrics").
TRAIN = {"model": "default", "labels": "soft", "epochs": 24, "clips_per_drop": 4, "clips_outside_drops": 12,
         "track_loss": 1.0, "select": "track", "drops": "auto", "seed": 0, "resample": False,
         "gain_db": 6.0, "eq": 0.5, "noise": 0.25, "warp": 0.5}
NAME = "mainstage-default-synthhouse"
DESCRIPTION = (
    "Default genre model of Mainstage VFX: a small CNN with attention pooling over 4-bar log-mel windows, "
    "with a Mahalanobis novelty score on its embedding. Trained only on synthetic music: SynthHouse (the "
    "project's procedural house generator, domain-randomised) and SynthHouse arrangements rendered by "
    "fluidsynth with GM soundfonts. It has never heard real labelled house music, so its genres on real tracks "
    "are unverified; the novelty score says when a track is unlike what it learned. Real tracks need a model "
    "trained on real, labelled music (mainstage train on your own manifest, then mainstage analyze --model)."
)
#: Copied into every timeline's ``model`` field (docs/genre-model.md says the same at length).
PROVENANCE = {
    "trained_on": ("synthetic only: SynthHouse, domain-randomised (real drum one-shots from Debian packages, "
                   "vocal-like lines and speech, FX, random mix and master chains), and SynthHouse arrangements "
                   "rendered by fluidsynth with GM soundfonts; 8 genres, pure tracks and 2-3 genre mixtures"),
    "validated_on": ("held-out SynthHouse seeds (pure tracks, mixtures, a DJ set) and their EQ'd, noisy, "
                     "encoded, pitched and stretched versions; real electronic game music only for domain shift "
                     "and novelty, without genre labels. NOT validated on real labelled house music"),
}


def default_model_path() -> Path:
    from ..core.genre import default_model_path as p

    return p()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mainstage.training.build_default", description=__doc__.splitlines()[0])
    ap.add_argument("--work", default="out/model", help="working folder for data, checkpoints, caches (default: %(default)s)")
    ap.add_argument("--out", help="model file to write (default: the package's core/genre/models/default.onnx)")
    ap.add_argument("--jobs", type=int, default=2, help="render processes (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default: %(default)s)")
    ap.add_argument("--evaluate-only", action="store_true",
                    help="skip rendering the training set, training and export; re-evaluate the existing model")
    args = ap.parse_args(argv)

    from ..core.atomic import write_json_atomic
    from ..core.genre import metadata_path
    from .synthhouse.dataset import build_dataset
    from .synthhouse.plan import SYNTH_VERSION
    from .gmrender import GM_VERSION
    from .evaluation.held_out import evaluate_dj_set, evaluate_tracks
    from .export import export_checkpoint
    from .run.config import TrainConfig
    from .run.train import train

    work = Path(args.work)
    out = Path(args.out) if args.out else default_model_path()
    timings: dict[str, float] = {}
    t_all = time.perf_counter()

    def step(name: str, fn):
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        res = fn()
        timings[name] = round(time.perf_counter() - t0, 1)
        print(f"   {name}: {timings[name]:.0f} s", flush=True)
        return res

    if not args.evaluate_only:
        step("render training set", lambda: build_dataset(work / "data", structure=STRUCTURE, fmt="flac",
                                                          jobs=args.jobs, progress=False, **TRAIN_SET))
        cfg = TrainConfig(data=str(work / "data" / "manifest.csv"), out=str(work / "run"), threads=args.threads,
                          jobs=args.jobs, progress=False, **TRAIN)
        step("train", lambda: train(cfg))
        step("export", lambda: export_checkpoint(work / "run" / "best.pt", out, name=NAME, description=DESCRIPTION,
                                                 provenance=PROVENANCE))
    step("render held-out set", lambda: build_dataset(work / "heldout", structure=STRUCTURE, fmt="flac", jobs=args.jobs,
                                                      val_fraction=0.0, test_fraction=0.0, progress=False,
                                                      **HELD_OUT_SET))
    from ..core.genre import GenreModel

    model = GenreModel.load(out)
    held = step("evaluate held-out tracks", lambda: evaluate_tracks(model, str(work / "heldout" / "manifest.csv"),
                                                                    drops="auto", cache_dir=str(work / "heldout_cache"),
                                                                    progress=False))
    held["dj_set"] = step("evaluate DJ set", lambda: evaluate_dj_set(model, seed=DJ_SET_SEED))
    timings["total"] = round(time.perf_counter() - t_all, 1)

    mp = metadata_path(out)
    meta = json.loads(mp.read_text(encoding="utf-8"))
    held["data"] = {"tracks_per_genre": HELD_OUT_SET["tracks_per_genre"], "mixtures": HELD_OUT_SET["mixtures"],
                    "seed": HELD_OUT_SET["seed"], "structure": STRUCTURE, "generator": "SynthHouse"}
    meta["metrics"]["held_out"] = held
    synth = meta["training"].setdefault("synthhouse", {})
    synth["train_set"] = {**TRAIN_SET, "structure": STRUCTURE}
    synth["synth_version"] = SYNTH_VERSION
    synth["gm_version"] = GM_VERSION
    synth["evaluation_seconds" if args.evaluate_only else "build_seconds"] = timings
    write_json_atomic(mp, meta)
    write_json_atomic(work / "held_out_metrics.json", held)

    pure = held["tracks"]["clips"]
    mix = held["mixtures"]["track_summary"]
    dj = held["dj_set"]
    print(f"held-out pure tracks (drop clips): weighted F1 {pure['f1_weighted']:.3f}, accuracy {pure['accuracy']:.3f}")
    print(f"held-out mixtures (track summary): KL {mix['kl']:.3f}, top-2 {mix['top2']:.3f}, "
          f"top-2 overlap {mix['top2_overlap']:.3f}")
    print(f"DJ set: dominant genre right for {dj['accuracy_away_from_crossfades']:.1%} of "
          f"{dj['bars_away_from_crossfades']} bars away from crossfades (smoothing radius {dj['smoothing']}; "
          + ", ".join(f"radius {r}: {a:.1%}" for r, a in dj["accuracy_away_by_smoothing"].items()) + ")")
    print(f"wrote {out} and {mp.name}; this run took {timings['total'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
