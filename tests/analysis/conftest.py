"""Fixtures of the analysis tests: synthetic drum tracks, Debian's Sonic Pi loops, SynthHouse renders."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SONIC_PI_DIRS = (Path("/usr/share/sonic-pi/samples"), Path("/usr/share/sonic-pi/samples/loops"))
#: Sonic Pi loops with their length in beats (the loops are cut to a whole number of beats;
#: the tempo follows from the loop length in samples).
SONIC_PI_LOOPS = {"loop_garzul": 16, "loop_mika": 16, "loop_breakbeat": 4, "loop_amen_full": 16}


def kick(sr: int, dur: float = 0.25) -> np.ndarray:
    """A synthetic kick drum: a pitch-dropping sine (200 -> 50 Hz) with an exponential decay
    and a short click (a 2 kHz blip) at the attack, like a drum machine's kick."""
    t = np.arange(int(sr * dur)) / sr
    f = 50.0 + 150.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)
    click = 0.3 * np.sin(2 * np.pi * 2000.0 * t) * np.exp(-t / 0.003)
    return (body + click).astype(np.float32)


def drum_track(bpm: float = 125.0, dur: float = 60.0, sr: int = 44100, offset: float = 0.1,
               gaps=(), hats: bool = True, seed: int = 0, start: float = 0.0):
    """Four-on-the-floor kicks (+ off-beat hats) at ``bpm``; no kicks inside ``gaps``.

    Returns (mono float32 audio, kick times in s of the whole grid including gaps).
    """
    rng = np.random.default_rng(seed)
    n = int(sr * dur)
    y = np.zeros(n, dtype=np.float32)
    k = kick(sr)
    period = 60.0 / bpm
    grid = np.arange(offset, dur - 0.3, period)
    hat_len = int(0.04 * sr)
    env = np.exp(-np.arange(hat_len) / sr / 0.01).astype(np.float32)
    for b in grid:
        if any(a <= b < c for a, c in gaps):
            continue
        i = int(round(b * sr))
        m = min(k.size, n - i)
        y[i : i + m] += 0.8 * k[:m]
        if hats:
            h = int(round((b + period / 2) * sr))
            noise = np.diff(rng.standard_normal(hat_len + 1)).astype(np.float32) * env
            m = min(hat_len, n - h)
            if m > 0:
                y[h : h + m] += 0.1 * noise[:m]
    return y, grid + start


def sonic_pi_loop(name: str) -> Path:
    """Path of a Sonic Pi loop; fails (not skips) with the fix when the package is missing."""
    for d in SONIC_PI_DIRS:
        p = d / f"{name}.flac"
        if p.is_file():
            return p
    pytest.fail(f"Debian package sonic-pi-samples is missing ({name}.flac not found); "
                f"install it with `apt-get install sonic-pi-samples` (make test does)")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Never touch the user's analysis cache from tests."""
    monkeypatch.setenv("MAINSTAGE_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "analysis-cache"))
    yield
