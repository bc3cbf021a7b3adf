"""`mainstage analyze`, the track pipeline's warnings, the cache and the genre plug-in point."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile as sf

from mainstage.core import cli
from mainstage.core.analysis import cache as cache_mod
from mainstage.core.analysis import track as track_mod
from mainstage.core.analysis.drops import DropParams
from mainstage.training.synthhouse import render_track, write_track
from mainstage.core.timeline import load_timeline, validate_timeline


@pytest.fixture(scope="session")
def song(tmp_path_factory):
    """A 64-bar SynthHouse track (44.1 kHz WAV) and its truth."""
    res = render_track("Tech House", seed=5, bars=64)
    path = tmp_path_factory.mktemp("songs") / "song.wav"
    write_track(res, path)
    return path, res.truth


def run_cli(args, capsys):
    code = cli.main(["analyze", *map(str, args)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_writes_timeline_next_to_the_track(song, tmp_path, capsys):
    src, truth = song
    path = tmp_path / "my track.wav"
    path.write_bytes(src.read_bytes())
    code, out, err = run_cli([path, "--no-cache"], capsys)
    assert code == 0, err
    written = tmp_path / "my track.timeline.json"
    doc = load_timeline(written)
    assert doc["tempo"]["bpm"] == pytest.approx(truth["tempo"]["bpm"], abs=0.1)
    # Genres come from the bundled model by default.
    assert doc["model"]["kind"] == "onnx" and doc["genre_windows"] and doc["genre_summary"] is not None
    assert f"{truth['tempo']['bpm']:.2f} BPM" in out and f"{len(doc['downbeats'])} bars" in out
    assert f"{len(doc['drops'])} drops" in out
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file


def test_bad_files_are_reported_and_skipped(song, tmp_path, capsys):
    src, _ = song
    good = tmp_path / "good.wav"
    good.write_bytes(src.read_bytes())
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n" * 50)
    empty_dir = tmp_path / "nothing"
    empty_dir.mkdir()
    missing = tmp_path / "missing.flac"
    code, out, err = run_cli([text, good, missing, empty_dir, "--out-dir", tmp_path / "out"], capsys)
    assert code == 1
    assert (tmp_path / "out" / "good.timeline.json").is_file()
    assert not (tmp_path / "out" / "notes.timeline.json").exists()
    tail = err[err.index("mainstage analyze:"):]
    assert "3 of 4 inputs failed" in tail
    assert f"{text}: a text file, not audio" in tail and f"{missing}: no such file" in tail
    assert f"{empty_dir}: folder holds no audio files" in tail
    assert "Traceback" not in err


def test_folder_expansion_output_option_and_name_clashes(song, tmp_path, capsys):
    src, _ = song
    folder = tmp_path / "crate"
    folder.mkdir()
    (folder / "a.wav").write_bytes(src.read_bytes())
    y, sr = sf.read(src)
    sf.write(folder / "a.flac", y, sr)
    (folder / "readme.txt").write_text("ignored")
    code, out, err = run_cli([folder, "--out-dir", tmp_path / "tl", "--no-cache"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "tl").iterdir()) == ["a.flac.timeline.json", "a.wav.timeline.json"]
    code, _, err = run_cli([folder, "-o", tmp_path / "one.json"], capsys)
    assert code == 1 and "-o/--out writes one file" in err and err.count("\n") == 1
    code, _, err = run_cli([folder / "a.wav", "-o", tmp_path / "one.json"], capsys)
    assert code == 0 and validate_timeline(json.loads((tmp_path / "one.json").read_text()))


def test_cache_makes_the_second_run_instant(song, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MAINSTAGE_CACHE_DIR", str(tmp_path / "cache"))
    src, _ = song
    path = tmp_path / "c.wav"
    path.write_bytes(src.read_bytes())
    code, out1, _ = run_cli([path], capsys)
    assert code == 0 and "(cached)" not in out1
    first = json.loads((tmp_path / "c.timeline.json").read_text())
    entries = list((tmp_path / "cache").rglob("*.json"))
    assert len(entries) == 1
    t0 = time.perf_counter()
    code, out2, _ = run_cli([path], capsys)
    assert code == 0 and "(cached)" in out2 and time.perf_counter() - t0 < 1.0
    assert json.loads((tmp_path / "c.timeline.json").read_text()) == first
    # Other parameters, another key; a damaged entry is recomputed; --no-cache leaves it alone.
    sha = first["track"]["sha256"]
    assert cache_mod.cache_key(sha, track_mod.analysis_params()) != cache_mod.cache_key(
        sha, track_mod.analysis_params(DropParams(threshold_db=1.5)))
    entries[0].write_text("{not json")
    code, out3, _ = run_cli([path], capsys)
    assert code == 0 and "(cached)" not in out3
    assert json.loads(entries[0].read_text())["track"]["sha256"] == sha
    before = entries[0].stat().st_mtime_ns
    code, out4, _ = run_cli([path, "--no-cache"], capsys)
    assert code == 0 and "(cached)" not in out4 and entries[0].stat().st_mtime_ns == before


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("MAINSTAGE_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_mod.cache_dir() == tmp_path / "xdg" / "mainstage-vfx"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_mod.cache_dir() == tmp_path / "home" / ".cache" / "mainstage-vfx"


def test_parallel_jobs_give_the_same_timelines(song, tmp_path, capsys):
    src, _ = song
    for name in ("x.wav", "y.wav"):
        (tmp_path / name).write_bytes(src.read_bytes())
    code, _, err = run_cli([tmp_path / "x.wav", tmp_path / "y.wav", "--jobs", "2", "--no-cache"], capsys)
    assert code == 0, err
    x = json.loads((tmp_path / "x.timeline.json").read_text())
    y = json.loads((tmp_path / "y.timeline.json").read_text())
    assert x["beats"] == y["beats"] and x["drops"] == y["drops"] and x["track"]["file"].endswith("x.wav")


def test_console_command_runs_in_a_fresh_process(song, tmp_path):
    src, _ = song
    path = tmp_path / "p.wav"
    path.write_bytes(src.read_bytes())
    res = subprocess.run([sys.executable, "-m", "mainstage.core.cli", "analyze", str(path), "--no-cache", "-q"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert load_timeline(tmp_path / "p.timeline.json")["tempo"]["bpm"] > 0


def test_genre_plugin_is_called_unless_no_genre(song, tmp_path, capsys, monkeypatch):
    src, _ = song
    path = tmp_path / "g.wav"
    path.write_bytes(src.read_bytes())
    calls = []
    real = track_mod.infer_genres

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(track_mod, "infer_genres", spy)
    assert run_cli([path, "--no-cache", "--no-genre"], capsys)[0] == 0
    assert calls == []
    assert run_cli([path, "--no-cache"], capsys)[0] == 0
    assert len(calls) == 1
    p, info, beats, downbeats, drops = calls[0]
    assert p == str(path) and info.sample_rate == 44100 and len(beats) > 4 * len(downbeats) - 4 and drops


@pytest.mark.parametrize("kind", ["silence", "noise", "two_seconds"])
def test_quiet_noisy_and_short_files_give_valid_timelines_with_a_reason(kind, tmp_path):
    sr = 44100
    rng = np.random.default_rng(5)
    y = {"silence": np.zeros(sr * 40), "noise": 0.3 * rng.standard_normal(sr * 40),
         "two_seconds": render_track("Bigroom", seed=1, bars=16).audio[: 2 * sr].mean(axis=1)}[kind]
    path = tmp_path / f"{kind}.wav"
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    doc = track_mod.analyze_track(path)
    validate_timeline(doc)
    assert doc["beats"] == [] and doc["drops"] == [] and doc["tempo"]["bpm"] is None
    reason = {"silence": "silence", "noise": "noise", "two_seconds": "too short"}[kind]
    assert any(reason in w for w in doc["warnings"]), doc["warnings"]
