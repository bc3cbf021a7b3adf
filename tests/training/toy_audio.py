"""Toy tracks for the training tests: fast to make and easy to tell apart from the mel image.

(The real training data is SynthHouse; these keep the 2-core test suite fast.)
"""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

SR = 44100


def toy_track(genre: int, bpm: float, seed: int, bars: int = 12, drop=(4, 12)):
    """Kick on every beat plus a genre-pitched, genre-gated square tone, louder in the drop.

    Returns
    -------
    y : float32 mono audio at :data:`SR`
    downbeats : seconds of each bar start
    drop_span : ``(start_s, end_s)`` of the drop (bars ``drop[0]`` to ``drop[1]``)
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n = int(round(bars * 4 * beat * SR))
    t = np.arange(n) / SR
    y = np.zeros(n)
    kick_t = np.arange(int(0.2 * SR)) / SR
    kick = np.sin(2 * np.pi * (50 * kick_t + 2 * (1 - np.exp(-kick_t * 30)))) * np.exp(-kick_t * 12)
    for b in range(bars * 4):
        i = int(round(b * beat * SR))
        m = min(kick.size, n - i)
        y[i:i + m] += kick[:m]
    freq = 110.0 * 2 ** (genre * 7 / 12)
    pattern = np.array([(k * (genre + 3)) % 5 < 2 for k in range(16)], float)
    gate = pattern[((t / (beat / 4)).astype(np.int64)) % 16]
    bar_s = 4 * beat
    level = np.where((t >= drop[0] * bar_s) & (t < drop[1] * bar_s), 1.0, 0.25)
    y += np.sign(np.sin(2 * np.pi * freq * t)) * 0.4 * gate * level + 0.02 * rng.standard_normal(n) * level
    y *= 0.3 / np.abs(y).max()
    return y.astype(np.float32), np.arange(bars) * bar_s, (drop[0] * bar_s, drop[1] * bar_s)


@functools.lru_cache(maxsize=None)
def genre_helpers():
    """The toy-dataset writer of ``tests/genre/conftest.py`` (``write_dataset`` ...), loaded as a module:
    pytest does not make conftest files importable."""
    spec = importlib.util.spec_from_file_location("_training_genre_helpers",
                                                  Path(__file__).resolve().parents[1] / "genre" / "conftest.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
