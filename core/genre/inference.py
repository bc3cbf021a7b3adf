"""Whole-track genre inference: audio -> time-stamped genre distributions.

Each window's scaled log-mel is cut from a mel spectrogram of whole blocks of the track
(:func:`.features.track_mel_db`) and all windows go through the model in a few batched
ONNX Runtime calls. Needs only numpy and ONNX Runtime (plus librosa for the rare models
trained with chroma).
"""
from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..audio import StreamReader, iter_mono, probe
from ..genres import GENRES
from . import features as F
from . import chroma
from .model import GenreModel, load_genre_model
from .windows import DEFAULT_SMOOTHING, smooth_windows, summarize, window_grid

#: Window lengths are rounded to a multiple of this many frames (93 ms) so that a
#: track's windows share a few input shapes and run in a few batched calls.
FRAME_QUANTUM = 8
#: Audio per feature block: long mixes are featurised in pieces of about this length (s).
BLOCK_SECONDS = 600.0
#: A window whose mean mel power is below this (dB, the scale of ``features.track_mel_db``:
#: full-scale pink noise reads +7, a mastered house track about -7, 16-bit dither -81) is
#: silent, i.e. about 58 dB below a mastered track: it gets a uniform distribution and no
#: confidence, and counts for nothing in the summary.
SILENT_WINDOW_DB = -65.0
#: A track with at least this share of silent windows has no genre.
SILENT_TRACK_SHARE = 0.9
#: Share of (non-silent) windows above the novelty threshold that makes the track "low".
LOW_CONFIDENCE_OOD_SHARE = 0.5
#: Without a beat grid, this share above the threshold means "not music": no genre.
NON_MUSIC_OOD_SHARE = 0.9


