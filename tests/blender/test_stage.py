"""The starter stage in real Blender (installed zip), built from the factory startup scene: its own
scene without the default cube, smooth beams and sphere, a symmetric laser fan, LED content from
the music values, the camera framing truss and wall, and Build Stage keeping the user's edits."""
import json

import pytest


pytestmark = pytest.mark.blender
SR = 22050


@pytest.fixture(scope="module")
def stage_run(blender, tmp_path_factory, click_set):
    work = tmp_path_factory.mktemp("stage")
    doc, tl, audio = click_set(work, SR)
    res = blender.run("stage.py", work / "home", MSVFX_WORK=work, MSVFX_TIMELINE=tl)
    print(json.dumps({k: res[k] for k in ("wall", "framing", "beams", "core", "lasers")}, indent=1))
    return res


def test_stage_in_its_own_scene_without_the_default_cube(stage_run):
    res = stage_run
    assert {"Cube", "Light", "Camera"} <= set(res["factory_objects"])
    assert res["stage_scene"] == "Mainstage Stage" and res["window_scene"] == "Mainstage Stage"
    assert res["stage_not_owned"] == [], res["stage_not_owned"]  # nothing of the user's in the stage's shot
    assert not {"Cube", "Light", "Camera"} & set(res["stage_objects"])
    assert res["stage_camera_owned"]
    assert res["user_after"] == res["user_before"]  # the user's scene is untouched
    assert all(res["copied"].values()), res["copied"]  # the show state came along (copied, not moved)


def test_smooth_beams_sphere_and_a_symmetric_laser_fan(stage_run):
    res = stage_run
    b = res["beams"]
    assert b["n"] == 8 and b["faces"] >= 64 and b["smooth"] and b["material"] == "MS Beams"
    assert res["core"]["faces"] >= 5000 and res["core"]["smooth"]
    las = res["lasers"]
    assert las["n"] >= 12 and las["symmetric"] and las["one_origin"] and las["radius"] < 0.03


def test_led_wall_pattern_moves_with_the_music(stage_run):
    w = stage_run["wall"]
    assert all("MS Emission" in p for p in stage_run["screen_paths"])  # what Apply keys
    assert w["shape"][0] >= 4 and w["shape"][1] >= 10
    # without music values the wall still shows a pattern, not one flat colour
    assert w["static_mean"] > 0.05 and w["static_std"] > 0.05, w
    # a beat later in the bar the content has moved
    assert w["beat_diff"] > 0.05, w


def test_camera_frames_truss_and_wall_through_the_show(stage_run):
    f = stage_run["framing"]
    assert f["orbit_span_deg"] > 5.0  # the camera does move
    assert f["x_min"] >= 0.0 and f["x_max"] <= 1.0 and f["y_min"] >= 0.0 and f["y_max"] <= 1.0, f


def test_build_again_keeps_edits_unless_rebuilt(stage_run):
    res = stage_run
    s = res["second_build"]
    assert s["kept"] == [3.0, 1.0, 2.0] and s["kept_from_user_scene"] == [3.0, 1.0, 2.0]
    assert s["same_scene"] and s["n_stage_scenes"] == 1
    assert res["asks"]["has_invoke"] and res["asks"]["rebuild_prop"] and "discards" in res["asks"]["rebuild_name"]
    assert res["rebuilt"] != [3.0, 1.0, 2.0]
    assert res["after_clear_owned"] == [] and res["user_final"] == res["factory_objects"]
