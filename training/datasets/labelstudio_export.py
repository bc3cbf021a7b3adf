"""Label Studio JSON exports: reading and checking them, and the audio file each task names.

The paper's labels come as Label Studio JSON exports (``label-studio-*.json`` in the
shared reference data): a list of tasks, one per uploaded track::

    {"id": 155,
     "data": {"audio": "/data/upload/10/c79030f3-Agents_Of_Time_-_The_Mirage.ogg"},
     "file_upload": "c79030f3-Agents_Of_Time_-_The_Mirage.ogg",
     "annotations": [{"was_cancelled": false, "ground_truth": false,
                      "result": [{"from_name": "Techno", "type": "number",
                                  "value": {"number": 0.75}}, ...]}],
     ...}

Exports are read as data (``json`` only, every field labels depend on checked).
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from ...core.errors import InputFileError
from ...core import jsonfile
from .names import split_extension, strip_upload_prefix

#: Largest export file read (bytes); real exports of 1000 tracks are a few MB.
MAX_EXPORT_BYTES = 512 * 1024 * 1024


class ExportError(InputFileError):
    """An export file cannot be read or is not a Label Studio JSON export."""


def task_audio_reference(task: dict) -> str | None:
    """The audio reference of a task (``data.audio``, else the one audio-like string in ``data``)."""
    data = task.get("data")
    if not isinstance(data, dict):
        return None
    value = data.get("audio")
    if isinstance(value, str) and value.strip():
        return value.strip()
    candidates = [v for v in data.values() if isinstance(v, str) and split_extension(_reference_basename(v))[1]]
    return candidates[0].strip() if len(candidates) == 1 else None


def _reference_basename(ref: str) -> str:
    """File name of an audio reference: an upload path, a URL, or ``/data/local-files/?d=path``."""
    parsed = urlparse(ref)
    query = parse_qs(parsed.query)
    if "d" in query and query["d"]:  # Label Studio local-files storage
        path = query["d"][0]
    else:
        path = parsed.path if parsed.scheme or parsed.netloc or parsed.query else ref
    return unquote(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def task_file_name(task: dict) -> tuple[str | None, str | None]:
    """``(uploaded name, name without the upload prefix)`` of a task, or ``(None, None)``."""
    ref = task_audio_reference(task)
    if ref is None:
        upload = task.get("file_upload")
        if not isinstance(upload, str) or not upload.strip():
            return None, None
        ref = upload
    base = _reference_basename(ref)
    if not base:
        return None, None
    return base, strip_upload_prefix(base)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_export(path: str | os.PathLike) -> list[dict]:
    """Read and check a Label Studio JSON export (a list of tasks).

    Only the structure that labels depend on is checked: every task is an object with a
    ``data`` object, and ``annotations`` (or the pre-1.0 ``completions``), when
    present, is a list of objects whose ``result`` is a list of objects.

    Raises
    ------
    ExportError
        ``"<file>: <problem>"``: missing or unreadable file, invalid JSON (NaN and
        Infinity included), or a structure that is not a Label Studio JSON export.
    """
    p = Path(path)
    src = str(p)
    if not p.exists():
        raise ExportError(src, "no such file")
    if not p.is_file():
        raise ExportError(src, "not a file")
    try:
        size = p.stat().st_size
        if size > MAX_EXPORT_BYTES:
            raise ExportError(src, f"{size / 1e6:.0f} MB is too large for a Label Studio export")
        raw = p.read_bytes()
    except OSError as exc:
        raise ExportError(src, f"cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if not raw.strip():
        raise ExportError(src, "empty file, not a Label Studio JSON export")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportError(src, "not UTF-8 text, not a Label Studio JSON export") from None
    try:
        tasks = jsonfile.loads(text, strict=False)  # depth-limited, no NaN (another program's file)
    except json.JSONDecodeError as exc:
        raise ExportError(src, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise ExportError(src, f"invalid JSON: {str(exc)[:120] or exc.__class__.__name__}") from None
    if isinstance(tasks, dict) and ("data" in tasks and ("annotations" in tasks or "completions" in tasks)):
        tasks = [tasks]  # a single task exported on its own
    if not isinstance(tasks, list):
        raise ExportError(src, f"not a Label Studio JSON export (expected a list of tasks, got a JSON "
                               f"{_json_type(tasks)})")
    if not tasks:
        raise ExportError(src, "the export holds no tasks")
    for i, task in enumerate(tasks):
        where = f"task {i + 1}" + (f" (id {task.get('id')})" if isinstance(task, dict) and "id" in task else "")
        if not isinstance(task, dict):
            raise ExportError(src, f"not a Label Studio JSON export ({where} is a JSON {_json_type(task)}, "
                                   "not an object)")
        if not isinstance(task.get("data"), dict):
            hint = " (a JSON-MIN or CSV-style export? export as 'JSON')" if "data" not in task else ""
            raise ExportError(src, f"not a Label Studio JSON export ({where} has no 'data' object){hint}")
        key = "annotations" if "annotations" in task else ("completions" if "completions" in task else None)
        if key is None:
            continue
        anns = task[key]
        if anns is None:
            continue
        if not isinstance(anns, list):
            raise ExportError(src, f"{where}: '{key}' is a JSON {_json_type(anns)}, not a list")
        for j, ann in enumerate(anns):
            if not isinstance(ann, dict):
                raise ExportError(src, f"{where}: annotation {j + 1} is a JSON {_json_type(ann)}, not an object")
            result = ann.get("result", [])
            if result is None:
                continue
            if not isinstance(result, list):
                raise ExportError(src, f"{where}: annotation {j + 1}: 'result' is a JSON {_json_type(result)}, "
                                       "not a list")
            for k, r in enumerate(result):
                if not isinstance(r, dict):
                    raise ExportError(src, f"{where}: annotation {j + 1}: result {k + 1} is a JSON "
                                           f"{_json_type(r)}, not an object")
    if not any(task_file_name(t)[0] for t in tasks):
        raise ExportError(src, "not a Label Studio audio export (no task names an audio file in 'data')")
    return tasks


def _json_type(x) -> str:
    if isinstance(x, bool):
        return "boolean"
    if x is None:
        return "null"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(type(x), "value")
