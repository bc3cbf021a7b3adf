"""A smaller copy of a manifest for CPU-sized runs: at most N tracks per dominant genre in each split."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .manifest import SPLITS, read_manifest, write_manifest
from .splits import split_tracks


def subset_manifest(manifest: str | os.PathLike, out_path: str | os.PathLike, per_genre: dict[str, int], *,
                    split: tuple = (0.8, 0.1, 0.1), seed: int = 0, allow_outside: bool = False) -> Path:
    """Write a manifest with at most ``per_genre[split]`` tracks per dominant genre in each split.

    The track-level split of the full manifest is kept (its ``split`` column, or
    :func:`~.splits.split_tracks` with ``split`` and ``seed`` where there is none) and
    written out explicitly, so every cell of a grid trains and tests on the same
    tracks; the tracks kept in a (split, genre) group are drawn with ``seed``. Paths
    are written absolute, so feature-cache entries of the full manifest stay valid.

    Parameters
    ----------
    manifest : path
        The full manifest.
    out_path : path
        The subset manifest to write.
    per_genre : dict
        ``{split: N}``; splits not named keep all their tracks.
    allow_outside : bool
        Accept paths outside the full manifest's folder. (The subset itself holds absolute
        paths: read it with ``allow_outside=True``.)

    Returns
    -------
    Path
        ``out_path``.
    """
    rows = read_manifest(manifest, allow_outside=allow_outside)
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
    write_manifest(out_path, [(str(Path(rows[i].path).resolve()), rows[i].label, name,
                               str(Path(rows[i].truth).resolve()) if rows[i].truth else "") for i, name in keep])
    return Path(out_path)
