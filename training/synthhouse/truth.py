"""The ground-truth timeline of a SynthHouse render (schema ``mainstage.timeline/1``)."""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from ...core.genres import N_GENRES
from ...core.timeline import new_timeline
from .plan import params_sha256

MODEL_NAME = "SynthHouse ground truth"
PHRASE_BARS = 8


def beat_grid(bar_starts: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """Beats (4 per bar, every quarter note), downbeats and phrase starts (every 8 bars)."""
    b = np.asarray(bar_starts, dtype=np.float64)
    quarter = np.diff(b)[:, None] / 4.0 * np.arange(4)[None, :]
    beats = (b[:-1, None] + quarter).reshape(-1)
    return beats.tolist(), b[:-1].tolist(), b[:-1:PHRASE_BARS].tolist()


def tempo_segments(bar_starts: np.ndarray, bar_bpm: Sequence[float]) -> list[dict]:
    """Runs of bars with equal tempo as ``{"start_s", "end_s", "bpm"}``."""
    segs: list[dict] = []
    for i, bpm in enumerate(bar_bpm):
        if segs and abs(segs[-1]["bpm"] - bpm) < 1e-9:
            segs[-1]["end_s"] = float(bar_starts[i + 1])
        else:
            segs.append({"start_s": float(bar_starts[i]), "end_s": float(bar_starts[i + 1]), "bpm": float(bpm)})
    return segs


def sections_from_bars(bar_starts: np.ndarray, bar_sections: Sequence[tuple[str, int]]) -> list[dict]:
    """Merge consecutive bars with the same ``(label, section_id)`` into section spans."""
    out: list[dict] = []
    prev = None
    for i, key in enumerate(bar_sections):
        if key == prev:
            out[-1]["end_s"] = float(bar_starts[i + 1])
        else:
            out.append({"label": key[0], "start_s": float(bar_starts[i]), "end_s": float(bar_starts[i + 1])})
        prev = key
    return out


def rms_dbfs(audio: np.ndarray, sr: int, start_s: float, end_s: float) -> float:
    """RMS level (dB re full scale, both channels) of ``audio`` between two times."""
    seg = audio[int(round(start_s * sr)):int(round(end_s * sr))]
    if seg.size == 0:
        return -120.0
    ms = float(np.mean(np.square(seg, dtype=np.float64)))
    return float(round(10 * np.log10(max(ms, 1e-12)), 2))


def build_truth(audio: np.ndarray, sr: int, params: dict, bar_starts: np.ndarray, bar_bpm: Sequence[float],
                bar_sections: Sequence[tuple[str, int]], bar_probs: np.ndarray, main_bpm: float,
                file: str | None = None) -> dict:
    """Assemble the truth timeline of a render.

    Parameters
    ----------
    audio : (n, 2) float array
    params : dict
        Generation parameters; stored as ``analysis`` and hashed into ``model.sha256``.
    bar_starts : (n_bars + 1,) array
        Bar boundaries in seconds.
    bar_bpm : per-bar tempo.
    bar_sections : per-bar ``(label, section_id)``.
    bar_probs : (n_bars, 8) array
        True genre mixture of each bar.
    file : str, optional
        File name to record; until the audio is written it is a placeholder and
        ``track.sha256`` hashes the float samples instead of a file.
    """
    beats, downbeats, phrases = beat_grid(bar_starts)
    sections = sections_from_bars(bar_starts, bar_sections)
    drops = [{"start_s": s["start_s"], "end_s": s["end_s"], "loudness_db": rms_dbfs(audio, sr, s["start_s"], s["end_s"])}
             for s in sections if s["label"] == "drop"]
    probs = np.asarray(bar_probs, dtype=np.float64).reshape(-1, N_GENRES)
    probs = probs / probs.sum(axis=1, keepdims=True)
    windows = [{"start_s": float(bar_starts[i]), "end_s": float(bar_starts[i + 1]), "probs": [float(round(x, 6)) for x in p]}
               for i, p in enumerate(probs)]
    is_drop = np.array([lab == "drop" for lab, _ in bar_sections])
    summary = probs[is_drop].mean(axis=0) if is_drop.any() else probs.mean(axis=0)
    summary = summary / summary.sum()
    duration = audio.shape[0] / sr
    return new_timeline(
        file=file or "synthhouse.wav",
        duration_s=duration,
        sample_rate=sr,
        sha256=hashlib.sha256(np.ascontiguousarray(audio, dtype=np.float32).data).hexdigest(),
        channels=int(audio.shape[1]),
        bpm=main_bpm,
        tempo_segments=tempo_segments(bar_starts, bar_bpm),
        beats=[t for t in beats if t <= duration],
        downbeats=[t for t in downbeats if t <= duration],
        phrases=[t for t in phrases if t <= duration],
        sections=sections,
        drops=drops,
        genre_windows=windows,
        genre_summary=[float(round(x, 6)) for x in summary],
        model={"name": MODEL_NAME, "kind": "ground-truth", "sha256": params_sha256(params)},
        analysis=params,
        warnings=[],
    )
