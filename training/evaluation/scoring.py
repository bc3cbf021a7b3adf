"""Scores of an analysed timeline against a ground-truth timeline (e.g. SynthHouse truth).

Used by ``mainstage demo``, the benchmarks and the tests to report how close the
analysis came: tempo, beat and downbeat positions, drops, section labels per bar and the
dominant genre per bar.
"""
from __future__ import annotations

import numpy as np

from ...core.timeline import genre_at, genre_matrix


def nearest_error(estimate, truth) -> np.ndarray:
    """Absolute distance from each ``truth`` time to the nearest ``estimate`` time (inf if none)."""
    est = np.sort(np.asarray(estimate, dtype=np.float64))
    tru = np.asarray(truth, dtype=np.float64)
    if est.size == 0:
        return np.full(tru.shape, np.inf)
    i = np.clip(np.searchsorted(est, tru), 1, max(est.size - 1, 1))
    left = np.abs(tru - est[i - 1])
    right = np.abs(est[np.minimum(i, est.size - 1)] - tru)
    return np.minimum(left, right)


def bar_labels(sections: list[dict], times) -> list[str | None]:
    """Section label at each time (None outside every section)."""
    out: list[str | None] = []
    for t in np.asarray(times, dtype=np.float64):
        out.append(next((s["label"] for s in sections if s["start_s"] <= t < s["end_s"]), None))
    return out


def grid_scores(est: dict, truth: dict, tolerance_s: float = 0.015) -> dict:
    """Tempo and beat-grid accuracy.

    Returns
    -------
    dict
        ``bpm_error`` (absolute, BPM), ``beat_median_error_ms``, ``beat_hit_rate`` (share of true
        beats with an estimated beat within ``tolerance_s``), ``downbeat_hit_rate``, ``phrase_hit_rate``.
    """
    out: dict = {}
    if est["tempo"]["bpm"] is not None and truth["tempo"]["bpm"] is not None:
        out["bpm_error"] = abs(est["tempo"]["bpm"] - truth["tempo"]["bpm"])
    else:
        out["bpm_error"] = None
    for key, name in (("beats", "beat"), ("downbeats", "downbeat"), ("phrases", "phrase")):
        err = nearest_error(est[key], truth[key])
        if key == "beats":
            out["beat_median_error_ms"] = float(np.median(err) * 1000) if err.size else None
        out[f"{name}_hit_rate"] = float(np.mean(err <= tolerance_s)) if err.size else None
    return out


def drop_scores(est: dict, truth: dict) -> dict:
    """Drops: how many true drops were found (overlap), and boundary errors in bars."""
    spb_bar = 240.0 / truth["tempo"]["bpm"] if truth["tempo"]["bpm"] else 2.0
    found, starts, ends = 0, [], []
    for d in truth["drops"]:
        best = max(est["drops"], default=None,
                   key=lambda e: min(e["end_s"], d["end_s"]) - max(e["start_s"], d["start_s"]))
        if best is not None and min(best["end_s"], d["end_s"]) > max(best["start_s"], d["start_s"]):
            found += 1
            starts.append(abs(best["start_s"] - d["start_s"]) / spb_bar)
            ends.append(abs(best["end_s"] - d["end_s"]) / spb_bar)
    return {
        "true_drops": len(truth["drops"]),
        "found_drops": found,
        "extra_drops": max(0, len(est["drops"]) - found),
        "max_boundary_error_bars": float(max(starts + ends)) if found else None,
    }


def section_accuracy(est: dict, truth: dict) -> float | None:
    """Share of true bars (mid-bar times) whose estimated section label equals the true one."""
    db = np.asarray(truth["downbeats"], dtype=np.float64)
    if db.size < 2:
        return None
    mids = (db[:-1] + db[1:]) / 2
    t_lab = bar_labels(truth["sections"], mids)
    e_lab = bar_labels(est["sections"], mids)
    pairs = [(a, b) for a, b in zip(t_lab, e_lab) if a is not None]
    return float(np.mean([a == b for a, b in pairs])) if pairs else None


def genre_bar_accuracy(est: dict, truth: dict, *, pure_threshold: float = 0.99) -> float | None:
    """Share of bars whose dominant estimated genre equals the true dominant genre.

    Only bars whose truth is (nearly) one genre count, so crossfades between tracks in a
    DJ-set mix and deliberately mixed bars are left out.
    """
    if not est["genre_windows"] or not truth["genre_windows"]:
        return None
    t_start, t_end, t_probs = genre_matrix(truth)
    keep = t_probs.max(axis=1) >= pure_threshold
    if not keep.any():
        return None
    mids = (t_start[keep] + t_end[keep]) / 2
    pred = genre_at(est, mids).argmax(axis=1)
    return float(np.mean(pred == t_probs[keep].argmax(axis=1)))


def score_timeline(est: dict, truth: dict) -> dict:
    """All scores of :func:`grid_scores`, :func:`drop_scores`, section and genre accuracy."""
    out = grid_scores(est, truth)
    out.update(drop_scores(est, truth))
    out["section_accuracy"] = section_accuracy(est, truth)
    out["genre_bar_accuracy"] = genre_bar_accuracy(est, truth)
    return out
