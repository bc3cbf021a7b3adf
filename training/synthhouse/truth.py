"""The ground-truth timeline of a SynthHouse render (schema ``mainstage.timeline/1``)."""
from __future__ import annotations

import hashlib
from typing import Sequence

import numpy as np

from ...core.analysis.traits import (ENERGY_REF_PERCENTILE, TRAIT_NAMES, brightness_from_hz, energy_from_db,
                                     score_to_unit)
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


def bar_levels_db(audio: np.ndarray, sr: int, bar_starts: np.ndarray) -> np.ndarray:
    """RMS level (dB re full scale, all channels) of every bar."""
    return np.array([rms_dbfs(audio, sr, a, b) for a, b in zip(bar_starts[:-1], bar_starts[1:])])


def bar_centroids_hz(audio: np.ndarray, sr: int, bar_starts: np.ndarray, n_fft: int = 2048) -> np.ndarray:
    """Spectral centroid (Hz, full band, of the channel mean) of every bar."""
    mono = np.asarray(audio, dtype=np.float32).reshape(audio.shape[0], -1).mean(axis=1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    win = np.hanning(n_fft).astype(np.float32)
    out = np.zeros(len(bar_starts) - 1)
    for i, (a, b) in enumerate(zip(bar_starts[:-1], bar_starts[1:])):
        seg = mono[int(round(a * sr)):int(round(b * sr))]
        if seg.size < n_fft:
            seg = np.pad(seg, (0, n_fft - seg.size))
        frames = np.lib.stride_tricks.sliding_window_view(seg, n_fft)[::n_fft // 2]
        power = (np.abs(np.fft.rfft(frames * win, axis=1)) ** 2).sum(axis=0)
        out[i] = float((power * freqs).sum() / max(float(power.sum()), 1e-20))
    return out


def _presence(variant: str | None, role: str) -> float:
    """How much of a part plays in a bar: 0 (not at all), 0.5 (a kick cut half-way), the opened
    share of a build's filter sweep, else 1."""
    if variant is None:
        return 0.0
    if role == "kick" and variant == "half":
        return 0.5
    if variant.startswith("sweep"):
        k, n = (int(v) for v in variant[5:].split("/"))
        return (k + 1) / n
    return 1.0


def _track_trait_rows(params: dict) -> np.ndarray | None:
    """Generator-side traits of every bar of one SynthHouse plan, without energy and brightness
    (None when the plan lacks roles or trait scores)."""
    try:
        bars, genres, sound = params["bars"], params["genres"], params["sound"]
        scores = {t: float(sum(w * sound[g]["traits"][t] for g, w in genres.items()))
                  for t in ("groove", "fragmentation", "distortion", "organicity")}
    except (KeyError, TypeError):
        return None
    style = {t: float(score_to_unit(s)) for t, s in scores.items()}
    # SynthHouse 2: recorded acoustic drums make a track more organic than its genre's draw.
    style["organicity"] = min(1.0, style["organicity"] + float((params.get("samples") or {}).get("organicity_shift", 0.0)))
    rows = np.zeros((len(bars), len(TRAIT_NAMES)))
    for i, bar in enumerate(bars):
        roles = bar.get("roles", {})
        for j, name in enumerate(TRAIT_NAMES):
            if name in ("kick", "bass", "lead", "chords"):
                rows[i, j] = _presence(roles.get(name), name)
            elif name in style:
                rows[i, j] = style[name]
    return rows


def _set_trait_rows(analysis: dict, n_bars: int) -> np.ndarray | None:
    """Traits of a DJ-set mix: each bar takes the tracks that sound in it, weighted by their
    equal-power crossfade gains (presence: the loudest weighted part; style: the power-weighted mean)."""
    tracks, first = analysis.get("tracks", []), analysis.get("track_first_bar", [])
    xfade = int(analysis.get("xfade_bars", 0))
    per = [_track_trait_rows(p) for p in tracks]
    if not per or any(r is None for r in per) or len(first) != len(per):
        return None
    pres = [TRAIT_NAMES.index(t) for t in ("kick", "bass", "lead", "chords")]
    style = [TRAIT_NAMES.index(t) for t in ("groove", "fragmentation", "distortion", "organicity")]
    out = np.zeros((n_bars, len(TRAIT_NAMES)))
    for g in range(n_bars):
        acc, wsum = np.zeros(len(TRAIT_NAMES)), 0.0
        for i, rows in enumerate(per):
            j = g - int(first[i])
            if not 0 <= j < rows.shape[0]:
                continue
            gain = 1.0
            if i > 0 and j < xfade:
                gain = float(np.sin(0.5 * np.pi * (j + 0.5) / xfade))
            if i + 1 < len(per) and j >= rows.shape[0] - xfade:
                gain = min(gain, float(np.cos(0.5 * np.pi * (j - (rows.shape[0] - xfade) + 0.5) / xfade)))
            out[g, pres] = np.maximum(out[g, pres], gain * rows[j, pres])
            acc[style] += gain ** 2 * rows[j, style]
            wsum += gain ** 2
        out[g, style] = acc[style] / max(wsum, 1e-12)
    return out


def bar_trait_truth(audio: np.ndarray, sr: int, params: dict, bar_starts: np.ndarray) -> dict | None:
    """The generator's per-bar traits in the timeline's ``bar_traits`` form (None if unknown).

    * kick, bass, lead, chords: the part's activity from the arrangement (``bars[i]["roles"]``):
      1 when it plays, 0.5 for a kick cut half-way through the bar, ``(k + 1) / n`` for bar ``k``
      of an ``n``-bar filter sweep (the filter opening through a build);
    * groove, fragmentation, distortion, organicity: the track's 1-5 scores (weighted by the
      genre mixture) mapped to [0, 1]; organicity plus the plan's ``organicity_shift`` for
      recorded acoustic drums; DJ sets blend their tracks by crossfade power;
    * energy: the bar's RMS level against the 95th percentile of the track's bars
      (:func:`mainstage.core.analysis.traits.energy_from_db`);
    * brightness: the bar's full-band spectral centroid
      (:func:`mainstage.core.analysis.traits.brightness_from_hz`).
    """
    bar_starts = np.asarray(bar_starts, dtype=np.float64)
    n = bar_starts.size - 1
    rows = _set_trait_rows(params, n) if params.get("kind") == "set" else _track_trait_rows(params)
    if rows is None or rows.shape[0] != n or n == 0:
        return None
    level = bar_levels_db(audio, sr, bar_starts)
    rows[:, TRAIT_NAMES.index("energy")] = energy_from_db(level - np.percentile(level, ENERGY_REF_PERCENTILE))
    rows[:, TRAIT_NAMES.index("brightness")] = brightness_from_hz(bar_centroids_hz(audio, sr, bar_starts))
    return {"names": list(TRAIT_NAMES), "values": [[float(round(x, 4)) for x in r] for r in np.clip(rows, 0.0, 1.0)]}


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
    doc = new_timeline(
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
    traits = bar_trait_truth(audio, sr, params, bar_starts)
    if traits is not None and len(traits["values"]) == len(doc["downbeats"]):
        doc["bar_traits"] = traits
    return doc
