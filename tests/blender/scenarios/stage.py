"""The starter stage in a clean Blender (installed zip), from the factory startup scene with its
default cube, light and camera: Build Stage makes the stage's own scene (the user's scene stays
as it was), smooth geometry, the LED wall's content from the scene music values, a camera
framing the truss and wall through the applied show, and a second Build Stage that keeps the
user's edits unless asked to rebuild."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, result  # noqa: E402
import importlib  # noqa: E402

import numpy as np  # noqa: E402
from bpy_extras.object_utils import world_to_camera_view  # noqa: E402
from mathutils import Vector  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
stage = addon.scene.stage
render = importlib.import_module(addon.__name__ + ".scene.render")
plan_mod = importlib.import_module(addon.__name__ + ".show.plan")
work = os.environ["MSVFX_WORK"]
out = {}

user = bpy.context.scene
user.render.fps = 30
user_objects = sorted(o.name for o in user.objects)
out["factory_objects"] = user_objects
bpy.ops.msvfx.load_timeline(filepath=os.environ["MSVFX_TIMELINE"])
bpy.ops.msvfx.presets_reset()
user_state = {"objects": user_objects, "camera": user.camera.name, "world": user.world.name if user.world else None,
              "frame_end": user.frame_end, "roles": [getattr(user.msvfx, p) is None for p in stage.ROLE_PROPS.values()]}

# --- Build Stage: its own scene, made the window's scene; the user's scene untouched
bpy.ops.msvfx.build_stage()
sc = bpy.context.scene
out["stage_scene"] = sc.name
out["window_scene"] = bpy.context.window.scene.name if bpy.context.window else None
out["user_after"] = {"objects": sorted(o.name for o in user.objects), "camera": user.camera.name,
                     "world": user.world.name if user.world else None, "frame_end": user.frame_end,
                     "roles": [getattr(user.msvfx, p) is None for p in stage.ROLE_PROPS.values()]}
out["user_before"] = user_state
out["stage_not_owned"] = sorted(o.name for o in sc.objects if not o.get("msvfx_owned"))
out["stage_objects"] = sorted(o.name for o in sc.objects)
out["stage_camera_owned"] = bool(sc.camera and sc.camera.get("msvfx_owned"))
ust, sst = user.msvfx, sc.msvfx
out["copied"] = {
    "fps": sc.render.fps == user.render.fps, "frame_end": sc.frame_end == user.frame_end,
    "timeline_copy": sst.timeline_text is not None and sst.timeline_text != ust.timeline_text
    and sst.timeline_text.as_string() == ust.timeline_text.as_string(),
    "strip": bool(sst.strip_name), "looks": len(sst.looks) == len(ust.looks) and len(sst.looks) > 0,
    "mapping": [s.preset for s in sst.mapping] == [s.preset for s in ust.mapping],
    "markers": len(sc.timeline_markers) == len(user.timeline_markers) > 0,
}

# --- smooth geometry
beam_mesh = stage.beam_objects(sc)[0].data
core = sc.objects["MS Core"].data
out["beams"] = {"n": len(stage.beam_objects(sc)), "faces": len(beam_mesh.polygons),
                "smooth": all(p.use_smooth for p in beam_mesh.polygons),
                "material": beam_mesh.materials[0].name}
out["core"] = {"faces": len(core.polygons), "smooth": all(p.use_smooth for p in core.polygons)}
lasers = [o for o in stage.role_objects(sc, "lasers")]
fan = sorted(round(o["msvfx_fan"], 4) for o in lasers)
origins = {tuple(round(c, 3) for c in o.location) for o in lasers}
out["lasers"] = {"n": len(lasers), "symmetric": fan == sorted(-f for f in fan), "one_origin": len(origins) == 1,
                 "radius": max(o.dimensions.x for o in lasers) / 2}

# --- the LED wall: a pattern even without music values, changing a beat apart with them
cam = sc.camera
pivot = cam.parent

wall = sc.objects["MS Screen Center"]
scr = bpy.data.materials["MS Screens"]
nodes = scr.node_tree.nodes
out["screen_paths"] = list(stage.emission_paths(scr))
nodes[stage.EMISSION_COLOR_NODE].outputs[0].default_value = (1.0, 0.3, 0.1, 1.0)
nodes[stage.EMISSION_STRENGTH_NODE].outputs[0].default_value = 8.0
sc.render.engine = "CYCLES"
sc.cycles.samples = 4
sc.cycles.use_denoising = False
sc.render.resolution_x, sc.render.resolution_y, sc.render.resolution_percentage = 64, 36, 100
hidden = [o for o in sc.objects if o.name.startswith(("MS Laser", "MS Beam", "MS Core", "MS Pillar", "MS Spot"))]
for o in hidden:  # the wall alone in front of the camera
    o.hide_render = True
render.set_glow(sc, False)


def wall_box():
    bpy.context.view_layer.update()
    pts = [world_to_camera_view(sc, cam, wall.matrix_world @ Vector(c)) for c in wall.bound_box]
    return (min(p.x for p in pts), max(p.x for p in pts), min(p.y for p in pts), max(p.y for p in pts))


def wall_pixels(tag):
    path = os.path.join(work, f"wall_{tag}.png")
    sc.render.filepath = path
    sc.render.image_settings.file_format = "PNG"
    bpy.ops.render.render(write_still=True, scene=sc.name)
    img = bpy.data.images.load(path, check_existing=False)
    w, h = img.size
    px = np.empty(w * h * 4, dtype=np.float32)
    img.pixels.foreach_get(px)
    bpy.data.images.remove(img)
    px = px.reshape(h, w, 4)[..., :3]
    x0, x1, y0, y1 = wall_box()
    # the inner part of the wall (bottom-up rows, as Blender stores them)
    xs = slice(int(w * (x0 + 0.1 * (x1 - x0))), int(w * (x1 - 0.1 * (x1 - x0))))
    ys = slice(int(h * (y0 + 0.15 * (y1 - y0))), int(h * (y1 - 0.15 * (y1 - y0))))
    return px[ys, xs].mean(axis=-1)


static = wall_pixels("static")  # no music values in the scene: they read 0
music = {"msvfx_beat_phase": 0.1, "msvfx_bar_phase": 0.025, "msvfx_beat_pulse": 0.8, "msvfx_energy": 0.7,
         "msvfx_drop": 1.0}
for k, v in music.items():
    sc[k] = v
beat_a = wall_pixels("beat_a")
sc["msvfx_bar_phase"] = 0.275  # one beat later in the bar (same beat phase, same pulse)
beat_b = wall_pixels("beat_b")
for k in music:
    del sc[k]
out["wall"] = {"static_mean": float(static.mean()), "static_std": float(static.std()),
               "beat_a_mean": float(beat_a.mean()), "beat_diff": float(np.abs(beat_a - beat_b).mean()),
               "shape": list(static.shape)}
for o in hidden:
    o.hide_render = False

# --- the camera frames the truss and the wall through the applied show
bpy.ops.msvfx.apply_show()
sc.render.resolution_x, sc.render.resolution_y = 1920, 1080
framed = [sc.objects[n] for n in ("MS Truss Bar", "MS Screen Center", "MS Screen L", "MS Screen R")] + \
    [o for o in sc.objects if o.name.startswith("MS Truss Leg")]


def frame_box():
    bpy.context.view_layer.update()
    pts = [world_to_camera_view(sc, cam, o.matrix_world @ Vector(c)) for o in framed for c in o.bound_box]
    return [min(p.x for p in pts), max(p.x for p in pts), min(p.y for p in pts), max(p.y for p in pts)]


boxes, lenses, angles = [], [], []
for f in np.linspace(sc.frame_start, sc.frame_end, 60).round().astype(int):
    sc.frame_set(int(f))
    boxes.append(frame_box())
    lenses.append(cam.data.lens)
    angles.append(pivot.rotation_euler[2])
# the extremes together: the longest lens of the show at either orbit limit
sc.frame_set(sc.frame_start)
cam.data.lens = max(lenses)
for a in (-plan_mod.ORBIT_LIMIT, plan_mod.ORBIT_LIMIT):
    pivot.rotation_euler[2] = a
    boxes.append(frame_box())
b = np.array(boxes)
out["framing"] = {"x_min": float(b[:, 0].min()), "x_max": float(b[:, 1].max()), "y_min": float(b[:, 2].min()),
                  "y_max": float(b[:, 3].max()), "lens_max": float(max(lenses)),
                  "orbit_span_deg": float(np.degrees(np.ptp(angles)))}
sc.frame_set(sc.frame_start)

# --- a second Build Stage keeps the user's edits; Rebuild discards them
core_ob = sc.objects["MS Core"]
core_ob.location = (3.0, 1.0, 2.0)
bpy.ops.msvfx.build_stage()  # from the stage scene
kept_here = tuple(sc.objects["MS Core"].location)
bpy.context.window.scene = user
bpy.ops.msvfx.build_stage()  # from the user's scene again: back to the same stage scene
out["second_build"] = {"kept": [round(x, 3) for x in kept_here],
                       "kept_from_user_scene": [round(x, 3) for x in bpy.context.scene.objects["MS Core"].location],
                       "same_scene": bpy.context.scene == sc,
                       "n_stage_scenes": sum(1 for s in bpy.data.scenes if s.get(stage.STAGE_SCENE_TAG))}
op = addon.ui.ops_show.MSVFX_OT_build_stage
props = bpy.ops.msvfx.build_stage.get_rna_type().properties
out["asks"] = {"has_invoke": hasattr(op, "invoke"), "rebuild_prop": "rebuild" in props,
               "rebuild_name": props["rebuild"].name if "rebuild" in props else ""}
bpy.ops.msvfx.build_stage(rebuild=True)
out["rebuilt"] = [round(x, 3) for x in bpy.context.scene.objects["MS Core"].location]
# Build Here: into the current scene only on request
bpy.context.window.scene = user
out["user_objects_before_clear"] = sorted(o.name for o in user.objects)

# --- Clear in the stage scene removes the stage; the user's scene still as it was
bpy.context.window.scene = sc
bpy.ops.msvfx.clear_show(remove_stage=True)
out["after_clear_owned"] = sorted(o.name for o in sc.objects if o.get("msvfx_owned"))
out["user_final"] = sorted(o.name for o in user.objects)
result(**out)
