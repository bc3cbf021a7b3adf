"""Track-level train/val/test splits: stratified, optionally grouped by artist, stored on disk.

A split is a function of the manifest rows, the fractions, the seed and the grouping.
:func:`load_or_make_splits` writes it to ``splits.json`` (in the shared feature cache
folder, next to the prepared tracks) together with a hash of the manifest rows, and
every later experiment on the same manifest reads the same split back. When the
manifest changes (a row added, a label edited), the hash differs and the split is
made again (and the file rewritten), so a stale split is never used silently.

Rules
-----
- Rows with an explicit ``split`` column keep it. With artist grouping, the other
  tracks of an artist that has a fixed row follow it into that split.
- The other tracks (or artist groups) are shuffled per dominant genre (stratified)
  with the seed and dealt out by the fractions; with at least 3 tracks (groups) of a
  genre, each of val and test gets at least one when its fraction is > 0.
- A track (and with grouping, an artist) never has clips in two splits.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ...core.atomic import write_json_atomic
from ...core.errors import InputFileError
from ...core import jsonfile
from ...core.genres import GENRES
from .manifest import SPLITS
from .names import artist_from_filename, name_order

SPLITS_FORMAT = "mainstage.splits/1"


def _groups(rows, group_by_artist: bool) -> list[int]:
    """Group id per row: the artist's group, or the row's own one."""
    if not group_by_artist:
        return list(range(len(rows)))
    ids: dict[str, int] = {}
    out = []
    # a collection names its files either "Artist - Title" or "Title - Artist" (the paper's
    # project 4 does the latter): detect which, so the artist side is grouped
    order = name_order([Path(r.path).name for r in rows])
    for i, r in enumerate(rows):
        a = artist_from_filename(Path(r.path).name, order=order)
        if a is None:
            out.append(-(i + 1))  # own group
        else:
            out.append(ids.setdefault(a, len(ids)))
    # renumber to 0..n-1 (own groups after the artists, in row order)
    remap: dict[int, int] = {}
    return [remap.setdefault(g, len(remap)) for g in out]


def split_tracks(rows, fractions=(0.8, 0.1, 0.1), seed: int = 0, group_by_artist: bool = False
                 ) -> dict[str, list[int]]:
    """Track-level train/val/test split (indices into ``rows``).

    Parameters
    ----------
    rows : list of TrackRow
    fractions : (train, val, test)
        Renormalised to sum 1.
    seed : int
    group_by_artist : bool
        Keep all tracks of an artist (parsed from the file name) in one split.

    Returns
    -------
    dict
        ``{"train": [...], "val": [...], "test": [...]}``, sorted row indices.
    """
    out: dict[str, list[int]] = {s: [] for s in SPLITS}
    group = _groups(rows, group_by_artist)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(group):
        members.setdefault(g, []).append(i)
    free: dict[int, list[int]] = {}  # dominant genre -> free groups
    for g in sorted(members):
        idx = members[g]
        fixed = [rows[i].split for i in idx if rows[i].split]
        if fixed:
            # explicit splits win; the group's unlabelled tracks follow its first fixed row
            for i in idx:
                out[rows[i].split or fixed[0]].append(i)
            continue
        label = np.mean([rows[i].label for i in idx], axis=0)
        free.setdefault(int(np.argmax(label)), []).append(g)
    rng = np.random.default_rng(seed)
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.shape != (3,) or np.any(fr < 0) or fr.sum() <= 0:
        raise ValueError(f"split fractions must be three numbers >= 0 with a positive sum, got {fractions}")
    fr = fr / fr.sum()
    for genre in sorted(free):
        gs = list(free[genre])
        rng.shuffle(gs)
        n = len(gs)
        n_val = int(round(fr[1] * n))
        n_test = int(round(fr[2] * n))
        if n >= 3:  # every genre in every split when possible
            n_val, n_test = max(n_val, 1 if fr[1] > 0 else 0), max(n_test, 1 if fr[2] > 0 else 0)
        n_train = max(n - n_val - n_test, 0)
        for name, part in (("train", gs[:n_train]), ("val", gs[n_train:n_train + n_val]),
                           ("test", gs[n_train + n_val:])):
            for g in part:
                out[name] += members[g]
    return {k: sorted(v) for k, v in out.items()}


def manifest_rows_hash(rows) -> str:
    """sha256 of what a split depends on: each row's path, label (rounded) and fixed split."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([str(r.path), [round(float(x), 6) for x in r.label], r.split or ""]).encode())
        h.update(b"\n")
    return h.hexdigest()


