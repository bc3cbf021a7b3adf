"""Shared material of the genre tests: small synthetic tracks with exact grids and drops.

The tracks are deliberately simple (a kick on every beat and a genre-specific tone
pattern, louder in the drop) so the tests stay fast on a 2-core CPU; the real
training data is SynthHouse (``mainstage synth-dataset``).
"""
from __future__ import annotations

import csv
import glob
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.genres import GENRES

SR = 44100
SONIC_PI_DIRS = ("/usr/share/sonic-pi/samples", "/usr/lib/sonic-pi/samples", "/usr/share/sonic-pi/etc/samples")


def sonic_pi_loops(n: int = 4) -> list[str]:
    """Paths of a few real recorded loops from the Debian ``sonic-pi-samples`` package."""
    for d in SONIC_PI_DIRS:
        files = sorted(glob.glob(f"{d}/loop_*.flac"))
        if files:
            return files[:n]
    return []


def synth_track(genre: int, bpm: float = 128.0, seed: int = 0, bars: int = 20, drop=(8, 16)):
    """A toy track: returns ``(stereo float32 audio, downbeats, drops)``.

    Genre ``g`` sets the tone's pitch and its rhythmic gate (which 16th notes sound),
    so genres are easy to tell apart from the mel image.
    """
    rng = np.random.default_rng(seed)
    beat = 60.0 / bpm
    n = int(round(bars * 4 * beat * SR))
    t = np.arange(n) / SR
    y = np.zeros(n)
    # Kick: decaying pitch-swept sine on every beat.
    kick_len = int(0.25 * SR)
    tk = np.arange(kick_len) / SR
    kick = np.sin(2 * np.pi * (45 * tk + 60 * (1 - np.exp(-tk * 30)) / 30)) * np.exp(-tk * 12)
    for b in range(bars * 4):
        i = int(round(b * beat * SR))
        m = min(kick_len, n - i)
        y[i:i + m] += kick[:m]
    # Genre tone, gated by a 16th-note pattern.
    freq = 110.0 * 2 ** (genre * 5 / 12)
    tone = np.sign(np.sin(2 * np.pi * freq * t)) * 0.3 + 0.3 * np.sin(2 * np.pi * 2 * freq * t)
    pattern = np.array([(k * (genre + 3)) % 5 < 2 for k in range(16)], dtype=float)
    step = ((t / (beat / 4)).astype(np.int64)) % 16
    gate = pattern[step] * np.exp(-((t % (beat / 4)) / (beat / 4)) * 3)
    level = np.full(n, 0.25)
    bar_s = 4 * beat
    d0, d1 = drop[0] * bar_s, drop[1] * bar_s
    level[(t >= d0) & (t < d1)] = 1.0
    y += tone * gate * level
    y += 0.02 * rng.standard_normal(n) * level
    y *= 0.3 / np.max(np.abs(y))
    stereo = np.stack([y, y * 0.98], axis=1).astype(np.float32)
    downbeats = np.arange(bars) * bar_s
    return stereo, downbeats, [(d0, d1)]


def write_dataset(root: Path, genres=(0, 1), per_genre: int = 4, bars: int = 20, mixtures: int = 0,
                  seed: int = 0) -> Path:
    """Toy dataset: audio + truth files + manifest.csv (Tech House written as "Techno")."""
    audio_dir, truth_dir = root / "audio", root / "truth"
    audio_dir.mkdir(parents=True, exist_ok=True)
    truth_dir.mkdir(parents=True, exist_ok=True)
    header = ["path"] + [("Techno" if g == "Tech House" else g) for g in GENRES]
    rows = []
    k = 0
    for g in genres:
        for i in range(per_genre):
            bpm = 124.0 + 2 * (i % 3)
            audio, downbeats, drops = synth_track(g, bpm, seed=seed * 1000 + k, bars=bars)
            name = f"g{g}_{i}"
            sf.write(audio_dir / f"{name}.wav", audio, SR, subtype="FLOAT")
            (truth_dir / f"{name}.truth.json").write_text(json.dumps(
                {"downbeats": downbeats.tolist(), "drops": [{"start_s": a, "end_s": b} for a, b in drops]}))
            label = np.zeros(len(GENRES))
            label[g] = 1.0
            rows.append([f"audio/{name}.wav"] + [f"{v:g}" for v in label] + [f"truth/{name}.truth.json"])
            k += 1
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header + ["truth"])
        w.writerows(rows)
    return root / "manifest.csv"


@pytest.fixture(scope="session")
def toy_dataset(tmp_path_factory) -> Path:
    """Manifest of 8 toy tracks (2 genres x 4)."""
    return write_dataset(tmp_path_factory.mktemp("toy"))


@pytest.fixture(scope="session")
def make_track():
    """The :func:`synth_track` function (test modules cannot import conftest under importlib mode)."""
    return synth_track


@pytest.fixture(scope="session")
def make_dataset():
    """The :func:`write_dataset` function."""
    return write_dataset


@pytest.fixture(scope="session")
def real_loops():
    """A few real recorded loops (Debian sonic-pi-samples); fails clearly when the package is missing."""
    files = sonic_pi_loops(4)
    assert files, "sonic-pi-samples is not installed (run .ci/install-system-deps)"
    return files
