"""Section labels (intro / build / drop / breakdown / outro) per bar.

Each bar gets loudness, low-end energy, onset density and high-band energy from the frame
features. Drops come from the drop rule (already on bar lines). Between the drops the
arrangement of a dance track is regular: what precedes the first drop is the intro, what
follows the last is the outro, the stretches between drops are breakdowns, and the bars
leading into a drop over which the high-band energy or the onset density climbs
steadily (risers, opening filters, accelerating snare rolls) are the build.
"""
from __future__ import annotations

import numpy as np

from .layers import BUILD_STEP_BARS, MAX_BUILD_BARS, BarLayers
from .onsets import TrackFeatures, kick_envelope

#: Minimal rank correlation with time of a rising build feature.
BUILD_TREND = 0.8


def bar_features(feat: TrackFeatures, bar_edges: np.ndarray) -> np.ndarray:
    """Per-bar features (rows): loudness dB, low-band dB, high-band dB, onset density, kick strength."""
    fps = feat.fps
    idx = np.clip(np.round(np.asarray(bar_edges) * fps).astype(int), 0, feat.n_frames)
    kick = kick_envelope(feat)
    cols = [feat.low + feat.mid + feat.high, feat.low, feat.high, feat.flux, kick]
    c = np.concatenate([np.zeros((1, len(cols))), np.cumsum(np.stack(cols, axis=1), axis=0, dtype=np.float64)])
    lo, hi = idx[:-1], idx[1:]
    means = (c[hi] - c[lo]) / np.maximum(hi - lo, 1)[:, None]
    out = means.copy()
    out[:, :3] = 10 * np.log10(np.maximum(means[:, :3], 1e-12))
    return out


def _rank_corr(y: np.ndarray) -> float:
    """Spearman correlation of ``y`` with its index (ties get their mean rank)."""
    n = y.size
    if n < 3 or np.ptp(y) == 0:
        return 0.0
    order = np.argsort(y, kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n, dtype=float)
    for v in np.unique(y):  # mean rank for ties
        same = y == v
        if same.sum() > 1:
            ranks[same] = ranks[same].mean()
    x = np.arange(n, dtype=float)
    return float(np.corrcoef(x, ranks)[0, 1])


def _build_length(B: np.ndarray) -> int:
    """Bars at the end of a stretch (``B``: its raw bar features) that form a build.

    A build is where tension rises towards the drop: risers, opening filters and
    accelerating snare rolls make the high-band energy or the onset density climb. The
    longest tail (a multiple of 4 bars, at most 16) wins in which one of them climbs by a
    clear amount overall (3 dB of high band, or 20 % more onset density), inside every
    4-bar block and from each block to the next, with a rank correlation with time of at
    least 0.8. An intro that gains instruments step by step stays flat inside its blocks.
    """
    n = B.shape[0]
    high = B[:, 2]
    dens = 10 * np.log10(np.maximum(B[:, 3], 1e-9))  # dB-like: 0.8 dB = 20 %
    best = 0
    for length in range(BUILD_STEP_BARS, min(MAX_BUILD_BARS, n) + 1, BUILD_STEP_BARS):
        for y, need, step in ((high[n - length:], 3.0, 1.0), (dens[n - length:], 0.8, 0.3)):
            k = max(1, length // 4)
            rise = float(np.mean(y[-k:]) - np.mean(y[:k]))
            if rise < need:
                continue
            blocks = y.reshape(-1, BUILD_STEP_BARS)
            ok = (bool(np.all(blocks[:, -1] - blocks[:, 0] >= step))       # rising inside each block
                  and bool(np.all(np.diff(blocks.mean(axis=1)) >= step))  # and from block to block
                  and _rank_corr(y) >= BUILD_TREND)
            if ok:
                best = length
                break
    return best


def _layer_build_length(layers: BarLayers, a: int, b: int) -> int:
    """Bars at the end of the stretch ``[a, b)`` that are a build (:attr:`BarLayers.build`)."""
    k = 0
    while b - k - 1 >= a and layers.build[b - k - 1]:
        k += 1
    return k


def label_bars(feat: TrackFeatures, downbeats: np.ndarray, end_s: float, drops: list[dict],
               layers: BarLayers | None = None) -> list[str]:
    """One label per bar (bar ``i`` spans ``downbeats[i]`` to the next bar line or ``end_s``).

    With ``layers``, the build bars (a snare/clap roll and its climb) right before a drop
    are the build; otherwise (and where no roll leads in) the rising-tension rule of
    :func:`_build_length` decides.
    """
    db = np.asarray(downbeats, dtype=np.float64)
    n = db.size
    if n == 0:
        return []
    edges = np.append(db, max(end_s, db[-1] + 1e-3))
    mids = 0.5 * (edges[:-1] + edges[1:])
    labels = np.array(["" for _ in range(n)], dtype=object)
    for d in drops:
        labels[(mids >= d["start_s"]) & (mids < d["end_s"])] = "drop"
    is_drop = labels == "drop"
    if not np.any(is_drop):
        labels[:] = "intro"
        return list(labels)
    B = bar_features(feat, edges)
    first, last = np.nonzero(is_drop)[0][[0, -1]]
    # Stretches of non-drop bars.
    d = np.diff(np.concatenate([[1], is_drop.astype(np.int8), [1]]))
    starts, stops = np.nonzero(d == -1)[0], np.nonzero(d == 1)[0]
    for a, b in zip(starts, stops):
        if a > last:
            labels[a:b] = "outro"
            continue
        labels[a:b] = "intro" if b <= first else "breakdown"
        k = _layer_build_length(layers, a, b) if layers is not None else 0
        k = k or _build_length(B[a:b])
        if k:
            labels[b - k : b] = "build"
    return list(labels)


def sections_from_labels(labels: list[str], downbeats: np.ndarray, end_s: float) -> list[dict]:
    """Merge runs of equal bar labels into ``{"label", "start_s", "end_s"}`` sections."""
    db = np.asarray(downbeats, dtype=np.float64)
    if db.size == 0:
        return []
    edges = np.append(db, max(end_s, db[-1] + 1e-3))
    out: list[dict] = []
    for i, lab in enumerate(labels):
        if out and out[-1]["label"] == lab:
            out[-1]["end_s"] = float(edges[i + 1])
        else:
            out.append({"label": lab, "start_s": float(edges[i]), "end_s": float(edges[i + 1])})
    out[-1]["end_s"] = float(min(out[-1]["end_s"], end_s))
    return [s for s in out if s["end_s"] > s["start_s"]]
