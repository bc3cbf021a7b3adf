"""Untrusted data in a saved .blend (installed zip): the stored timeline Text edited to hold NaN,
100,000-deep nesting, an out-of-range bpm or the wrong shape, saved and reopened. Apply Looks,
Bake Music Values, Save Timeline and Render Video report one ERROR line and change nothing; a
frame-rate change reports in the panel without raising; Load Timeline of a 100,000-deep file
reports one line."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, result  # noqa: E402

import json  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
work = os.environ["MSVFX_WORK"]
timeline_path = os.environ["MSVFX_TIMELINE"]
good_text = open(timeline_path, encoding="utf-8").read()
DEEP = 100_000

scene = bpy.context.scene
scene.render.fps, scene.render.fps_base = 24, 1.0
scene.render.resolution_x, scene.render.resolution_y = 64, 36
bpy.ops.msvfx.load_timeline(filepath=timeline_path)
bpy.ops.msvfx.presets_reset()
build = bpy.ops.msvfx.build_stage
build(scene_mode="HERE") if "scene_mode" in build.get_rna_type().properties else build()
scene = bpy.context.scene
st = scene.msvfx
st.render_engine = "WORKBENCH"
assert st.has_timeline and scene.camera is not None
scene.frame_start, scene.frame_end = 1, 3  # a render that starts finishes in seconds
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(work, "good.blend"))


def poisoned(kind: str) -> str:
    """The stored timeline's text, edited the way a hostile .blend would carry it."""
    doc = json.loads(good_text)
    if kind == "nan":
        doc["tempo"]["bpm"] = float("nan")
        return json.dumps(doc)  # writes the bare token NaN
    if kind == "deep":
        return json.dumps(doc)[:-1] + ', "x": ' + "[" * DEEP + "]" * DEEP + "}"
    if kind == "huge_bpm":
        doc["tempo"]["bpm"] = 1e308
        return json.dumps(doc)
    if kind == "wrong_shape":
        return json.dumps({"track": 5})
    raise KeyError(kind)


def state(sc) -> tuple:
    """Everything the operators may change: the text, show keys, music values, markers, range, files."""
    return (sc.msvfx.timeline_text.as_string(), sorted(a.name for a in bpy.data.actions),
            sorted(k for k in sc.keys() if k.startswith("msvfx_")), sc.frame_start, sc.frame_end,
            sorted((m.name, m.frame) for m in sc.timeline_markers), sorted(os.listdir(work)))


def error_of(call) -> dict:
    """Run an operator expected to fail; its message and whether it was a clean ERROR report."""
    try:
        ret = call()
        return {"ret": sorted(ret), "msg": ""}
    except RuntimeError as exc:
        return {"ret": "error", "msg": str(exc).strip()}
    except Exception as exc:  # noqa: BLE001 - anything else escaping an operator is the failure measured
        return {"ret": "raised", "msg": f"{type(exc).__name__}: {exc}"}


cases = {}
for kind in ("nan", "deep", "huge_bpm", "wrong_shape"):
    bpy.ops.wm.open_mainfile(filepath=os.path.join(work, "good.blend"))
    scene = bpy.context.scene
    scene.msvfx.timeline_text.from_string(poisoned(kind))
    blend = os.path.join(work, f"{kind}.blend")
    bpy.ops.wm.save_as_mainfile(filepath=blend)
    bpy.ops.wm.open_mainfile(filepath=blend)  # what a user receiving the file does
    scene = bpy.context.scene
    st = scene.msvfx
    st.render_path = os.path.join(work, f"{kind}.mp4")
    before = state(scene)
    rec = {"apply": error_of(bpy.ops.msvfx.apply_show), "bake": error_of(bpy.ops.msvfx.bake_music_values),
           "save": error_of(lambda: bpy.ops.msvfx.save_timeline(filepath=os.path.join(work, f"{kind}.json"))),
           "render": error_of(bpy.ops.msvfx.render_video)}
    rec["same"] = state(scene) == before
    # a frame-rate change runs the depsgraph handler: never raises, reports in the panel
    st.last_error = ""
    scene.render.fps = 30
    try:
        bpy.context.view_layer.update()
        rec["fps_raised"] = ""
    except Exception as exc:  # noqa: BLE001
        rec["fps_raised"] = f"{type(exc).__name__}: {exc}"
    try:
        rec["check_fps"] = addon.handlers.check_fps(scene)
        rec["check_fps_raised"] = ""
    except Exception as exc:  # noqa: BLE001
        rec["check_fps"], rec["check_fps_raised"] = None, f"{type(exc).__name__}: {exc}"
    rec["fps_error"] = st.last_error
    rec["fps_markers_same"] = sorted((m.name, m.frame) for m in scene.timeline_markers) == before[5]
    cases[kind] = rec

# --- Load Timeline of a 100,000-deep file: one line, the scene as it was
bpy.ops.wm.open_mainfile(filepath=os.path.join(work, "good.blend"))
scene = bpy.context.scene
deep_file = os.path.join(work, "deep.timeline.json")
with open(deep_file, "w", encoding="utf-8") as fh:
    fh.write(poisoned("deep"))
before = state(scene)
load = error_of(lambda: bpy.ops.msvfx.load_timeline(filepath=deep_file))
load["same"] = state(scene) == before
load["last_error"] = scene.msvfx.last_error
result(cases=cases, load=load)
