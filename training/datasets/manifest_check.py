"""``mainstage dataset check``: validate a manifest and describe its tracks and labels."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ...core.errors import InputFileError
from ...core.genres import GENRES
from .manifest import SPLITS, read_manifest, relative_path
from .names import artist_from_filename, name_order


def check_manifest(path: str | os.PathLike, *, probe: bool = False, allow_outside: bool = False) -> dict:
    """Validate a manifest and describe it.

    Parameters
    ----------
    path : path
        Manifest CSV (read with :func:`mainstage.training.datasets.manifest.read_manifest`, which
        raises ``InputFileError`` for a bad header or row).
    probe : bool
        Also open every existing audio file's header (``core.audio.probe``) and list
        the ones that cannot be decoded.
    allow_outside : bool
        Accept paths outside the manifest's folder (``--allow-outside-paths``).

    Returns
    -------
    dict
        ``tracks``, ``missing_audio``, ``missing_truth``, ``unreadable_audio``,
        ``duplicates`` (paths listed twice), ``splits``, ``tracks_per_dominant_genre``,
        ``mixtures``, ``mean_label``, ``name_order`` (:func:`.names.name_order`), ``artists``
        (distinct first artists, from the file names) and ``no_artist``.
    """
    rows = read_manifest(path, allow_outside=allow_outside)
    base = Path(path).parent

    def show(p: Path) -> str:
        return relative_path(p, base)

    labels = np.array([r.label for r in rows])
    dominant = np.argmax(labels, axis=1)
    seen: dict[str, int] = {}
    for r in rows:
        key = str(r.path.resolve())
        seen[key] = seen.get(key, 0) + 1
    out = {
        "manifest": str(path),
        "tracks": len(rows),
        "missing_audio": [show(r.path) for r in rows if not r.path.is_file()],
        "missing_truth": [show(r.truth) for r in rows if r.truth is not None and not r.truth.is_file()],
        "unreadable_audio": [],
        "duplicates": sorted(relative_path(Path(k), base) for k, n in seen.items() if n > 1),
        "splits": {s: sum(1 for r in rows if r.split == s) for s in SPLITS}
        | {"unassigned": sum(1 for r in rows if not r.split)},
        "tracks_per_dominant_genre": {g: int(n) for g, n in zip(GENRES, np.bincount(dominant, minlength=len(GENRES)))},
        "mixtures": int(np.sum(np.sort(labels, axis=1)[:, -2] > 0)),
        "mean_label": {g: round(float(x), 4) for g, x in zip(GENRES, labels.mean(axis=0))},
    }
    order = name_order(r.path.name for r in rows)
    out["name_order"] = order
    artists = [artist_from_filename(r.path.name, order) for r in rows]
    out["artists"] = len({a for a in artists if a})
    out["no_artist"] = sum(1 for a in artists if not a)
    if probe:
        from ...core.audio import probe as probe_audio

        for r in rows:
            if r.path.is_file():
                try:
                    probe_audio(r.path)
                except InputFileError as exc:
                    out["unreadable_audio"].append({"path": show(r.path), "problem": exc.problem})
    return out
