"""The show in a clean Blender (installed zip): Build Stage, Apply/Clear on a scene with the
user's own data, beat-exact keys at several frame rates, visuals following beats and drops,
palettes per genre in rendered frames, and Render Video with audio."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, result  # noqa: E402
import importlib  # noqa: E402

import json  # noqa: E402

import numpy as np  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
importlib.import_module(addon.__name__ + ".scene.render")  # imported by the Render operator on use
work = os.environ["MSVFX_WORK"]
timeline_path = os.environ["MSVFX_TIMELINE"]
doc = json.load(open(timeline_path))
scene = bpy.context.scene
st = scene.msvfx
out = {}

# --- the user's own scene: objects, materials, keyframes, markers, world
for ob in list(bpy.data.objects):  # start from an empty scene (factory reset would disable the add-on)
    bpy.data.objects.remove(ob)
scene.render.fps, scene.render.fps_base = 24, 1.0
user_mat = bpy.data.materials.new("UserMat")
user_mat.diffuse_color = (0.2, 0.7, 0.1, 1.0)
me = bpy.data.meshes.new("UserMesh")
me.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
me.materials.append(user_mat)
cube = bpy.data.objects.new("UserThing", me)
scene.collection.objects.link(cube)
cube.location = (1, 2, 3)
cube.keyframe_insert("location", frame=1)
cube.location = (4, 5, 6)
cube.keyframe_insert("location", frame=50)
# a user screen in a user collection assigned to the Screens role, with its own material and keys
screens = bpy.data.collections.new("My Screens")
scene.collection.children.link(screens)
me2 = bpy.data.meshes.new("ScreenMesh")
me2.from_pydata([(0, 0, 0), (1, 0, 0), (0, 1, 0)], [], [(0, 1, 2)])
me2.materials.append(user_mat)
screen = bpy.data.objects.new("UserScreen", me2)
screens.objects.link(screen)
screen.keyframe_insert("rotation_euler", frame=5)
lamp_data = bpy.data.lights.new("UserLampData", "POINT")
lamp_data.energy = 123.0
lamp_data.keyframe_insert("shadow_soft_size", frame=3)  # the user animates another light property
lamp = bpy.data.objects.new("UserLamp", lamp_data)
lights = bpy.data.collections.new("My Lights")
scene.collection.children.link(lights)
lights.objects.link(lamp)
user_world = bpy.data.worlds.new("UserWorld")
scene.world = user_world
scene.timeline_markers.new("my marker", frame=10)
scene.timeline_markers.new("[MS] DROP 1", frame=77)  # named like the add-on's, but the user's


def snapshot():
    """The user's data (everything that is not the add-on's)."""
    snap = {}
    for ob in bpy.data.objects:
        if ob.get("msvfx_owned"):
            continue
        fc = []
        ad = ob.animation_data
        if ad and ad.action:
            for bag in ad.action.layers[0].strips[0].channelbags:
                for f in bag.fcurves:
                    fc.append((f.data_path, f.array_index, [tuple(k.co) for k in f.keyframe_points]))
        snap[ob.name] = {
            "loc": tuple(ob.location), "rot": tuple(ob.rotation_euler), "scale": tuple(ob.scale),
            "slots": [(s.link, s.material.name if s.material else None) for s in ob.material_slots],
            "data_mats": [m.name if m else None for m in getattr(ob.data, "materials", [])],
            "fcurves": sorted(fc),
            "collections": sorted(c.name for c in ob.users_collection),
        }
    ld = bpy.data.lights["UserLampData"]
    snap["lamp_data"] = (ld.energy, tuple(ld.color), sorted(
        (f.data_path, [tuple(k.co) for k in f.keyframe_points])
        for bag in ld.animation_data.action.layers[0].strips[0].channelbags for f in bag.fcurves))
    snap["materials"] = sorted((m.name, tuple(m.diffuse_color)) for m in bpy.data.materials if not m.get("msvfx_owned"))
    snap["markers"] = sorted((m.name, m.frame) for m in scene.timeline_markers)
    snap["world"] = scene.world.name if scene.world else None
    snap["collections"] = sorted(c.name for c in bpy.data.collections if not c.get("msvfx_owned"))
    return snap


def owned_curves():
    """Every F-curve the add-on made: (owner, path, index, keys)."""
    rows = []
    for id_ in addon.scene.keys.animated_ids():
        ad = id_.animation_data
        for bag in ad.action.layers[0].strips[0].channelbags:
            for f in bag.fcurves:
                co = np.zeros(2 * len(f.keyframe_points), dtype=np.float32)
                f.keyframe_points.foreach_get("co", co)
                ip = np.zeros(len(f.keyframe_points), dtype=np.int32)
                f.keyframe_points.foreach_get("interpolation", ip)
                rows.append((id_.name, f.data_path, f.array_index, co.round(4).tolist(), ip.tolist()))
    return sorted(rows)


bpy.ops.msvfx.load_timeline(filepath=timeline_path)
assert st.has_timeline and st.strip_name, "timeline or audio not linked"
bpy.ops.msvfx.presets_reset()
before = snapshot()
# user collections become roles; the starter stage supplies the rest
bpy.ops.msvfx.build_stage(scene_mode="HERE")  # beside the user's own data in this scene
stage_objects = len(addon.scene.stage.stage_collection(scene).all_objects)
st.role_screens = screens
st.role_lights = lights
lights_stage = [o for o in bpy.data.objects if o.name.startswith("MS Spot")]
for o in lights_stage:  # keep the stage's spots driven too: link them into the user's light collection
    lights.objects.link(o)
after_build = snapshot()
bpy.ops.msvfx.apply_show()
beams = addon.scene.stage.beam_objects(scene)
beam_mat = bpy.data.materials["MS Beams"]
out["beams"] = {"n": len(beams), "parents_are_spots": all(b.parent and b.parent.type == "LIGHT" for b in beams),
                "keyed_paths": sorted({f.data_path for id_ in (beam_mat, beam_mat.node_tree)
                                       for bag in id_.animation_data.action.layers[0].strips[0].channelbags
                                       for f in bag.fcurves})}
first = owned_curves()
bpy.ops.msvfx.apply_show()
second = owned_curves()
out["apply_twice_equal"] = first == second
out["n_owned_curves"] = len(first)
out["n_keys"] = sum(len(r[4]) for r in first)
applied = snapshot()
# the user's screen shows the add-on's material through an object-linked slot; its mesh keeps UserMat
out["screen_slot"] = applied["UserScreen"]["slots"]
out["screen_data_mats"] = applied["UserScreen"]["data_mats"]
out["lamp_energy_animated"] = any(f.data_path == "energy" for bag in lamp_data.animation_data.action.layers[0].strips[0].channelbags for f in bag.fcurves)
out["lamp_user_curve_kept"] = any(f.data_path == "shadow_soft_size" for bag in lamp_data.animation_data.action.layers[0].strips[0].channelbags for f in bag.fcurves)
for name in ("UserThing",):
    assert applied[name] == before[name], (applied[name], before[name])
out["untouched_during_apply"] = {k: applied[k] == after_build[k] for k in ("UserThing", "markers", "materials", "collections")}
out["undo_flags"] = [sorted(getattr(addon.ui.ops_show, c).bl_options) for c in
                     ("MSVFX_OT_apply_show", "MSVFX_OT_clear_show", "MSVFX_OT_build_stage")]

# --- visuals follow the music: evaluate the driven values per frame
fps = scene.render.fps / scene.render.fps_base
spot = bpy.data.lights["MS Spot"]
screens_mat = bpy.data.materials["MS Screens"]


def fcurve(id_, path, index=0):
    for bag in id_.animation_data.action.layers[0].strips[0].channelbags:
        f = bag.fcurves.find(path, index=index)
        if f is not None:
            return f
    raise KeyError(path)


em_path = addon.scene.stage.emission_paths(screens_mat)[1]
frames = np.arange(scene.frame_start, scene.frame_end + 1)
energy = np.array([fcurve(spot, "energy").evaluate(f) for f in frames])
emission = np.array([fcurve(screens_mat.node_tree, em_path).evaluate(f) for f in frames])
core_scale = np.array([fcurve(bpy.data.objects["MS Core"], "delta_scale").evaluate(f) for f in frames])
lasers_mat, pulse_mat = bpy.data.materials["MS Lasers"], bpy.data.materials["MS Pulse"]
lasers = np.array([fcurve(lasers_mat.node_tree, addon.scene.stage.emission_paths(lasers_mat)[1]).evaluate(f) for f in frames])
pulse = np.array([fcurve(pulse_mat.node_tree, addon.scene.stage.emission_paths(pulse_mat)[1]).evaluate(f) for f in frames])
np.save(os.path.join(work, "signals.npy"), np.stack([frames, energy, emission, core_scale, lasers, pulse]))

# scene.frame_set + reading properties agrees with fcurve.evaluate
probe = int(frames[len(frames) // 2])
scene.frame_set(probe)
out["frame_set_matches"] = abs(spot.energy - fcurve(spot, "energy").evaluate(probe)) < 1e-3 * max(1.0, spot.energy)

# --- palettes of rendered frames (tiny Workbench renders) in sections of different genres
addon.scene.render.configure(scene, os.path.join(work, "unused.mp4"), "WORKBENCH", (96, 54))
stills = {}
for key, t in json.loads(os.environ["MSVFX_STILL_TIMES"]).items():
    f = int(round(scene.frame_start + t * fps))
    stills[key] = addon.scene.render.render_still(scene, f, os.path.join(work, f"still_{key}.png"))
out["stills"] = stills

# --- Render Video: a 2-second excerpt with the track's audio
full_range = (scene.frame_start, scene.frame_end)
a = int(round(scene.frame_start + float(os.environ["MSVFX_VIDEO_FROM"]) * fps))
scene.frame_start, scene.frame_end = a, a + 47
st.render_path = os.path.join(work, "excerpt.mp4")
st.render_engine = "WORKBENCH"
scene.render.resolution_x, scene.render.resolution_y = 128, 72
during = {}
out["glow_before_render"] = getattr(scene.compositing_node_group, "name", None)  # configure() for the stills
_pre = lambda *_a: during.setdefault("glow", getattr(scene.compositing_node_group, "name", None))  # noqa: E731
bpy.app.handlers.render_pre.append(_pre)
bpy.ops.msvfx.render_video()
bpy.app.handlers.render_pre.remove(_pre)
out["glow_during_render"] = during.get("glow")
out["glow_after_render"] = getattr(scene.compositing_node_group, "name", None)  # settings restored
# a compositor of the user's own is never replaced by the add-on's glow
user_comp = bpy.data.node_groups.new("UserComp", "CompositorNodeTree")
scene.compositing_node_group = user_comp
out["glow_respects_user_comp"] = (addon.scene.render.set_glow(scene, True) is False
                                  and scene.compositing_node_group == user_comp)
scene.compositing_node_group = None
bpy.data.node_groups.remove(user_comp)
out["video"] = st.render_path
out["video_first_frame"] = a
scene.frame_start, scene.frame_end = full_range

# --- Clear: exactly the add-on's things go, the user's data is as before
bpy.ops.msvfx.clear_show(remove_stage=True)
cleared = snapshot()
out["clear_restores"] = {k: cleared[k] == before[k] for k in before}
out["left_owned"] = sorted(id_.name for coll in (bpy.data.objects, bpy.data.materials, bpy.data.worlds, bpy.data.actions,
                                                 bpy.data.lights, bpy.data.cameras, bpy.data.collections, bpy.data.meshes,
                                                 bpy.data.node_groups)
                           for id_ in coll if id_.get("msvfx_owned"))
out["stage_objects"] = stage_objects

# --- keys on the beat frames at several frame rates (the stage alone; one look for all genres)
bpy.ops.msvfx.build_stage(scene_mode="HERE")
for slot in st.mapping:
    slot.preset = "bass_house"  # its lights pulse on every beat of a drop
beats = np.asarray(doc["beats"])
drops = np.asarray([[d["start_s"], d["end_s"]] for d in doc["drops"]])
in_drop = ((beats[:, None] >= drops[None, :, 0]) & (beats[:, None] < drops[None, :, 1] - 0.5)).any(axis=1)
rates = {}
for fps_i, base in ((24, 1.0), (25, 1.0), (30, 1.0), (60, 1.0), (30, 1.001), (24, 1.001)):
    scene.render.fps, scene.render.fps_base = fps_i, base
    bpy.ops.msvfx.apply_show()
    f = fcurve(bpy.data.lights["MS Spot"], "energy")
    co = np.zeros(2 * len(f.keyframe_points), dtype=np.float32)
    f.keyframe_points.foreach_get("co", co)
    kf = co[0::2]
    exact = scene.frame_start + beats[in_drop] * (fps_i / base)
    err = np.abs(kf[np.clip(np.searchsorted(kf, exact), 0, len(kf) - 1)] - exact)
    err = np.minimum(err, np.abs(kf[np.clip(np.searchsorted(kf, exact) - 1, 0, len(kf) - 1)] - exact))
    peak_ok = np.mean([f.evaluate(round(x)) >= f.evaluate(round(x) - 1) for x in exact])
    rates[f"{fps_i}/{base}"] = {"max_err_frames": float(err.max()), "n_beats": int(len(exact)),
                                "peak_on_beat_frac": float(peak_ok)}
out["rates"] = rates
# back to 24 fps: the add-on's markers follow the frame rate (re-synced at the next depsgraph update)
scene.render.fps, scene.render.fps_base = 24, 1.0
bpy.context.view_layer.update()
bpy.ops.msvfx.clear_show(remove_stage=True)
out["clear_after_rates"] = snapshot() == before
result(**out)
