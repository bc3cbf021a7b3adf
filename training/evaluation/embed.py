"""Clip embeddings of a trained genre model, projected to 2-D (the paper's Fig. 2).

For every track of a manifest split, a few clips are cut from its drops (as the
training data is), run through the model, and the input of the model's final linear
layer is kept as the clip's embedding: the attention-pooled 160-d vector of the
default model (:class:`~mainstage.training.models.fast.FastGenreNet`), the 768-d
transformer token of the paper's model
(:class:`~mainstage.training.models.patch.PatchSequenceModel`). A forward hook reads
it, so the models need no extra code. The embeddings are reduced to 2-D with PCA,
t-SNE (scikit-learn) and UMAP (umap-learn) and drawn one panel per method, coloured by
each track's dominant genre.

Clips: each drop section gives ``per_drop`` clips spread evenly over it; with a bar
grid (truth file) a clip is exactly 4 bars from a downbeat, otherwise 7.5 s, as in
training. Everything is deterministic; ``seed`` seeds t-SNE and UMAP.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ...core.audio import load_mono
from ...core.errors import InputFileError
from ...core.genre import features as F
from ...core.genres import GENRES
from ..run.batches import stack_clips
from ..features.clips import CLIP_BARS, FALLBACK_CLIP_S, clip_features
from ..run.config import DROP_SOURCES
from ..features.drops import bar_grid, load_truth, track_drops
from ..datasets.manifest import SPLITS as TRAINING_SPLITS
from ..datasets.manifest import read_manifest
from .projections import EmbedError, parse_methods, plot_projections, project
from ..datasets.splits import split_tracks

#: Tracks :func:`compute_embeddings` can embed: a split of the training run, or all.
SPLITS = (*TRAINING_SPLITS, "all")


# --- the model's embedding -----------------------------------------------------------------------

def embedding_layer(model):
    """The model's final linear layer (its input is the embedding).

    The last ``torch.nn.Linear`` whose outputs are the genre logits: ``head[-1]`` of
    the default model, ``classifier[-1]`` of the paper's model.

    Raises
    ------
    EmbedError
        The model has no such layer.
    """
    from torch import nn

    n_out = len(GENRES)
    last = None
    for module in model.modules():
        if isinstance(module, nn.Linear) and module.out_features == n_out:
            last = module
    if last is None:
        raise EmbedError(f"{model.__class__.__name__} has no final Linear layer with {n_out} outputs")
    return last


@contextmanager
def capture_embeddings(model):
    """Context manager collecting the input of :func:`embedding_layer` at every forward call.

    Yields
    ------
    list of torch.Tensor
        One ``(batch, dim)`` tensor per forward call, detached, on the CPU.
    """
    store: list = []

    def hook(_module, args):
        store.append(args[0].detach().float().cpu())

    handle = embedding_layer(model).register_forward_pre_hook(hook)
    try:
        yield store
    finally:
        handle.remove()


def embed_batch(model, x) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and logits of one batch ``(batch, channels, 224, frames)`` (model in eval mode).

    Returns
    -------
    (embeddings (batch, dim) float32, logits (batch, 8) float32)
    """
    import torch

    with torch.no_grad(), capture_embeddings(model) as store:
        logits = model(x)
    if len(store) != 1:
        raise EmbedError(f"expected one call of the final layer per forward pass, got {len(store)}")
    return store[0].numpy().astype(np.float32), logits.float().cpu().numpy()


# --- clips ----------------------------------------------------------------------------------------

def drop_clip_spans(drops, duration: float, per_drop: int = 4, downbeats=None) -> list[tuple[float, float]]:
    """``per_drop`` clip spans spread evenly over each drop section.

    With a bar grid a clip is :data:`CLIP_BARS` bars starting on a downbeat inside the
    drop; otherwise :data:`FALLBACK_CLIP_S` seconds. Drops too short for one clip give none.
    """
    spans: list[tuple[float, float]] = []
    db = np.asarray(downbeats, dtype=np.float64) if downbeats is not None else np.zeros(0)
    for s, e in drops:
        if db.size > CLIP_BARS:
            starts, ends = db[:-CLIP_BARS], db[CLIP_BARS:]
            ok = np.nonzero((starts >= s - 0.05) & (ends <= min(e, duration) + 0.05))[0]
            if ok.size:
                pick = np.unique(np.round(np.linspace(0, ok.size - 1, min(per_drop, ok.size))).astype(int))
                spans += [(float(starts[ok[i]]), float(ends[ok[i]])) for i in pick]
            continue
        e = min(e, duration)
        if e - s < FALLBACK_CLIP_S:
            continue
        for t in np.linspace(s, e - FALLBACK_CLIP_S, per_drop):
            spans.append((float(t), float(t) + FALLBACK_CLIP_S))
    return spans


