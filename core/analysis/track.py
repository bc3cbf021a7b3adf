"""Analyse one audio file into a timeline document (everything but genres, plus the genre hook).

Pipeline: probe -> block-wise decode into low-rate features -> beat grid -> downbeats and
phrases -> drops (paper rule, snapped to bars) -> sections -> genres (plug-in, see
:func:`infer_genres`) -> :func:`mainstage.core.timeline.new_timeline`. Results are cached
by file hash, parameters and code version (:mod:`.cache`).
"""
from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..audio import AudioInfo, probe
from ..genre import DEFAULT_SMOOTHING
from ..hashing import sha256_file
from ..timeline import new_timeline
from .beats import BeatGrid, track_beats
from .cache import AnalysisCache, cache_key, code_version
from .downbeats import BARS_PER_PHRASE, find_downbeats, find_phrases
from .drops import DropParams, detect_drops, detect_drops_per_segment, drops_from_bars, snap_drops
from .layers import bar_layers, drop_bars, loud_drops
from .onsets import CHROMA_HOP, CHROMA_NFFT, CHROMA_SR, LOUD_SR, ONSET_HOP, ONSET_NFFT, ONSET_SR, TrackFeatures, extract_features
from .sections import label_bars, sections_from_labels
from .traits import BarTraits, head_digest, measure_bar_traits


# --------------------------------------------------------------------------- genres
@lru_cache(maxsize=4)
def _load_model(path: str | None, files_key: tuple):
    """Loaded genre models, reused while the file is unchanged (Blender analyses many tracks)."""
    from ..genre import load_genre_model

    return load_genre_model(path)


def _resolve_model(model: str | os.PathLike | None) -> Path | None:
    """The model file to use: ``model`` if given, else the bundled one (None if not installed)."""
    from ..genre import default_model_path

    if model is not None:
        return Path(model)
    p = default_model_path()
    return p if p.exists() else None


def infer_genres(path: str, info: AudioInfo, beats: np.ndarray, downbeats: np.ndarray, drops: list[dict], *,
                 model: str | os.PathLike | None = None, smoothing: int = DEFAULT_SMOOTHING
                 ) -> tuple[list[dict], list[float] | None, dict | None, list[str]]:
    """Genre windows (4 bars of the grid, stepped by one bar) and the whole-track summary.

    Parameters
    ----------
    path : str
        The audio file (decoded again block by block at 44.1 kHz for the mel features).
    info : AudioInfo
    beats, downbeats : arrays of seconds
    drops : list of dict
        Snapped drops; they weigh most in the summary (the paper's labels describe drops).
    model : path, optional
        An exported ONNX model with its metadata JSON; default: the bundled model.
    smoothing : int
        Radius in windows of a moving average over the window distributions (0 = off).

    Returns
    -------
    (genre_windows, genre_summary, model_info, warnings, genre_confidence)
        Empty windows, None, None, a warning and None when no model is installed.

    Raises
    ------
    InputFileError
        The model file is missing, invalid, or its feature parameters do not match.
    """
    from ..genre import analyze_genres_file
    from ..genre.model import model_files_key

    mpath = _resolve_model(model)
    if mpath is None:
        return [], None, None, ["no genre model installed: genre fields are empty"], None
    try:
        files_key = model_files_key(mpath)  # an edit of the .onnx or of its .json reloads the model
    except OSError:
        files_key = ()  # missing file: load_genre_model reports it
    gm = _load_model(str(mpath), files_key)
    out = analyze_genres_file(path, downbeats=downbeats if len(downbeats) >= 2 else None, drops=drops,
                              model=gm, smoothing=smoothing)
    return (out["genre_windows"], out["genre_summary"], out["model"], list(out.get("warnings", [])),
            out.get("genre_confidence"))


def genre_cache_token(model: str | os.PathLike | None = None, smoothing: int = DEFAULT_SMOOTHING) -> str | None:
    """Identity of the genre model for cache keys: sha256 of the ONNX file and of its metadata JSON
    (genre order, output kind, window length change the result as much as the weights) plus the
    smoothing; None without a model."""
    mpath = _resolve_model(model)
    if mpath is None or not mpath.is_file():
        return None
    st = mpath.stat()
    token = _file_digest(str(mpath), (st.st_mtime_ns, st.st_ino), st.st_size)
    meta = mpath.with_suffix(".json")
    try:
        mst = meta.stat()
        token += ":" + _file_digest(str(meta), (mst.st_mtime_ns, mst.st_ino), mst.st_size)[:16]
    except OSError:
        pass  # missing metadata: loading the model reports it
    return f"{token}:s{int(smoothing)}"