def split_key(fractions, seed: int, group_by_artist: bool) -> str:
    """Name of a split setting inside ``splits.json``."""
    fr = ",".join(f"{float(x):g}" for x in fractions)
    return f"seed={int(seed)};fractions={fr};group={'artist' if group_by_artist else 'track'}"


def load_or_make_splits(rows, path: str | os.PathLike, fractions=(0.8, 0.1, 0.1), seed: int = 0,
                        group_by_artist: bool = False, write: bool = True, log=None) -> dict[str, list[int]]:
    """The stored split of these rows and settings, made (and stored) when missing or stale.

    Parameters
    ----------
    rows : list of TrackRow
    path : path of ``splits.json``
        One file holds the splits of several settings (seed, fractions, grouping).
    write : bool
        Store a new split (False on non-zero ranks of a distributed run).
    log : callable, optional
        Told when a stored split is replaced because the manifest changed.

    Raises
    ------
    InputFileError
        ``splits.json`` exists but is not a splits file.
    """
    p = Path(path)
    key = split_key(fractions, seed, group_by_artist)
    digest = manifest_rows_hash(rows)
    doc = {"format": SPLITS_FORMAT, "splits": {}}
    if p.is_file():
        try:
            doc = jsonfile.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputFileError(str(p), f"cannot read splits file ({exc.__class__.__name__})") from None
        if not isinstance(doc, dict) or doc.get("format") != SPLITS_FORMAT or not isinstance(doc.get("splits"), dict):
            raise InputFileError(str(p), f"not a splits file (format {SPLITS_FORMAT!r} expected)")
    entry = doc["splits"].get(key)
    if isinstance(entry, dict) and entry.get("manifest_sha256") == digest:
        sp = entry.get("indices", {})
        if set(sp) == set(SPLITS) and sorted(sum((list(sp[s]) for s in SPLITS), [])) == list(range(len(rows))):
            return {s: sorted(int(i) for i in sp[s]) for s in SPLITS}
    if entry is not None and log is not None:
        log(f"{p}: the manifest changed since split {key!r} was made; making it again")
    splits = split_tracks(rows, fractions, seed=seed, group_by_artist=group_by_artist)
    if write:
        doc["splits"][key] = {
            "manifest_sha256": digest, "tracks": len(rows),
            "indices": splits,
            "paths": {s: [str(rows[i].path) for i in splits[s]] for s in SPLITS},
        }
        write_json_atomic(p, doc)
    return splits


def describe_splits(rows, splits: dict[str, list[int]]) -> dict:
    """Plain description of a split dataset (stored with checkpoints and exported models).

    Returns
    -------
    dict
        Per split: ``tracks``, ``mixtures`` (tracks with a second genre) and
        ``tracks_per_dominant_genre``.
    """
    out = {}
    for name, idx in splits.items():
        labels = np.array([rows[i].label for i in idx]).reshape(-1, len(GENRES))
        dominant = np.bincount(np.argmax(labels, axis=1), minlength=len(GENRES)) if len(idx) else np.zeros(8, int)
        mixtures = int(np.sum(np.sort(labels, axis=1)[:, -2] > 0)) if len(idx) else 0
        out[name] = {"tracks": len(idx), "mixtures": mixtures,
                     "tracks_per_dominant_genre": dict(zip(GENRES, dominant.tolist()))}
    return out