# --- embeddings of a manifest ------------------------------------------------------------------------

def select_rows(rows, split: str, train_config: dict | None):
    """Indices of the manifest rows in ``split``, split as the training run did.

    The split is a deterministic function of the manifest rows and the checkpoint's
    ``train_config`` (fractions, seed, artist grouping); it is recomputed here with
    ``split_tracks`` (the function training stores in ``splits.json``), so nothing is
    written. Rows with a ``split`` column keep theirs.
    """
    if split == "all":
        return list(range(len(rows)))
    cfg = train_config or {}
    fractions = tuple(float(x) for x in cfg.get("split", (0.8, 0.1, 0.1)))
    kwargs = {"seed": int(cfg.get("seed", 0))}
    if cfg.get("group_by_artist"):
        kwargs["group_by_artist"] = True
    return list(split_tracks(rows, fractions, **kwargs)[split])


def compute_embeddings(checkpoint: str | os.PathLike, manifest: str | os.PathLike, *, split: str = "test",
                       per_drop: int = 4, drops: str | None = None, device: str = "cpu", batch_size: int = 16,
                       progress: bool = False) -> dict:
    """Embed the drop clips of a manifest split with a trained model.

    Parameters
    ----------
    checkpoint : path
        A genre checkpoint (``best.pt``), loaded with ``weights_only=True``.
    manifest : path
        Manifest CSV (``path,<8 genres>[,split][,truth]``).
    split : {"test", "val", "train", "all"}
        Which tracks: the checkpoint's training split recomputed on ``manifest``, or all.
    per_drop : int
        Clips per drop section.
    drops : {"auto", "detect", "truth"}, optional
        Drop sections from the detector or the manifest's truth files; by default
        the training run's setting (``train_config["drops"]``), else ``"auto"``.
    device : str
        Torch device.
    batch_size : int
        Clips per forward pass.

    Returns
    -------
    dict
        ``embeddings`` (n, dim) float32, ``probs`` (n, 8), ``labels`` (n, 8) (the
        track's label), ``track`` (n,) index into ``paths``, ``spans`` (n, 2) seconds,
        ``paths`` (tracks,) the manifest's audio paths, ``skipped`` (tracks without a
        drop clip), ``model`` (the architecture).
    """
    import torch

    from ..run.checkpoint import load_checkpoint, model_from_checkpoint

    if split not in SPLITS:
        raise EmbedError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    if per_drop < 1:
        raise EmbedError(f"clips per drop must be at least 1, got {per_drop}")
    ckpt = load_checkpoint(checkpoint)
    F.check_feature_params(ckpt["features"], source=str(checkpoint))
    model = model_from_checkpoint(ckpt).to(torch.device(device))
    chroma = bool(ckpt["features"].get("chroma", False)) or ckpt["model_config"].get("in_channels", 1) == 3
    temperature = float(ckpt.get("temperature", 1.0) or 1.0)
    min_frames = int(getattr(model, "min_frames", 1))

    train_config = ckpt.get("train_config") if isinstance(ckpt.get("train_config"), dict) else {}
    if drops is None:
        drops = str(train_config.get("drops") or "auto")
    if drops not in DROP_SOURCES:
        raise EmbedError(f"drop source must be auto, detect or truth, got {drops!r}")
    rows = read_manifest(manifest)
    idx = select_rows(rows, split, train_config)
    if not idx:
        raise EmbedError(f"{manifest}: the {split} split has no tracks (try --split all)")
    missing = [rows[i].path for i in idx if not rows[i].path.is_file()]
    if missing:
        more = f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        raise InputFileError(str(missing[0]), f"audio file listed in the manifest does not exist{more}")
    emb, logits, labels, track, spans_all, skipped = [], [], [], [], [], []
    it = idx
    if progress:
        from tqdm import tqdm

        it = tqdm(idx, desc="embed", unit="track", leave=False)
    for k, i in enumerate(it):
        row = rows[i]
        y, _ = load_mono(row.path, F.SAMPLE_RATE)
        truth = load_truth(row.truth) if row.truth is not None else None
        drop_spans = track_drops(row, y, F.SAMPLE_RATE, drops, truth)
        spans = drop_clip_spans(drop_spans, len(y) / F.SAMPLE_RATE, per_drop, bar_grid(truth))
        if not spans:
            skipped.append(str(row.path))
            continue
        feats = clip_features(y, spans, chroma)
        for b0 in range(0, len(feats), batch_size):
            batch = np.arange(b0, min(b0 + batch_size, len(feats)))
            x = torch.from_numpy(stack_clips(feats, batch, min_frames)).to(next(model.parameters()).device)
            e, lg = embed_batch(model, x)
            emb.append(e)
            logits.append(lg)
        labels += [row.label] * len(spans)
        track += [k] * len(spans)
        spans_all += spans
    if not emb:
        raise EmbedError(f"{manifest}: no drop clips in the {split} split ({len(skipped)} tracks without a drop)")
    lg = np.concatenate(logits) / temperature
    probs = np.exp(lg - lg.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return {
        "embeddings": np.concatenate(emb).astype(np.float32),
        "probs": probs.astype(np.float32),
        "labels": np.asarray(labels, dtype=np.float32).reshape(-1, len(GENRES)),
        "track": np.asarray(track, dtype=np.int64),
        "spans": np.asarray(spans_all, dtype=np.float64).reshape(-1, 2),
        "paths": [str(rows[i].path) for i in idx],
        "skipped": skipped,
        "model": str(ckpt["model_config"].get("arch", "?")),
        "split": split,
    }


def save_npz(path: str | os.PathLike, result: dict, projections: dict[str, np.ndarray]) -> None:
    """Write embeddings, labels, predictions and projections to an ``.npz`` atomically (no pickled objects)."""
    from ...core.atomic import atomic_path

    arrays = {
        "embeddings": result["embeddings"], "probs": result["probs"], "labels": result["labels"],
        "track": result["track"], "spans": result["spans"], "paths": np.asarray(result["paths"], dtype=str),
        "genres": np.asarray(GENRES, dtype=str), "methods": np.asarray(list(projections), dtype=str),
        "split": np.asarray(result["split"]),
    }
    arrays.update({f"proj_{m}": xy for m, xy in projections.items()})
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def embed(checkpoint, manifest, *, plot: str | os.PathLike | None = None, npz: str | os.PathLike | None = None,
          split: str = "test", methods=("pca", "tsne", "umap"), seed: int = 0, per_drop: int = 4,
          drops: str | None = None, device: str = "cpu", dpi: int = 100, progress: bool = False) -> dict:
    """Compute embeddings, project them and write the plot and/or the ``.npz``.

    Returns
    -------
    dict
        ``clips``, ``tracks``, ``dim``, ``skipped``, ``methods``, ``plot`` (path and
        pixel size) and ``npz``.
    """
    methods = parse_methods(",".join(methods)) if not isinstance(methods, str) else parse_methods(methods)
    if plot is None and npz is None:
        raise EmbedError("nothing to write: give a plot file and/or an .npz file")
    for out_path in (plot, npz):
        if out_path is not None and Path(out_path).is_dir():
            raise InputFileError(str(out_path), "is a folder; give a file name to write")
    res = compute_embeddings(checkpoint, manifest, split=split, per_drop=per_drop, drops=drops, device=device,
                             progress=progress)
    proj = project(res["embeddings"], methods, seed=seed)
    out = {"clips": int(res["embeddings"].shape[0]), "tracks": int(len(np.unique(res["track"]))),
           "dim": int(res["embeddings"].shape[1]), "skipped": res["skipped"], "methods": methods,
           "model": res["model"], "split": split, "plot": None, "npz": None}
    if plot is not None:
        title = (f"{Path(str(checkpoint)).name} ({res['model']}): {out['clips']} drop clips of {out['tracks']} "
                 f"{'' if split == 'all' else split + ' '}tracks, {out['dim']}-d embeddings")
        with _writing(plot):
            out["plot"] = {"path": str(plot),
                           "size": plot_projections(proj, res["labels"], plot, title=title, dpi=dpi)}
    if npz is not None:
        with _writing(npz):
            save_npz(npz, res, proj)
        out["npz"] = str(npz)
    return out


@contextmanager
def _writing(path):
    """Turn an ``OSError`` while writing ``path`` into a one-line :class:`InputFileError`."""
    try:
        yield
    except OSError as exc:
        raise InputFileError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
