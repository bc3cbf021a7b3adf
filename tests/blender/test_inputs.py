"""Music values in real Blender (installed zip) on a scene without the starter stage: Bake writes keyed
scene properties that drivers, Geometry Nodes and shaders (View Layer Attribute, rendered) follow;
Clear removes them; Apply without roles bakes them and succeeds. One Blender process runs the
scenario; this side checks the values against the timeline."""
import copy
import itertools
import json

import numpy as np
import pytest
from mainstage.blender_addon.show import inputs as I
from mainstage.blender_addon.show.grid import Grid
from mainstage.core.genres import GENRES
from mainstage.core.timeline import save_timeline, validate_timeline
from mainstage.training.synthhouse.timelines import SET_PLAN, synthetic_set

pytestmark = pytest.mark.blender
FPS = 24


def _doc():
    doc = copy.deepcopy(synthetic_set(plan=SET_PLAN[:4]))  # intro, build, drop, breakdown: 40 bars
    rng = np.random.default_rng(5)
    names = ["kick", "bass", "energy"]
    doc["bar_traits"] = {"names": names,
                         "values": rng.uniform(0, 1, (len(doc["downbeats"]), len(names))).round(3).tolist()}
    for w in doc["genre_windows"]:
        w["confidence"] = 0.8
    doc["genre_confidence"] = {"level": "ok", "confidence": 0.8}
    return validate_timeline(doc)


