"""Untrusted data stored in a .blend, in real Blender (installed zip): the timeline Text is
validated on every use; every operator reports one ERROR line and changes nothing."""
import pytest

pytestmark = pytest.mark.blender
SR = 22050
KINDS = ("nan", "deep", "huge_bpm", "wrong_shape")
OPERATORS = ("apply", "bake", "save", "render")


@pytest.fixture(scope="module")
def untrusted(blender, tmp_path_factory, click_set):
    work = tmp_path_factory.mktemp("untrusted")
    _doc, tl, _audio = click_set(work, SR)
    return blender.run("untrusted.py", work / "home", MSVFX_WORK=work, MSVFX_TIMELINE=tl)


def _one_clean_line(msg: str) -> bool:
    return (msg.startswith("Error: ") and "\n" not in msg and "Traceback" not in msg
            and "RecursionError" not in msg and len(msg) < 400)


@pytest.mark.parametrize("kind", KINDS)
def test_stored_timeline_refused_in_one_line(untrusted, kind):
    rec = untrusted["cases"][kind]
    for op in OPERATORS:
        r = rec[op]
        assert r["ret"] == "error", (kind, op, r)
        assert _one_clean_line(r["msg"]), (kind, op, r["msg"])
        assert ".timeline.json'" in r["msg"], (kind, op, r["msg"])  # names the Text datablock
    assert rec["same"], kind


@pytest.mark.parametrize("kind", KINDS)
def test_frame_rate_change_never_raises(untrusted, kind):
    rec = untrusted["cases"][kind]
    assert rec["fps_raised"] == "" and rec["check_fps_raised"] == "", rec
    assert rec["check_fps"] is False and rec["fps_markers_same"], rec
    err = rec["fps_error"]
    assert err and "\n" not in err and "Traceback" not in err and ".timeline.json'" in err, err


def test_load_timeline_deep_file_one_line(untrusted):
    load = untrusted["load"]
    assert load["ret"] == "error" and _one_clean_line(load["msg"]), load
    assert "deep.timeline.json" in load["msg"] and "nested" in load["msg"], load
    assert load["same"] and "Timeline not loaded" in load["last_error"], load
