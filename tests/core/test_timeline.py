"""Timeline format: construction, round trip, and rejection of each kind of malformed document."""
import copy
import json

import numpy as np
import pytest

from mainstage.core.genres import GENRES
from mainstage.core.timeline import (
    SCHEMA_ID,
    TimelineError,
    genre_at,
    genre_matrix,
    load_timeline,
    new_timeline,
    save_timeline,
    validate_timeline,
)


def make_doc(n_bars=8, bpm=128.0):
    spb = 60.0 / bpm
    beats = np.arange(n_bars * 4) * spb + 0.1
    downbeats = beats[::4]
    duration = float(beats[-1] + spb)
    probs = np.zeros(8)
    probs[2], probs[0] = 0.7, 0.3
    wins = [{"start_s": float(d), "end_s": float(min(d + 4 * spb * 4, duration)), "probs": probs.tolist()} for d in downbeats[:-4]]
    return new_timeline(
        file="t.wav", duration_s=duration, sample_rate=44100, sha256="0" * 64, channels=2,
        bpm=bpm, tempo_segments=[{"start_s": 0.0, "end_s": duration, "bpm": bpm}],
        beats=beats, downbeats=downbeats, phrases=downbeats[:1],
        sections=[{"label": "intro", "start_s": 0.0, "end_s": float(downbeats[4])},
                  {"label": "drop", "start_s": float(downbeats[4]), "end_s": duration}],
        drops=[{"start_s": float(downbeats[4]), "end_s": duration}],
        genre_windows=wins, genre_summary=probs, model={"name": "test", "sha256": "a" * 64, "kind": "onnx"},
        analysis={"hop": 512},
    )


def test_valid_document_round_trips(tmp_path):
    doc = make_doc()
    assert validate_timeline(doc) is doc
    path = tmp_path / "t.timeline.json"
    save_timeline(doc, path)
    loaded = load_timeline(path)
    assert loaded == doc
    assert loaded["schema"] == SCHEMA_ID
    assert loaded["genres"] == list(GENRES)
    assert not list(tmp_path.glob(".*tmp*")), "temporary file left behind"


def test_genre_matrix_and_lookup():
    doc = make_doc()
    starts, ends, probs = genre_matrix(doc)
    assert probs.shape == (len(doc["genre_windows"]), 8)
    assert np.all(ends > starts)
    p = genre_at(doc, starts[0] + 0.01)
    assert p.shape == (8,) and p.argmax() == 2 and p.sum() == pytest.approx(1)
    # Past every window: falls back to the summary.
    assert np.allclose(genre_at(doc, [doc["track"]["duration_s"] - 1e-3])[0], doc["genre_summary"])


def mutate(fn):
    doc = make_doc()
    fn(doc)
    return doc


BAD = {
    "wrong schema version": (lambda d: d.__setitem__("schema", "mainstage.timeline/0"), "unsupported schema version"),
    "missing field": (lambda d: d.pop("drops"), "'drops' is a required property"),
    "missing track field": (lambda d: d["track"].pop("sha256"), "sha256"),
    "unknown field": (lambda d: d.__setitem__("colour", 1), "Additional properties"),
    "probabilities not summing to 1": (lambda d: d["genre_windows"][1]["probs"].__setitem__(0, 0.5), "genre_windows[1].probs sums to"),
    "summary not summing to 1": (lambda d: d.__setitem__("genre_summary", [0.1] * 8), "genre_summary sums to"),
    "wrong number of probabilities": (lambda d: d["genre_windows"][0]["probs"].append(0.0), "genre_windows"),
    "negative probability": (lambda d: d["genre_windows"][0]["probs"].__setitem__(0, -0.1), "genre_windows"),
    "unsorted beats": (lambda d: d["beats"].__setitem__(3, d["beats"][1]), "beats are not strictly increasing"),
    "unsorted downbeats": (lambda d: d["downbeats"].reverse(), "downbeats are not strictly increasing"),
    "beat past the end": (lambda d: d["beats"].append(d["track"]["duration_s"] + 5), "past the track end"),
    "section past the end": (lambda d: d["sections"][-1].__setitem__("end_s", d["track"]["duration_s"] + 1), "past the track end"),
    "section ending before it starts": (lambda d: d["sections"][0].__setitem__("end_s", -0.0), "before it starts"),
    "overlapping drops": (lambda d: d["drops"].append(dict(d["drops"][0])), "drops"),
    "unknown section label": (lambda d: d["sections"][0].__setitem__("label", "chorus"), "chorus"),
    "genres in another order": (lambda d: d["genres"].reverse(), "canonical order"),
    "bad sha256": (lambda d: d["track"].__setitem__("sha256", "xyz"), "sha256"),
    "string tempo": (lambda d: d["tempo"].__setitem__("bpm", "128"), "tempo.bpm"),
    "windows without summary": (lambda d: d.__setitem__("genre_summary", None), "genre_summary is null"),
    "not an object": (lambda d: None, None),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_documents_are_rejected(case, tmp_path):
    fn, expected = BAD[case]
    doc = [] if case == "not an object" else mutate(fn)
    with pytest.raises(TimelineError) as info:
        validate_timeline(doc, source="x.json")
    msg = str(info.value)
    assert msg.startswith("x.json: ") and "\n" not in msg
    if expected:
        assert expected in msg
    # save_timeline refuses the same document and writes nothing.
    if isinstance(doc, dict):
        with pytest.raises(TimelineError):
            save_timeline(doc, tmp_path / "out.json")
        assert not any(tmp_path.iterdir())


def test_save_does_not_clobber_existing_file_on_error(tmp_path):
    path = tmp_path / "keep.json"
    path.write_text("precious")
    bad = mutate(lambda d: d.__setitem__("schema", "nope"))
    with pytest.raises(TimelineError):
        save_timeline(bad, path)
    assert path.read_text() == "precious"


@pytest.mark.parametrize(
    "content, expected",
    [(None, "no such file"), ("", "empty file"), ("{not json", "not valid JSON"),
     (b"\xff\xfe\x00garbage", "not a text file"), ('{"schema": "mainstage.timeline/1", "x": NaN}', "not valid JSON")],
)
def test_load_reports_file_problems(tmp_path, content, expected):
    path = tmp_path / "t.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(TimelineError) as info:
        load_timeline(path)
    assert str(info.value).startswith(str(path)) and expected in str(info.value)


def test_load_rejects_directory(tmp_path):
    with pytest.raises(TimelineError, match="is a directory"):
        load_timeline(tmp_path)


def test_empty_analysis_is_valid():
    """Silence: no tempo, no beats, no genres, a warning."""
    doc = new_timeline(file="s.wav", duration_s=3.0, sample_rate=8000, sha256="f" * 64, warnings=["no beats found"])
    validate_timeline(doc)
    assert json.loads(json.dumps(doc)) == doc


def test_numpy_values_are_serialised(tmp_path):
    doc = make_doc()
    doc2 = copy.deepcopy(doc)
    doc2["beats"] = np.asarray(doc["beats"])
    save_timeline(doc2, tmp_path / "n.json")
    assert load_timeline(tmp_path / "n.json")["beats"] == doc["beats"]
