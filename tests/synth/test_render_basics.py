"""SynthHouse renders: audio format, exact grids, truth validity, determinism, write_track."""
import json

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.errors import InputFileError, MainstageError
from mainstage.core.genres import GENRES, GenreError
from mainstage.training.synthhouse import SynthError, render_track, write_track
from mainstage.training.synthhouse.plan import params_sha256
from mainstage.core.hashing import sha256_file
from mainstage.core.timeline import load_timeline, validate_timeline

SHORT = "intro:2,build:2,drop:4,outro:2"


@pytest.fixture(scope="module")
def short_track():
    return render_track("Bass House", seed=7, structure=SHORT)


def test_audio_shape_range_and_rate(short_track):
    a = short_track.audio
    assert a.dtype == np.float32 and a.ndim == 2 and a.shape[1] == 2
    assert short_track.sr == 44100
    assert 0.5 < float(np.max(np.abs(a))) <= 1.0
    assert np.all(np.isfinite(a))
    # 10 bars at the drawn tempo, to the sample.
    bpm = short_track.truth["tempo"]["bpm"]
    assert a.shape[0] == round(10 * 240.0 / bpm * 44100)


def test_truth_grid_is_exact(short_track):
    t = short_track.truth
    validate_timeline(t)
    bpm = t["tempo"]["bpm"]
    assert 126 <= bpm <= 130  # Bass House range
    beats = np.array(t["beats"])
    assert beats.size == 40
    np.testing.assert_allclose(np.diff(beats), 60.0 / bpm, rtol=0, atol=1e-9)
    np.testing.assert_allclose(t["downbeats"], beats[::4], atol=1e-12)
    np.testing.assert_allclose(t["phrases"], beats[::32], atol=1e-12)
    assert t["tempo"]["segments"] == [{"start_s": 0.0, "end_s": pytest.approx(10 * 240 / bpm), "bpm": bpm}]
    assert [s["label"] for s in t["sections"]] == ["intro", "build", "drop", "outro"]
    assert t["drops"][0]["start_s"] == pytest.approx(4 * 240 / bpm)
    assert t["drops"][0]["end_s"] == pytest.approx(8 * 240 / bpm)


def test_truth_labels_model_and_analysis(short_track):
    t = short_track.truth
    bass = GENRES.index("Bass House")
    assert len(t["genre_windows"]) == 10
    for w in t["genre_windows"]:
        assert w["probs"][bass] == 1.0 and sum(w["probs"]) == 1.0
    assert t["genre_summary"][bass] == 1.0
    assert t["model"]["name"] == "SynthHouse ground truth" and t["model"]["kind"] == "ground-truth"
    assert t["model"]["sha256"] == params_sha256(t["analysis"])
    a = t["analysis"]
    assert a["seed"] == 7 and a["genres"] == {"Bass House": 1.0} and a["structure"] == SHORT
    assert len(a["bars"]) == 10 and "Bass House" in a["sound"]
    assert t["warnings"] == []


def test_same_seed_identical_bytes_different_seed_differs(tmp_path, short_track):
    again = render_track("Bass House", seed=7, structure=SHORT)
    assert again.audio.tobytes() == short_track.audio.tobytes()
    p1, p2 = tmp_path / "a.wav", tmp_path / "b.wav"
    write_track(short_track, p1)
    write_track(again, p2)
    assert p1.read_bytes() == p2.read_bytes()
    assert (tmp_path / "a.truth.json").read_text() == (tmp_path / "b.truth.json").read_text().replace('"b.wav"', '"a.wav"')
    other = render_track("Bass House", seed=8, structure=SHORT)
    n = min(other.audio.shape[0], short_track.audio.shape[0])
    assert not np.allclose(other.audio[:n], short_track.audio[:n], atol=1e-3)
    assert other.truth["model"]["sha256"] != short_track.truth["model"]["sha256"]


