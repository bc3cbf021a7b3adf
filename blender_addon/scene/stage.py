"""The starter stage ("Build Stage") and the add-on's own materials and world.

Everything made here carries the custom property ``msvfx_owned`` so that Apply can find
and replace it and Clear can remove it; nothing else in the file is touched. Meshes are
made with ``bmesh`` (no operators, so this works headless and without a 3D view).
"""
from __future__ import annotations

import math

import bmesh
import bpy
from mathutils import Matrix, Vector

OWNED = "msvfx_owned"
#: Role name -> scene.msvfx pointer property holding its collection.
ROLE_PROPS = {"lights": "role_lights", "pulse": "role_pulse", "screens": "role_screens",
              "lasers": "role_lasers", "camera": "role_camera"}
STAGE_COLLECTION = "MS Stage"
#: Custom property of the visible beam meshes under the starter stage's spots.
BEAM_TAG = "msvfx_beam"
#: Opacity of a beam at full brightness (haze shafts are faint).
BEAM_OPACITY = 0.16
#: Spot cone angle (radians) the beam meshes are modelled for; Apply scales them to the keyed size.
BEAM_SPOT_SIZE = 0.55
WORLD_NAME = "MS World"


def _own(id_):
    id_[OWNED] = True
    return id_


def is_owned(id_) -> bool:
    """Whether the add-on made this data-block."""
    return bool(id_.get(OWNED))


# --------------------------------------------------------------------------- materials


def _principled(mat):
    nt = mat.node_tree
    bsdf = next((n for n in nt.nodes if n.type == "BSDF_PRINCIPLED"), None)
    if bsdf is None:
        bsdf = nt.nodes.new("ShaderNodeBsdfPrincipled")
        out = next((n for n in nt.nodes if n.type == "OUTPUT_MATERIAL"), None) or nt.nodes.new("ShaderNodeOutputMaterial")
        nt.links.new(bsdf.outputs[0], out.inputs[0])
    return bsdf


def role_material(role: str):
    """The add-on's material for a role (``MS Screens`` ...), made on first use."""
    name = f"MS {role.title()}"
    mat = bpy.data.materials.get(name)
    if mat is None or not is_owned(mat):
        mat = _own(bpy.data.materials.new(name))
    if not mat.node_tree:
        mat.use_nodes = True
    _principled(mat)
    return mat


def set_material_static(mat, params: dict) -> None:
    """Base colour, roughness, metallic (and a start emission) of an owned material."""
    bsdf = _principled(mat)
    r, g, b = params["base_color"]
    bsdf.inputs["Base Color"].default_value = (r, g, b, 1.0)
    bsdf.inputs["Roughness"].default_value = params["roughness"]
    bsdf.inputs["Metallic"].default_value = params["metallic"]
    mat.roughness = params["roughness"]
    mat.metallic = params["metallic"]
    mat.diffuse_color = (r, g, b, 1.0)


def emission_paths(mat) -> tuple[str, str]:
    """Node-tree data paths of the emission colour and strength of an owned material."""
    bsdf = _principled(mat)
    return (bsdf.inputs["Emission Color"].path_from_id("default_value"),
            bsdf.inputs["Emission Strength"].path_from_id("default_value"))


def show_world():
    """The add-on's world (background + volumetric haze), made on first use."""
    w = bpy.data.worlds.get(WORLD_NAME)
    if w is not None and is_owned(w):
        return w
    w = _own(bpy.data.worlds.new(WORLD_NAME))
    if not w.node_tree:
        w.use_nodes = True
    nt = w.node_tree
    out = next((n for n in nt.nodes if n.type == "OUTPUT_WORLD"), None) or nt.nodes.new("ShaderNodeOutputWorld")
    bg = next((n for n in nt.nodes if n.type == "BACKGROUND"), None) or nt.nodes.new("ShaderNodeBackground")
    bg.name = "Background"
    nt.links.new(bg.outputs[0], out.inputs["Surface"])
    vol = nt.nodes.new("ShaderNodeVolumePrincipled")
    vol.name = "Haze"
    vol.inputs["Density"].default_value = 0.05
    nt.links.new(vol.outputs[0], out.inputs["Volume"])
    return w


