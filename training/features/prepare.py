"""Prepared feature cache: decode each track once, store its log-mel, drops and bar grid.

``prepare_dataset(manifest, cache_dir=...)`` (``mainstage dataset prepare``) walks a
manifest once, in parallel worker processes, and stores per track:

- ``<key>.mel.npy``: mel power in dB (``core.genre.features.track_mel_db``, *before* the
  per-window normalisation), float16, shape ``(224, frames)``, memory-mappable;
- ``<key>.chroma.npy`` (with ``chroma``): CQT and VQT chroma, float16 ``(2, 224, frames)``;
- ``<key>.json``: drop sections (s), downbeats (s, from the truth file when there is
  one), duration, the stored frame segments; written last, so an entry without its
  JSON is incomplete and is recomputed.

Every training run cuts its clips (re-sampled every epoch or cut once) out of these
arrays through the runtime's own normalisation (``core.genre.features.window_features``),
so the decoding, resampling, STFT and drop detection happen once per track for every
experiment on the dataset.

What is stored
--------------
Tracks up to :data:`WHOLE_TRACK_MAX_S` (7 min) are stored whole, so that clips from
outside the drops can be drawn too. Longer tracks (extended mixes, DJ sets) keep only
their drop sections plus :data:`MARGIN_S` on each side; clips outside the drops are
then drawn only from those margins. Disk use: float16 mel is 224 x 2 bytes x 86.1
frames/s = 38.6 kB per second of audio, i.e. about 8 MB for a 3.5-minute track and
**about 8-12 GB per 1,000 typical club tracks** (3.5-5 min); with chroma three times
that. Drop-only storage of long tracks costs about 3 MB per track (2.2 drops of ~31 s).

Keys
----
An entry's key is a hash of the audio file's *content* (sha256 of its bytes), the
truth file's content (when the manifest names one), the feature parameters, the
chroma flag, the drop source and the storage rule. Moving or renaming a file keeps
its entry; editing it makes a new one. File hashes are remembered in
``hashes.json`` by (path, size, mtime), so unchanged files are not read again.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import numpy as np

from ...core.genre import features as F
from ...core.atomic import atomic_path, write_json_atomic
from ...core.errors import InputFileError
from .drops import bar_grid, load_truth, resolve_drop_source, track_drops
from ..datasets.hash_index import HashIndex
from ..datasets.manifest import TrackRow, read_manifest
from .prepared_track import PREPARE_FORMAT, PreparedTrack, open_entry

#: Tracks up to this length (s) are stored whole; longer ones keep their drops + margins.
WHOLE_TRACK_MAX_S = 420.0
#: Audio kept on each side of a drop of a long track (s).
MARGIN_S = 4.0


def default_cache_dir(manifest: str | os.PathLike) -> Path:
    """The shared cache folder of a manifest: ``<manifest folder>/.mainstage-cache``."""
    return Path(manifest).resolve().parent / ".mainstage-cache"


def entry_key(audio_sha: str, truth_sha: str | None, chroma: bool, drop_source: str) -> str:
    """Cache key of a prepared track (hex)."""
    doc = {"format": PREPARE_FORMAT, "audio": audio_sha, "truth": truth_sha, "features": F.FEATURE_PARAMS,
           "chroma": bool(chroma), "drops": drop_source, "whole_max_s": WHOLE_TRACK_MAX_S, "margin_s": MARGIN_S}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def _segments(drops, duration: float, n_frames: int) -> tuple[bool, list[list[int]]]:
    if duration <= WHOLE_TRACK_MAX_S or not drops:
        return True, [[0, n_frames]]
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    spans = sorted((max(0, int(np.floor((s - MARGIN_S) * fps))), min(n_frames, int(np.ceil((e + MARGIN_S) * fps))))
                   for s, e in drops)
    merged: list[list[int]] = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        elif b > a:
            merged.append([a, b])
    return False, merged


def _compute_entry(job: dict) -> dict:
    """Worker: decode, detect drops, compute and store one track's features. Never raises."""
    t0 = time.perf_counter()
    path = job["path"]
    try:
        from ...core.audio import load_mono

        y, _ = load_mono(Path(path), F.SAMPLE_RATE)
        truth = load_truth(Path(job["truth"])) if job["truth"] else None
        row = TrackRow(path=Path(path), label=np.ones(1), truth=Path(job["truth"]) if job["truth"] else None)
        drops = track_drops(row, y, F.SAMPLE_RATE, job["drops"], truth)
        grid = bar_grid(truth)
        mel_db = F.track_mel_db(y)
        n_frames = int(mel_db.shape[1])
        duration = len(y) / F.SAMPLE_RATE
        whole, segs = _segments(drops, duration, n_frames)
        mel = np.concatenate([mel_db[:, a:b] for a, b in segs], axis=1).astype(np.float16)
        chroma = None
        if job["chroma"]:
            from ...core.genre.chroma import chroma_channels

            ch = chroma_channels(y)
            full = np.zeros((2, F.N_MELS, n_frames), dtype=np.float32)
            m = min(n_frames, ch.shape[2])
            full[:, :, :m] = ch[:, :, :m]
            chroma = np.concatenate([full[:, :, a:b] for a, b in segs], axis=2).astype(np.float16)
        folder = Path(job["folder"])
        key = job["key"]
        with atomic_path(folder / f"{key}.mel.npy") as tmp:
            np.save(tmp, mel)
        if chroma is not None:
            with atomic_path(folder / f"{key}.chroma.npy") as tmp:
                np.save(tmp, chroma)
        meta = {"format": PREPARE_FORMAT, "key": key, "path": str(path), "audio_sha256": job["audio_sha"],
                "truth_sha256": job["truth_sha"], "drop_source": job["drops"], "chroma": bool(job["chroma"]),
                "duration_s": duration, "n_frames": n_frames, "whole": whole, "segments": segs,
                "drops": [[float(a), float(b)] for a, b in drops],
                "downbeats": None if grid is None else [float(x) for x in grid],
                "features": F.FEATURE_PARAMS, "seconds": round(time.perf_counter() - t0, 3)}
        write_json_atomic(folder / f"{key}.json", meta, indent=None)
        return {"index": job["index"], "ok": True, "seconds": time.perf_counter() - t0}
    except Exception as exc:  # collected and reported, never fatal for the other tracks
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        if isinstance(exc, InputFileError) and exc.source == str(path):
            msg = exc.problem
        return {"index": job["index"], "ok": False, "reason": f"{path}: {msg[:300]}",
                "seconds": time.perf_counter() - t0}