@pytest.mark.parametrize("name,subtype", [("t16.wav", "PCM_16"), ("t24.wav", "PCM_24"), ("t.flac", "PCM_16")])
def test_write_track_decodes_with_soundfile(tmp_path, short_track, name, subtype):
    path = tmp_path / name
    truth_path = write_track(short_track, path, subtype=subtype)
    assert truth_path == tmp_path / (path.stem + ".truth.json")
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, subtype)
    data, sr = sf.read(str(path), dtype="float32")
    assert data.shape == short_track.audio.shape
    tol = 2.0 / 2 ** 15 if subtype == "PCM_16" else 2.0 / 2 ** 23
    assert np.max(np.abs(data - short_track.audio)) <= tol
    doc = load_timeline(truth_path)
    assert doc["track"]["file"] == name
    assert doc["track"]["sha256"] == sha256_file(path)
    assert doc["track"]["duration_s"] == pytest.approx(data.shape[0] / 44100)
    assert doc["track"]["channels"] == 2 and doc["track"]["sample_rate"] == 44100
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_decodes_with_librosa(tmp_path, short_track):
    import librosa
    path = tmp_path / "t.wav"
    write_track(short_track, path)
    y, sr = librosa.load(str(path), sr=None, mono=False)
    assert sr == 44100 and y.shape == (2, short_track.audio.shape[0])


def test_write_track_rejects_bad_extension_and_subtype(tmp_path, short_track):
    with pytest.raises(InputFileError, match=r"t\.mp3: unsupported audio extension"):
        write_track(short_track, tmp_path / "t.mp3")
    with pytest.raises(InputFileError, match="unsupported sample format"):
        write_track(short_track, tmp_path / "t.wav", subtype="FLOAT")
    assert not list(tmp_path.iterdir())


def test_length_options():
    by_bars = render_track("Tech House", seed=1, bars=12, bpm=124)
    assert len(by_bars.truth["downbeats"]) == 12
    assert [s["label"] for s in by_bars.truth["sections"]][0] == "intro"
    assert by_bars.truth["drops"], "a scaled default structure keeps its drops"
    by_time = render_track("Tech House", seed=1, duration_s=30.0, bpm=120)
    assert len(by_time.truth["downbeats"]) == 15  # 30 s at 120 BPM = 15 bars
    assert by_time.duration_s == pytest.approx(30.0)


def test_explicit_default_tempo_gives_the_same_track(short_track):
    bpm = short_track.truth["tempo"]["bpm"]
    again = render_track("Bass House", seed=7, structure=SHORT, bpm=bpm)
    assert again.audio.tobytes() == short_track.audio.tobytes()


def test_weight_vector_and_mapping_inputs_agree():
    w = np.zeros(8)
    w[GENRES.index("Deep House")] = 2.0
    a = render_track(w, seed=3, structure="intro:1,drop:2")
    b = render_track({"deep house": 1}, seed=3, structure="intro:1,drop:2")
    c = render_track("Deep House", seed=3, structure="intro:1,drop:2")
    assert a.audio.tobytes() == b.audio.tobytes() == c.audio.tobytes()


@pytest.mark.parametrize("kwargs,exc,msg", [
    ({"genres": "Bass Hose"}, GenreError, "unknown genre 'Bass Hose'"),
    ({"genres": np.zeros(8)}, GenreError, "sum to zero"),
    ({"genres": [1, 2]}, GenreError, "8 entries"),
    ({"structure": "intro:4,chorus:8"}, SynthError, "unknown section 'chorus'"),
    ({"structure": "intro:four"}, SynthError, "whole number"),
    ({"structure": "drop:0"}, SynthError, "must be positive"),
    ({"bpm": 20}, SynthError, "bpm must be between"),
    ({"bars": 10, "duration_s": 20}, SynthError, "either bars or duration"),
    ({"seed": -1}, SynthError, "seed must be an integer"),
])
def test_bad_parameters_raise_user_errors(kwargs, exc, msg):
    kwargs = {"genres": "Bigroom", **kwargs}
    with pytest.raises(exc, match=msg) as info:
        render_track(**kwargs)
    assert isinstance(info.value, MainstageError)
    assert "\n" not in str(info.value)


def test_truth_is_json_serialisable_without_numpy(short_track):
    text = json.dumps(short_track.truth, allow_nan=False)
    assert json.loads(text)["analysis"]["sample_rate"] == 44100
