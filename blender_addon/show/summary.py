"""What the panel and the markers show of a timeline: tempo, bars, drops, genres per section.

Pure Python + numpy (no bpy), computed once when a timeline is stored.
"""
from __future__ import annotations

import numpy as np

from ..core import timeline as tl

#: Marker-style names of the section labels.
SECTION_NAMES = {"intro": "INTRO", "build": "BUILD", "drop": "DROP", "breakdown": "BREAKDOWN", "outro": "OUTRO"}
#: A drop from the drop rule this close (s) to a drop section start is the same drop.
SAME_DROP_S = 1.0


def span_genres(doc: dict, spans: list[tuple[float, float]]) -> np.ndarray:
    """Genre distribution of each span: window probabilities weighted by overlap.

    Returns an array (n_spans, 8); rows of spans no window covers get the track summary
    (or NaN when the timeline has no genres at all).
    """
    starts, ends, probs = tl.genre_matrix(doc)
    out = np.full((len(spans), probs.shape[1] if probs.ndim == 2 else 8), np.nan)
    if not spans:
        return out
    s = np.array([a for a, _ in spans])[:, None]
    e = np.array([b for _, b in spans])[:, None]
    if starts.size:
        w = np.clip(np.minimum(e, ends[None, :]) - np.maximum(s, starts[None, :]), 0.0, None)
        total = w.sum(axis=1, keepdims=True)
        mix = (w @ probs) / np.where(total > 0, total, 1.0)
        out = np.where(total > 0, mix, out)
    if doc.get("genre_summary") is not None:
        out = np.where(np.isnan(out), np.asarray(doc["genre_summary"], dtype=np.float64)[None, :], out)
    return out


def sections(doc: dict) -> list[dict]:
    """Sections with display names ("DROP 1", "BREAKDOWN 2") and their dominant genre."""
    secs = doc["sections"]
    genres = list(doc["genres"])
    mix = span_genres(doc, [(float(x["start_s"]), float(x["end_s"])) for x in secs])
    totals = {lab: sum(1 for x in secs if x["label"] == lab) for lab in SECTION_NAMES}
    counters: dict[str, int] = {}
    out = []
    for i, x in enumerate(secs):
        lab = x["label"]
        counters[lab] = counters.get(lab, 0) + 1
        name = SECTION_NAMES[lab]
        if lab == "drop" or totals[lab] > 1:
            name = f"{name} {counters[lab]}"
        row = mix[i]
        if np.all(np.isfinite(row)):
            k = int(np.argmax(row))
            genre, prob = genres[k], float(row[k])
        else:
            genre, prob = "", 0.0
        out.append({"name": name, "label": lab, "start_s": float(x["start_s"]), "end_s": float(x["end_s"]),
                    "genre": genre, "genre_prob": prob})
    return out


def marker_plan(doc: dict) -> list[tuple[str, float]]:
    """Markers for a timeline: ``[(name, time_s)]``, sorted by time.

    One marker per section start ("DROP 1", "BREAKDOWN"), with the dominant genre appended
    where it changes (" | Bass House"); one "DROP n" marker per drop of the drop rule that
    does not start a drop section (timelines without sections, or drops the sections miss).
    """
    plan: list[tuple[str, float]] = []
    prev_genre = None
    drop_starts = []
    for sec in sections(doc):
        name = sec["name"]
        if sec["genre"] and sec["genre"] != prev_genre:
            name = f"{name} | {sec['genre']}"
            prev_genre = sec["genre"]
        plan.append((name, sec["start_s"]))
        if sec["label"] == "drop":
            drop_starts.append(sec["start_s"])
    n_drop = len(drop_starts)
    for d in doc["drops"]:
        t = float(d["start_s"])
        if any(abs(t - s) <= SAME_DROP_S for s in drop_starts):
            continue
        n_drop += 1
        plan.append((f"DROP {n_drop}", t))
    plan.sort(key=lambda p: p[1])
    return plan


def summarize(doc: dict) -> dict:
    """Numbers the panel shows: duration, bpm, beats, bars, drops, genre summary, sections."""
    summary = doc.get("genre_summary")
    model = doc.get("model") or {}
    return {
        "track_file": str(doc["track"]["file"]),
        "duration_s": float(doc["track"]["duration_s"]),
        "bpm": float(doc["tempo"]["bpm"] or 0.0),
        "n_beats": len(doc["beats"]),
        "n_bars": len(doc["downbeats"]),
        "n_drops": len(doc["drops"]),
        "has_genres": summary is not None,
        "genre_summary": [float(x) for x in summary] if summary is not None else [0.0] * len(doc["genres"]),
        "model_name": str(model.get("name", "")),
        "sections": sections(doc),
    }
