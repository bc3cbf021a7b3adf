"""Clips cut once per track and cached per clip (``.npz`` files), for evaluation on held-out manifests.

Training cuts its clips from the prepared-track cache instead (:mod:`.prepared_clips`);
both give the same spans for the same seed (:func:`~.clips.clip_rng`).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from ...core.atomic import atomic_path
from ...core.audio import load_mono
from ...core.errors import InputFileError
from ...core.genre import features as F
from .clips import CLIP_BARS, clip_features, clip_rng, sample_clips
from .drops import bar_grid, load_truth, resolve_drop_source, track_drops
from ..datasets.manifest import TrackRow

CACHE_VERSION = 2


def _cache_key(row: TrackRow, settings: dict) -> str:
    st = row.path.stat()
    h = hashlib.sha1()
    h.update(json.dumps({"v": CACHE_VERSION, "path": str(row.path.resolve()), "size": st.st_size,
                         "mtime": st.st_mtime_ns, "features": F.FEATURE_PARAMS, **settings},
                        sort_keys=True).encode())
    if row.truth is not None and row.truth.exists():
        h.update(str(row.truth.stat().st_mtime_ns).encode())
    return h.hexdigest()[:24]


def track_clips(row: TrackRow, *, seed: int, per_drop: int = 4, outside: int = 0, drops: str = "auto",
                chroma: bool = False, cache_dir: str | os.PathLike | None = None):
    """Sample and featurise one track's clips (cached).

    Returns
    -------
    features : list of float16 arrays (channels, 224, frames)
    spans : list of (start_s, end_s, in_drop)
    """
    if not row.path.is_file():
        raise InputFileError(str(row.path), "audio file listed in the manifest does not exist")
    drop_source = resolve_drop_source(drops)
    settings = {"seed": seed, "per_drop": per_drop, "outside": outside, "drops": drop_source, "chroma": chroma,
                "bars": CLIP_BARS}
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{_cache_key(row, settings)}.npz"
        if cache_file.exists():
            try:
                with np.load(cache_file) as z:
                    n = int(z["n"])
                    feats = [z[f"f{i}"] for i in range(n)]
                    spans = [tuple(x) for x in z["spans"].tolist()]
                return feats, [(float(s), float(e), bool(d)) for s, e, d in spans]
            except (OSError, KeyError, ValueError):
                pass  # unreadable cache entry: recompute
    y, _ = load_mono(row.path, F.SAMPLE_RATE)
    truth = load_truth(row.truth) if row.truth is not None else None
    drop_spans = track_drops(row, y, F.SAMPLE_RATE, drop_source, truth)
    clips = sample_clips(drop_spans, len(y) / F.SAMPLE_RATE, clip_rng(seed, row.path), per_drop=per_drop,
                         downbeats=bar_grid(truth), outside=outside)
    feats = [f.astype(np.float16) for f in clip_features(y, clips, chroma)] if clips else []
    if cache_file is not None:
        arrays = {f"f{i}": f for i, f in enumerate(feats)}
        with atomic_path(cache_file) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, n=len(feats), spans=np.asarray(clips, dtype=np.float64).reshape(-1, 3), **arrays)
    return feats, clips
