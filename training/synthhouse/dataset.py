"""Training sets of SynthHouse tracks: audio, truth files and a manifest CSV.

Layout of ``DIR``::

    DIR/audio/<name>.wav|flac
    DIR/truth/<name>.truth.json
    DIR/manifest.csv   path,<8 genres in GENRES order>,split,truth

``path`` and ``truth`` are relative to ``DIR``; the genre columns are the soft label
(summing to 1); ``split`` is train / val / test, assigned per track and stratified by
dominant genre. Everything is deterministic given the seed, and re-running into the
same folder skips tracks whose files are already complete.

Besides SynthHouse's own renders, ``gm_tracks_per_genre`` tracks per genre (and
``gm_mixtures``) are rendered by the GM engine (:mod:`mainstage.training.gmrender`:
the same kind of arrangements played by fluidsynth with General MIDI soundfonts),
named ``gm_<genre slug>_<i>`` and ``gm_mix_<j>``, with their own seeds and their own
stratified split, so adding them changes nothing about the SynthHouse tracks.
"""
from __future__ import annotations

import csv
import io
import os
import sys
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_open, remove_stale_temps
from ...core.errors import MainstageError
from ...core.genres import GENRES, SLUGS, sharpen
from ...core.hashing import sha256_file
from ...core.timeline import TimelineError, load_timeline
from .arrangement import DATASET_STRUCTURE, SynthError, parse_structure
from .plan import check_seed, derive_rng, params_sha256, plan_track

MANIFEST = "manifest.csv"
MANIFEST_HEADER = ("path", *GENRES, "split", "truth")
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Item:
    """One planned dataset track."""

    name: str
    weights: tuple[float, ...]
    seed: int
    split: str = "train"
    engine: str = "synthhouse"  # or "fluidsynth" (mainstage.training.gmrender)


def _mixture_weights(rng: np.random.Generator) -> np.ndarray:
    """2 or 3 genres; the dominant one gets 0.51-0.8, the rest is split at random."""
    k = int(rng.choice([2, 3], p=[0.6, 0.4]))
    idx = rng.choice(len(GENRES), size=k, replace=False)
    dom = float(rng.uniform(0.51, 0.8))  # > 0.5: the dominant genre is never tied
    rest = rng.dirichlet(np.ones(k - 1)) * (1.0 - dom)
    w = np.zeros(len(GENRES))
    w[idx[0]] = dom
    w[idx[1:]] = rest
    w = np.round(w, 3)
    return w / w.sum()


def _check_count(n, what: str) -> int:
    if isinstance(n, bool) or int(n) != n or n < 0:
        raise SynthError(f"{what} must be a whole number >= 0, got {n!r}")
    return int(n)


def _engine_items(n: int, mixtures: float, seed: int, prefix: str, tag: str, engine: str) -> list[Item]:
    """``n`` pure tracks per genre and ``round(mixtures * 8 * n)`` mixtures of one engine (no split yet).

    SynthHouse keeps its original names and seed streams (``prefix`` and ``tag`` empty).
    """
    items: list[Item] = []
    for gi, g in enumerate(GENRES):
        w = tuple(float(i == gi) for i in range(len(GENRES)))
        for i in range(n):
            s = int(derive_rng(seed, f"dataset-{tag}pure", g, i).integers(0, 2 ** 31))
            items.append(Item(f"{prefix}{SLUGS[g]}_{i:04d}", w, s, engine=engine))
    mrng = derive_rng(seed, f"dataset-{tag}mixtures")
    for j in range(int(round(mixtures * len(GENRES) * n))):
        w = _mixture_weights(mrng)
        s = int(derive_rng(seed, f"dataset-{tag}mix", j).integers(0, 2 ** 31))
        items.append(Item(f"{prefix}mix_{j:04d}", tuple(float(x) for x in w), s, engine=engine))
    return items