def _frame_plan(model: GenreModel, starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """First frame and input length per window (lengths quantised, windows centred)."""
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    raw = np.maximum(np.rint((ends - starts) * fps).astype(np.int64), 1)
    q = np.maximum(FRAME_QUANTUM * np.rint(raw / FRAME_QUANTUM).astype(np.int64), FRAME_QUANTUM)
    lengths = np.array([model.frames_for(int(n)) for n in q], dtype=np.int64)
    centre = (starts + ends) * 0.5 * fps
    first = np.rint(centre - lengths / 2.0).astype(np.int64)
    return first, lengths


def analyze_genres(audio, sample_rate: int, *, downbeats: Sequence[float] | None = None,
                   drops: Sequence | None = None, model: GenreModel | str | os.PathLike | None = None,
                   smoothing: int = DEFAULT_SMOOTHING, batch_size: int = 32) -> dict:
    """Time-stamped genre distributions of a track (or a DJ mix).

    Parameters
    ----------
    audio : np.ndarray, shape (n,) or (n, channels)
        Samples at ``sample_rate`` (any rate; converted to mono 44.1 kHz).
    downbeats : sequence of float, optional
        Bar lines (s) from beat tracking. Windows are exactly 4 bars of this grid stepped
        by one bar; without a grid, 7.5 s windows stepped 1.875 s.
    drops : sequence, optional
        Drop sections (``{"start_s", "end_s"}`` dicts or pairs); the summary is essentially
        the mean over windows inside drops (other windows weigh 0.05). Without drops, the
        windows within 2 dB of the loudest one take their place.
    model : GenreModel or path, optional
        Default: the bundled model.
    smoothing : int
        Radius (in windows, i.e. bars on a grid) of a moving average of the window
        distributions (default :data:`DEFAULT_SMOOTHING` = 2); 0 = off. The summary is
        computed from the smoothed windows.
    batch_size : int
        Windows per ONNX Runtime call.

    Returns
    -------
    dict
        ``genre_windows`` (list of ``{"start_s", "end_s", "probs", "confidence"}``, plus
        ``"novelty"`` for models with a novelty output), ``genre_summary`` (8 floats, or None
        for empty audio; uniform when there is no genre to hear), ``genre_confidence``
        (``{"level", "confidence", "novelty", "out_of_domain", "silent"}``, None for empty
        audio), ``model`` (``{"name", "sha256", "kind", ...}``), ``warnings`` (list of str)
        and ``windowing`` (``"bars"`` or ``"seconds"``).
    """
    if not isinstance(model, GenreModel):
        model = load_genre_model(model)
    y = F.prepare_audio(audio, sample_rate)
    return _analyze(lambda a, b: y[a:b], y.size / F.SAMPLE_RATE, downbeats, drops, model, smoothing, batch_size)


def analyze_genres_file(path: str | os.PathLike, *, downbeats: Sequence[float] | None = None,
                        drops: Sequence | None = None, model: GenreModel | str | os.PathLike | None = None,
                        smoothing: int = DEFAULT_SMOOTHING, batch_size: int = 32) -> dict:
    """:func:`analyze_genres` on an audio file, decoded block by block.

    Memory stays bounded for long DJ mixes: only about ``BLOCK_SECONDS`` of audio and its
    mel spectrogram are held at a time. Same parameters and result as
    :func:`analyze_genres`; decoding errors raise ``InputFileError``.
    """
    if not isinstance(model, GenreModel):
        model = load_genre_model(model)
    info = probe(path)
    reader = StreamReader(iter_mono(info, F.SAMPLE_RATE))
    out = _analyze(reader.read, info.duration_s, downbeats, drops, model, smoothing, batch_size)
    actual = reader.total_read() / F.SAMPLE_RATE
    if actual < info.duration_s - 0.05:  # declared length was an estimate (some MP3s): drop windows past the end
        out["genre_windows"] = [dict(w, end_s=min(w["end_s"], actual)) for w in out["genre_windows"]
                                if w["start_s"] < actual - 1.0]
    return out


def _analyze(read, duration: float, downbeats, drops, model: GenreModel, smoothing: int, batch_size: int) -> dict:
    """Windows, features, batched inference and summary; ``read(a, b)`` gives mono 44.1 kHz samples."""
    meta_win = model.metadata["window"]
    starts, ends, on_grid = window_grid(duration, downbeats, bars=int(meta_win["bars"]),
                                        step_bars=int(meta_win["step_bars"]), fallback_s=float(meta_win["fallback_s"]),
                                        fallback_step_s=float(meta_win["fallback_step_s"]))
    warnings: list[str] = []
    if downbeats is not None and len(downbeats) >= 2 and not on_grid:
        warnings.append("genre: beat grid too short for 4-bar windows; used 7.5 s windows")
    if starts.size == 0:
        return {"genre_windows": [], "genre_summary": None, "model": model.info(), "genre_confidence": None,
                "warnings": warnings, "windowing": "bars" if on_grid else "seconds"}
    first, lengths = _frame_plan(model, starts, ends)
    probs = np.zeros((starts.size, len(GENRES)))
    novelty = np.full(starts.size, np.nan) if model.has_novelty else None
    loud = np.zeros(starts.size)
    chroma_mod = chroma if model.chroma else None
    # Feature blocks of about BLOCK_SECONDS of audio, each covering whole windows (windows are
    # sorted by start, so blocks are read in order).
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    block_frames = int(BLOCK_SECONDS * fps)
    margin = 64  # frames of real audio on both sides, so windows see no block edge
    i = 0
    while i < starts.size:
        j = i + 1
        while j < starts.size and first[j] + lengths[j] - first[i] <= block_frames:
            j += 1
        f0 = max(int(first[i:j].min()) - margin, 0)
        f1 = int((first[i:j] + lengths[i:j]).max()) + margin
        seg = read(f0 * F.HOP_LENGTH, f1 * F.HOP_LENGTH)
        mel_db = F.track_mel_db(seg)
        chroma_db = chroma_mod.chroma_channels(seg) if chroma_mod is not None else None
        power_cumsum = _frame_power_cumsum(mel_db)
        for n in np.unique(lengths[i:j]):
            sel = np.arange(i, j)[lengths[i:j] == n]
            x = F.window_features(mel_db, first[sel] - f0, int(n))
            loud[sel] = _window_loudness(power_cumsum, first[sel] - f0, int(n))
            if chroma_db is not None:
                x = np.concatenate([x[:, None], _cut(chroma_db, first[sel] - f0, int(n))], axis=1)
            else:
                x = x[:, None]
            out = model.run(x, batch_size=batch_size)
            probs[sel] = out["probs"]
            if novelty is not None:
                novelty[sel] = out["novelty"]
        i = j
    silent = loud < SILENT_WINDOW_DB
    probs[silent] = 1.0 / len(GENRES)  # nothing to classify: no genre, not the model's guess
    if smoothing:
        probs = smooth_windows(probs, int(smoothing))
        probs[silent] = 1.0 / len(GENRES)
    conf = window_confidence(probs, novelty)
    conf[silent] = 0.0
    summary = summarize(starts, ends, probs, drops=drops, loudness_db=loud, exclude=silent)
    track_conf = _track_confidence(conf, novelty, silent, on_grid)
    if track_conf["level"] == "none" or summary is None:
        summary = np.full(len(GENRES), 1.0 / len(GENRES))
    warnings.extend(_confidence_warnings(track_conf))
    windows = []
    for k, (s, e, p) in enumerate(zip(starts, ends, probs)):
        w = {"start_s": float(s), "end_s": float(min(e, duration)), "probs": _round_probs(p)}
        if novelty is not None and not silent[k]:
            w["novelty"] = round(float(novelty[k]), 4)
        w["confidence"] = round(float(conf[k]), 4)
        windows.append(w)
    return {"genre_windows": windows, "genre_summary": _round_probs(summary), "model": model.info(),
            "genre_confidence": track_conf, "warnings": warnings, "windowing": "bars" if on_grid else "seconds"}


def window_confidence(probs: np.ndarray, novelty: np.ndarray | None) -> np.ndarray:
    """Confidence in [0, 1] of each window's distribution.

    The top probability's margin over uniform, ``(p_max - 1/8) / (7/8)``, times a factor that
    falls linearly from 1 at novelty 1 (the threshold fitted in training) to 0 at novelty 2:
    a window unlike the training music gets no confidence however peaked its output is (the
    model's own top probability does not tell in-domain from out-of-domain windows).
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.size == 0:
        return np.zeros(0)
    k = p.shape[1]
    margin = np.clip((p.max(axis=1) - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    if novelty is None:
        return margin
    nov = np.nan_to_num(np.asarray(novelty, dtype=np.float64), nan=0.0)
    return margin * np.clip(2.0 - nov, 0.0, 1.0)


def _track_confidence(conf: np.ndarray, novelty: np.ndarray | None, silent: np.ndarray, on_grid: bool) -> dict:
    """The timeline's ``genre_confidence`` (see docs/timeline.md)."""
    heard = ~silent
    silent_share = float(silent.mean()) if silent.size else 1.0
    nov = novelty[heard] if novelty is not None else np.zeros(0)
    ood = float(np.mean(nov > 1.0)) if nov.size else 0.0
    level = "ok"
    if silent_share >= SILENT_TRACK_SHARE or not heard.any():
        level = "none"
    elif novelty is not None and not on_grid and ood >= NON_MUSIC_OOD_SHARE:
        level = "none"  # no beat grid and unlike anything learned: noise, speech, ambience
    elif novelty is not None and ood > LOW_CONFIDENCE_OOD_SHARE:
        level = "low"
    return {"level": level, "confidence": round(float(conf[heard].mean()) if heard.any() and level != "none" else 0.0, 4),
            "novelty": round(float(np.median(nov)), 4) if nov.size else None,
            "out_of_domain": round(ood, 4), "silent": round(silent_share, 4)}


def _confidence_warnings(tc: dict) -> list[str]:
    if tc["level"] == "none":
        if tc["silent"] >= SILENT_TRACK_SHARE:
            return ["genre: the audio is silent; no genre"]
        return [f"genre: no beat and {tc['out_of_domain']:.0%} of windows unlike the model's training music "
                f"(noise, speech or not music?); no genre"]
    if tc["level"] == "low":
        return [f"genre: this track is unlike the music the model learned ({tc['out_of_domain']:.0%} of windows out "
                f"of its domain); the genres are a guess"]
    return []


def _round_probs(p) -> list[float]:
    """Probabilities as plain floats (6 decimals), renormalised to sum 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    q = np.round(q / q.sum(), 6)
    return [float(v) for v in q]


def _frame_power_cumsum(mel_db: np.ndarray) -> np.ndarray:
    """Cumulative sum of the per-frame mean mel power (linear), with a leading 0."""
    power = np.power(np.float32(10.0), mel_db * np.float32(0.1)).mean(axis=0, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(power)])


def _window_loudness(power_cumsum: np.ndarray, starts, length: int) -> np.ndarray:
    """Mean mel power (dB) of each window, for the drop-weighted summary."""
    total = power_cumsum.size - 1
    s = np.clip(np.asarray(starts), 0, total)
    e = np.clip(np.asarray(starts) + length, 0, total)
    mean = (power_cumsum[e] - power_cumsum[s]) / np.maximum(e - s, 1)
    return 10.0 * np.log10(np.maximum(mean, F.AMIN))


def _cut(channels: np.ndarray, starts, length: int) -> np.ndarray:
    """Windows of ``(c, 224, frames)`` features, zero outside the track."""
    c, m, total = channels.shape
    out = np.zeros((len(starts), c, m, length), dtype=np.float32)
    for k, s in enumerate(np.asarray(starts).tolist()):
        lo, hi = max(s, 0), min(s + length, total)
        if hi > lo:
            out[k, :, :, lo - s:hi - s] = channels[:, :, lo:hi]
    return out
