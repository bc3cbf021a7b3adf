"""Scores of an analysed timeline against a ground-truth timeline (SynthHouse truth, real-music corpora).

Used by ``mainstage demo``, the benchmarks and the tests. The standard MIR metrics come
from ``mir_eval`` (beat F-measure, CMLt/AMLt, downbeat F, section boundary detection at
0.5 s and 3 s); beside them the project's own: tempo error and Acc1/Acc2, beat hit rate
within 15 ms, drops found within 2 bars, section labels and dominant genre per bar.
"""
from __future__ import annotations

import warnings

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
        ``bpm_error`` (absolute, BPM), ``beat_median_error_ms`` (None without estimated beats, so
        the dict stays strict JSON), ``beat_hit_rate`` (share of true beats with an estimated beat
        within ``tolerance_s``), ``downbeat_hit_rate``, ``phrase_hit_rate``.
    """
    out: dict = {}
    if est["tempo"]["bpm"] is not None and truth["tempo"]["bpm"] is not None:
        out["bpm_error"] = abs(est["tempo"]["bpm"] - truth["tempo"]["bpm"])
    else:
        out["bpm_error"] = None
    for key, name in (("beats", "beat"), ("downbeats", "downbeat"), ("phrases", "phrase")):
        err = nearest_error(est[key], truth[key])
        if key == "beats":
            out["beat_median_error_ms"] = float(np.median(err) * 1000) if err.size and est[key] else None
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


#: mir_eval's convention (``mir_eval.beat.evaluate``): beats in the first 5 s are not scored,
#: since trackers need a few seconds to lock on and annotations of intros vary.
MIN_BEAT_TIME = 5.0


def _trim(times) -> np.ndarray:
    import mir_eval

    return mir_eval.beat.trim_beats(np.asarray(times, dtype=np.float64), min_beat_time=MIN_BEAT_TIME)


def tempo_accuracy(est_bpm: float | None, true_bpm: float | None, tolerance: float = 0.04) -> tuple[bool, bool] | None:
    """``(Acc1, Acc2)`` of one tempo estimate (Gouyon et al. 2006, the MIREX tempo measures).

    Acc1: within ``tolerance`` (4 %) of the true tempo; Acc2: within it at 1, 2, 1/2, 3 or
    1/3 times the true tempo. mir_eval has no such measure (its ``tempo.detection`` scores
    two-tempo annotations), so the standard definition is written out here. None without a
    true tempo; no estimated tempo fails both (like an empty beat list scoring beat F 0).
    """
    if not true_bpm:
        return None
    if not est_bpm:
        return False, False
    ratios = est_bpm / (true_bpm * np.array([1.0, 2.0, 0.5, 3.0, 1.0 / 3.0]))
    ok = np.abs(ratios - 1.0) <= tolerance
    return bool(ok[0]), bool(ok.any())


def mir_scores(est: dict, truth: dict) -> dict:
    """mir_eval's beat, downbeat and boundary metrics, plus tempo Acc1/Acc2.

    Returns ``beat_f`` (F-measure, 70 ms window), ``beat_cmlt`` / ``beat_amlt`` (continuity:
    correct metrical level / any allowed level, the latter accepts double, half and
    off-beat grids), ``downbeat_f``, ``boundary_f_05s`` / ``boundary_f_3s`` (section
    boundary hit rate F at 0.5 s and 3 s), ``tempo_acc1`` / ``tempo_acc2`` (1.0 or 0.0)
    and ``est_bpm``. None where the truth has nothing to score against.
    """
    import mir_eval

    out: dict = {"est_bpm": est["tempo"]["bpm"]}
    acc = tempo_accuracy(est["tempo"]["bpm"], truth["tempo"]["bpm"])
    out["tempo_acc1"], out["tempo_acc2"] = (float(acc[0]), float(acc[1])) if acc else (None, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns on empty estimates; they score 0
        ref, hyp = _trim(truth["beats"]), _trim(est["beats"])
        if ref.size >= 2:
            out["beat_f"] = float(mir_eval.beat.f_measure(ref, hyp))
            _cmlc, cmlt, _amlc, amlt = mir_eval.beat.continuity(ref, hyp)
            out["beat_cmlt"], out["beat_amlt"] = float(cmlt), float(amlt)
        else:
            out["beat_f"] = out["beat_cmlt"] = out["beat_amlt"] = None
        ref_db, hyp_db = _trim(truth["downbeats"]), _trim(est["downbeats"])
        out["downbeat_f"] = float(mir_eval.beat.f_measure(ref_db, hyp_db)) if ref_db.size else None
    ref_iv = _intervals(truth["sections"])
    est_iv = _intervals(est["sections"])
    for key, window in (("boundary_f_05s", 0.5), ("boundary_f_3s", 3.0)):
        if ref_iv.shape[0] < 2:
            out[key] = None
        elif est_iv.shape[0] == 0:
            out[key] = 0.0
        else:
            out[key] = float(mir_eval.segment.detection(ref_iv, est_iv, window=window, trim=False)[2])
    return out


def _intervals(sections: list[dict]) -> np.ndarray:
    return np.array([[s["start_s"], s["end_s"]] for s in sections], dtype=np.float64).reshape(-1, 2)


def drop_hits(est: dict, truth: dict, bars: float = 2.0) -> dict:
    """Drops found within ``bars`` bars: ``drops_found_within_2_bars`` (true drops with an
    estimated drop start that close) and ``drop_precision`` (estimated drops with a true one
    that close; None without estimated drops)."""
    bar_s = 240.0 / truth["tempo"]["bpm"] if truth["tempo"]["bpm"] else 2.0
    t = np.array([d["start_s"] for d in truth["drops"]], dtype=np.float64)
    e = np.array([d["start_s"] for d in est["drops"]], dtype=np.float64)
    tol = bars * bar_s
    found = int(np.sum(nearest_error(e, t) <= tol)) if t.size else 0
    right = int(np.sum(nearest_error(t, e) <= tol)) if e.size else 0
    return {"drops_found_within_2_bars": found, "drop_precision": right / e.size if e.size else None}


def score_timeline(est: dict, truth: dict) -> dict:
    """All scores: :func:`grid_scores`, :func:`mir_scores`, :func:`drop_scores`, :func:`drop_hits`,
    section and genre accuracy, in one flat dict (None where undefined)."""
    out = grid_scores(est, truth)
    out.update(mir_scores(est, truth))
    out.update(drop_scores(est, truth))
    out.update(drop_hits(est, truth))
    out["section_accuracy"] = section_accuracy(est, truth)
    out["genre_bar_accuracy"] = genre_bar_accuracy(est, truth)
    return out
