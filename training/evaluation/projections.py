"""2-D projections of embeddings (PCA, t-SNE, UMAP) and their plot, one panel per method (the paper's Fig. 2)."""
from __future__ import annotations

import os

import numpy as np

from ...core.errors import MainstageError
from ...core.genres import GENRES

METHODS = ("pca", "tsne", "umap")
METHOD_TITLES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP"}
#: Fewest clips a projection is computed for.
MIN_CLIPS = 5
#: One colour per genre, in GENRES order (matplotlib's tab10 without grey and olive).
GENRE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")


class EmbedError(MainstageError, ValueError):
    """Embeddings cannot be computed or projected (empty split, too few clips, ...)."""


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

    from ...core.atomic import atomic_path

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
