"""Training manifests: the CSV listing a dataset's tracks, their soft labels, splits and truth files.

Format (UTF-8)::

    path,Progressive House,Future House,Bass House,Tech House,Deep House,Bigroom,Future Rave,Slap House,split,truth

``path`` is an audio file, relative to the manifest's folder and inside it (absolute paths and
paths leaving the folder, through ``..`` or a symlink, are refused unless the reader allows
them: ``--allow-outside-paths``); the
eight genre columns hold the soft label (any order, any accepted spelling: ``Techno``
means Tech House; rows are renormalised to sum 1); ``split`` (``train``/``val``/
``test``) and ``truth`` (a timeline JSON with the exact grid and drops, as SynthHouse
writes, resolved like ``path``) are optional. A track may not be listed in two splits.
"""
from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_open
from ...core.errors import InputFileError
from ...core.genres import GENRES, GenreError, canonical_genre

SPLITS = ("train", "val", "test")
#: The option that lets a manifest name files outside its folder.
ALLOW_OUTSIDE_OPTION = "--allow-outside-paths"


@dataclass
class TrackRow:
    """One manifest row."""

    path: Path
    label: np.ndarray  # (8,), sums to 1
    split: str | None = None
    truth: Path | None = None
    line: int = 0


def _label(values: np.ndarray) -> np.ndarray | None:
    """Weights scaled to sum 1, or None when they are not finite, negative or all 0.

    Scaled by the largest weight first, so that huge weights (``1e308,1e308``) whose sum
    overflows still give their proportions.
    """
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        return None
    top = values.max()
    if not top > 0:
        return None
    scaled = values / top
    return scaled / scaled.sum()


def _resolve(base: Path, text: str, allow_outside: bool, src: str, lineno: int, column: str) -> Path:
    """A manifest path resolved in ``base``; refused outside it unless ``allow_outside``."""
    p = Path(text)
    if allow_outside:
        return p if p.is_absolute() else base / p
    if p.is_absolute():
        raise InputFileError(src, f"line {lineno}: {column} {text[:200]!r} is an absolute path; paths must be "
                                  f"relative to the manifest's folder ({ALLOW_OUTSIDE_OPTION} permits others)")
    try:
        resolved = (base / p).resolve()
    except (OSError, RuntimeError):
        raise InputFileError(src, f"line {lineno}: {column} {text[:200]!r} cannot be resolved (symlink loop)") from None
    if not resolved.is_relative_to(base.resolve()):
        raise InputFileError(src, f"line {lineno}: {column} {text[:200]!r} points outside the manifest's folder "
                                  f"({ALLOW_OUTSIDE_OPTION} permits that)")
    return base / p


def read_manifest(path: str | os.PathLike, *, allow_outside: bool = False) -> list[TrackRow]:
    """Parse and check a manifest CSV.

    Parameters
    ----------
    allow_outside : bool
        Accept absolute paths and paths outside the manifest's folder (the user's
        explicit choice; a manifest is untrusted).

    Raises
    ------
    InputFileError
        ``"<manifest>: line N: <problem>"`` for the first bad row or header: a weight that
        is not a finite number >= 0, weights all 0, a path outside the folder, a track
        listed in two splits.
    """
    p = Path(path)
    src = str(p)
    if not p.is_file():
        raise InputFileError(src, "no such file" if not p.exists() else "not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputFileError(src, f"cannot read as UTF-8 text ({exc.__class__.__name__})") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputFileError(src, "empty manifest") from None
    if not header or header[0].lower() != "path":
        raise InputFileError(src, f"line 1: the first column must be 'path', got {header[:1]}")
    genre_col: dict[int, int] = {}
    split_col = truth_col = None
    for i, name in enumerate(header[1:], start=1):
        low = name.lower()
        if low == "split":
            split_col = i
        elif low == "truth":
            truth_col = i
        else:
            try:
                g = GENRES.index(canonical_genre(name))
            except GenreError:
                raise InputFileError(src, f"line 1: unknown column {name!r} (expected genre names, split, truth)") from None
            if g in genre_col.values():
                raise InputFileError(src, f"line 1: genre {GENRES[g]!r} appears twice")
            genre_col[i] = g
    missing = [GENRES[g] for g in range(len(GENRES)) if g not in genre_col.values()]
    if missing:
        raise InputFileError(src, f"line 1: missing genre columns: {', '.join(missing)}")
    rows: list[TrackRow] = []
    base = p.parent
    for lineno, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            raise InputFileError(src, f"line {lineno}: {len(rec)} fields, header has {len(header)}")
        label = np.zeros(len(GENRES))
        for col, g in genre_col.items():
            cell = rec[col].strip()
            try:
                label[g] = float(cell) if cell else 0.0
            except ValueError:
                raise InputFileError(src, f"line {lineno}: {header[col]} = {cell!r} is not a number") from None
        norm = _label(label)
        if norm is None:
            raise InputFileError(src, f"line {lineno}: genre weights must be finite, >= 0, and not all 0")
        split = rec[split_col].strip().lower() if split_col is not None else ""
        if split and split not in SPLITS:
            raise InputFileError(src, f"line {lineno}: split {split!r} is not one of {', '.join(SPLITS)}")
        audio = rec[0].strip()
        if not audio:
            raise InputFileError(src, f"line {lineno}: empty path")
        truth = rec[truth_col].strip() if truth_col is not None else ""
        rows.append(TrackRow(
            path=_resolve(base, audio, allow_outside, src, lineno, "path"),
            label=norm,
            split=split or None,
            truth=_resolve(base, truth, allow_outside, src, lineno, "truth") if truth else None,
            line=lineno,
        ))
    if not rows:
        raise InputFileError(src, "no tracks listed")
    _check_splits(rows, src)
    return rows


def _check_splits(rows: list[TrackRow], src: str) -> None:
    """A track in two splits would be trained and tested on: refuse it."""
    first: dict[str, TrackRow] = {}
    for r in rows:
        key = os.path.realpath(r.path)
        seen = first.setdefault(key, r)
        if seen is not r and seen.split != r.split:
            raise InputFileError(src, f"line {r.line}: {r.path.name!r} is listed in two splits "
                                      f"({seen.split or 'unassigned'} on line {seen.line}, {r.split or 'unassigned'} "
                                      f"here): a track must be in one split only")


def relative_path(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` with forward slashes (absolute when on another drive)."""
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _weight_text(w: float) -> str:
    return "0" if w == 0 else format(float(w), ".10g")


def manifest_text(rows) -> str:
    """CSV text of a manifest, one row per track.

    Parameters
    ----------
    rows : list of tuples
        ``(path, label)`` (columns ``path,<8 genres>``) or ``(path, label, split, truth)``
        (columns ``path,<8 genres>,split,truth``; ``""`` or None for no split or truth),
        every row of the same length. ``label`` holds the 8 weights in ``GENRES`` order.
    """
    with_split = bool(rows) and len(rows[0]) == 4
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", *GENRES, *(["split", "truth"] if with_split else [])])
    for path, label, *rest in rows:
        w.writerow([path, *(_weight_text(x) for x in label), *("" if v is None else str(v) for v in rest)])
    return buf.getvalue()


def write_manifest(path: str | os.PathLike, rows) -> None:
    """Write :func:`manifest_text` of ``rows`` to ``path`` atomically.

    Raises
    ------
    InputFileError
        The file cannot be written.
    """
    try:
        with atomic_open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(manifest_text(rows))
    except OSError as exc:
        raise InputFileError(str(path), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
