"""Label Studio exports + a folder of audio -> a training manifest and an import report.

Tasks are read by :mod:`.labelstudio_export`, labelled by the rules of
:mod:`.labelstudio_labels` and matched to local audio files by :mod:`.audio_match`.
Several tasks for the same audio file (duplicates) are averaged into one manifest
row; the report lists every task that was left out and why.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...core.atomic import write_json_atomic
from ...core.errors import InputFileError, MainstageError
from ...core.genres import GENRES
from .audio_match import MATCH_RULES, AudioIndex, index_audio
from .labelstudio_export import read_export, task_file_name
from .labelstudio_labels import task_label, unlabelled_reason
from .manifest import relative_path, write_manifest
from .names import artist_from_filename, loose_key, name_order, split_extension

#: Labels of duplicate tasks that differ by at most this agree.
AGREEMENT_TOLERANCE = 1e-6
_IDENT = ("export", "task", "name")


def _label_dict(label: np.ndarray) -> dict[str, float]:
    return {g: round(float(w), 6) for g, w in zip(GENRES, label) if w > 0}


def _new_report(loaded, audio_root: Path, manifest: Path, n_files: int) -> dict:
    counts = {"exports": len(loaded), "tasks": 0, "labelled": 0, "unlabelled": 0, "matched": 0, "unmatched": 0,
              "ambiguous": 0, "rows": 0, "audio_files": n_files, "audio_without_task": 0, "renormalised": 0,
              "duplicates": 0, "multi_annotated": 0, "cancelled_annotations": 0}
    return {"exports": [str(p) for p, _ in loaded], "audio_dir": str(audio_root), "manifest": str(manifest),
            "genres": list(GENRES), "counts": counts, "match_rules": {r: 0 for r in MATCH_RULES}, "matched": [],
            "unmatched": [], "audio_without_task": [], "unlabelled": [], "renormalised": [], "duplicates": [],
            "multi_annotated": [], "unknown_labels": {}}


def _match_tasks(loaded, index: AudioIndex, base: Path, rep: dict):
    """Label and match every task, filling the report.

    Returns ``(groups, claimed, unmatched_names)``: the labelled tasks per matched audio
    file, the files of unlabelled tasks, and the unmatched labelled tasks per loose name.
    """
    counts = rep["counts"]
    groups: dict[Path, list[dict]] = {}
    claimed: set[Path] = set()
    unmatched_names: dict[str, list[dict]] = {}
    for src, tasks in loaded:
        for pos, task in enumerate(tasks):
            counts["tasks"] += 1
            uploaded, name = task_file_name(task)
            ident = {"export": str(src), "task": task.get("id", pos + 1), "name": name or uploaded}
            tl = task_label(task)
            counts["cancelled_annotations"] += tl.cancelled
            for u in tl.unknown:
                rep["unknown_labels"][u] = rep["unknown_labels"].get(u, 0) + 1
            names = [name] + ([uploaded] if uploaded != name else []) if name else []
            if tl.label is None:
                counts["unlabelled"] += 1
                entry = {**ident, "reason": unlabelled_reason(tl, task)}
                path = index.match(names)[0] if names else None
                if path is not None:  # its audio is there: not an "audio file without a task"
                    claimed.add(path)
                    entry["audio"] = relative_path(path, base)
                rep["unlabelled"].append(entry)
                continue
            counts["labelled"] += 1
            if tl.renormalised:
                counts["renormalised"] += 1
                rep["renormalised"].append({**ident, "sums": [round(s, 6) for s in tl.renormalised]})
            if tl.used > 1:
                counts["multi_annotated"] += 1
                rep["multi_annotated"].append({**ident, "annotations": tl.used, "ground_truth": tl.ground_truth})
            if name is None:
                counts["unmatched"] += 1
                rep["unmatched"].append({**ident, "reason": "the task names no audio file"})
                continue
            path, rule, candidates = index.match(names)
            if path is None:
                counts["unmatched"] += 1
                entry = {**ident, "reason": "no audio file with this name"}
                if candidates:
                    counts["ambiguous"] += 1
                    entry["reason"] = "ambiguous: several audio files match"
                    entry["candidates"] = [relative_path(c, base) for c in candidates]
                rep["unmatched"].append(entry)
                unmatched_names.setdefault(loose_key(split_extension(name)[0]), []).append({**ident, "label": tl.label})
                continue
            counts["matched"] += 1
            rep["match_rules"][rule] += 1
            groups.setdefault(path, []).append({**ident, "rule": rule, "label": tl.label})
    return groups, claimed, unmatched_names


def _duplicate(audio: str | None, members: list[dict]) -> dict:
    """Report entry of several tasks naming one file: do their labels agree?"""
    labels = np.array([m["label"] for m in members])
    diff = float(np.max(np.abs(labels - labels[0])))
    return {"audio": audio, "tasks": [{k: m[k] for k in _IDENT} for m in members],
            "labels_agree": diff <= AGREEMENT_TOLERANCE, "max_difference": round(diff, 6)}


def _manifest_rows(groups: dict[Path, list[dict]], unmatched_names: dict[str, list[dict]], base: Path,
                   rep: dict) -> list[tuple[str, np.ndarray]]:
    """One ``(path, label)`` row per matched file (its tasks' labels averaged); fills the report."""
    order = name_order(p.name for p in groups)
    rep["name_order"] = order
    rows: list[tuple[str, np.ndarray]] = []
    for path in sorted(groups, key=lambda p: relative_path(p, base)):
        members = groups[path]
        rel = relative_path(path, base)
        label = np.array([m["label"] for m in members]).mean(axis=0)
        label = label / label.sum()
        rows.append((rel, label))
        if len(members) > 1:
            rep["duplicates"].append({**_duplicate(rel, members), "label": _label_dict(label)})
        for m in members:
            rep["matched"].append({k: m[k] for k in _IDENT} | {
                "audio": rel, "rule": m["rule"], "artist": artist_from_filename(path.name, order),
                "label": _label_dict(m["label"])})
    for members in unmatched_names.values():
        if len(members) > 1:
            rep["duplicates"].append(_duplicate(None, members))
    return rows


def import_labelstudio(exports, audio_dir: str | os.PathLike, manifest: str | os.PathLike, *,
                       report: str | os.PathLike | None = None) -> dict:
    """Turn Label Studio exports and a folder of audio into a training manifest.

    Parameters
    ----------
    exports : path or list of paths
        Label Studio JSON exports (tasks of several exports are combined).
    audio_dir : path
        Folder searched recursively for the audio files.
    manifest : path
        Manifest CSV to write (atomically); paths in it are relative to its folder.
    report : path, optional
        Also write the full report as JSON (atomically).

    Returns
    -------
    dict
        The report: ``counts`` and the lists ``matched``, ``unmatched``,
        ``audio_without_task`` (files no task names, labelled or not), ``unlabelled``
        (with the audio file when one matches), ``renormalised``, ``duplicates``,
        ``multi_annotated``, ``unknown_labels``.

    Raises
    ------
    InputFileError
        An unreadable or invalid export, a missing audio folder, or no task that is
        both labelled and matched to an audio file (the report is still written).
    """
    export_paths = [Path(exports)] if isinstance(exports, (str, os.PathLike)) else [Path(e) for e in exports]
    if not export_paths:
        raise MainstageError("no Label Studio export given")
    for out_path in (manifest, report):
        if out_path is not None and Path(out_path).is_dir():
            raise InputFileError(str(out_path), "is a folder; give a file name to write")
    loaded = [(p, read_export(p)) for p in export_paths]
    audio_root = Path(audio_dir)
    files = index_audio(audio_root)
    manifest = Path(manifest)
    base = manifest.parent
    rep = _new_report(loaded, audio_root, manifest, len(files))
    counts = rep["counts"]
    groups, claimed, unmatched_names = _match_tasks(loaded, AudioIndex(files), base, rep)
    rows = _manifest_rows(groups, unmatched_names, base, rep)
    counts["duplicates"] = len(rep["duplicates"])
    rep["audio_without_task"] = [relative_path(f, base) for f in files if f not in groups and f not in claimed]
    counts["audio_without_task"] = len(rep["audio_without_task"])
    counts["rows"] = len(rows)
    # Readers refuse manifest paths outside the manifest's folder unless told otherwise.
    rep["outside_manifest_folder"] = not audio_root.resolve().is_relative_to(base.resolve())
    if report is not None:
        try:
            write_json_atomic(report, rep)
        except OSError as exc:
            raise InputFileError(str(report), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    if not rows:
        where = ", ".join(str(p) for p, _ in loaded)
        if counts["labelled"] == 0:
            raise InputFileError(where, f"none of {counts['tasks']} tasks has a usable annotation")
        raise InputFileError(str(audio_root), f"no audio file matches any of the {counts['labelled']} labelled "
                                              f"tasks of {where} ({len(files)} audio files searched)")
    write_manifest(manifest, rows)
    return rep


def summary_lines(rep: dict, limit: int = 5) -> list[str]:
    """A concise human-readable summary of an import report."""
    c = rep["counts"]
    rules = ", ".join(f"{k} {v}" for k, v in rep["match_rules"].items() if v)
    lines = [
        f"read {c['tasks']} tasks from {c['exports']} export(s): {c['labelled']} labelled, "
        f"{c['unlabelled']} unlabelled ({c['cancelled_annotations']} cancelled annotations)",
        f"matched {c['matched']} of {c['labelled']} labelled tasks to {c['audio_files']} audio files"
        + (f" ({rules})" if rules else ""),
        f"wrote {rep['manifest']}: {c['rows']} tracks",
    ]

    def names(items, key="name"):
        shown = [str(x[key]) if isinstance(x, dict) else str(x) for x in items[:limit]]
        more = len(items) - len(shown)
        return ", ".join(shown) + (f", ... ({more} more)" if more > 0 else "")

    if c["unmatched"]:
        lines.append(f"unmatched: {c['unmatched']} labelled tasks have no audio file"
                     + (f" ({c['ambiguous']} ambiguous)" if c["ambiguous"] else "") + f": {names(rep['unmatched'])}")
    if c["audio_without_task"]:
        lines.append(f"audio without task: {c['audio_without_task']} files: {names(rep['audio_without_task'])}")
    if c["unlabelled"]:
        lines.append(f"unlabelled: {c['unlabelled']} tasks: {names(rep['unlabelled'])}")
    if c["renormalised"]:
        lines.append(f"renormalised: {c['renormalised']} labels did not sum to 1: {names(rep['renormalised'])}")
    if c["duplicates"]:
        dis = sum(1 for d in rep["duplicates"] if not d["labels_agree"])
        lines.append(f"duplicates: {c['duplicates']} audio files named by several tasks (labels averaged"
                     + (f"; {dis} disagree" if dis else "") + ")")
    if c["multi_annotated"]:
        lines.append(f"multi-annotated: {c['multi_annotated']} tasks (annotations averaged)")
    if rep["unknown_labels"]:
        lines.append("ignored labels: " + ", ".join(f"{k!r} x{v}" for k, v in sorted(rep["unknown_labels"].items())))
    if rep.get("outside_manifest_folder"):
        lines.append("note: the audio folder is outside the manifest's folder: pass --allow-outside-paths to "
                     "'dataset check', 'dataset prepare' and 'train' (or write the manifest above the audio)")
    return lines
