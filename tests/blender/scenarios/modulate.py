"""Relative drive and the flash cap in a clean Blender (installed zip).

A user's own rig (an 85 mm camera, two 500 W blue spots, a world with a Background node) in
collections assigned to the roles: Apply modulates it (relative mode, the default) instead of
replacing its values, never swaps the world, and Clear restores everything exactly; Absolute
mode and the starter stage get the looks' own values. Then the starter stage with Bass House
everywhere: the evaluated light energy and color per frame through the drops, with the flash
cap on and off. The pytest side (test_modulate.py) measures.
"""
import colorsys
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, result  # noqa: E402

import json  # noqa: E402
import math  # noqa: E402

import numpy as np  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
timeline_path = os.environ["MSVFX_TIMELINE"]
doc = json.load(open(timeline_path))
scene = bpy.context.scene
st = scene.msvfx
out = {}

for ob in list(bpy.data.objects):
    bpy.data.objects.remove(ob)
scene.render.fps, scene.render.fps_base = 24, 1.0
BLUE = (0.1, 0.2, 1.0)

# --- the user's rig
cams = bpy.data.collections.new("My Camera")
spots = bpy.data.collections.new("My Spots")
for c in (cams, spots):
    scene.collection.children.link(c)
cam_data = bpy.data.cameras.new("UserCamData")
cam_data.lens = 85.0
cam = bpy.data.objects.new("UserCam", cam_data)
cams.objects.link(cam)
scene.camera = cam
for i in (1, 2):
    ld = bpy.data.lights.new(f"UserSpot{i}", "SPOT")
    ld.energy = 500.0
    ld.color = BLUE
    ld.spot_size = math.radians(40.0)
    ob = bpy.data.objects.new(f"UserSpot{i}", ld)
    ob.location = (2.0 * i, -3.0, 4.0)
    spots.objects.link(ob)
world = bpy.data.worlds.new("UserWorld")
if world.node_tree is None:
    world.use_nodes = True
bg = next(n for n in world.node_tree.nodes if n.type == "BACKGROUND")
bg.inputs["Strength"].default_value = 1.0
bg.inputs["Color"].default_value = (0.2, 0.3, 0.8, 1.0)
scene.world = world

bpy.ops.msvfx.load_timeline(filepath=timeline_path)
bpy.ops.msvfx.presets_reset()
st.role_lights = spots
st.role_camera = cams
out["defaults"] = {"drive_mode": st.drive_mode, "flash_cap": st.flash_cap, "palette_tint": st.palette_tint}


def user_state():
    """Every value of the user's rig the show may touch, exactly."""
    s = {"lens": cam_data.lens, "world": scene.world.name if scene.world else None,
         "bg": (bg.inputs["Strength"].default_value, tuple(bg.inputs["Color"].default_value)),
         "world_nodes": sorted(n.name for n in world.node_tree.nodes),
         "anim": {id_.name: id_.animation_data is not None
                  for id_ in (cam_data, world, world.node_tree, *[bpy.data.lights[f"UserSpot{i}"] for i in (1, 2)])},
         "worlds": sorted(w.name for w in bpy.data.worlds), "camera": scene.camera.name if scene.camera else None}
    for i in (1, 2):
        ld = bpy.data.lights[f"UserSpot{i}"]
        s[f"spot{i}"] = (ld.energy, tuple(ld.color), ld.spot_size)
    return s


def fcurve(id_, path, index=0):
    ad = id_.animation_data
    if ad is None or ad.action is None:
        return None
    for bag in ad.action.layers[0].strips[0].channelbags:
        f = bag.fcurves.find(path, index=index)
        if f is not None:
            return f
    return None


def keys_of(id_, path, index=0):
    f = fcurve(id_, path, index)
    co = np.zeros(2 * len(f.keyframe_points), dtype=np.float32)
    f.keyframe_points.foreach_get("co", co)
    return co[1::2].astype(np.float64)


def owned_curves():
    rows = []
    for id_ in addon.scene.keys.animated_ids():
        for bag in id_.animation_data.action.layers[0].strips[0].channelbags:
            for f in bag.fcurves:
                co = np.zeros(2 * len(f.keyframe_points), dtype=np.float32)
                f.keyframe_points.foreach_get("co", co)
                rows.append((id_.name, f.data_path, f.array_index, co.round(4).tolist()))
    return sorted(rows)


def plan():
    d, mapping, looks = addon.scene.drive.scene_inputs(scene)
    return addon.show.plan.plan_show(d, mapping, looks, 24.0, scene.frame_start, flash_cap=st.flash_cap)


frames = np.arange(scene.frame_start, scene.frame_end + 1)


def sampled(id_, path, index=0):
    f = fcurve(id_, path, index)
    return np.array([f.evaluate(int(x)) for x in frames])


def hue_deg(rgb):
    return colorsys.rgb_to_hsv(*rgb)[0] * 360.0


before = user_state()