@lru_cache(maxsize=16)
def _file_digest(path: str, mtime: tuple, size: int) -> str:
    return sha256_file(path)


# --------------------------------------------------------------------------- analysis
@dataclass
class GridAnalysis:
    """Everything the timeline needs except genres."""

    grid: BeatGrid
    downbeats: np.ndarray
    phrases: np.ndarray
    drops: list[dict]
    sections: list[dict]
    warnings: list[str] = field(default_factory=list)
    bar_traits: BarTraits | None = None


def analysis_params(drop_params: DropParams = DropParams(), genre: bool = True,
                    model: str | os.PathLike | None = None, smoothing: int = DEFAULT_SMOOTHING) -> dict:
    """The parameters that determine an analysis (stored in the timeline and the cache key)."""
    return {
        "onset": {"sample_rate": ONSET_SR, "n_fft": ONSET_NFFT, "hop": ONSET_HOP},
        "chroma": {"sample_rate": CHROMA_SR, "n_fft": CHROMA_NFFT, "hop": CHROMA_HOP},
        "loudness_sample_rate": LOUD_SR,
        "drop_rule": drop_params.to_dict(),
        "bars_per_phrase": BARS_PER_PHRASE,
        "traits": {"head": head_digest()},
        "genre": {"enabled": bool(genre), "model": genre_cache_token(model, smoothing) if genre else None,
                  "windows_bars": 4, "step_bars": 1, "smoothing": int(smoothing)},
    }


def analyze_features(feat: TrackFeatures, drop_params: DropParams = DropParams(), traits: bool = True) -> GridAnalysis:
    """Beat grid, downbeats, phrases, drops, sections and (``traits``) the bar traits from a track's features."""
    dur = feat.duration_s
    grid = track_beats(feat)
    warnings = list(grid.warnings)
    beats = grid.beats
    db_idx = np.zeros(0, dtype=int)
    if beats.size:
        db_idx = find_downbeats(feat, beats, grid.beat_segment)
        ph_idx = find_phrases(feat, beats, db_idx, grid.beat_segment)
        downbeats, phrases = beats[db_idx], beats[ph_idx]
    else:
        downbeats = phrases = np.zeros(0)
    drops: list[dict] = []
    layers = bar_layers(feat, beats, downbeats, dur) if downbeats.size else None
    if not beats.size:
        warnings.append("no drops detected (no beat grid)")
    elif drop_params.method == "layers":
        if layers is not None:
            bar_seg = grid.beat_segment[db_idx] if len(grid.beat_segment) == beats.size else None
            ranges = loud_drops(drop_bars(layers.full), layers, bar_seg)
            drops = drops_from_bars(ranges, layers.edges, feat.loud_sumsq, drop_params)
        if not drops:
            warnings.append("no drop found (the kick and bass never return after 4 bars without them)")
    elif dur < drop_params.skip_s + drop_params.min_length_s:
        warnings.append(f"no drops detected (track too short: the drop rule skips {drop_params.skip_s:g} s "
                        f"and needs {drop_params.min_length_s:g} s more)")
    else:
        spans = [(s.start_s, s.end_s) for s in grid.segments]
        if len(spans) > 1:  # a DJ mix: each track against its own loudest moment
            raw = detect_drops_per_segment(feat.loud_sumsq, spans, drop_params)
        else:
            raw = detect_drops(feat.loud_sumsq, drop_params)
        drops = snap_drops(raw, downbeats, phrases, feat.loud_sumsq, dur, drop_params)
        if not drops:
            warnings.append(f"no drop found (no loud stretch of {drop_params.min_length_s:g} s or more)")
    labels = label_bars(feat, downbeats, dur, drops, layers)
    sections = sections_from_labels(labels, downbeats, dur)
    if sections:
        sections[0]["start_s"] = 0.0
    bar_traits = measure_bar_traits(feat, beats, downbeats, layers, sections) if traits and layers is not None else None
    if traits and bar_traits is None:
        warnings.append("no bar traits (no beat grid)" if layers is None else "no bar traits (no trait head installed)")
    return GridAnalysis(grid, downbeats, phrases, drops, sections, warnings, bar_traits)


