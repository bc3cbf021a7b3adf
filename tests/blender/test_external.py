"""The bare add-on (no wheels): missing libraries are named; an external Python runs the analysis."""

import pytest

pytestmark = pytest.mark.blender
def test_bare_addon_with_external_python(blender, synth_track, tmp_path):
    res = blender.run("external.py", tmp_path / "home", MSVFX_TRACK=synth_track, MSVFX_WORK=tmp_path)
    assert res["missing"] == ["soundfile", "soxr", "onnxruntime", "jsonschema"]
    assert all(m and "\n" not in m.strip() for m in res["messages"])