def _split(items: list[Item], seed: int, tag: str, val_fraction: float, test_fraction: float) -> list[Item]:
    """Stratified split by dominant genre (ties go to the later genre, as in sharpen())."""
    dominant = [int(np.argmax(sharpen(np.array(it.weights)))) for it in items]
    split = ["train"] * len(items)
    for gi, g in enumerate(GENRES):
        idx = [i for i, d in enumerate(dominant) if d == gi]
        order = [idx[k] for k in derive_rng(seed, f"dataset-{tag}split", g).permutation(len(idx))]
        n_test = int(round(len(idx) * test_fraction))
        n_val = int(round(len(idx) * val_fraction))
        for k, i in enumerate(order):
            split[i] = "test" if k < n_test else ("val" if k < n_test + n_val else "train")
    return [Item(it.name, it.weights, it.seed, s, it.engine) for it, s in zip(items, split)]


def plan_items(tracks_per_genre: int, mixtures: float, seed: int = 0, val_fraction: float = 0.15,
               test_fraction: float = 0.15, gm_tracks_per_genre: int = 0, gm_mixtures: float = 0.0) -> list[Item]:
    """Names, labels, seeds and splits of every track (cheap, no audio).

    ``tracks_per_genre`` pure tracks per genre plus ``round(mixtures * 8 * N)`` mixture
    tracks. Splits are drawn per dominant genre: ``round(n * test_fraction)`` test,
    ``round(n * val_fraction)`` val, the rest train (shuffled by ``seed``). GM tracks
    (``gm_tracks_per_genre``, ``gm_mixtures``) follow, split the same way among
    themselves (their own streams: the SynthHouse items do not depend on them).
    """
    seed = check_seed(seed)
    n = _check_count(tracks_per_genre, "tracks per genre")
    n_gm = _check_count(gm_tracks_per_genre, "GM tracks per genre")
    for f in (mixtures, gm_mixtures):
        if not (0.0 <= f <= 100.0):
            raise SynthError(f"mixture fraction must be >= 0, got {f!r}")
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise SynthError(f"val ({val_fraction}) and test ({test_fraction}) fractions must be >= 0 and sum to < 1")
    items = _split(_engine_items(n, mixtures, seed, "", "", "synthhouse"), seed, "", val_fraction, test_fraction)
    if n_gm:
        gm = _engine_items(n_gm, gm_mixtures, seed, "gm_", "gm-", "fluidsynth")
        items += _split(gm, seed, "gm-", val_fraction, test_fraction)
    return items


def _is_complete(audio: Path, truth: Path, expected_sha: str) -> bool:
    if not (audio.is_file() and truth.is_file()):
        return False
    try:
        doc = load_timeline(truth)
    except TimelineError:
        return False
    model = doc.get("model") or {}
    return (model.get("sha256") == expected_sha and doc["track"]["file"] == audio.name
            and doc["track"]["sha256"] == sha256_file(audio))


def _render_one(job: tuple) -> tuple[str, bool]:
    """Worker: render one item unless its files are complete. Returns (name, rendered)."""
    from .output import write_track

    name, weights, seed, structure, audio, truth, subtype, engine, soundfonts = job
    audio, truth = Path(audio), Path(truth)
    if engine == "fluidsynth":
        from ..gmrender import plan_gm_track, render_gm_track

        params = plan_gm_track(np.array(weights), seed, structure=structure, soundfonts=soundfonts)
        if _is_complete(audio, truth, params_sha256(params)):
            return name, False
        res = render_gm_track(np.array(weights), seed, structure=structure, soundfonts=soundfonts)
    else:
        from .render import render_track

        params = plan_track(np.array(weights), seed, structure=structure)
        if _is_complete(audio, truth, params_sha256(params)):
            return name, False
        res = render_track(np.array(weights), seed, structure=structure)
    write_track(res, audio, subtype=subtype, truth_path=truth)
    return name, True


def write_manifest(out_dir: Path, items: list[Item], ext: str) -> Path:
    """Write ``manifest.csv`` atomically; returns its path."""
    buf = io.StringIO()
    wr = csv.writer(buf, lineterminator="\n")
    wr.writerow(MANIFEST_HEADER)
    for it in items:
        wr.writerow([f"audio/{it.name}.{ext}", *(f"{x:.6g}" for x in it.weights), it.split, f"truth/{it.name}.truth.json"])
    path = out_dir / MANIFEST
    with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())
    return path


