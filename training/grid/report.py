"""The grid's results: test metrics of each cell, Table 2 and per-cell tables, confusion-matrix PNGs.

Metrics are read from each cell's ``test_metrics.json`` and, when the trainer wrote
it, recomputed from ``test_predictions.npz`` (arrays ``probs``, ``labels``, ``track``,
``in_drop``): track level is then the mean prediction over each track's drop clips.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.atomic import atomic_open, write_json_atomic
from ...core import jsonfile
from .cells import LABELS, Cell
from ..evaluation.metrics import genre_metrics, track_metrics, write_confusion_png

#: Metric keys of the paper's Table 2 (weighted averages over the 8 genres).
PAPER_METRICS = (("precision_weighted", "Precision"), ("recall_weighted", "Recall"), ("f1_weighted", "F1"))
#: Every metric of the per-cell tables: (key, column title).
ALL_METRICS = (("accuracy", "Acc"), ("precision_weighted", "P (w)"), ("recall_weighted", "R (w)"),
               ("f1_weighted", "F1 (w)"), ("precision_macro", "P (macro)"), ("recall_macro", "R (macro)"),
               ("f1_macro", "F1 (macro)"), ("top2", "Top-2"), ("kl", "KL"), ("ece", "ECE"))


def read_json(path: Path) -> dict:
    """A JSON file's content, or ``{}`` when it is missing or unreadable."""
    try:
        return jsonfile.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _load_predictions(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in ("probs", "labels", "track", "in_drop") if k in z.files}
    except (OSError, ValueError):
        return None


def cell_results(cell: Cell, cell_dir: Path) -> dict | None:
    """Test metrics of a finished cell, clip and track level (None when not finished).

    From ``test_predictions.npz`` when present (track level = mean over each track's
    drop clips, all its clips when it has none in a drop), else from ``test_metrics.json``.
    """
    tm = read_json(cell_dir / "test_metrics.json")
    if not tm:
        return None
    test = tm.get("test", {}) or {}
    out = {"cell": cell.name, "model": cell.model, "labels": cell.labels, "chroma": cell.chroma,
           "best_epoch": tm.get("best_epoch"), "temperature": tm.get("temperature"), "data": tm.get("data")}
    pred = _load_predictions(cell_dir / "test_predictions.npz")
    if pred is not None and {"probs", "labels", "track"} <= set(pred) and len(pred["probs"]):
        probs, labels, track = pred["probs"], pred["labels"], pred["track"]
        in_drop = pred.get("in_drop")
        w = None
        if in_drop is not None and len(in_drop) == len(probs):
            d = np.asarray(in_drop, bool)
            has_drop = {t for t in np.unique(track[d])}
            # Drop clips only; a track without drop clips keeps all of its clips.
            w = np.where(d | ~np.isin(track, list(has_drop)), 1.0, 0.0)
        out["clip"] = genre_metrics(labels, probs)
        out["track"] = track_metrics(probs, labels, track, w)
        out["source"] = "test_predictions.npz"
    else:
        out["clip"] = {k: v for k, v in test.items() if k != "track"}
        out["track"] = test.get("track", {}) or {}
        out["source"] = "test_metrics.json"
    return out


def _fmt(v, digits: int = 3) -> str:
    return "–" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.{digits}f}"


def _row_name(model: str) -> str:
    return "default (FastGenreNet)" if model == "default" else f"ours ({model})"


