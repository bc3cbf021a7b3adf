"""The paper's Table 2 as one command: a grid of backbones x hard/soft labels x with/without chroma.

Each cell of the grid is one :func:`~.train.train` run in
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
"""
from __future__ import annotations

import dataclasses
import os
import time
import traceback
from pathlib import Path

from ...core.atomic import atomic_open, write_json_atomic
from ...core import jsonfile
from ..run.config import TrainConfig
from .cells import CHROMA, LABELS, Cell, GridError, cells_for, for_model
from .report import cell_results, read_json, write_confusion_pngs, write_report
from ..models import PAPER_BACKBONES
from ..features.prepare import default_cache_dir
from ..datasets.subset import subset_manifest
from ..run.train import train


def cell_config(cell: Cell, data: str, out: str | os.PathLike, options: dict):
    """The :class:`~.config.TrainConfig` of one cell.

    ``options`` holds TrainConfig fields shared by all cells; ``epochs``, ``batch_size``
    and ``lr`` may be per-model dicts. ``width`` goes to the default model,
    ``checkpoint_backbone`` to patch models, ``weights_dir`` (``<backbone>.pth`` files)
    supplies local ImageNet weights. ``splits_file`` defaults to ``OUT/splits.json``.
    """
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    kw = {k: v for k, v in options.items() if k in fields and k not in ("model_kwargs",)}
    for key in ("epochs", "batch_size", "lr"):
        if key in kw:
            kw[key] = for_model(kw[key], cell.model)
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
    kw.setdefault("splits_file", str(Path(out) / "splits.json"))
    return TrainConfig(**kw)


def cell_state(cell_dir: Path) -> str:
    """``done`` (test_metrics.json readable), ``resume`` (last.pt only) or ``new``."""
    tm = cell_dir / "test_metrics.json"
    if tm.is_file():
        try:
            jsonfile.loads(tm.read_text(encoding="utf-8"))
            return "done"
        except (OSError, ValueError):
            pass
    return "resume" if (cell_dir / "last.pt").is_file() else "new"


def run_cell(cell: Cell, config, log=print) -> dict:
    """Train one cell (resuming when ``last.pt`` exists); never raises for a failed run.

    Returns ``{"cell", "status": done|skipped|failed, "seconds", "error"}`` and keeps
    ``OUT/<cell>/grid_cell.json`` (status, seconds over all attempts).
    """
    cell_dir = Path(config.out)
    info_path = cell_dir / "grid_cell.json"
    state = cell_state(cell_dir)
    previous = read_json(info_path)
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
        manifest = str(subset_manifest(data, out / "manifest.csv", tracks_per_genre,
                                       split=tuple(options.get("split", (0.8, 0.1, 0.1))),
                                       seed=int(options.get("seed", 0))))
        # Cache entries are keyed by file content: the full manifest's cache serves the subset.
        options.setdefault("cache_dir", str(default_cache_dir(data)))
        options["allow_outside_paths"] = True  # the subset we wrote names the full manifest's files by absolute path
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