def prepare_rows(rows, *, cache_dir: str | os.PathLike, chroma: bool = False, drops: str = "auto", jobs: int = 1,
                 progress: bool = True, compute: bool = True) -> dict:
    """Prepare (or find) the cache entries of manifest rows.

    Parameters
    ----------
    rows : list of TrackRow
    compute : bool
        Compute missing entries (False: only look them up, e.g. on non-zero ranks).

    Returns
    -------
    dict
        ``tracks`` (list: :class:`PreparedTrack` or None per row), ``cached``,
        ``computed``, ``failed`` (list of ``"path: reason"``), ``seconds``.
    """
    t0 = time.perf_counter()
    cache = Path(cache_dir)
    folder = cache / "tracks"
    folder.mkdir(parents=True, exist_ok=True)
    source = resolve_drop_source(drops)
    hashes = HashIndex(cache)
    keys: list[str | None] = []
    failed: dict[int, str] = {}
    jobs_todo = []
    tracks: list[PreparedTrack | None] = []
    try:
        hashes.prefetch([r.path for r in rows] + [r.truth for r in rows if r.truth is not None],
                        workers=max(int(jobs), 1) * 2 if jobs > 1 else 1)
        for i, r in enumerate(rows):
            try:
                if not Path(r.path).is_file():
                    raise InputFileError(str(r.path), "audio file listed in the manifest does not exist")
                if source == "truth" and r.truth is None:
                    raise InputFileError(str(r.path), "no truth file in the manifest for --drops truth")
                audio_sha = hashes.get(r.path)
                truth_sha = None
                if r.truth is not None:
                    if not Path(r.truth).is_file():
                        raise InputFileError(str(r.truth), "truth file listed in the manifest does not exist")
                    truth_sha = hashes.get(r.truth)
            except (OSError, InputFileError) as exc:
                failed[i] = str(exc) if isinstance(exc, InputFileError) else f"{r.path}: {exc}"
                keys.append(None)
                tracks.append(None)
                continue
            key = entry_key(audio_sha, truth_sha, chroma, source)
            keys.append(key)
            t = open_entry(folder, key)
            if t is None and not chroma:  # a "with chroma" entry holds the same mel
                t = open_entry(folder, entry_key(audio_sha, truth_sha, True, source))
                if t is not None:
                    t = PreparedTrack(key=t.key, meta=t.meta, mel=t.mel, chroma=None)
            tracks.append(t)
            if t is None:
                jobs_todo.append({"index": i, "path": str(r.path), "truth": str(r.truth) if r.truth else None,
                                  "audio_sha": audio_sha, "truth_sha": truth_sha, "chroma": bool(chroma),
                                  "drops": source, "folder": str(folder), "key": key})
    finally:
        hashes.save()
    cached = sum(t is not None for t in tracks)
    computed = 0
    if jobs_todo and compute:
        bar = None
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=len(jobs_todo), desc="prepare", unit="track")
        results = []
        try:
            if jobs <= 1 or len(jobs_todo) == 1:
                for j in jobs_todo:
                    results.append(_compute_entry(j))
                    if bar is not None:
                        bar.update(1)
            else:
                from concurrent.futures import as_completed

                from ...core.workers import process_pool

                with process_pool(int(jobs)) as ex:  # workers die with this process (kill -9 included)
                    futs = [ex.submit(_compute_entry, j) for j in jobs_todo]
                    for fut in as_completed(futs):
                        results.append(fut.result())
                        if bar is not None:
                            bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        for res in results:
            i = res["index"]
            if res["ok"]:
                tracks[i] = open_entry(folder, keys[i])
                if tracks[i] is None:
                    failed[i] = f"{rows[i].path}: prepared entry cannot be read back"
                else:
                    computed += 1
            else:
                failed[i] = res["reason"]
    elif jobs_todo:
        for j in jobs_todo:
            failed.setdefault(j["index"], f"{j['path']}: not prepared")
    return {"tracks": tracks, "cached": cached, "computed": computed,
            "failed": [failed[i] for i in sorted(failed)], "seconds": time.perf_counter() - t0}


