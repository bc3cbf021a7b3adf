"""Timelines without audio: a DJ-style set through several genres with drops, exactly on a grid.

What the show is planned from when no track is needed (choreography tests, the Apply
benchmark, the Blender scenarios).
"""
from __future__ import annotations

import numpy as np

from ...core.genres import GENRES
from ...core.timeline import new_timeline, validate_timeline

#: (label, bars, genre) blocks of the synthetic set.
SET_PLAN = (
    ("intro", 8, "Deep House"), ("build", 8, "Deep House"), ("drop", 16, "Deep House"),
    ("breakdown", 8, "Progressive House"), ("build", 8, "Progressive House"), ("drop", 16, "Bass House"),
    ("breakdown", 8, "Bigroom"), ("build", 8, "Bigroom"), ("drop", 16, "Bigroom"), ("outro", 8, "Bigroom"),
)


def synthetic_set(bpm: float = 126.0, plan=SET_PLAN, repeat: int = 1, offset_s: float = 0.37) -> dict:
    """A valid timeline: constant tempo, sections and drops per ``plan``, one-hot-ish genre windows.

    ``repeat`` concatenates the plan (a 1-hour mix is ~ ``repeat=14`` at 126 BPM).
    """
    plan = list(plan) * repeat
    spb = 60.0 / bpm
    n_bars = sum(b for _, b, _ in plan)
    beats = offset_s + np.arange(n_bars * 4) * spb
    duration = float(beats[-1] + spb * 2)
    downbeats = beats[::4]
    sections, drops, windows = [], [], []
    bar = 0
    for label, bars, genre in plan:
        s, e = float(downbeats[bar]), float(downbeats[bar + bars] if bar + bars < n_bars else duration)
        sections.append({"label": label, "start_s": s, "end_s": e})
        if label == "drop":
            drops.append({"start_s": s, "end_s": e})
        p = np.full(len(GENRES), 0.02)
        p[GENRES.index(genre)] = 1.0 - 0.02 * (len(GENRES) - 1)
        for b in range(bar, bar + bars):
            ws = float(downbeats[b])
            we = float(downbeats[b + 1]) if b + 1 < n_bars else duration
            windows.append({"start_s": ws, "end_s": we, "probs": [float(x) for x in p]})
        bar += bars
    summary = np.mean([w["probs"] for w in windows], axis=0)
    summary /= summary.sum()
    doc = new_timeline(file="set.wav", duration_s=duration, sample_rate=44100, sha256="0" * 64, bpm=bpm,
                       tempo_segments=[{"start_s": 0.0, "end_s": duration, "bpm": bpm}],
                       beats=beats, downbeats=downbeats, phrases=downbeats[::8], sections=sections, drops=drops,
                       genre_windows=windows, genre_summary=summary,
                       model={"name": "synthetic", "sha256": "0" * 64, "kind": "ground-truth"})
    return validate_timeline(doc, "<synthetic set>")


def click_track(doc: dict, sr: int = 22050) -> np.ndarray:
    """Audio for a timeline: a decaying 70 Hz thump on every beat (mono float32 at ``sr``)."""
    n = int(doc["track"]["duration_s"] * sr)
    y = np.zeros(n, np.float32)
    k = np.arange(1500)
    thump = (0.6 * np.sin(2 * np.pi * 70 * k / sr) * np.exp(-k / 500)).astype(np.float32)
    for b in doc["beats"]:
        i = int(round(b * sr))
        m = min(len(k), n - i)
        y[i:i + m] += thump[:m]
    return y

