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
        ``genre_windows`` (list of ``{"start_s", "end_s", "probs"}``), ``genre_summary``
        (8 floats, or None for empty audio), ``model`` (``{"name", "sha256", "kind"}``),
        ``warnings`` (list of str) and ``windowing`` (``"bars"`` or ``"seconds"``).
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
        return {"genre_windows": [], "genre_summary": None, "model": model.info(), "warnings": warnings,
                "windowing": "bars" if on_grid else "seconds"}
    first, lengths = _frame_plan(model, starts, ends)
    probs = np.zeros((starts.size, len(GENRES)))
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
            probs[sel] = model.predict(x, batch_size=batch_size)
        i = j
    if smoothing:
        probs = smooth_windows(probs, int(smoothing))
    summary = summarize(starts, ends, probs, drops=drops, loudness_db=loud)
    windows = [{"start_s": float(s), "end_s": float(min(e, duration)), "probs": _round_probs(p)}
               for s, e, p in zip(starts, ends, probs)]
    return {"genre_windows": windows, "genre_summary": _round_probs(summary), "model": model.info(),
            "warnings": warnings, "windowing": "bars" if on_grid else "seconds"}


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
