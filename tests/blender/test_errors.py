"""Error reporting in real Blender (installed zip): bad audio, cancel, invalid timelines."""

import copy
import json

import pytest

pytestmark = pytest.mark.blender


def write_bad_timelines(dest, truth_path) -> dict:
    """Broken timeline files with the fragments their error must name."""
    dest.mkdir()
    good = json.loads(truth_path.read_text())
    expected = {}

    def case(name, mutate, *fragments):
        doc = copy.deepcopy(good)
        mutate(doc)
        (dest / name).write_text(json.dumps(doc))
        expected[name] = list(fragments)

    case("version.json", lambda d: d.update(schema="mainstage.timeline/9"), "unsupported schema version")
    case("unsorted_beats.json", lambda d: d["beats"].reverse(), "beats are not strictly increasing")
    case("missing_field.json", lambda d: d.pop("drops"), "drops")
    case("bad_probs.json", lambda d: d["genre_windows"][0].update(probs=[0.5] * 8), "genre_windows[0].probs")
    case("past_end.json", lambda d: d["drops"][0].update(end_s=d["track"]["duration_s"] + 60), "drops[0]", "past the track end")
    (dest / "not_json.json").write_text("timeline: yes")
    expected["not_json.json"] = ["not valid JSON"]
    expected["does_not_exist.json"] = ["no such file"]
    (dest / "expected.json").write_text(json.dumps(expected))
    return expected


def test_errors_are_reported_and_change_nothing(blender, synth_track, tmp_path):
    expected = write_bad_timelines(tmp_path / "bad", synth_track.with_suffix(".truth.json"))
    res = blender.run("errors.py", tmp_path / "home", MSVFX_TRACK=synth_track, MSVFX_WORK=tmp_path,
                      MSVFX_BAD_DIR=tmp_path / "bad")
    msgs = res["messages"]
    assert set(expected) <= set(msgs)
    assert "notes.wav" in msgs["not_audio"]
    assert msgs["cancel_idle"] == "no job"
    for name in expected:
        assert str(tmp_path / "bad" / name) in msgs[name]
