"""Sharp edges in real Blender (installed zip): polls, tooltips, US English, a user-safe Render
Video, frame-rate changes after the analysis, Clear Analysis, action names, save warnings."""
import re
from pathlib import Path

import pytest


pytestmark = pytest.mark.blender
SR = 22050
BRITISH = re.compile(r"\b(analys(e|es|ed|ing)|colour\w*|normalis\w*|centre|behaviour)\b", re.IGNORECASE)

#: Operators that need nothing but a scene (they report their own problems when run).
NO_POLL = {"MSVFX_OT_notify", "MSVFX_OT_load_timeline", "MSVFX_OT_build_stage", "MSVFX_OT_presets_reset",
           "MSVFX_OT_look_import"}

#: Operators that need something (a timeline, a look, a selection, a running job, ...) and the
#: words their greyed-out button gives as the reason in an empty scene ("": any reason; None:
#: a poll that passes in an empty scene).
NEEDY = {
    "MSVFX_OT_analyze_track": None,  # needs only that no analysis runs
    "MSVFX_OT_cancel_analysis": "No analysis is running",
    "MSVFX_OT_check_external_python": "No external Python set",
    "MSVFX_OT_save_timeline": "No timeline to save",
    "MSVFX_OT_clear_analysis": "No analysis to clear",
    "MSVFX_OT_look_duplicate": "No look selected",
    "MSVFX_OT_look_remove": "No look selected",
    "MSVFX_OT_look_save_user": "No look selected",
    "MSVFX_OT_look_export": "No look selected",
    "MSVFX_OT_mapping_import": "No looks in this .blend",
    "MSVFX_OT_mapping_export": "No genre mapping",
    "MSVFX_OT_palette_color_add": "No look selected",
    "MSVFX_OT_palette_color_remove": "No look selected",
    "MSVFX_OT_rule_add": "No look selected",
    "MSVFX_OT_rule_remove": "No look selected",
    "MSVFX_OT_apply_show": "No timeline",
    "MSVFX_OT_clear_show": "Nothing to clear",
    "MSVFX_OT_render_video": "No timeline",
    "MSVFX_OT_bake_music_values": "No timeline",
    "MSVFX_OT_clear_music_values": "No music values",
}


@pytest.fixture(scope="module")
def edges(blender, tmp_path_factory, click_set):
    work = tmp_path_factory.mktemp("edges")
    doc, tl, audio = click_set(work, SR)
    return blender.run("edges.py", work / "home", MSVFX_WORK=work, MSVFX_TIMELINE=tl), doc, work


def test_every_operator_has_the_poll_it_needs(edges):
    res, *_ = edges
    polls = res["polls"]
    assert not NO_POLL & set(NEEDY)
    assert set(polls) == NO_POLL | set(NEEDY), set(polls) ^ (NO_POLL | set(NEEDY))  # a new operator: decide
    for name in NO_POLL:
        assert polls[name]["passes"], name
    for name, words in NEEDY.items():
        p = polls[name]
        assert p["has_poll"], f"{name} has no poll()"
        if words is None:
            assert p["passes"], name
            continue
        assert not p["passes"], f"{name}.poll() passes in an empty scene"
        # the poll message is what the failed call (and the greyed-out button) says
        assert words in p["message"], (name, p["message"])
        if words:
            assert "context is incorrect" not in p["message"], name
    after = res["poll_after"]
    for name in ("MSVFX_OT_apply_show", "MSVFX_OT_clear_show", "MSVFX_OT_save_timeline", "MSVFX_OT_clear_analysis",
                 "MSVFX_OT_look_duplicate", "MSVFX_OT_look_export", "MSVFX_OT_mapping_export",
                 "MSVFX_OT_mapping_import", "MSVFX_OT_analyze_track"):
        assert after[name], name
    # shipped looks are read-only: their editing operators stay greyed out
    assert not after["MSVFX_OT_rule_add"] and not after["MSVFX_OT_look_remove"]


