"""Relative drive in real Blender (installed zip): the show modulates the user's own rig (lens,
light power and color, world) instead of replacing it, Clear restores it exactly, Absolute mode
and the starter stage get the looks' own values; and the flash cap measured on the evaluated
light of the starter stage through Bass House drops. One Blender process runs
scenarios/modulate.py; this side measures."""
import numpy as np
import pytest

from mainstage.core.timeline import save_timeline
from mainstage.training.synthhouse.timelines import synthetic_set

from .test_flash_cap import LUMA, wcag_flashes

pytestmark = pytest.mark.blender


@pytest.fixture(scope="module")
def run(blender, tmp_path_factory):
    work = tmp_path_factory.mktemp("modulate")
    doc = synthetic_set()
    tl = work / "set.timeline.json"
    save_timeline(doc, tl)
    return blender.run("modulate.py", work / "home", MSVFX_TIMELINE=tl), doc


def test_defaults(run):
    res, _ = run
    assert res["defaults"]["drive_mode"] == "RELATIVE" and res["defaults"]["flash_cap"] is True
    assert 0.3 <= res["defaults"]["palette_tint"] <= 0.5


def test_relative_drive_modulates_the_users_rig(run):
    res, _ = run
    r = res["relative"]
    print(f"lens / 85 mm (min, median, max): {np.round(r['lens_ratio'], 2)}; "
          f"spot energy / 500 W: {np.round(r['energy_ratio']['1'], 2)}; hue distance from blue (median, max): "
          f"{np.round(r['hue_dist_deg'], 1)} deg; world strength {np.round(r['strength'], 2)}")
    assert res["apply_twice_equal"]
    lo, med, hi = r["lens_ratio"]
    assert 0.6 <= lo and hi <= 1.6 and abs(med - 1.0) < 0.05  # the user's framing, with punch-ins
    for i in ("1", "2"):
        lo, med, hi = r["energy_ratio"][i]
        assert 0.5 <= med <= 2.0 and lo >= 0.1 and hi <= 25.0, r["energy_ratio"][i]  # peaks: strobe hits
    assert r["energy_keys_match_plan"] and r["energy_animated"]
    # the user's blue, tinted toward the palette, never replaced by it
    assert r["hue_dist_deg"][0] < 10.0 and r["hue_dist_deg"][1] < 45.0
    assert r["blue_dominant"] == 1.0 and r["color_varies"] > 0.02
    # the user's world stays; its background strength follows the show around its own 1.0
    assert r["world"] == "UserWorld" and "MS World" not in r["worlds"]
    lo, med, hi = r["strength"]
    assert 0.3 <= med <= 2.0 and hi > 1.5 * med and lo >= 0.0
    assert not r["world_color_keyed"]


def test_clear_restores_the_rig_exactly(run):
    res, _ = run
    assert res["relative_clear_equal"], res["relative_clear_diff"]
    assert res["absolute_clear_equal"]
    assert res["stage_clear_equal"], res["stage_clear_diff"]
    assert res["left_owned"] == []


def test_absolute_mode_and_starter_stage_use_the_looks_values(run):
    res, _ = run
    a = res["absolute"]
    assert a["lens_keys_match_plan"] and a["energy_keys_match_plan"]
    assert a["lens_median"] < 60.0  # the looks' focal lengths (24-50 mm), not the user's 85 mm
    assert a["world"] == "UserWorld" and a["world_color_keyed"]  # driven, never replaced
    s = res["stage"]
    assert s["spot_energy_keys_match_plan"] and s["camera_lens_keys_match_plan"]
    assert s["user_spot_relative"]  # in the same role collection, the user's spot stays relative
    assert s["world"] == "MS World"


def test_flash_cap_on_evaluated_stage_lights(run):
    res, _ = run
    frames = np.asarray(res["flash_frames"])
    counts = {}
    for key in ("on", "off"):
        rows = np.asarray(res["flash"][key])
        lum = rows[:, 0] * (rows[:, 1:4] @ LUMA)
        # each drop on its own (the frames are concatenated)
        cuts = np.flatnonzero(np.diff(frames) > 1) + 1
        counts[key] = max(wcag_flashes(seg, 24.0) for seg in np.split(lum, cuts))
    print(f"Bass House drops, evaluated stage spot: most flashes in a second "
          f"cap on {counts['on']}, off {counts['off']}")
    assert counts["off"] > 3
    assert counts["on"] <= 3
