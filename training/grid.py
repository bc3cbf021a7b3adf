"""The paper's Table 2 as one command: a grid of backbones x hard/soft labels x with/without chroma.

Each cell of the grid is one :func:`mainstage.training.train.train` run in
``OUT/<model>-<hard|soft>-<chroma|nochroma>/``. All cells share one prepared-feature
cache (the manifest's ``.mainstage-cache`` unless ``cache_dir`` is given; with a
training subset, still the full manifest's cache) and one stored track-level split
(``OUT/splits.json``), so every cell trains, selects and tests on the same tracks.

The grid is resumable and robust:

- a cell whose ``test_metrics.json`` exists is finished and skipped;
- a cell with ``last.pt`` but no ``test_metrics.json`` resumes from it;
- a failing cell is reported (``OUT/<cell>/error.log``) and the grid goes on; the
  result lists it as failed.

Results: ``OUT/table2.md`` (Markdown tables laid out as the paper's Table 2: rows =
architectures, columns = weighted precision / recall / F1 x with/without chroma x
hard/soft labels, at clip level and at track level, then every metric per cell and a
separate table for the default model), ``OUT/grid.json`` (all numbers) and
``OUT/<cell>/confusion_clip.png`` / ``confusion_track.png``.

Metrics are read from each cell's ``test_metrics.json`` and, when the trainer wrote
it, recomputed from ``test_predictions.npz`` (arrays ``probs``, ``labels``, ``track``,
``in_drop``): track level is then the mean prediction over each track's drop clips.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import os
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_open, write_json_atomic
from ..core.errors import MainstageError
from ..core.genres import GENRES
from .models import ARCHITECTURES, PAPER_BACKBONES

LABELS = ("hard", "soft")
CHROMA = (False, True)
#: Metric keys of the paper's Table 2 (weighted averages over the 8 genres).
PAPER_METRICS = (("precision_weighted", "Precision"), ("recall_weighted", "Recall"), ("f1_weighted", "F1"))
#: Every metric of the per-cell tables: (key, column title).
ALL_METRICS = (("accuracy", "Acc"), ("precision_weighted", "P (w)"), ("recall_weighted", "R (w)"),
               ("f1_weighted", "F1 (w)"), ("precision_macro", "P (macro)"), ("recall_macro", "R (macro)"),
               ("f1_macro", "F1 (macro)"), ("top2", "Top-2"), ("kl", "KL"), ("ece", "ECE"))
SPLITS = ("train", "val", "test")


class GridError(MainstageError, ValueError):
    """Bad grid options (unknown model, label mode, ...)."""


@dataclass(frozen=True)
class Cell:
    """One grid cell: a model, a label mode and a chroma setting."""

    model: str
    labels: str
    chroma: bool

    @property
    def name(self) -> str:
        return f"{self.model}-{self.labels}-{'chroma' if self.chroma else 'nochroma'}"


# --- option parsing --------------------------------------------------------------------

def _items(spec: str, what: str) -> list[str]:
    items = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not items:
        raise GridError(f"--{what}: empty list")
    return items


def parse_models(spec: str) -> list[str]:
    """``"paper"`` (the paper's four backbones), ``"default"`` or names, comma separated, in order."""
    out: list[str] = []
    for item in _items(spec, "models"):
        names = PAPER_BACKBONES if item == "paper" else (item,)
        for n in names:
            if n not in ARCHITECTURES:
                raise GridError(f"--models: unknown model {n!r}; expected paper or any of {', '.join(ARCHITECTURES)}")
            if n not in out:
                out.append(n)
    return out


def parse_labels(spec: str) -> list[str]:
    out = []
    for item in _items(spec, "labels"):
        if item not in LABELS:
            raise GridError(f"--labels: {item!r} is not hard or soft")
        if item not in out:
            out.append(item)
    return out


def parse_chroma(spec: str) -> list[bool]:
    words = {"no": False, "yes": True, "nochroma": False, "chroma": True, "w/o": False, "w": True}
    out = []
    for item in _items(spec, "chroma"):
        if item.lower() not in words:
            raise GridError(f"--chroma: {item!r} is not yes or no")
        if words[item.lower()] not in out:
            out.append(words[item.lower()])
    return out


def parse_per_model(spec, what: str, kind=int) -> int | float | dict | None:
    """``"3"`` -> 3 (every model); ``"resnet18:2,default:14"`` -> per-model dict (others: their default)."""
    if spec is None or isinstance(spec, (int, float, dict)):
        return spec
    text = str(spec).strip()
    try:
        if ":" not in text and "=" not in text:
            return kind(text)
        out = {}
        for item in _items(text, what):
            name, _, value = item.replace("=", ":").partition(":")
            if name.strip() not in ARCHITECTURES:
                raise GridError(f"--{what}: unknown model {name.strip()!r}")
            out[name.strip()] = kind(value)
        return out
    except ValueError:
        raise GridError(f"--{what}: {text!r} is neither a number nor MODEL:NUMBER,...") from None


def parse_tracks_per_genre(spec) -> dict[str, int]:
    """``"train=8,val=3"`` -> ``{"train": 8, "val": 3}`` (splits not named keep all tracks)."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        return dict(spec)
    out = {}
    for item in _items(spec, "tracks-per-genre"):
        split, _, value = item.partition("=")
        if split not in SPLITS or not value.strip().isdigit() or int(value) < 1:
            raise GridError(f"--tracks-per-genre: {item!r} is not SPLIT=N with SPLIT train/val/test and N >= 1")
        out[split] = int(value)
    return out


def cells_for(models, labels, chroma) -> list[Cell]:
    """All cells in table order: model, then chroma (with before without, as the paper), then labels."""
    return [Cell(m, lab, ch) for m in models for ch in sorted(chroma, reverse=True) for lab in labels]


def _per_model(value, model: str):
    return value.get(model) if isinstance(value, dict) else value


# --- data ------------------------------------------------------------------------------

def subset_manifest(manifest: str | os.PathLike, out_path: str | os.PathLike, per_genre: dict[str, int], *,
                    split: tuple = (0.8, 0.1, 0.1), seed: int = 0) -> Path:
    """Write a manifest with at most ``per_genre[split]`` tracks per dominant genre in each split.

    The track-level split of the full manifest is kept (its ``split`` column, or
    :func:`mainstage.training.splits.split_tracks` with ``split`` and ``seed`` where there
    is none) and written out explicitly, so every cell trains and tests on the same
    tracks; the tracks kept in a (split, genre) group are drawn with ``seed``. Paths
    are written absolute, so feature-cache entries of the full manifest stay valid.
    """
    from . import data as D
    from .splits import split_tracks

    rows = D.read_manifest(manifest)
    splits = split_tracks(rows, split, seed=seed)
    rng = np.random.default_rng(seed)
    keep: list[tuple[int, str]] = []
    for name in SPLITS:
        idx = splits[name]
        limit = per_genre.get(name)
        if limit is None:
            keep += [(i, name) for i in idx]
            continue
        groups: dict[int, list[int]] = {}
        for i in idx:
            groups.setdefault(int(np.argmax(rows[i].label)), []).append(i)
        for g in sorted(groups):
            members = list(groups[g])
            pick = rng.permutation(len(members))[:limit]
            keep += [(members[k], name) for k in sorted(pick)]
    keep.sort()
    header = ["path", *GENRES, "split", "truth"]
    with atomic_open(out_path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i, name in keep:
            r = rows[i]
            w.writerow([str(Path(r.path).resolve()), *[f"{v:.6g}" for v in r.label], name,
                        str(Path(r.truth).resolve()) if r.truth else ""])
    return Path(out_path)


# --- running cells ---------------------------------------------------------------------

def cell_config(cell: Cell, data: str, out: str | os.PathLike, options: dict):
    """The :class:`~mainstage.training.train.TrainConfig` of one cell.

    ``options`` holds TrainConfig fields shared by all cells; ``epochs``, ``batch_size``
    and ``lr`` may be per-model dicts. ``width`` goes to the default model,
    ``checkpoint_backbone`` to patch models, ``weights_dir`` (``<backbone>.pth`` files)
    supplies local ImageNet weights. ``splits_file`` defaults to ``OUT/splits.json``.
    """
    from .train import TrainConfig

    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    kw = {k: v for k, v in options.items() if k in fields and k not in ("model_kwargs",)}
    for key in ("epochs", "batch_size", "lr"):
        if key in kw:
            kw[key] = _per_model(kw[key], cell.model)
    model_kwargs = {}
    if cell.model == "default":
        if options.get("width"):
            model_kwargs["width"] = int(options["width"])
    else:
        if options.get("checkpoint_backbone"):
            model_kwargs["checkpoint_backbone"] = int(options["checkpoint_backbone"])
        wdir = options.get("weights_dir")
        if wdir and (Path(wdir) / f"{cell.model}.pth").is_file():
            kw["weights_path"] = str(Path(wdir) / f"{cell.model}.pth")
    cell_dir = Path(out) / cell.name
    kw.update(data=str(data), out=str(cell_dir), model=cell.model, labels=cell.labels, chroma=cell.chroma,
              model_kwargs=model_kwargs)
    if "splits_file" in fields:
        kw.setdefault("splits_file", str(Path(out) / "splits.json"))
    return TrainConfig(**kw)


def cell_state(cell_dir: Path) -> str:
    """``done`` (test_metrics.json readable), ``resume`` (last.pt only) or ``new``."""
    tm = cell_dir / "test_metrics.json"
    if tm.is_file():
        try:
            json.loads(tm.read_text(encoding="utf-8"))
            return "done"
        except (OSError, ValueError):
            pass
    return "resume" if (cell_dir / "last.pt").is_file() else "new"


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def run_cell(cell: Cell, config, log=print) -> dict:
    """Train one cell (resuming when ``last.pt`` exists); never raises for a failed run.

    Returns ``{"cell", "status": done|skipped|failed, "seconds", "error"}`` and keeps
    ``OUT/<cell>/grid_cell.json`` (status, seconds over all attempts).
    """
    from .train import train

    cell_dir = Path(config.out)
    info_path = cell_dir / "grid_cell.json"
    state = cell_state(cell_dir)
    previous = _read_json(info_path)
    if state == "done":
        log(f"[{cell.name}] finished earlier: skipped")
        return {"cell": cell.name, "status": "skipped", "seconds": previous.get("seconds"), "error": None}
    if state == "resume":
        config = dataclasses.replace(config, resume=str(cell_dir / "last.pt"))
        log(f"[{cell.name}] resuming from {cell_dir / 'last.pt'}")
    else:
        log(f"[{cell.name}] training")
    cell_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    status, error = "done", None
    try:
        train(config, log=lambda msg: log(f"[{cell.name}] {msg}"))
        (cell_dir / "error.log").unlink(missing_ok=True)
    except Exception as exc:  # one failing cell must not stop the grid
        status = "failed"
        error = f"{exc.__class__.__name__}: {exc}".splitlines()[0] if str(exc) else exc.__class__.__name__
        with atomic_open(cell_dir / "error.log", "w", encoding="utf-8") as fh:
            fh.write(traceback.format_exc())
        log(f"[{cell.name}] FAILED: {error} (traceback in {cell_dir / 'error.log'})")
    seconds = time.perf_counter() - t0
    total = float(previous.get("seconds") or 0.0) + seconds
    write_json_atomic(info_path, {"cell": cell.name, "status": status, "seconds": round(total, 1),
                                  "attempts": int(previous.get("attempts") or 0) + 1, "error": error,
                                  "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    if status == "done":
        log(f"[{cell.name}] done in {seconds:.0f} s")
    return {"cell": cell.name, "status": status, "seconds": round(total, 1), "error": error}


def _run_cell_in_worker(cell: Cell, config, devices) -> dict:
    """Process-pool entry: take a device token, train, give the token back."""
    device = devices.get() if devices is not None else None
    try:
        if device is not None:
            config = dataclasses.replace(config, device=device)
        return run_cell(cell, config, log=lambda m: print(m, flush=True))
    finally:
        if device is not None:
            devices.put(device)


# --- results ---------------------------------------------------------------------------

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
    from .metrics import genre_metrics, track_metrics

    tm = _read_json(cell_dir / "test_metrics.json")
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
    from .metrics import write_confusion_png

    for name, r in results.items():
        for level in ("clip", "track"):
            cm = (r.get(level) or {}).get("confusion")
            if cm is not None:
                m = r[level]
                write_confusion_png(out / name / f"confusion_{level}.png", cm,
                                    f"{name}, test, {level} level: accuracy {m.get('accuracy', 0):.3f}, "
                                    f"weighted F1 {m.get('f1_weighted', 0):.3f}")


# --- the grid --------------------------------------------------------------------------

def run_grid(data: str, out: str | os.PathLike, *, models=None, labels=LABELS, chroma=CHROMA,
             options: dict | None = None, tracks_per_genre: dict | None = None, jobs: int = 1,
             devices=None, log=print) -> dict:
    """Train (or resume, or skip) every cell, then write the tables.

    Parameters
    ----------
    data : str
        Manifest CSV.
    out : path
        Grid folder.
    models : list of str, optional
        Default: the paper's four backbones and the default model.
    labels, chroma : sequences
        Label modes and chroma settings.
    options : dict
        TrainConfig fields shared by all cells (``epochs``/``batch_size``/``lr`` may be
        per-model dicts), plus ``width``, ``checkpoint_backbone`` and ``weights_dir``
        (see :func:`cell_config`).
    tracks_per_genre : dict, optional
        ``{"train": N, ...}``: train on a subset (see :func:`subset_manifest`); the cells
        then use the full manifest's feature cache unless ``options["cache_dir"]`` is set.
    jobs : int
        Cells trained at the same time (worker processes; 1 = in this process).
    devices : list of str, optional
        With ``jobs > 1``: devices handed out to the workers (e.g. one GPU per cell).

    Returns
    -------
    dict
        ``{"runs": {cell: run info}, "results": {cell: metrics}, "failed": [cells]}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = list(models) if models else [*PAPER_BACKBONES, "default"]
    options = dict(options or {})
    if not Path(data).is_file():
        raise GridError(f"{data}: no such manifest")
    manifest = str(data)
    if tracks_per_genre:
        from .prepare import default_cache_dir

        manifest = str(subset_manifest(data, out / "manifest.csv", tracks_per_genre,
                                       split=tuple(options.get("split", (0.8, 0.1, 0.1))),
                                       seed=int(options.get("seed", 0))))
        # Cache entries are keyed by file content: the full manifest's cache serves the subset.
        options.setdefault("cache_dir", str(default_cache_dir(data)))
        log(f"training subset {tracks_per_genre} per genre: {manifest}")
    cells = cells_for(models, labels, chroma)
    logfile = out / "grid.log"

    def logger(msg: str) -> None:
        log(msg)
        with open(logfile, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {msg}\n")

    configs = {c.name: cell_config(c, manifest, out, options) for c in cells}
    logger(f"grid: {len(cells)} cells ({', '.join(c.name for c in cells)}) in {out}")
    t0 = time.perf_counter()
    runs: dict[str, dict] = {}
    # Run cells without chroma first (cheaper features, first results sooner); tables keep the paper's order.
    order = sorted(cells, key=lambda c: c.chroma)
    if jobs <= 1:
        for c in order:
            runs[c.name] = run_cell(c, configs[c.name], log=logger)
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("spawn")
        manager = ctx.Manager() if devices else None
        queue = None
        if manager is not None:
            queue = manager.Queue()
            for k in range(jobs):
                queue.put(devices[k % len(devices)])
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = {c.name: pool.submit(_run_cell_in_worker, c, configs[c.name], queue) for c in order}
                for name, fut in futures.items():
                    try:
                        runs[name] = fut.result()
                    except Exception as exc:  # the worker process itself died
                        runs[name] = {"cell": name, "status": "failed", "seconds": None,
                                      "error": f"{exc.__class__.__name__}: {exc}".splitlines()[0]}
                    logger(f"[{name}] {runs[name]['status']}")
        finally:
            if manager is not None:
                manager.shutdown()
    results = {}
    for c in cells:
        r = cell_results(c, out / c.name)
        if r is not None:
            results[c.name] = r
    meta = {"data": str(data), "manifest": manifest, "tracks_per_genre": tracks_per_genre or None,
            "models": models, "labels": list(labels), "chroma": list(chroma),
            "options": {k: v for k, v in options.items()
                        if isinstance(v, (str, int, float, bool, dict, list, type(None)))},
            "seconds": round(time.perf_counter() - t0, 1)}
    write_confusion_pngs(out, results)
    write_report(out, cells, results, runs, meta)
    failed = [n for n, r in runs.items() if r["status"] == "failed"]
    logger(f"grid finished in {meta['seconds']:.0f} s: {sum(r['status'] != 'failed' for r in runs.values())} of "
           f"{len(cells)} cells ok" + (f"; failed: {', '.join(failed)}" if failed else "")
           + f"; tables in {out / 'table2.md'}")
    return {"runs": runs, "results": results, "failed": failed}


__all__ = ["Cell", "GridError", "cell_config", "cell_results", "cells_for", "parse_chroma", "parse_labels",
           "parse_models", "parse_per_model", "parse_tracks_per_genre", "run_cell", "run_grid", "subset_manifest",
           "table2", "metrics_table", "write_report"]