@pytest.fixture(scope="module")
def run(blender, tmp_path_factory):
    work = tmp_path_factory.mktemp("inputs")
    doc = _doc()
    tl = work / "inputs.timeline.json"
    save_timeline(doc, tl)
    g = Grid(doc, FPS, 1)
    B = g.frame(doc["beats"])
    drop = doc["drops"][0]
    renders = {"in_drop": int(g.frame(drop["start_s"] + 8.0)),
               "outside": int(g.frame(doc["sections"][0]["start_s"] + 4.0))}
    subframes = [int(B[20] - 1), int((B[20] + B[21]) // 2)]
    res = blender.run("inputs.py", work / "home", MSVFX_WORK=work, MSVFX_TIMELINE=tl,
                      MSVFX_RENDER_FRAMES=json.dumps(renders), MSVFX_SUBFRAMES=json.dumps(subframes))
    return res, doc, g


def test_bake_makes_keyed_scene_properties_with_ui(run):
    res, doc, _ = run
    assert res["bake_poll_before"] is False and res["bake_poll"] is True and res["bake"] == ["FINISHED"]
    names = set(res["names"])
    assert {"msvfx_beat_pulse", "msvfx_beat_phase", "msvfx_bar_phase", "msvfx_phrase_phase", "msvfx_energy",
            "msvfx_section", "msvfx_drop", "msvfx_build", "msvfx_confidence"} <= names
    assert {I.genre_value(g) for g in GENRES} <= names
    assert {"msvfx_trait_kick", "msvfx_trait_bass", "msvfx_trait_energy"} <= names
    assert res["slot_type"] == "SCENE"
    # the values join the scene's own action beside the user's curve; baking twice changes nothing
    assert set(res["keyed"]) == {f'["{n}"]' for n in names} | {'["user_glow"]'} and res["same_action"]
    assert res["bake_twice_equal"]
    assert res["keyed"]['["msvfx_beat_pulse"]'] <= 2 * len(doc["beats"]) + 1
    for n, ui in res["ui"].items():
        assert ui["min"] == 0.0 and ui["max"] >= 1.0 and ui["description"] and "\n" not in ui["description"], n
    assert res["ui"]["msvfx_section"]["max"] == 5.0
    assert "music values" in res["info"]


def test_values_in_blender_match_the_plan_and_the_music(run):
    res, doc, g = run
    frames = np.array(res["frames"])
    V = {n: np.array(v) for n, v in res["values"].items()}
    plan = I.plan_music_values(doc, FPS, 1)
    for n, ch in plan.items():  # Blender evaluates the keys as planned, on every frame
        assert np.abs(V[n] - I.evaluate(ch, frames)).max() < 2e-4, n
    B = np.unique(g.frame(doc["beats"]))
    idx = np.searchsorted(frames, B)
    pulse = V["msvfx_beat_pulse"]
    assert np.all(pulse[idx] > 0.999)
    assert pulse[np.searchsorted(frames, (B[:-1] + B[1:]) // 2)].max() < 0.1
    phase = V["msvfx_beat_phase"]
    for a, b in itertools.pairwise(B):
        seg = phase[np.searchsorted(frames, a):np.searchsorted(frames, b)]
        assert seg[0] == 0.0 and np.all(np.diff(seg) > 0) and seg[-1] < 1.0
    D = g.frame(doc["downbeats"])
    bar = V["msvfx_bar_phase"]
    for a, b in itertools.pairwise(D):
        seg = bar[np.searchsorted(frames, a):np.searchsorted(frames, b)]
        assert seg[0] == 0.0 and np.all(np.diff(seg) > 0)
    drop = doc["drops"][0]
    inside = (frames >= g.frame(drop["start_s"])) & (frames < g.frame(drop["end_s"]))
    assert np.all(V["msvfx_drop"][inside] == 1.0) and np.all(V["msvfx_drop"][~inside] == 0.0)
    W = np.stack([V[I.genre_value(gn)] for gn in GENRES], axis=1)
    assert np.allclose(W.sum(axis=1), 1.0, atol=1e-4)
    assert np.allclose(V["msvfx_confidence"], 0.8, atol=1e-6)
    # subframes: in the frame before the beat the phase holds, never running back towards 0
    for row in res["subframes"]:
        assert np.all(np.diff(row[:4]) >= 0), row


def test_drivers_and_geometry_nodes_follow_the_values(run):
    res, *_ = run
    V = {n: np.array(v) for n, v in res["values"].items()}
    assert np.allclose(res["lamp_energy"], 100 * V["msvfx_energy"], atol=1e-3)
    assert np.allclose(res["spot_energy"], 500 * V["msvfx_drop"], atol=1e-3)
    assert np.ptp(res["lamp_energy"]) > 10
    assert "Drop" in res["gn_outputs"] and "Beat Pulse" in res["gn_outputs"] and "Genre Bass House" in res["gn_outputs"]
    assert np.allclose(res["gn_z"], V["msvfx_drop"], atol=1e-5)
    assert np.allclose(res["gn_x"], V["msvfx_beat_pulse"], atol=1e-5)
    assert max(res["gn_z"]) == 1.0 and min(res["gn_z"]) == 0.0


def test_shader_attribute_and_group_read_the_value_in_a_render(run):
    res, *_ = run
    r = res["renders"]
    print("rendered emission (left: Attribute node, right: shader group):", r)
    for side in ("left", "right"):
        assert r["in_drop"][side] > 0.3, r
        assert r["outside"][side] < 0.05, r


def test_clear_removes_what_bake_made(run):
    res, *_ = run
    ac = res["after_clear"]
    assert res["clear"] == ["FINISHED"]
    assert ac["props"] == [] and ac["actions"] == []
    # the user's own scene action and curve are as they were
    assert ac["scene_action"] is not None and ac["scene_curves"] == [['["user_glow"]', ac["user_glow_keys"]]]
    assert ac["user_driver_kept"]
    # groups placed in the user's node trees stay until unused, then the next Clear removes them
    assert ac["groups"] == ["MS Music Inputs", "MS Music Inputs (Shader)"] and "kept node groups" in ac["info"]
    assert res["groups_after_unused_clear"] == []


def test_apply_without_roles_bakes_the_values_and_succeeds(run):
    res, *_ = run
    assert res["apply"] == ["FINISHED"], res["apply"]
    assert "music values" in res["apply_info"] and "roles" in res["apply_info"]
    assert set(res["apply_names"]) == set(res["names"])
    # every value keyed, beside the user's own animated scene property (kept in the same action)
    keyed = {p for p, _ in res["apply_keyed"]}
    assert keyed - {'["user_glow"]'} == {f'["{n}"]' for n in res["names"]}, keyed
    assert res["apply_world"] is None  # no roles: the user's scene keeps its (absent) world
    assert res["clear_show"] == ["FINISHED"] and res["after_clear_show"] == []