def build_timeline(path: str, info: AudioInfo, sha256: str, feat: TrackFeatures, res: GridAnalysis,
                   params: dict, genre: bool = True, model: str | os.PathLike | None = None,
                   smoothing: int = DEFAULT_SMOOTHING) -> dict:
    """Assemble the timeline document (genre plug-in included when ``genre``)."""
    dur = feat.duration_s
    segs = []
    for s in res.grid.segments:
        a, b = max(0.0, s.start_s), min(dur, s.end_s)
        if b > a:
            segs.append({"start_s": a, "end_s": b, "bpm": round(s.bpm, 4)})
    warnings = list(res.warnings)
    if genre:
        windows, summary, model_info, gw, confidence = infer_genres(path, info, res.grid.beats, res.downbeats,
                                                                    res.drops, model=model, smoothing=smoothing)
        warnings += gw
    else:
        windows, summary, model_info, confidence = [], None, None, None
    analysis = dict(params)
    analysis.update({
        "decoder": info.decoder, "format": info.format, "subtype": info.subtype,
        "code_version": code_version(),
        "grid": [{"start_s": s.start_s, "end_s": s.end_s, "period_s": s.period, "t0_s": s.t0,
                  "matched_onsets": s.matched, "residual_ms": None if not np.isfinite(s.residual_ms) else s.residual_ms}
                 for s in res.grid.segments],
    })
    doc = new_timeline(
        file=path, duration_s=dur, sample_rate=info.sample_rate, sha256=sha256, channels=info.channels,
        bpm=None if res.grid.bpm is None else round(res.grid.bpm, 4), tempo_segments=segs,
        beats=np.round(res.grid.beats, 6), downbeats=np.round(res.downbeats, 6), phrases=np.round(res.phrases, 6),
        sections=res.sections, drops=res.drops, genre_windows=windows, genre_summary=summary, model=model_info,
        analysis=analysis, warnings=warnings, genre_confidence=confidence,
    )
    if res.bar_traits is not None:
        doc["bar_traits"] = res.bar_traits.to_json()
    return doc


class _CacheHit(Exception):
    """Stops decoding once the cache turns out to hold the result."""

    def __init__(self, doc: dict):
        super().__init__("cache hit")
        self.doc = doc


def analyze_track_cached(path: str | os.PathLike, *, genre: bool = True, use_cache: bool = True,
                         cache: AnalysisCache | None = None, drop_params: DropParams = DropParams(),
                         model: str | os.PathLike | None = None, smoothing: int = DEFAULT_SMOOTHING,
                         progress=None) -> tuple[dict, bool]:
    """Analyse a file, using and filling the cache; returns ``(timeline, came_from_cache)``.

    Raises
    ------
    InputFileError
        The file is missing, not audio, truncated, or cannot be decoded.
    """
    path = str(path)
    info = probe(path)
    params = analysis_params(drop_params, genre, model, smoothing)
    store = cache if cache is not None else (AnalysisCache() if use_cache else None)
    t0 = time.perf_counter()
    # The file's hash (cache key, timeline) is computed in a thread while the audio is
    # decoded: hashlib releases the GIL, so a second core does it for free. As soon as the
    # hash is known the cache is looked up, and a hit stops the decoding.
    looked_up = not (use_cache and store is not None)

    def lookup():
        doc = store.get(cache_key(sha_job.result(), params), sha_job.result())  # None when absent or bad
        if doc is not None:
            doc["track"]["file"] = path
        return doc

    def on_block(seconds: float) -> None:
        nonlocal looked_up
        if not looked_up and sha_job.done():
            looked_up = True
            hit = lookup()
            if hit is not None:
                raise _CacheHit(hit)
        if progress is not None:
            progress(seconds)

    with ThreadPoolExecutor(max_workers=1) as pool:
        sha_job = pool.submit(sha256_file, path)
        try:
            feat = extract_features(info, on_block)
        except _CacheHit as hit:
            return hit.doc, True
        if not looked_up:
            looked_up = True
            hit = lookup()
            if hit is not None:
                return hit, True
        res = analyze_features(feat, drop_params)
        sha = sha_job.result()
    doc = build_timeline(path, info, sha, feat, res, params, genre, model, smoothing)
    doc["analysis"]["elapsed_s"] = round(time.perf_counter() - t0, 3)
    if use_cache and store is not None:
        store.put(cache_key(sha, params), doc)
    return doc, False


def analyze_track(path: str | os.PathLike, *, genre: bool = True, use_cache: bool = False,
                  drop_params: DropParams = DropParams(), model: str | os.PathLike | None = None,
                  smoothing: int = DEFAULT_SMOOTHING) -> dict:
    """Analyse one audio file into a validated timeline document (no cache by default)."""
    return analyze_track_cached(path, genre=genre, use_cache=use_cache, drop_params=drop_params,
                                model=model, smoothing=smoothing)[0]