def prepare_dataset(manifest: str, *, cache_dir: str | None, chroma: bool = False, drops: str = "auto", jobs: int = 1,
                    progress: bool = True, allow_outside: bool = False) -> dict:
    """Prepare every track of a manifest once (``mainstage dataset prepare``).

    Parameters
    ----------
    manifest : str
        Manifest CSV (see :mod:`..datasets.manifest`).
    cache_dir : str or None
        Cache folder; training runs use the same one (``TrainConfig.cache_dir``, by
        default ``<manifest folder>/.mainstage-cache``, which None also selects).
    chroma : bool
        Also store the CQT/VQT chroma channels.
    drops : {"auto", "detect", "truth"}
    jobs : int
        Worker processes.
    progress : bool
        tqdm progress bar.

    Returns
    -------
    dict
        ``tracks`` (rows in the manifest), ``cached`` (found in the cache), ``computed``,
        ``failed`` (list of ``"path: reason"``; failures are reported, not raised) and
        ``seconds``.

    Raises
    ------
    InputFileError
        The manifest itself cannot be read.
    """
    rows = read_manifest(manifest, allow_outside=allow_outside)  # allow_outside: --allow-outside-paths
    if cache_dir is None:
        cache_dir = str(default_cache_dir(manifest))
    res = prepare_rows(rows, cache_dir=cache_dir, chroma=chroma, drops=drops, jobs=jobs, progress=progress)
    return {"tracks": len(rows), "cached": res["cached"], "computed": res["computed"], "failed": res["failed"],
            "seconds": round(res["seconds"], 3)}
