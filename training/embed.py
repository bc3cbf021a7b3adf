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

from ..core import features as F
from ..core.errors import InputFileError, MainstageError
from ..core.genres import GENRES

METHODS = ("pca", "tsne", "umap")
METHOD_TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
SPLITS = ("train", "val", "test", "all")
CLIP_BARS = 4
FALLBACK_CLIP_S = 7.5
#: Fewest clips a projection is computed for.
MIN_CLIPS = 5
#: One colour per genre, in GENRES order (matplotlib's tab10 without grey and olive).
GENRE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class EmbedError(MainstageError, ValueError):
    """Embeddings cannot be computed or projected (empty split, too few clips, ...)."""


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


def clip_features(y: np.ndarray, spans, chroma: bool = False) -> list[np.ndarray]:
    """Model input ``(channels, 224, frames)`` of each clip span, through the runtime's feature code."""
    mel_db = F.track_mel_db(y)
    chroma_track = None
    if chroma:
        from .chroma import chroma_channels

        chroma_track = chroma_channels(y)
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    out = []
    for s, e in spans:
        first, n = int(round(s * fps)), max(int(round((e - s) * fps)), 1)
        mel = F.window_features(mel_db, [first], n)[0][None]
        if chroma_track is not None:
            ch = np.zeros((2, F.N_MELS, n), dtype=np.float32)
            lo, hi = max(first, 0), min(first + n, chroma_track.shape[2])
            if hi > lo:
                ch[:, :, lo - first:hi - first] = chroma_track[:, :, lo:hi]
            mel = np.concatenate([mel, ch], axis=0)
        out.append(mel)
    return out


def _stack(feats: list[np.ndarray], min_frames: int) -> np.ndarray:
    """Clips cut to the shortest one (centred), padded with silence (1.0) to ``min_frames``."""
    t = max(min(f.shape[-1] for f in feats), min_frames)
    xs = []
    for f in feats:
        if f.shape[-1] < t:
            f = np.concatenate([f, np.ones(f.shape[:-1] + (t - f.shape[-1],), dtype=f.dtype)], axis=-1)
        off = (f.shape[-1] - t) // 2
        xs.append(f[..., off:off + t])
    return np.stack(xs).astype(np.float32)


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
    try:
        from .splits import split_tracks
    except ImportError:  # older layout: the split lived in data.py
        from .data import split_tracks

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

    from . import data as D
    from .checkpoint import load_checkpoint, model_from_checkpoint

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
    if drops not in ("auto", "detect", "truth"):
        raise EmbedError(f"drop source must be auto, detect or truth, got {drops!r}")
    rows = D.read_manifest(manifest)
    idx = select_rows(rows, split, train_config)
    if not idx:
        raise EmbedError(f"{manifest}: the {split} split has no tracks (try --split all)")
    missing = [rows[i].path for i in idx if not rows[i].path.is_file()]
    if missing:
        more = f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        raise InputFileError(str(missing[0]), f"audio file listed in the manifest does not exist{more}")
    from ..core.audio import load_mono

    emb, logits, labels, track, spans_all, skipped = [], [], [], [], [], []
    it = idx
    if progress:
        from tqdm import tqdm

        it = tqdm(idx, desc="embed", unit="track", leave=False)
    for k, i in enumerate(it):
        row = rows[i]
        y, _ = load_mono(row.path, F.SAMPLE_RATE)
        truth = D.load_truth(row.truth) if row.truth is not None else None
        drop_spans = D.track_drops(row, y, F.SAMPLE_RATE, drops, truth)
        spans = drop_clip_spans(drop_spans, len(y) / F.SAMPLE_RATE, per_drop, D.bar_grid(truth))
        if not spans:
            skipped.append(str(row.path))
            continue
        feats = clip_features(y, spans, chroma)
        for b0 in range(0, len(feats), batch_size):
            x = torch.from_numpy(_stack(feats[b0:b0 + batch_size], min_frames)).to(next(model.parameters()).device)
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


# --- projections and the plot -------------------------------------------------------------------------

def parse_methods(spec: str) -> list[str]:
    """``"pca,tsne,umap"`` -> a list of methods (order kept, duplicates dropped)."""
    out: list[str] = []
    for m in (s.strip().lower().replace("-", "") for s in str(spec).split(",")):
        if not m:
            continue
        if m not in METHODS:
            raise EmbedError(f"unknown projection method {m!r} (expected {', '.join(METHODS)})")
        if m not in out:
            out.append(m)
    if not out:
        raise EmbedError("no projection method given (expected some of pca, tsne, umap)")
    return out


