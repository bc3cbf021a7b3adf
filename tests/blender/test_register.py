"""Register/unregister cycles of the installed extension leave nothing behind (real Blender)."""

import pytest

pytestmark = pytest.mark.blender
def test_register_unregister_register(blender, synth_track, tmp_path):
    res = blender.run("register.py", tmp_path / "home", MSVFX_TRACK=synth_track)
    assert res["classes"] >= 20
    assert res["cycles"] == [res["classes"]] * 3
