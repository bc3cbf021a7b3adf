"""Runtime dependencies: what is importable inside Blender, and the external-interpreter fallback.

The built extension ships wheels for everything the analysis needs except numpy (which
Blender bundles). A user who installed the bare add-on folder has none of them; the panel
then lists what is missing and the analysis (and JSON validation) can run in an external
Python interpreter that has ``mainstage-vfx`` installed. No bpy here: the worker thread
uses these functions too.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: Modules the in-process analysis needs, with the package a user would install.
ANALYSIS_MODULES: tuple[tuple[str, str], ...] = (
    ("numpy", "numpy"),
    ("soundfile", "soundfile"),
    ("soxr", "soxr"),
    ("onnxruntime", "onnxruntime"),
    ("jsonschema", "jsonschema"),
)
#: Modules needed to validate timelines and presets in-process.
VALIDATION_MODULES: tuple[tuple[str, str], ...] = (("numpy", "numpy"), ("jsonschema", "jsonschema"))

_cache: dict[str, bool] = {}


class DependencyError(Exception):
    """A feature cannot run: libraries are missing and no external interpreter is set."""


def importable(module: str) -> bool:
    """Whether ``module`` can be found (cached; :func:`refresh` clears the cache)."""
    if module not in _cache:
        try:
            _cache[module] = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            _cache[module] = False
    return _cache[module]


def refresh() -> None:
    """Forget cached import checks (after installing something)."""
    _cache.clear()
    _ok_interpreters.clear()
    importlib.invalidate_caches()


def missing(modules=ANALYSIS_MODULES) -> list[str]:
    """Package names of the ``modules`` that are not importable, in order."""
    return [pkg for mod, pkg in modules if not importable(mod)]


def can_analyze_in_process() -> bool:
    """Whether every library of the in-process analysis is importable."""
    return not missing(ANALYSIS_MODULES)


def can_validate_in_process() -> bool:
    """Whether timelines and presets can be validated without an external interpreter."""
    return not missing(VALIDATION_MODULES)


def subprocess_env() -> dict[str, str]:
    """Environment for an external interpreter: Blender's, minus its Python settings."""
    env = dict(os.environ)
    for key in ("PYTHONPATH", "PYTHONHOME", "PYTHONNOUSERSITE", "PYTHONEXECUTABLE"):
        env.pop(key, None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


_ok_interpreters: set[tuple[str, float]] = set()


def external_python_problem(python: str) -> str | None:
    """Why ``python`` cannot serve as the external interpreter, or None when it can.

    Runs it once (``import mainstage.core``) with a 60 s time limit; a success is
    remembered for that file (path and modification time) until :func:`refresh`.
    """
    if not python:
        return "no external Python interpreter is set in the add-on preferences"
    p = Path(python)
    if not p.is_file():
        return f"external Python {python}: no such file"
    if not os.access(p, os.X_OK):
        return f"external Python {python}: not executable"
    key = (str(p), p.stat().st_mtime)
    if key in _ok_interpreters:
        return None
    code = "import mainstage.core as c, jsonschema, onnxruntime, soundfile, soxr; print(c.__version__)"
    try:
        proc = subprocess.run([str(p), "-c", code], capture_output=True, text=True, timeout=60, env=subprocess_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"external Python {python}: cannot run it ({exc})"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
        return f"external Python {python}: mainstage-vfx is not usable there ({last})"
    _ok_interpreters.add(key)
    return None


# Validation through the external interpreter, used when jsonschema is missing in Blender.
# Input: a JSON list of [kind, path, known-ids-or-null]; output: a JSON list of errors (null = valid).
_EXTERNAL_CHECK = r"""
import json, sys
from mainstage.core.errors import MainstageError
from mainstage.core.presets import load_mapping, load_preset
from mainstage.core.timeline import load_timeline
out = []
for kind, path, known in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        if kind == "timeline":
            load_timeline(path)
        elif kind == "preset":
            load_preset(path)
        else:
            load_mapping(path, known_presets=known)
        out.append(None)
    except MainstageError as exc:
        out.append(str(exc))
print(json.dumps(out))
"""


def validate_external_many(python: str, items: list[tuple[str, dict, str, list[str] | None]]) -> list[str | None]:
    """Validate several documents in one run of the external interpreter.

    Parameters
    ----------
    items : list of (kind, doc, source, known)
        ``kind`` is ``timeline``, ``preset`` or ``mapping``; ``known`` the look ids a
        mapping may name (or None).

    Returns
    -------
    list
        One-line error (naming ``source``) or None, per item.

    Raises
    ------
    DependencyError
        When the interpreter cannot be run.
    """
    if not items:
        return []
    problem = external_python_problem(python)
    if problem:
        raise DependencyError(problem)
    with tempfile.TemporaryDirectory(prefix="msvfx-check-") as tmp:
        plan = []
        for i, (kind, doc, _source, known) in enumerate(items):
            path = Path(tmp) / f"doc{i}.json"
            path.write_text(json.dumps(doc), encoding="utf-8")
            plan.append([kind, str(path), known])
        plan_file = Path(tmp) / "plan.json"
        plan_file.write_text(json.dumps(plan), encoding="utf-8")
        try:
            proc = subprocess.run([python, "-c", _EXTERNAL_CHECK, str(plan_file)], capture_output=True, text=True,
                                  timeout=120, env=subprocess_env())
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DependencyError(f"external Python {python}: cannot run it ({exc})") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
            raise DependencyError(f"external Python {python}: validation failed to run ({last})")
        errors = json.loads(proc.stdout.strip().splitlines()[-1])
        return [None if e is None else e.replace(p[1], items[i][2]) for i, (e, p) in enumerate(zip(errors, plan))]


def validate_external(python: str, kind: str, doc: dict, source: str, known: list[str] | None = None) -> None:
    """Validate one document with the external interpreter.

    Raises
    ------
    ValueError
        With the interpreter's one-line message, naming ``source``.
    DependencyError
        When the interpreter cannot be run.
    """
    err = validate_external_many(python, [(kind, doc, source, known)])[0]
    if err is not None:
        raise ValueError(err)


def summary_line(python: str = "") -> str:
    """One line for the panel: what is missing and what to do about it ("" when nothing)."""
    miss = missing(ANALYSIS_MODULES)
    if not miss:
        return ""
    msg = f"Missing in Blender's Python {sys.version_info.major}.{sys.version_info.minor}: {', '.join(miss)}."
    if python:
        return msg + f" Using the external Python {python}."
    return msg + " Install the full extension zip, or set an external Python with mainstage-vfx in the preferences."