# --- relative (the default): the rig's own values, modulated
bpy.ops.msvfx.apply_show()
first = owned_curves()
bpy.ops.msvfx.apply_show()
out["apply_twice_equal"] = first == owned_curves()
p = plan()
sp = bpy.data.lights["UserSpot1"]
lens = sampled(cam_data, "lens")
energy = {i: sampled(bpy.data.lights[f"UserSpot{i}"], "energy") for i in (1, 2)}
col = np.stack([sampled(sp, "color", k) for k in range(3)], axis=1)
hue_d = np.abs((np.array([hue_deg(c) for c in col]) - hue_deg(BLUE) + 180.0) % 360.0 - 180.0)
strength_path = bg.inputs["Strength"].path_from_id("default_value")
strength = sampled(world.node_tree, strength_path)
out["relative"] = {
    "lens_ratio": [float(lens.min() / 85.0), float(np.median(lens) / 85.0), float(lens.max() / 85.0)],
    "energy_ratio": {i: [float(e.min() / 500.0), float(np.median(e) / 500.0), float(e.max() / 500.0)]
                     for i, e in energy.items()},
    "energy_keys_match_plan": bool(np.allclose(keys_of(sp, "energy"), 500.0 * p.channels["lights.energy"].values
                                               / p.reference["lights.energy"], rtol=1e-5)),
    "energy_animated": bool(energy[1].std() > 1.0),
    "hue_dist_deg": [float(np.median(hue_d)), float(hue_d.max())],
    "blue_dominant": float(np.mean((col[:, 2] > col[:, 0]) & (col[:, 2] > col[:, 1]))),
    "color_varies": float(np.ptp(col, axis=0).max()),
    "world": scene.world.name,
    "worlds": sorted(w.name for w in bpy.data.worlds),
    "strength": [float(strength.min()), float(np.median(strength)), float(strength.max())],
    "world_color_keyed": fcurve(world.node_tree, bg.inputs["Color"].path_from_id("default_value")) is not None,
}
bpy.ops.msvfx.clear_show()
out["relative_clear_equal"] = user_state() == before
out["relative_clear_diff"] = {k: (v, before[k]) for k, v in user_state().items() if v != before[k]}

# --- absolute: the looks' own values on the user's rig, still in the user's world
st.drive_mode = "ABSOLUTE"
bpy.ops.msvfx.apply_show()
p = plan()
out["absolute"] = {
    "lens_keys_match_plan": bool(np.allclose(keys_of(cam_data, "lens"), p.channels["camera.lens"].values, rtol=1e-5)),
    "energy_keys_match_plan": bool(np.allclose(keys_of(sp, "energy"), p.channels["lights.energy"].values, rtol=1e-5)),
    "lens_median": float(np.median(sampled(cam_data, "lens"))),
    "world": scene.world.name,
    "world_color_keyed": fcurve(world.node_tree, bg.inputs["Color"].path_from_id("default_value")) is not None,
}
bpy.ops.msvfx.clear_show()
out["absolute_clear_equal"] = user_state() == before
st.drive_mode = "RELATIVE"

# --- the starter stage is absolute even in relative mode; the user's spots stay relative
here = {"scene_mode": "HERE"} if "scene_mode" in bpy.ops.msvfx.build_stage.get_rna_type().properties else {}
bpy.ops.msvfx.build_stage(**here)  # the stage in the user's own scene, beside the rig
assert bpy.context.scene == scene and addon.scene.stage.stage_collection(scene) is not None
stage_spot = next(o.data for o in st.role_lights.all_objects if o.type == "LIGHT")
stage_cam = next(o.data for o in st.role_camera.all_objects if o.type == "CAMERA")
stage_lights = st.role_lights
st.role_lights = spots
stage_spots = [o for o in stage_lights.all_objects if o.type == "LIGHT"]
for o in stage_spots:
    spots.objects.link(o)  # both in one role collection
bpy.ops.msvfx.apply_show()
p = plan()
out["stage"] = {
    "spot_energy_keys_match_plan": bool(np.allclose(keys_of(stage_spot, "energy"), p.channels["lights.energy"].values,
                                                    rtol=1e-5)),
    "camera_lens_keys_match_plan": bool(np.allclose(keys_of(stage_cam, "lens"), p.channels["camera.lens"].values,
                                                    rtol=1e-5)),
    "user_spot_relative": bool(np.allclose(keys_of(sp, "energy"), 500.0 * p.channels["lights.energy"].values
                                           / p.reference["lights.energy"], rtol=1e-5)),
    "world": scene.world.name,
}
for o in stage_spots:
    spots.objects.unlink(o)

# --- the flash cap: Bass House everywhere on the stage, evaluated per frame through the drops
for slot in st.mapping:
    slot.preset = "bass_house"
fps = 24
drop_frames = np.concatenate([np.arange(int(round(1 + d["start_s"] * fps)), int(round(1 + d["end_s"] * fps)))
                              for d in doc["drops"]])
flash = {}
for cap in (True, False):
    st.flash_cap = cap
    st.role_lights = stage_lights
    bpy.ops.msvfx.apply_show()
    rows = []
    for f in drop_frames.tolist():
        scene.frame_set(f)
        rows.append((stage_spot.energy, *stage_spot.color))
    flash["on" if cap else "off"] = np.asarray(rows).round(4).tolist()
st.flash_cap = True
out["flash_frames"] = drop_frames.tolist()
out["flash"] = flash
bpy.ops.msvfx.clear_show(remove_stage=True)
out["stage_clear_equal"] = user_state() == before
out["stage_clear_diff"] = {k: (v, before[k]) for k, v in user_state().items() if v != before[k]}
_colls = (bpy.data.objects, bpy.data.materials, bpy.data.worlds, bpy.data.actions, bpy.data.lights, bpy.data.cameras,
          bpy.data.collections)
out["left_owned"] = sorted(id_.name for coll in _colls for id_ in coll if id_.get("msvfx_owned"))
result(**out)
