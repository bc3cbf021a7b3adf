"""The analysis cache never serves a stale or damaged entry (issue 15): keyed on the model's
metadata too, entries checked on read and recomputed with a one-line note, and shared safely
by two processes. Real `mainstage analyze` processes on a real file."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.genre.model import default_model_path
from mainstage.core.timeline import load_timeline, validate_timeline
from mainstage.core.jsonfile import read_json

SR = 44100


@pytest.fixture(scope="module")
def track(tmp_path_factory) -> Path:
    """Ten seconds of a kick-like pulse at 120 BPM over a bass tone."""
    t = np.arange(10 * SR) / SR
    y = 0.3 * np.sin(2 * np.pi * 55 * t) + 0.6 * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 20)
    path = tmp_path_factory.mktemp("cache_track") / "a.wav"
    sf.write(path, (0.5 * y).astype(np.float32), SR)
    return path


def analyze(track: Path, out: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, MAINSTAGE_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-m", "mainstage.core.cli", "analyze", str(track), "-o", str(out), *extra],
                          capture_output=True, text=True, timeout=300, env=env)


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "analysis").glob("*/*.json"))


@pytest.fixture(scope="module")
def warm(track, tmp_path_factory):
    """A cache holding the track's analysis (bundled model) and the timeline it gave."""
    d = tmp_path_factory.mktemp("warm")
    proc = analyze(track, d / "first.timeline.json", d / "cache")
    assert proc.returncode == 0, proc.stderr
    (entry,) = entries(d / "cache")
    return d / "cache", entry, load_timeline(d / "first.timeline.json")


BAD_ENTRIES = {
    "hello": '{"hello": "world"}',
    "track-5": '{"track": 5}',
    "list": "[1, 2, 3]",
    "truncated": None,  # the first half of a real entry
    "deep": "[" * 100000 + "]" * 100000,
    "nan": None,  # a real entry with a NaN bpm
    "other-file": None,  # a valid timeline of another file
}


@pytest.mark.parametrize("kind", sorted(BAD_ENTRIES))
def test_bad_entry_is_noted_and_recomputed(track, warm, tmp_path, kind):
    cache_src, entry_src, good = warm
    cache = tmp_path / "cache"
    shutil.copytree(cache_src, cache)
    entry = cache / entry_src.relative_to(cache_src)
    text = BAD_ENTRIES[kind]
    real = entry.read_text()
    if kind == "truncated":
        text = real[: len(real) // 2]
    elif kind == "nan":
        doc = json.loads(real)
        doc["tempo"]["bpm"] = float("nan")
        text = json.dumps(doc)
    elif kind == "other-file":
        doc = json.loads(real)
        doc["track"]["sha256"] = "f" * 64
        text = json.dumps(doc)
    entry.write_text(text)
    out = tmp_path / "again.timeline.json"
    proc = analyze(track, out, cache)
    assert proc.returncode == 0, proc.stderr
    assert "(cached)" not in proc.stdout, proc.stdout
    notes = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(notes) == 1 and "cache" in notes[0] and str(entry) in notes[0] and "recomput" in notes[0], proc.stderr
    assert len(notes[0]) < 600
    doc = load_timeline(out)
    assert doc["beats"] == good["beats"] and doc["genre_summary"] == good["genre_summary"]
    # the entry was replaced by a good one: the next run is a clean hit
    validate_timeline(read_json(entry))
    again = analyze(track, tmp_path / "third.timeline.json", cache)
    assert again.returncode == 0 and "(cached)" in again.stdout and again.stderr.strip() == "", again.stderr


def test_reversed_genre_list_in_metadata_is_a_new_key(track, tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(default_model_path(), model)
    shutil.copy(default_model_path().with_suffix(".json"), model.with_suffix(".json"))
    cache = tmp_path / "cache"
    first = analyze(track, tmp_path / "1.timeline.json", cache, "--model", str(model))
    assert first.returncode == 0, first.stderr
    meta = json.loads(model.with_suffix(".json").read_text())
    meta["genres"] = meta["genres"][::-1]
    model.with_suffix(".json").write_text(json.dumps(meta))
    second = analyze(track, tmp_path / "2.timeline.json", cache, "--model", str(model))
    assert second.returncode == 0, second.stderr
    assert "(cached)" not in second.stdout, second.stdout
    a, b = load_timeline(tmp_path / "1.timeline.json"), load_timeline(tmp_path / "2.timeline.json")
    assert np.allclose(a["genre_windows"][0]["probs"], b["genre_windows"][0]["probs"][::-1], atol=2e-6)
    assert len(entries(cache)) == 2


def test_two_processes_share_one_cache(track, tmp_path):
    """Both analyse the same track at once into one cache: both results valid, the cache intact."""
    cache = tmp_path / "cache"
    env = dict(os.environ, MAINSTAGE_CACHE_DIR=str(cache))
    procs = [subprocess.Popen([sys.executable, "-m", "mainstage.core.cli", "analyze", str(track), "-o",
                               str(tmp_path / f"p{i}.timeline.json")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0 and err.strip() == "", err
    a, b = (load_timeline(tmp_path / f"p{i}.timeline.json") for i in range(2))
    assert a["beats"] == b["beats"] and a["genre_windows"] == b["genre_windows"]
    (entry,) = entries(cache)
    validate_timeline(read_json(entry))
    assert not [p for p in cache.rglob("*") if p.is_file() and p.suffix != ".json"], "temporary files left"
    third = analyze(track, tmp_path / "p2.timeline.json", cache)
    assert third.returncode == 0 and "(cached)" in third.stdout and third.stderr.strip() == ""