def table2(results: dict[str, dict], models, level: str, labels=LABELS, chroma=(True, False)) -> str:
    """One table laid out as the paper's Table 2.

    Rows: architectures; columns: Precision, Recall, F1 (weighted), each for with/without
    chroma, each for hard/soft labels. The paper's two header rows ("chroma info",
    "label setup") are the first two rows of the Markdown table.
    """
    chroma = [c for c in (True, False) if c in chroma]
    labels = [lab for lab in LABELS if lab in labels]
    n = len(PAPER_METRICS) * len(chroma) * len(labels)
    head = ["Architecture"]
    for _, title in PAPER_METRICS:
        head += [title] + [""] * (len(chroma) * len(labels) - 1)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * (n + 1)]
    lines.append("| chroma info | " + " | ".join(("w" if c else "w/o") for _ in PAPER_METRICS for c in chroma
                                                  for _ in labels) + " |")
    lines.append("| label setup | " + " | ".join(lab for _ in PAPER_METRICS for _ in chroma for lab in labels) + " |")
    for m in models:
        cells = []
        for key, _ in PAPER_METRICS:
            for c in chroma:
                for lab in labels:
                    r = results.get(Cell(m, lab, c).name)
                    cells.append(_fmt((r or {}).get(level, {}).get(key)))
        lines.append(f"| {_row_name(m)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def metrics_table(results: dict[str, dict], cells, level: str) -> str:
    """Every metric of every cell at one level (rows: backbone x chroma x labels)."""
    head = ["Architecture", "chroma", "labels", *[t for _, t in ALL_METRICS], "n"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell in cells:
        r = results.get(cell.name)
        m = (r or {}).get(level, {})
        vals = [_fmt(m.get(k)) for k, _ in ALL_METRICS]
        lines.append(f"| {_row_name(cell.model)} | {'w' if cell.chroma else 'w/o'} | {cell.labels} | "
                     + " | ".join(vals) + f" | {m.get('n', '–') if r else '–'} |")
    return "\n".join(lines)


def write_report(out: Path, cells, results: dict[str, dict], runs: dict[str, dict], meta: dict) -> str:
    """Write ``table2.md`` and ``grid.json``; returns the Markdown text."""
    models = list(dict.fromkeys(c.model for c in cells))
    labels = list(dict.fromkeys(c.labels for c in cells))
    chroma = list(dict.fromkeys(c.chroma for c in cells))
    paper = [m for m in models if m != "default"]
    default_cells = [c for c in cells if c.model == "default"]
    other_cells = [c for c in cells if c.model != "default"]
    parts = ["# Genre-model grid (the paper's Table 2 layout)", "",
             f"Data: `{meta.get('data')}`. Test split only (tracks never seen in training or model selection); "
             "precision / recall / F1 are weighted averages over the 8 genres of the argmax prediction against "
             "the sharpened label, as in the paper. Track level: each track's mean predicted distribution over "
             "its drop clips. Extra columns: macro averages over the genres present, top-2 accuracy, "
             "mean KL(label || prediction) in nats, expected calibration error (top label, 15 bins).", ""]
    for level, title in (("clip", "Clip level"), ("track", "Track level")):
        if paper:
            parts += [f"## {title}: Table 2 (weighted precision / recall / F1)", "",
                      table2(results, paper, level, labels, chroma), ""]
            parts += [f"## {title}: all metrics", "", metrics_table(results, other_cells, level), ""]
    if default_cells:
        parts += ["## Default model (FastGenreNet)", ""]
        for level, title in (("clip", "Clip level"), ("track", "Track level")):
            parts += [f"### {title}", "", table2(results, ["default"], level, labels, chroma), "",
                      metrics_table(results, default_cells, level), ""]
    parts += ["## Cells", "", "| cell | status | best epoch | test clips | test tracks | run time (s) | metrics from |",
              "|---|---|---|---|---|---|---|"]
    for c in cells:
        r, run = results.get(c.name) or {}, runs.get(c.name) or {}
        be = r.get("best_epoch")
        seconds = run.get("seconds")
        parts.append(f"| {c.name} | {run.get('status', 'not run')}"
                     + (f" ({run['error']})" if run.get("error") else "")
                     + f" | {'–' if be is None else be + 1} | {r.get('clip', {}).get('n', '–')} | "
                       f"{r.get('track', {}).get('n', '–')} | {'–' if seconds is None else seconds}"
                       f" | {r.get('source', '–')} |")
    text = "\n".join(parts).rstrip() + "\n"
    with atomic_open(out / "table2.md", "w", encoding="utf-8") as fh:
        fh.write(text)
    write_json_atomic(out / "grid.json", {
        **meta,
        "cells": [{"cell": c.name, "model": c.model, "labels": c.labels, "chroma": c.chroma,
                   "run": runs.get(c.name), "results": results.get(c.name)} for c in cells],
        "failed": [name for name, r in runs.items() if r.get("status") == "failed"],
    })
    return text


def write_confusion_pngs(out: Path, results: dict[str, dict]) -> None:
    """``OUT/<cell>/confusion_clip.png`` and ``confusion_track.png`` for every finished cell."""
    for name, r in results.items():
        for level in ("clip", "track"):
            cm = (r.get(level) or {}).get("confusion")
            if cm is not None:
                m = r[level]
                write_confusion_png(out / name / f"confusion_{level}.png", cm,
                                    f"{name}, test, {level} level: accuracy {m.get('accuracy', 0):.3f}, "
                                    f"weighted F1 {m.get('f1_weighted', 0):.3f}")
