"""Music values in a clean Blender (installed zip), on a scene without the starter stage: Bake, the
values frame by frame, a user's driver, Geometry Nodes and shader groups, a tiny Cycles render
through a View Layer Attribute node, Clear, and Apply without roles."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, result  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402

import numpy as np  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
inputs = importlib.import_module(addon.__name__ + ".scene.inputs")
work = os.environ["MSVFX_WORK"]
timeline_path = os.environ["MSVFX_TIMELINE"]
scene = bpy.context.scene
st = scene.msvfx
out = {}

for ob in list(bpy.data.objects):  # the user's own scene: no starter stage, no roles
    bpy.data.objects.remove(ob)
scene.render.fps, scene.render.fps_base = 24, 1.0
scene.world = None
scene["user_glow"] = 0.0  # the user animates a scene property of their own
scene.keyframe_insert('["user_glow"]', frame=1)
scene["user_glow"] = 5.0
scene.keyframe_insert('["user_glow"]', frame=50)
user_action = scene.animation_data.action.name
out["bake_poll_before"] = bpy.ops.msvfx.bake_music_values.poll()
bpy.ops.msvfx.load_timeline(filepath=timeline_path)
out["bake_poll"] = bpy.ops.msvfx.bake_music_values.poll()
out["bake"] = sorted(bpy.ops.msvfx.bake_music_values())
out["info"] = st.show_info
names = inputs.baked_values(scene)
out["names"] = names
out["ui"] = {n: scene.id_properties_ui(n).as_dict() for n in names}
ad = scene.animation_data
out["slot_type"] = ad.action_slot.target_id_type
from bpy_extras import anim_utils  # noqa: E402
bag = anim_utils.action_get_channelbag_for_slot(ad.action, ad.action_slot)
out["keyed"] = {fc.data_path: len(fc.keyframe_points) for fc in bag.fcurves}
out["same_action"] = ad.action.name == user_action


def curve_keys():
    return {fc.data_path: [tuple(k.co) for k in fc.keyframe_points] for fc in bag.fcurves}


first = curve_keys()
bpy.ops.msvfx.bake_music_values()
out["bake_twice_equal"] = curve_keys() == first

# the user's own driver (light energy = 100 x energy) and one made with the helper (spot = drop)
lamp = bpy.data.lights.new("UserLamp", "POINT")
scene.collection.objects.link(bpy.data.objects.new("UserLamp", lamp))
drv = lamp.driver_add("energy").driver
drv.type = "SCRIPTED"
drv.expression = "100 * energy"
var = drv.variables.new()
var.name, var.type = "energy", "SINGLE_PROP"
var.targets[0].id_type = "SCENE"
var.targets[0].id = scene
var.targets[0].data_path = '["msvfx_energy"]'
spot = bpy.data.lights.new("UserSpot", "SPOT")
scene.collection.objects.link(bpy.data.objects.new("UserSpot", spot))
inputs.add_music_driver(spot, "energy", "drop", expression="500 * value", scene=scene)

# Geometry Nodes: a point lifted by the group's Drop and Beat Pulse outputs
me = bpy.data.meshes.new("UserPoint")
me.from_pydata([(0, 0, 0)], [], [])
pt = bpy.data.objects.new("UserPoint", me)
scene.collection.objects.link(pt)
gn = bpy.data.node_groups.new("UserGN", "GeometryNodeTree")
gn.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
gn.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
gi, go = gn.nodes.new("NodeGroupInput"), gn.nodes.new("NodeGroupOutput")
grp = gn.nodes.new("GeometryNodeGroup")
grp.node_tree = bpy.data.node_groups[inputs.GEOMETRY_GROUP]
sp, xyz = gn.nodes.new("GeometryNodeSetPosition"), gn.nodes.new("ShaderNodeCombineXYZ")
gn.links.new(gi.outputs[0], sp.inputs["Geometry"])
gn.links.new(grp.outputs["Drop"], xyz.inputs["Z"])
gn.links.new(grp.outputs["Beat Pulse"], xyz.inputs["X"])
gn.links.new(xyz.outputs[0], sp.inputs["Offset"])
gn.links.new(sp.outputs[0], go.inputs[0])
pt.modifiers.new("Music", "NODES").node_group = gn
out["gn_outputs"] = [grp.outputs[i].name for i in range(len(grp.outputs))]

# every value on every frame, the driven light energies and the GN point
frames = list(range(scene.frame_start, scene.frame_end + 1))
vals = {n: [] for n in names}
lamp_e, spot_e, gn_z, gn_x = [], [], [], []
for f in frames:
    scene.frame_set(f)
    dg = bpy.context.evaluated_depsgraph_get()
    for n in names:
        vals[n].append(float(scene[n]))
    lamp_e.append(lamp.evaluated_get(dg).energy)
    spot_e.append(spot.evaluated_get(dg).energy)
    co = pt.evaluated_get(dg).data.vertices[0].co
    gn_z.append(co.z)
    gn_x.append(co.x)
out.update(frames=frames, values=vals, lamp_energy=lamp_e, spot_energy=spot_e, gn_z=gn_z, gn_x=gn_x)
# subframes: the phase never runs backwards inside a frame
sub = []
for f in json.loads(os.environ["MSVFX_SUBFRAMES"]):
    row = []
    for s in (0.0, 0.25, 0.5, 0.75):
        scene.frame_set(int(f), subframe=s)
        row.append(float(scene["msvfx_beat_phase"]))
    scene.frame_set(int(f) + 1)
    row.append(float(scene["msvfx_beat_phase"]))
    sub.append(row)
out["subframes"] = sub

# shader: left plane's emission = Attribute (View Layer) msvfx_drop, right plane's = the shader group's Drop
def plane(name, x, mat):
    m = bpy.data.meshes.new(name)
    m.from_pydata([(x - 1, -1, 0), (x + 1, -1, 0), (x + 1, 1, 0), (x - 1, 1, 0)], [], [(0, 1, 2, 3)])
    m.materials.append(mat)
    ob = bpy.data.objects.new(name, m)
    scene.collection.objects.link(ob)
    return ob


def emission_material(name, strength_from):
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # before Blender 5.0 materials start without nodes
        mat.use_nodes = True
    nt = mat.node_tree
    nt.nodes.clear()
    em, mo = nt.nodes.new("ShaderNodeEmission"), nt.nodes.new("ShaderNodeOutputMaterial")
    nt.links.new(strength_from(nt), em.inputs["Strength"])
    nt.links.new(em.outputs[0], mo.inputs["Surface"])
    return mat


def attr(nt):
    a = nt.nodes.new("ShaderNodeAttribute")
    a.attribute_type, a.attribute_name = "VIEW_LAYER", "msvfx_drop"
    return a.outputs["Fac"]


def group(nt):
    g = nt.nodes.new("ShaderNodeGroup")
    g.node_tree = bpy.data.node_groups[inputs.SHADER_GROUP]
    return g.outputs["Drop"]


plane("AttrPlane", -1.0, emission_material("UserAttrEmission", attr))
plane("GroupPlane", 1.0, emission_material("UserGroupEmission", group))
cam = bpy.data.objects.new("UserCam", bpy.data.cameras.new("UserCam"))
cam.data.type, cam.data.ortho_scale = "ORTHO", 4.0
cam.location = (0, 0, 5)
scene.collection.objects.link(cam)
scene.camera = cam
scene.render.engine = "CYCLES"
scene.cycles.samples, scene.cycles.device = 1, "CPU"
scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 32, 32, 100
renders = {}
for key, f in json.loads(os.environ["MSVFX_RENDER_FRAMES"]).items():
    scene.frame_set(int(f))
    path = os.path.join(work, f"{key}.png")
    scene.render.filepath = path
    bpy.ops.render.render(write_still=True)
    img = bpy.data.images.load(path)
    px = np.array(img.pixels[:], dtype=np.float32).reshape(32, 32, 4)[..., :3]
    renders[key] = {"left": float(px[8:24, 2:14].mean()), "right": float(px[8:24, 18:30].mean())}
    bpy.data.images.remove(img)
out["renders"] = renders

# Clear: values, keys and the scene action go; groups the user placed in node trees stay
fc_before = len(bag.fcurves)
out["clear"] = sorted(bpy.ops.msvfx.clear_music_values())
out["after_clear"] = {
    "props": sorted(k for k in scene.keys() if k.startswith("msvfx_")),
    "scene_action": scene.animation_data.action.name if scene.animation_data and scene.animation_data.action else None,
    "scene_curves": sorted((fc.data_path, [tuple(k.co) for k in fc.keyframe_points]) for fc in bag.fcurves),
    "user_glow_keys": first['["user_glow"]'],
    "actions": sorted(a.name for a in bpy.data.actions if a.get("msvfx_owned")),
    "groups": sorted(g.name for g in bpy.data.node_groups if g.get(inputs.GROUP_TAG)),
    "user_driver_kept": lamp.animation_data is not None and len(lamp.animation_data.drivers) == 1,
    "fcurves_before": fc_before,
    "info": st.show_info,
}
pt.modifiers.clear()
bpy.data.node_groups.remove(gn)
bpy.data.materials.remove(bpy.data.materials["UserGroupEmission"])
bpy.ops.msvfx.clear_music_values()
out["groups_after_unused_clear"] = sorted(g.name for g in bpy.data.node_groups if g.get(inputs.GROUP_TAG))

# Apply Looks on this scene without roles: bakes the values and succeeds
try:
    out["apply"] = sorted(bpy.ops.msvfx.apply_show())
except RuntimeError as exc:
    out["apply"] = ["ERROR", str(exc)]
out["apply_info"] = st.show_info
out["apply_names"] = inputs.baked_values(scene)
keyed = []
if scene.animation_data and scene.animation_data.action:
    b = anim_utils.action_get_channelbag_for_slot(scene.animation_data.action, scene.animation_data.action_slot)
    keyed = sorted((fc.data_path, len(fc.keyframe_points)) for fc in b.fcurves)
out["apply_keyed"] = keyed
out["apply_world"] = scene.world.name if scene.world else None
# Clear Show clears the values too
try:
    out["clear_show"] = sorted(bpy.ops.msvfx.clear_show())
except RuntimeError as exc:
    out["clear_show"] = ["ERROR", str(exc)]
out["after_clear_show"] = sorted(k for k in scene.keys() if k.startswith("msvfx_"))
result(**out)
