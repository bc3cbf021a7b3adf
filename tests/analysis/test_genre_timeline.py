"""`mainstage analyze` fills the genre half of the timeline with the bundled ONNX model."""
import json

import numpy as np
import pytest

from mainstage.core.cli import main
from mainstage.core.genre import default_model_path
from mainstage.training.synthhouse import render_track, write_track
from mainstage.core.hashing import sha256_file
from mainstage.core.timeline import load_timeline


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    path = tmp_path_factory.mktemp("genre") / "future_rave.wav"
    write_track(render_track("Future Rave", seed=5, structure="intro:8,build:4,drop:16,breakdown:4,drop:8,outro:4"), path)
    return path


def test_bundled_model_is_installed():
    p = default_model_path()
    assert p.is_file() and p.with_suffix(".json").is_file(), f"bundled genre model missing at {p}"
    assert p.stat().st_size < 20 * 2**20


def test_analyze_fills_bar_aligned_genre_windows(track, tmp_path):
    out = tmp_path / "t.json"
    assert main(["analyze", str(track), "-o", str(out), "--no-cache", "-q"]) == 0
    doc = load_timeline(out)
    assert doc["model"]["kind"] == "onnx"
    assert doc["model"]["sha256"] == sha256_file(default_model_path())
    wins = doc["genre_windows"]
    db = np.asarray(doc["downbeats"])
    assert len(wins) >= len(db) - 4
    starts = np.array([w["start_s"] for w in wins])
    ends = np.array([w["end_s"] for w in wins])
    # Each window starts on a bar line and spans exactly four bars of the detected grid.
    idx = np.searchsorted(db, starts - 1e-3)
    assert np.allclose(db[idx], starts, atol=1e-3)
    inner = idx + 4 < db.size
    assert np.allclose(ends[inner], db[idx[inner] + 4], atol=1e-3)
    assert np.all(np.diff(idx) == 1)
    truth = load_timeline(track.with_name("future_rave.truth.json"))
    summary = np.asarray(doc["genre_summary"])
    assert summary.argmax() == np.asarray(truth["genre_summary"]).argmax()


def test_no_genre_and_bad_model(track, tmp_path, capsys):
    out = tmp_path / "n.json"
    assert main(["analyze", str(track), "-o", str(out), "--no-genre", "--no-cache", "-q"]) == 0
    doc = json.loads(out.read_text())
    assert doc["genre_windows"] == [] and doc["model"] is None and doc["genre_summary"] is None
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["analyze", str(track), "-o", str(tmp_path / "b.json"), "--model", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(bad) in err
    assert not (tmp_path / "b.json").exists()


def test_smoothing_changes_windows_not_their_grid(track, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    assert main(["analyze", str(track), "-o", str(a), "--no-cache", "-q", "--smoothing", "0"]) == 0
    assert main(["analyze", str(track), "-o", str(b), "--no-cache", "-q"]) == 0  # default: radius 2
    da, dbb = load_timeline(a), load_timeline(b)
    pa = np.array([w["probs"] for w in da["genre_windows"]])
    pb = np.array([w["probs"] for w in dbb["genre_windows"]])
    assert pa.shape == pb.shape
    # Smoothing (on by default) reduces bar-to-bar change.
    assert np.abs(np.diff(pb, axis=0)).sum() < np.abs(np.diff(pa, axis=0)).sum()
    assert da["analysis"]["genre"]["smoothing"] == 0 and dbb["analysis"]["genre"]["smoothing"] == 2


def test_bundled_model_scores_novelty_and_says_what_it_learned(track, tmp_path):
    """The timeline names the training data, and every window of a SynthHouse track carries a
    novelty and a confidence; the track itself is in the model's domain."""
    out = tmp_path / "c.json"
    assert main(["analyze", str(track), "-o", str(out), "--no-cache", "-q"]) == 0
    doc = load_timeline(out)
    assert "synthetic" in doc["model"]["trained_on"] and "NOT validated on real" in doc["model"]["validated_on"]
    wins = doc["genre_windows"]
    assert all(0.0 <= w["confidence"] <= 1.0 and w["novelty"] >= 0.0 for w in wins)
    gc = doc["genre_confidence"]
    assert gc["level"] == "ok" and gc["out_of_domain"] < 0.5, gc
    assert np.median([w["novelty"] for w in wins]) < 1.0


def test_bundled_model_gives_silence_no_genre(tmp_path):
    """A minute of digital silence: a warning, a uniform summary, confidence 0 (the first
    round's model said 99.8 % Bass House)."""
    import soundfile as sf

    wav = tmp_path / "silence.wav"
    sf.write(str(wav), np.zeros((44100 * 60, 2), np.float32), 44100, subtype="PCM_16")
    out = tmp_path / "s.json"
    assert main(["analyze", str(wav), "-o", str(out), "--no-cache", "-q"]) == 0
    doc = load_timeline(out)
    assert doc["genre_confidence"]["level"] == "none" and doc["genre_confidence"]["confidence"] == 0.0
    assert np.allclose(doc["genre_summary"], 1 / 8)
    assert any("silent" in w for w in doc["warnings"]), doc["warnings"]


@pytest.mark.parametrize("value", [0.0, 0.5])
def test_one_sample_file_gives_no_genre_with_a_warning(tmp_path, capsys, value):
    """A 1-sample file (digital zero or a single click): exit 0, one summary line, a valid
    timeline with no confident genre and a warning that says why."""
    import soundfile as sf

    wav = tmp_path / "one.wav"
    sf.write(str(wav), np.array([value], np.float32), 44100)
    out = tmp_path / "one.json"
    assert main(["analyze", str(wav), "-o", str(out), "--no-cache"]) == 0
    printed = capsys.readouterr()
    assert len(printed.out.strip().splitlines()) == 1 and "Traceback" not in printed.err, printed
    doc = load_timeline(out)
    assert doc["genre_confidence"]["level"] == "none" and doc["genre_confidence"]["confidence"] == 0.0
    assert np.allclose(doc["genre_summary"], 1 / 8)
    assert any(w.startswith("genre:") and "no genre" in w for w in doc["warnings"]), doc["warnings"]