def project(embeddings: np.ndarray, methods, seed: int = 0) -> dict[str, np.ndarray]:
    """2-D projections ``{method: (n, 2) float32}`` of the embeddings.

    PCA and t-SNE (``init="pca"``, perplexity ``min(30, (n - 1) / 3)``) are
    scikit-learn's; UMAP (``n_neighbors`` ``min(15, n - 1)``) is umap-learn's. All are
    seeded with ``seed`` and deterministic.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    n = x.shape[0]
    if n < MIN_CLIPS:
        raise EmbedError(f"{n} clips are too few for a projection (at least {MIN_CLIPS})")
    if x.ndim != 2 or x.shape[1] < 2:
        raise EmbedError(f"embeddings must be (clips, dim >= 2), got {x.shape}")
    out: dict[str, np.ndarray] = {}
    for m in methods:
        if m == "pca":
            from sklearn.decomposition import PCA

            out[m] = PCA(n_components=2, random_state=seed).fit_transform(x)
        elif m == "tsne":
            from sklearn.manifold import TSNE

            perplexity = float(min(30.0, max(1.0, (n - 1) / 3.0)))
            out[m] = TSNE(n_components=2, perplexity=perplexity, init="pca", learning_rate="auto",
                          random_state=seed).fit_transform(x)
        elif m == "umap":
            try:
                import umap
            except ImportError:
                raise EmbedError("UMAP needs umap-learn (pip install umap-learn), "
                                 "or leave umap out of --methods") from None
            import warnings

            with warnings.catch_warnings():  # "n_jobs overridden by setting random_state": intended
                warnings.simplefilter("ignore", UserWarning)
                kw = dict(n_components=2, n_neighbors=int(min(15, n - 1)), random_state=seed)
                try:
                    out[m] = umap.UMAP(init="spectral", **kw).fit_transform(x)
                except (ValueError, TypeError, np.linalg.LinAlgError):  # tiny or degenerate graphs
                    out[m] = umap.UMAP(init="random", **kw).fit_transform(x)
        else:
            raise EmbedError(f"unknown projection method {m!r}")
        out[m] = np.asarray(out[m], dtype=np.float32)
    return out


def plot_projections(projections: dict[str, np.ndarray], labels: np.ndarray, path: str | os.PathLike, *,
                     title: str = "", dpi: int = 100, panel_size: tuple[float, float] = (4.5, 4.8)) -> tuple[int, int]:
    """Scatter each projection, one panel per method, coloured by dominant genre; write a PNG atomically.

    Parameters
    ----------
    projections : dict
        ``{method: (n, 2)}`` in panel order.
    labels : (n, 8) array
        Soft labels; a point's colour is its label's dominant genre. Clips of mixture
        tracks (second-largest weight > 0) are drawn as hollow circles.
    path : path
        PNG file to write.

    Returns
    -------
    (width, height) in pixels.
    """
    from matplotlib.figure import Figure  # no pyplot: no global backend state, renders with Agg
    from matplotlib.lines import Line2D

    from ..core.atomic import atomic_path

    labels = np.asarray(labels, dtype=np.float64)
    dominant = np.argmax(labels, axis=1)
    mixture = np.sort(labels, axis=1)[:, -2] > 0
    k = len(projections)
    size = (panel_size[0] * k, panel_size[1])
    fig = Figure(figsize=size, dpi=dpi)
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, (method, xy) in zip(axes, projections.items()):
        for g in range(len(GENRES)):
            for mix in (False, True):
                sel = (dominant == g) & (mixture == mix)
                if not sel.any():
                    continue
                c = GENRE_COLOURS[g]
                ax.scatter(xy[sel, 0], xy[sel, 1], s=16, linewidths=0.9, alpha=0.85,
                           c="none" if mix else c, edgecolors=c)
        ax.set_title(METHOD_TITLES.get(method, method), fontsize=11)
        ax.set_xticks([])
        ax.set_yticks([])
    present = sorted(set(dominant.tolist()))
    handles = [Line2D([], [], marker="o", linestyle="", color=GENRE_COLOURS[g], markersize=6,
                      label=f"{GENRES[g]} ({int(np.sum(dominant == g))})") for g in present]
    if mixture.any():
        handles.append(Line2D([], [], marker="o", linestyle="", markerfacecolor="none", markeredgecolor="0.3",
                              markersize=6, label="mixture tracks"))
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3 if k == 1 else 5), fontsize=8,
               frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    rows_legend = int(np.ceil(len(handles) / min(len(handles), 3 if k == 1 else 5)))
    fig.tight_layout(rect=(0, 0.05 + 0.045 * rows_legend, 1, 0.93 if title else 1))
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return int(round(size[0] * dpi)), int(round(size[1] * dpi))


def save_npz(path: str | os.PathLike, result: dict, projections: dict[str, np.ndarray]) -> None:
    """Write embeddings, labels, predictions and projections to an ``.npz`` atomically (no pickled objects)."""
    from ..core.atomic import atomic_path

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


__all__ = ["EmbedError", "GENRE_COLOURS", "METHODS", "capture_embeddings", "clip_features", "compute_embeddings",
           "drop_clip_spans", "embed", "embed_batch", "embedding_layer", "parse_methods", "plot_projections",
           "project", "save_npz", "select_rows"]