def world_paths(w) -> dict[str, str]:
    """Node-tree data paths of the show world's driven inputs."""
    nt = w.node_tree
    bg, vol = nt.nodes["Background"], nt.nodes["Haze"]
    return {"color": bg.inputs["Color"].path_from_id("default_value"),
            "strength": bg.inputs["Strength"].path_from_id("default_value"),
            "haze_density": vol.inputs["Density"].path_from_id("default_value"),
            "haze_color": vol.inputs["Color"].path_from_id("default_value")}


# --------------------------------------------------------------------------- meshes


def _mesh(name: str, build) -> bpy.types.Mesh:
    me = _own(bpy.data.meshes.new(name))
    bm = bmesh.new()
    build(bm)
    bm.to_mesh(me)
    bm.free()
    return me


def _box(sx, sy, sz):
    return lambda bm: bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Diagonal((sx, sy, sz, 1.0)))


def _plane(sx, sy):
    return lambda bm: bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=0.5,
                                            matrix=Matrix.Diagonal((sx, sy, 1.0, 1.0)))


def _led_wall(sx, sy, tile=0.5, gap=0.045):
    """A screen made of separate LED panels (``tile`` metres, ``gap`` between them), in the XY plane."""
    nx, ny = max(1, round(sx / tile)), max(1, round(sy / tile))
    tx, ty = sx / nx, sy / ny

    def build(bm):
        for i in range(nx):
            for j in range(ny):
                x0, y0 = -sx / 2 + i * tx + gap / 2, -sy / 2 + j * ty + gap / 2
                x1, y1 = x0 + tx - gap, y0 + ty - gap
                vs = [bm.verts.new((x, y, 0.0)) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
                bm.faces.new(vs)
    return build


def _beam(length: float, radius: float):
    """An open cone along -Z from the origin (the light) widening to ``radius`` at ``length``."""
    return lambda bm: bmesh.ops.create_cone(bm, cap_ends=False, segments=24, radius1=radius, radius2=0.04,
                                            depth=length, matrix=Matrix.Translation((0, 0, -length / 2)))


def beam_material():
    """The add-on's material of the visible light beams (a haze shaft: emission over transparency)."""
    name = "MS Beams"
    mat = bpy.data.materials.get(name)
    if mat is not None and is_owned(mat):
        return mat
    mat = _own(bpy.data.materials.new(name))
    mat.use_nodes = True
    nt = mat.node_tree
    for n in list(nt.nodes):
        nt.nodes.remove(n)
    out = nt.nodes.new("ShaderNodeOutputMaterial")
    em = nt.nodes.new("ShaderNodeEmission")
    em.name = "Beam Emission"
    em.inputs["Strength"].default_value = 1.0
    tr = nt.nodes.new("ShaderNodeBsdfTransparent")
    mix = nt.nodes.new("ShaderNodeMixShader")
    mix.inputs["Fac"].default_value = BEAM_OPACITY
    nt.links.new(tr.outputs[0], mix.inputs[1])
    nt.links.new(em.outputs[0], mix.inputs[2])
    nt.links.new(mix.outputs[0], out.inputs["Surface"])
    mat.surface_render_method = "BLENDED"
    mat.use_transparency_overlap = True
    mat.diffuse_color = (1.0, 1.0, 1.0, BEAM_OPACITY)  # Workbench: viewport colour with alpha
    return mat


def beam_paths(mat) -> tuple[str, str]:
    """Data paths (in the node tree) of the beam material's emission colour and strength."""
    em = mat.node_tree.nodes["Beam Emission"]
    return em.inputs["Color"].path_from_id("default_value"), em.inputs["Strength"].path_from_id("default_value")


def beam_objects(scene) -> list:
    """The visible beams (the add-on's, children of spot lights) of the Lights role's spots."""
    spots = [o for o in role_objects(scene, "lights") if o.type == "LIGHT"]
    return sorted({b for o in spots for b in o.children if b.get(BEAM_TAG) and is_owned(b)}, key=lambda o: o.name)


def _obj(name: str, data, coll, loc=(0, 0, 0), rot=(0, 0, 0), mat=None):
    ob = _own(bpy.data.objects.new(name, data))
    ob.location = loc
    ob.rotation_euler = rot
    if mat is not None and data is not None and hasattr(data, "materials"):
        data.materials.append(mat)
    coll.objects.link(ob)
    return ob


def _collection(name: str, parent) -> bpy.types.Collection:
    c = _own(bpy.data.collections.new(name))
    parent.children.link(c)
    return c


def stage_collection(scene):
    """The starter stage's collection in ``scene``, or None."""
    return next((c for c in scene.collection.children_recursive if c.name.startswith(STAGE_COLLECTION)
                 and is_owned(c)), None)


def build_stage(scene) -> bpy.types.Collection:
    """Build the starter stage and assign its collections to the roles.

    LED wall (three emissive screens), a glossy floor, a truss with eight spot lights,
    six laser beams fanning from behind the wall, a central icosphere with two pulse
    pillars, a camera on an orbit pivot, and the show world with volumetric haze. An
    existing starter stage is replaced.
    """
    old = stage_collection(scene)
    if old is not None:
        remove_stage(scene)
    root = _collection(STAGE_COLLECTION, scene.collection)
    cols = {r: _collection(f"MS {r.title()}", root) for r in ROLE_PROPS}
    sets = _collection("MS Set", root)

    floor_mat = role_material("floor")
    truss_mat = role_material("truss")
    set_material_static(truss_mat, {"base_color": (0.012, 0.012, 0.014), "roughness": 0.35, "metallic": 1.0})
    _obj("MS Floor", _mesh("MS Floor", _plane(60, 60)), sets, mat=floor_mat)

    # LED wall: a big centre screen and two angled wings
    scr = role_material("screens")
    _obj("MS Screen Centre", _mesh("MS Screen Centre", _led_wall(12, 5)), cols["screens"], (0, 9, 3.6),
         (math.radians(90), 0, 0), scr)
    wing = _mesh("MS Screen Wing", _led_wall(5, 4))
    for side in (-1, 1):
        _obj(f"MS Screen {'L' if side < 0 else 'R'}", wing, cols["screens"],
             (side * 9.2, 7.2, 3.2), (math.radians(90), 0, -side * math.radians(35)), scr)

    # truss: a bar across and two legs; spots hang under the bar, aimed at the stage centre
    _obj("MS Truss Bar", _mesh("MS Truss Bar", _box(18, 0.4, 0.4)), sets, (0, 4, 7.5), mat=truss_mat)
    for side in (-1, 1):
        _obj("MS Truss Leg", _mesh("MS Truss Leg", _box(0.4, 0.4, 7.5)), sets, (side * 9, 4, 3.75), mat=truss_mat)
    spot = _own(bpy.data.lights.new("MS Spot", "SPOT"))
    spot.energy = 1000.0
    spot.spot_blend = 0.4
    spot.shadow_soft_size = 0.1
    beam_mesh = _mesh("MS Beam", _beam(9.0, 9.0 * math.tan(0.5 * BEAM_SPOT_SIZE)))
    beam_mesh.materials.append(beam_material())
    for i in range(8):
        x = -7.0 + 2.0 * i
        loc = Vector((x, 4.0, 7.2))
        target = Vector((x * 0.35, -1.0 if i % 2 else 2.0, 0.0))
        rot = (target - loc).to_track_quat("-Z", "Y").to_euler()
        sp = _obj(f"MS Spot {i + 1}", spot, cols["lights"], loc, rot)
        # the visible shaft of the spot in the haze, reaching the floor (child of the spot)
        bm_ = _obj(f"MS Beam {i + 1}", beam_mesh, cols["lights"], mat=None)
        bm_.parent = sp
        bm_[BEAM_TAG] = True

    # lasers: thin emissive beams from behind the wall, fanned; the fan angle is per beam
    las = role_material("lasers")
    beam = _mesh("MS Laser Beam", lambda bm: bmesh.ops.create_cone(
        bm, cap_ends=True, segments=8, radius1=0.06, radius2=0.16, depth=40.0,
        matrix=Matrix.Translation((0, 0, 20.0))))
    beam.materials.append(las)
    for i in range(6):
        fan = (i - 2.5) / 2.5
        ob = _obj(f"MS Laser {i + 1}", beam, cols["lasers"], (fan * 1.5, 9.5, 0.5),
                  (math.radians(-72), 0, fan * math.radians(14)))
        ob["msvfx_fan"] = fan

    # the central object and pulse pillars
    pul = role_material("pulse")
    _obj("MS Core", _mesh("MS Core", lambda bm: bmesh.ops.create_icosphere(bm, subdivisions=2, radius=1.4)),
         cols["pulse"], (0, 3, 2.6), mat=pul)
    for side in (-1, 1):
        _obj("MS Pillar", _mesh("MS Pillar", _box(0.8, 0.8, 4.0)), cols["pulse"], (side * 5.0, 5.0, 2.0), mat=pul)

    # camera on an orbit pivot: the pivot turns, the camera keeps looking at the stage
    pivot = _obj("MS Camera Pivot", None, cols["camera"], (0, 3, 0))
    pivot.empty_display_type = "PLAIN_AXES"
    cam_data = _own(bpy.data.cameras.new("MS Camera"))
    cam_data.lens = 30.0
    cam_data.clip_end = 300.0
    cam = _obj("MS Camera", cam_data, cols["camera"], (0, -17.0, 3.4))
    cam.rotation_euler = (Vector((0, 3, 3.2)) - Vector((0, -17.0, 3.4))).to_track_quat("-Z", "Y").to_euler()
    cam.parent = pivot  # identity parent inverse: the location is relative to the pivot
    cam.location = (0, -20.0, 3.4)

    st = scene.msvfx
    if scene.camera is not None and not is_owned(scene.camera):
        st.prev_camera = scene.camera
    scene.camera = cam
    for role, prop in ROLE_PROPS.items():
        setattr(st, prop, cols[role])
    w = show_world()
    if scene.world is not None and not is_owned(scene.world):
        st.prev_world = scene.world
    scene.world = w
    return root


def remove_stage(scene) -> int:
    """Remove the starter stage (its collections, objects and their data); returns objects removed."""
    root = stage_collection(scene)
    if root is None:
        return 0
    st = scene.msvfx
    objs = [o for o in root.all_objects if is_owned(o)]
    data = {o.data for o in objs if o.data is not None and is_owned(o.data)}
    if scene.camera is not None and scene.camera in objs:
        scene.camera = st.prev_camera if st.prev_camera is not None else None
        st.prev_camera = None
    for o in objs:
        bpy.data.objects.remove(o)
    for d in data:
        if d.users == 0:
            if isinstance(d, bpy.types.Mesh):
                bpy.data.meshes.remove(d)
            elif isinstance(d, bpy.types.Light):
                bpy.data.lights.remove(d)
            elif isinstance(d, bpy.types.Camera):
                bpy.data.cameras.remove(d)
    colls = [c for c in root.children_recursive if is_owned(c)] + [root]
    for role, prop in ROLE_PROPS.items():
        if getattr(st, prop) in colls:
            setattr(st, prop, None)
    for c in colls:
        bpy.data.collections.remove(c)
    for me in [m for m in bpy.data.meshes if is_owned(m) and m.users == 0]:
        bpy.data.meshes.remove(me)
    return len(objs)


def remove_owned_materials_and_world(scene) -> None:
    """Restore the scene's own world and remove the add-on's materials and world when unused."""
    st = scene.msvfx
    if scene.world is not None and is_owned(scene.world):
        scene.world = st.prev_world
        st.prev_world = None
    for w in [w for w in bpy.data.worlds if is_owned(w) and w.users == 0]:
        bpy.data.worlds.remove(w)
    for m in [m for m in bpy.data.materials if is_owned(m) and m.users == 0]:
        bpy.data.materials.remove(m)


def role_objects(scene, role: str) -> list:
    """Objects of a role (all objects of its collection, recursively), in name order."""
    coll = getattr(scene.msvfx, ROLE_PROPS[role])
    if coll is None:
        return []
    return sorted(coll.all_objects, key=lambda o: o.name)