def test_tooltips_one_line_and_us_english(edges):
    res, *_ = edges
    print(f"{res['n_props']} properties, {res['n_strings']} string literals checked")
    assert res["n_props"] > 120 and res["n_strings"] > 1000
    assert not res["text_problems"], "\n".join(res["text_problems"])
    doc = (Path(__file__).resolve().parents[2] / "docs" / "blender.md").read_text(encoding="utf-8")
    british = [(i + 1, m.group(0)) for i, line in enumerate(doc.splitlines()) for m in BRITISH.finditer(line)]
    assert british == [], british


def test_render_video_unsaved_fails_and_changes_nothing(edges):
    res, *_ = edges
    err = res["unsaved_errors"]
    assert "Save the .blend" in err["default"], err
    assert "No video path" in err["empty"] and "absolute video path" in err["relative"], err
    assert "is a folder" in err["folder"], err
    assert res["unsaved_settings_same"] and res["unsaved_files"] == []
    assert "Save the .blend" in res["render_problem"]


def test_render_video_restores_render_settings(edges):
    res, *_ = edges
    r = res["render"]
    assert r["ret"] == ["FINISHED"] and r["size"] > 1000
    assert r["video"] in r["info"] and ("kB" in r["info"] or "MB" in r["info"]), r["info"]
    # during the render: the chosen engine and the add-on's glow; afterwards the user's settings
    assert r["during"] == {"compositor": "MS Glow", "engine": "BLENDER_WORKBENCH", "use_compositing": True}
    assert r["same"], {k: (r["user"][k], r["after"][k]) for k in r["user"] if r["user"][k] != r["after"][k]}
    assert r["user"]["eevee_samples"] == 64 and r["user"]["cycles_samples"] == 512
    assert not r["glow_left"]
    job = res["job"]  # the UI's render job: settings back when it ends, the video's size reported
    assert job["same"] and len(job["ended"]) == 1 and job["ended"][0][0] == "done" and job["ended"][0][1] > 1000, job
    q = res["quality"]
    assert q == {"scene": 512, "preview": 32, "restored": 512, "engine": "CYCLES", "default": "SCENE"}


def test_frame_rate_change_resyncs_markers_and_frame_end(edges):
    res, *_ = edges
    assert res["synced"]["fps"] == 24.0 and res["synced"]["sync_mode"] == "AUDIO_SYNC"
    f24, f30, f2997 = res["fps24"], res["fps30"], res["fps2997"]
    assert f24["frame_end"] == f24["expected_end"] and abs(f24["drop"] - f24["expected_drop"]) <= 0.5
    print(f"24 -> 30 fps: frame end {f24['frame_end']} -> {f30['frame_end']}, DROP 1 at {f24['drop']} -> {f30['drop']}")
    assert f30["frame_end"] == f30["expected_end"]
    assert abs(f30["drop"] - f30["expected_drop"]) <= 0.5  # within one frame (rounded to the nearest)
    assert abs(f2997["drop"] - f2997["expected_drop"]) <= 0.5
    assert f30["sync_fps"] == 30.0 and f30["stale"] and "re-synced" in f30["info"]
    assert f30["user_markers"] == [] and f30["owned_markers"] > 3
    assert res["fps_back"] == {"frame_end": f24["frame_end"], "drop": f24["drop"]}
    assert res["stale_after_clear_show"] is False


def test_clear_analysis_restores_range_and_sync_mode(edges):
    res, *_ = edges
    c = res["cleared"]
    assert c["range_mode"] == c["before"] == [1, 123, "FRAME_DROP"]
    assert c["markers"] == [] and "restored" in c["info"]


def test_action_names_not_doubled(edges):
    res, *_ = edges
    names = res["owned_actions"]
    assert len(names) > 10
    assert not [n for n in res["all_actions"] if n.startswith("MS MS")], res["all_actions"]
    assert all(n.startswith("MS ") and n.endswith(" Action") for n in names), [n for n in names if not n.endswith(" Action")]
    assert {"MS Spot Light Action", "MS Core Action", "MS Screens Nodes Action"} <= set(names), names


def test_save_prints_no_path_warning(edges):
    res, *_ = edges
    assert "does not support blend relative" not in res["save_output"], res["save_output"]
    assert res["audio_rel"] == ["//../set.wav", "//../../set.wav"] and res["audio_resolves"]
