"""Panels and UI lists draw in every state, and only show real properties and operators."""

import pytest

pytestmark = pytest.mark.blender
def test_panels_draw_in_every_state(blender, synth_track, tmp_path):
    res = blender.run("ui.py", tmp_path / "home", MSVFX_TRACK=synth_track, MSVFX_TRUTH=synth_track.with_suffix(".truth.json"))
    states = res["states"]
    assert {"empty", "running", "SHIPPED-rules", "BLEND-palettes"} <= set(states)
    assert all(n > 0 for n in states.values())
