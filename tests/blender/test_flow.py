"""The whole user flow in real Blender, from the installed extension zip."""

import json

import pytest

pytestmark = pytest.mark.blender


def test_analyze_store_reload_move_clear(blender, synth_track, tmp_path):
    res = blender.run("flow.py", tmp_path / "home", MSVFX_TRACK=synth_track,
                      MSVFX_TRUTH=synth_track.with_suffix(".truth.json"), MSVFX_WORK=tmp_path)
    truth = json.loads(synth_track.with_suffix(".truth.json").read_text())
    assert res["timer_calls"] >= 1
    assert abs(res["duration_s"] - truth["track"]["duration_s"]) < 0.05
    assert res["drops"] == len(truth["drops"])
    assert res["markers"] >= len(truth["sections"])