def build_dataset(out_dir: str | os.PathLike, tracks_per_genre: int, mixtures: float = 0.0, seed: int = 0,
                  structure=None, fmt: str = "wav", jobs: int = 1, val_fraction: float = 0.15,
                  test_fraction: float = 0.15, bit_depth: int = 16, progress: bool | None = None,
                  gm_tracks_per_genre: int = 0, gm_mixtures: float = 0.0, soundfonts=None) -> dict:
    """Render a dataset into ``out_dir`` (resumable).

    Parameters
    ----------
    out_dir : path-like
    tracks_per_genre : int
        Pure tracks per genre.
    mixtures : float
        Extra mixture tracks as a fraction of the pure ones (2-3 genres each).
    seed : int
    structure : str, optional
        Track structure; default :data:`DATASET_STRUCTURE` (compact: drops are what
        the classifier trains on).
    fmt : {"wav", "flac"}
    jobs : int
        Parallel worker processes.
    progress : bool, optional
        Show a tqdm bar; default: only when stderr is a terminal.
    gm_tracks_per_genre : int
        Extra pure tracks per genre rendered by the GM engine (fluidsynth + General MIDI
        soundfonts, :mod:`mainstage.training.gmrender`), named ``gm_<slug>_<i>``.
    gm_mixtures : float
        GM mixture tracks (``gm_mix_<j>``) as a fraction of the GM pure ones.
    soundfonts : path or list of paths, optional
        The GM engine's soundfonts (default: the installed known ones).

    Returns
    -------
    dict
        ``{"manifest": path, "tracks": n, "rendered": n_new, "skipped": n_existing,
        "gm_tracks": n_gm}``.

    Raises
    ------
    GMRenderError
        GM tracks are asked for but fluidsynth or a soundfont is missing (one line).
    """
    if fmt not in ("wav", "flac"):
        raise SynthError(f"unsupported format {fmt!r}; use wav or flac")
    if int(jobs) < 1:
        raise SynthError(f"jobs must be >= 1, got {jobs}")
    structure = structure or DATASET_STRUCTURE
    parse_structure(structure)  # fail early on a bad structure
    subtype = {16: "PCM_16", 24: "PCM_24"}.get(int(bit_depth))
    if subtype is None:
        raise SynthError(f"bit depth must be 16 or 24, got {bit_depth}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise MainstageError(f"{out}: exists and is not a directory")
    items = plan_items(tracks_per_genre, mixtures, seed, val_fraction, test_fraction, gm_tracks_per_genre, gm_mixtures)
    n_gm = sum(it.engine == "fluidsynth" for it in items)
    if n_gm:  # fail before rendering anything when the GM engine cannot run
        from ..gmrender.soundfonts import fluidsynth_binary, soundfont_pool

        soundfont_pool(soundfonts)
        fluidsynth_binary()
    for sub in ("audio", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
        remove_stale_temps(out / sub)  # the temporaries of a killed earlier run
    remove_stale_temps(out, MANIFEST)
    sf_arg = [str(x) for x in soundfonts] if isinstance(soundfonts, (list, tuple)) else soundfonts
    jobs_list = [(it.name, it.weights, it.seed, structure, str(out / "audio" / f"{it.name}.{fmt}"),
                  str(out / "truth" / f"{it.name}.truth.json"), subtype, it.engine, sf_arg) for it in items]
    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    rendered = 0
    with tqdm(total=len(jobs_list), disable=not show, unit="track", desc="synth-dataset") as bar:
        if int(jobs) == 1:
            for job in jobs_list:
                rendered += _render_one(job)[1]
                bar.update(1)
        else:
            from ...core.workers import process_pool

            with process_pool(int(jobs)) as pool:  # workers die with this process
                # GM tracks first: they take longest, so the pool ends evenly loaded.
                order = [j for j in jobs_list if j[7] != "synthhouse"] + [j for j in jobs_list if j[7] == "synthhouse"]
                futures = [pool.submit(_render_one, job) for job in order]
                for fut in as_completed(futures):
                    rendered += fut.result()[1]
                    bar.update(1)
    manifest = write_manifest(out, items, fmt)
    return {"manifest": manifest, "tracks": len(items), "rendered": rendered, "skipped": len(items) - rendered,
            "gm_tracks": n_gm}
