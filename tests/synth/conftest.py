"""Shared SynthHouse renders (session scope: each test worker renders them once)."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import synth_measures as sm  # noqa: E402

from mainstage.core.genres import GENRES  # noqa: E402
from mainstage.training.synthhouse import render_track  # noqa: E402

#: Short tracks for trait measurements: two 8-bar drops are plenty to measure a drop.
TRAIT_STRUCTURE = "intro:4,build:2,drop:8,breakdown:2,build:2,drop:8,outro:2"
TRAIT_SEEDS = (1, 2)
#: Long enough for the paper's drop rule (drops >= 15 s, first 15 s skipped).
DROP_STRUCTURE = "intro:8,build:4,drop:12,breakdown:8,build:4,drop:12,outro:4"


@dataclass
class Measured:
    """A render reduced to its audio, truth and stem measurements (stems are dropped: memory)."""

    genre: str
    seed: int
    sr: int
    truth: dict
    stem_db: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)


def _db(x: float) -> float:
    return float(10 * np.log10(x + 1e-20))


def lead_onsets(truth: dict, genre: str) -> np.ndarray:
    """Times of the lead notes in drop bars, from the generation parameters."""
    a = truth["analysis"]
    lead = a["sound"][genre]["lead"]
    if not lead:
        return np.array([])
    swing = a["global"]["swing"]
    out = []
    for i, bar in enumerate(a["bars"]):
        if bar["section"] != "drop" or bar["roles"].get("lead") != "main":
            continue
        step_s = 15.0 / bar.get("bpm", a["bpm"])
        half = (bar["pos"] % len(a["progression"])) % 2
        for s, *_ in lead["pattern"]:
            if 16 * half <= s < 16 * half + 16:
                k = s - 16 * half
                out.append(truth["downbeats"][i] + (k + (swing if k % 2 else 0.0)) * step_s)
    return np.array(sorted(out))


def _lead_rise(res, genre: str) -> float:
    on = lead_onsets(res.truth, genre)
    if on.size == 0:
        return float("nan")
    return float(np.median(sm.note_rise_times(res.stems["lead"], res.sr, on)))


def measure(res, genre: str, seed: int) -> Measured:
    sr, truth, st = res.sr, res.truth, res.stems
    drops = truth["drops"]
    spans = [(int(d["start_s"] * sr), int(d["end_s"] * sr)) for d in drops]

    def drop_power(x: np.ndarray) -> float:
        total = sum(float(np.einsum("ij,ij->", x[a:b], x[a:b], dtype=np.float64)) for a, b in spans)
        return total / (2 * sum(b - a for a, b in spans))

    stem_db = {k: _db(drop_power(v)) for k, v in st.items()}
    d0 = drops[0]
    drop_audio = sm.segment(res.audio, sr, d0["start_s"], d0["end_s"])
    mono = drop_audio.mean(axis=1)
    bpm = truth["tempo"]["bpm"]
    downbeats = np.array(truth["downbeats"])
    drop_bars = downbeats[(downbeats >= d0["start_s"]) & (downbeats < d0["end_s"] - 1e-6)] - d0["start_s"]
    sent = sum(drop_power(st[k]) for k in ("clap", "hats", "perc", "lead", "chords", "atmos"))
    wet = drop_power(st["reverb"])
    first_bar = res.audio[: int(downbeats[1] * sr)].mean(axis=1)
    kick_hz, kick_len = sm.kick_pitch_and_length(first_bar, sr, np.array(truth["beats"][:4]))
    music = sm.segment(st["lead"] + st["bass"], sr, d0["start_s"], d0["end_s"])
    values = {
        "bpm": bpm,
        "crest_db": sm.crest_db(drop_audio),
        "flatness": sm.spectral_flatness(mono, sr, 1000, 8000),
        "tonal_db": sm.stable_tonal_db(mono, sr),
        "reverb_db": _db(wet) - _db(sent),
        "kick_hz": kick_hz,
        "kick_len": kick_len,
        "swing": sm.swing_lag(sm.segment(st["hats"], sr, d0["start_s"], d0["end_s"]), sr, drop_bars, bpm),
        "lead_rise": _lead_rise(res, genre),
        "tail_db": sm.tail_floor_db(mono, sr),
    }
    lead = sm.segment(st["lead"], sr, d0["start_s"], d0["end_s"])
    values["lead_onsets"], values["lead_sounding"] = sm.activity(lead, sr)
    values["music_onsets"], values["music_sounding"] = sm.activity(music, sr)
    return Measured(genre, seed, sr, truth, stem_db, values)


def _render_measured(genre: str, seed: int) -> Measured:
    res = render_track(genre, seed=seed, structure=TRAIT_STRUCTURE, stems=True)
    return measure(res, genre, seed)


def _shared_results(tmp_path_factory, items: list[tuple], make) -> dict:
    """Compute ``make(*item)`` for every item once per test session, shared by xdist workers.

    Each item has a lock file in a folder common to all workers; a worker takes the
    items nobody holds (starting at a worker-dependent offset), then waits for and
    loads the rest. A worker left alone computes everything itself.
    """
    import fcntl
    import pickle

    base = tmp_path_factory.getbasetemp()
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    folder = (base.parent if worker else base) / "synth-shared"
    folder.mkdir(exist_ok=True)
    n_workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    w = int(worker[2:]) if worker and worker[2:].isdigit() else 0
    start = (w * len(items)) // max(n_workers, 1)
    order = items[start:] + items[:start]

    def path(item, ext):
        return folder / ("_".join(str(x).replace(" ", "") for x in item) + ext)

    def compute(item):
        tmp = path(item, f".{os.getpid()}.tmp")
        tmp.write_bytes(pickle.dumps(make(*item)))
        os.replace(tmp, path(item, ".pkl"))

    for blocking in (False, True):
        for item in order:
            if path(item, ".pkl").exists():
                continue
            with open(path(item, ".lock"), "w") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
                except BlockingIOError:
                    continue
                if not path(item, ".pkl").exists():
                    compute(item)
    return {item: pickle.loads(path(item, ".pkl").read_bytes()) for item in items}


@pytest.fixture(scope="session")
def trait_tracks(tmp_path_factory) -> dict[tuple[str, int], Measured]:
    """Every genre at two seeds, measured (rendered once per session, shared by workers)."""
    items = [(g, s) for g in GENRES for s in TRAIT_SEEDS]
    return _shared_results(tmp_path_factory, items, _render_measured)


def _render_drop_track(genre: str):
    return render_track(genre, seed=11, structure=DROP_STRUCTURE)


@pytest.fixture(scope="session")
def drop_tracks(tmp_path_factory):
    """Tracks long enough for the paper's drop rule, three contrasting genres (no stems)."""
    items = [(g,) for g in ("Deep House", "Bigroom", "Tech House")]
    return {item[0]: res for item, res in _shared_results(tmp_path_factory, items, _render_drop_track).items()}

