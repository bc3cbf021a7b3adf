"""The starter stage ("Build Stage") and the add-on's own materials and world.

Everything made here carries the custom property ``msvfx_owned`` so that Apply can find
and replace it and Clear can remove it; nothing else in the file is touched. Meshes are
made with ``bmesh`` (no operators, so this works headless and without a 3D view).

:func:`build_stage_scene` (what the Build Stage button does) builds the stage in a scene of
its own, "Mainstage Stage", with a copy of the show state of the user's scene (timeline,
audio, frame rate and range, looks and mapping); :func:`build_stage` builds into a given
scene (headless rendering, "Build Here").

The screens' material draws procedural content from the scene-level music values
(``msvfx_beat_phase``, ``msvfx_bar_phase``, ``msvfx_beat_pulse``, ``msvfx_energy``,
``msvfx_drop``, ``msvfx_trait_distortion``, ``msvfx_genre_<slug>``) through Attribute nodes
of type View Layer; where those are absent they read 0 and the wall shows a still pattern.
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
#: Name of the scene Build Stage makes; the scene carries STAGE_SCENE_TAG.
STAGE_SCENE = "Mainstage Stage"
STAGE_SCENE_TAG = "msvfx_stage_scene"
#: Custom property of the stage scene naming the scene its show state was copied from.
SOURCE_TAG = "msvfx_source_scene"
#: Custom property of the visible beam meshes under the starter stage's spots.
BEAM_TAG = "msvfx_beam"
#: Opacity of a beam at full brightness, at its core near the light (haze shafts are faint).
BEAM_OPACITY = 0.22
#: Spot cone angle (radians) the beam meshes are modelled for; Apply scales them to the keyed size.
BEAM_SPOT_SIZE = 0.55
BEAM_LENGTH = 9.0
WORLD_NAME = "MS World"
#: Share of the look's haze density the world volume really uses (the shafts carry the beams).
HAZE_MIX = 0.35
#: Node names of the keyed emission colour / strength in the screens' pattern material.
EMISSION_COLOR_NODE = "MS Emission Color"
EMISSION_STRENGTH_NODE = "MS Emission Strength"
#: Share of the keyed emission strength the LED content shows (the looks' strengths are for flat panels).
SCREEN_GAIN = 0.18
#: Share of the keyed emission strength the pulse objects show (at their rim; a fifth of it inside).
PULSE_GAIN = 0.3
#: Lasers: how many, the fan's half angle, its tilt toward the audience (degrees), the beam radius (m).
LASER_COUNT, LASER_FAN_DEG, LASER_TILT_DEG, LASER_RADIUS = 15, 62.0, 22.0, 0.02
#: Where the laser fan comes from: above the middle of the centre screen.
LASER_ORIGIN = (0.0, 8.7, 6.45)
#: Screen pattern per genre (the wall's content): bars, rings, checker or noise.
GENRE_PATTERNS = {
    "bars": ("bass_house", "tech_house", "slap_house"),
    "rings": ("bigroom", "future_rave"),
    "checker": ("future_house",),
    "noise": ("deep_house", "progressive_house"),
}

# camera: an orbit pivot at the stage centre, the camera behind and above it
CAMERA_PIVOT = (0.0, 6.5, 0.0)
CAMERA_OFFSET = (0.0, -27.0, 4.6)  # relative to the pivot
CAMERA_AIM = (0.0, 6.5, 3.8)  # what the camera looks at (rotates with the orbit)
CAMERA_LENS = 30.0


def _own(id_):
    id_[OWNED] = True
    return id_


def is_owned(id_) -> bool:
    """Whether the add-on made this data-block."""
    return bool(id_.get(OWNED))


# --------------------------------------------------------------------------- node helpers


class _Nodes:
    """Terse node-graph building: ``op("MULTIPLY", a, 2.0)`` with sockets or constants as inputs."""

    def __init__(self, nt):
        self.nt = nt
        self.x = -1600

    def new(self, kind: str, **attrs):
        n = self.nt.nodes.new(kind)
        for k, v in attrs.items():
            setattr(n, k, v)
        n.location = (self.x, len(self.nt.nodes) * -40 % 1600)
        self.x += 18
        return n

    def link(self, value, socket) -> None:
        if isinstance(value, (int, float)):
            socket.default_value = float(value)
        elif isinstance(value, tuple):
            socket.default_value = value
        else:
            self.nt.links.new(value, socket)

    def op(self, operation: str, a, b=None, c=None, clamp: bool = False):
        n = self.new("ShaderNodeMath", operation=operation, use_clamp=clamp)
        for sock, v in zip(n.inputs, (a, b, c)):
            if v is not None:
                self.link(v, sock)
        return n.outputs[0]

    def smooth(self, x, lo: float, hi: float):
        """Smoothstep of ``x`` from ``lo`` to ``hi`` (0..1; ``lo > hi`` falls instead)."""
        n = self.new("ShaderNodeMapRange", interpolation_type="SMOOTHSTEP", clamp=True)
        self.link(x, n.inputs["Value"])
        n.inputs["From Min"].default_value = lo
        n.inputs["From Max"].default_value = hi
        return n.outputs["Result"]

    def attr(self, name: str):
        """A scene music value (View Layer attribute; 0 where the scene lacks it)."""
        return self.new("ShaderNodeAttribute", attribute_type="VIEW_LAYER", attribute_name=name).outputs["Fac"]

    def xyz(self, x, y, z=0.0):
        n = self.new("ShaderNodeCombineXYZ")
        for sock, v in zip(n.inputs, (x, y, z)):
            self.link(v, sock)
        return n.outputs[0]


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
    """The add-on's material for a role (``MS Screens`` ...), made on first use.

    ``MS Screens`` draws the music-driven wall content (:func:`_screen_pattern`).
    """
    name = f"MS {role.title()}"
    mat = bpy.data.materials.get(name)
    if mat is None or not is_owned(mat):
        mat = _own(bpy.data.materials.new(name))
    if not mat.node_tree:
        mat.use_nodes = True
    _principled(mat)
    if role == "screens" and EMISSION_COLOR_NODE not in mat.node_tree.nodes:
        _screen_pattern(mat)
    elif role == "pulse" and EMISSION_COLOR_NODE not in mat.node_tree.nodes:
        _pulse_glow(mat)
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
    nodes = mat.node_tree.nodes
    if EMISSION_COLOR_NODE in nodes and EMISSION_STRENGTH_NODE in nodes:
        return (nodes[EMISSION_COLOR_NODE].outputs[0].path_from_id("default_value"),
                nodes[EMISSION_STRENGTH_NODE].outputs[0].path_from_id("default_value"))
    bsdf = _principled(mat)
    return (bsdf.inputs["Emission Color"].path_from_id("default_value"),
            bsdf.inputs["Emission Strength"].path_from_id("default_value"))


def _screen_pattern(mat) -> None:
    """Give the screens' material procedural LED content that moves with the music.

    The keyed emission colour and strength (nodes :data:`EMISSION_COLOR_NODE`,
    :data:`EMISSION_STRENGTH_NODE`) are modulated by a pattern mask in object space:
    bars scrolling with the bar, rings expanding on the beat, a checker flipping on the
    beat, or drifting noise, weighted by the genre values (bars without them); the
    distortion trait slices and shifts rows (a glitch), the mask's peaks turn near-white.
    """
    nt = mat.node_tree
    bsdf = _principled(mat)
    N = _Nodes(nt)
    col, strength = _emission_inputs(N)
    beat, bar = N.attr("msvfx_beat_phase"), N.attr("msvfx_bar_phase")
    pulse, energy = N.attr("msvfx_beat_pulse"), N.attr("msvfx_energy")
    drop, distortion = N.attr("msvfx_drop"), N.attr("msvfx_trait_distortion")
    organic = N.attr("msvfx_trait_organicity")
    tc = N.new("ShaderNodeTexCoord")
    sep = N.new("ShaderNodeSeparateXYZ")
    nt.links.new(tc.outputs["Object"], sep.inputs[0])
    u, v = N.op("MULTIPLY", sep.outputs[0], 1 / 6.0), N.op("MULTIPLY", sep.outputs[1], 1 / 2.5)
    # glitch: rows of the wall shift sideways, a new offset every beat (bar phase x 4)
    step = N.op("FLOOR", N.op("MULTIPLY", bar, 4.0))
    wn = N.new("ShaderNodeTexWhiteNoise", noise_dimensions="3D")
    nt.links.new(N.xyz(N.op("FLOOR", N.op("MULTIPLY", v, 3.0)), N.op("MULTIPLY", step, 3.7)), wn.inputs["Vector"])
    glitch = N.smooth(distortion, 0.35, 0.9)  # only clearly distorted music glitches
    shift = N.op("MULTIPLY", N.op("SUBTRACT", wn.outputs["Value"], 0.5), N.op("MULTIPLY", glitch, 0.3))
    u = N.op("ADD", u, shift)
    # bars: five bars across the wall, scrolling one bar width per bar
    s = N.op("FRACT", N.op("SUBTRACT", N.op("MULTIPLY", u, 2.5), bar))
    bars = N.smooth(N.op("ABSOLUTE", N.op("SUBTRACT", s, 0.5)), 0.34, 0.12)
    bars = N.op("MULTIPLY", bars, N.op("SUBTRACT", 1.0, N.op("MULTIPLY", N.op("ABSOLUTE", v), 0.45)))
    # rings: expanding from the centre, one ring per beat
    r = N.op("SQRT", N.op("ADD", N.op("MULTIPLY", N.op("MULTIPLY", u, u), 4.0), N.op("MULTIPLY", v, v)))
    s = N.op("FRACT", N.op("SUBTRACT", N.op("MULTIPLY", r, 1.6), beat))
    rings = N.smooth(N.op("ABSOLUTE", N.op("SUBTRACT", s, 0.5)), 0.3, 0.08)
    # checker: 12 x 4 cells, flipping on every beat
    cells = N.op("ADD", N.op("FLOOR", N.op("MULTIPLY", u, 6.0)), N.op("FLOOR", N.op("MULTIPLY", v, 2.0)))
    checker = N.op("MULTIPLY", N.op("FRACT", N.op("MULTIPLY", N.op("ADD", cells, step), 0.5)), 2.0)
    # noise: slow clouds drifting with the bar and the energy
    nz = N.new("ShaderNodeTexNoise", noise_dimensions="4D")
    nt.links.new(N.xyz(u, v), nz.inputs["Vector"])
    nz.inputs["Scale"].default_value = 1.6
    nz.inputs["Detail"].default_value = 3.0
    N.link(N.op("ADD", N.op("MULTIPLY", bar, 0.25), N.op("MULTIPLY", energy, 0.8)), nz.inputs["W"])
    noise = N.smooth(nz.outputs["Fac"], 0.42, 0.66)
    # pattern weights from the genre values; what is missing goes to bars
    weights = {}
    for pat, slugs in GENRE_PATTERNS.items():
        w = N.attr(f"msvfx_genre_{slugs[0]}")
        for slug in slugs[1:]:
            w = N.op("ADD", w, N.attr(f"msvfx_genre_{slug}"))
        weights[pat] = w
    total = N.op("ADD", N.op("ADD", weights["bars"], weights["rings"]), N.op("ADD", weights["checker"], weights["noise"]))
    weights["bars"] = N.op("ADD", weights["bars"], N.op("SUBTRACT", 1.0, total, clamp=True))
    mask = None
    for pat, m in (("bars", bars), ("rings", rings), ("checker", checker), ("noise", noise)):
        term = N.op("MULTIPLY", m, weights[pat])
        mask = term if mask is None else N.op("ADD", mask, term)
    # brightness: a dim floor where the mask is off, lifted by energy and the beat in drops
    level = N.op("MULTIPLY_ADD", mask, 0.94, 0.06)
    # organic music: softer content (less contrast between on and off)
    soft = N.op("MULTIPLY", N.smooth(organic, 0.4, 0.9), 0.45)
    level = N.op("ADD", level, N.op("MULTIPLY", soft, N.op("SUBTRACT", 0.55, level)))
    lift = N.op("ADD", N.op("MULTIPLY_ADD", energy, 0.35, 0.75), N.op("MULTIPLY", N.op("MULTIPLY", drop, pulse), 0.4))
    em_strength = N.op("MULTIPLY", N.op("MULTIPLY", level, lift),
                       N.op("MULTIPLY", strength.outputs[0], SCREEN_GAIN))
    # the peaks of the pattern run toward white (LED highlights)
    hot = N.op("MULTIPLY", N.smooth(mask, 0.85, 1.0), N.op("MULTIPLY_ADD", pulse, 0.2, 0.15))
    mix = N.new("ShaderNodeMix", data_type="RGBA", blend_type="MIX")
    N.link(hot, mix.inputs["Factor"])
    # ... and warmer where the music is organic
    warm = N.new("ShaderNodeMix", data_type="RGBA", blend_type="MULTIPLY")
    N.link(N.op("MULTIPLY", soft, 0.6), warm.inputs["Factor"])
    nt.links.new(col.outputs[0], warm.inputs["A"])
    warm.inputs["B"].default_value = (1.0, 0.72, 0.45, 1.0)
    nt.links.new(warm.outputs["Result"], mix.inputs["A"])
    mix.inputs["B"].default_value = (1.0, 1.0, 1.0, 1.0)
    nt.links.new(mix.outputs["Result"], bsdf.inputs["Emission Color"])
    nt.links.new(em_strength, bsdf.inputs["Emission Strength"])


def _emission_inputs(N) -> tuple:
    """The keyed emission color and strength nodes (:data:`EMISSION_COLOR_NODE`,
    :data:`EMISSION_STRENGTH_NODE`) that :mod:`.drive` animates, white and 1 until keyed."""
    col = N.new("ShaderNodeRGB", name=EMISSION_COLOR_NODE, label="Emission Color")
    col.outputs[0].default_value = (1.0, 1.0, 1.0, 1.0)
    strength = N.new("ShaderNodeValue", name=EMISSION_STRENGTH_NODE, label="Emission Strength")
    strength.outputs[0].default_value = 1.0
    return col, strength


def _pulse_glow(mat) -> None:
    """The pulse objects' emission: the keyed colour and strength (nodes :data:`EMISSION_COLOR_NODE`,
    :data:`EMISSION_STRENGTH_NODE`), strongest at the silhouette (a glowing rim that shows the
    smooth shape) and a little whiter on the beat."""
    nt = mat.node_tree
    bsdf = _principled(mat)
    N = _Nodes(nt)
    col, strength = _emission_inputs(N)
    lw = N.new("ShaderNodeLayerWeight")
    lw.inputs["Blend"].default_value = 0.35
    rim = N.op("MULTIPLY_ADD", N.op("POWER", lw.outputs["Facing"], 1.5), 0.8, 0.2)
    em = N.op("MULTIPLY", N.op("MULTIPLY", rim, strength.outputs[0]), PULSE_GAIN)
    mix = N.new("ShaderNodeMix", data_type="RGBA", blend_type="MIX")
    N.link(N.op("MULTIPLY", N.attr("msvfx_beat_pulse"), 0.2), mix.inputs["Factor"])
    nt.links.new(col.outputs[0], mix.inputs["A"])
    mix.inputs["B"].default_value = (1.0, 1.0, 1.0, 1.0)
    nt.links.new(mix.outputs["Result"], bsdf.inputs["Emission Color"])
    nt.links.new(em, bsdf.inputs["Emission Strength"])


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
    vol.inputs["Anisotropy"].default_value = 0.55  # forward scattering: shafts glow toward the camera
    # only a share of the keyed density: a thin haze that keeps the contrast (mixing with
    # nothing scales the volume's coefficients)
    mix = nt.nodes.new("ShaderNodeMixShader")
    mix.name = "Haze Amount"
    mix.inputs["Fac"].default_value = HAZE_MIX
    nt.links.new(vol.outputs[0], mix.inputs[2])
    nt.links.new(mix.outputs[0], out.inputs["Volume"])
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


def _mesh(name: str, build, smooth: bool = False) -> bpy.types.Mesh:
    me = _own(bpy.data.meshes.new(name))
    bm = bmesh.new()
    build(bm)
    if smooth:
        for f in bm.faces:
            f.smooth = True
    bm.to_mesh(me)
    bm.free()
    return me


def _box(sx, sy, sz):
    return lambda bm: bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Diagonal((sx, sy, sz, 1.0)))


def _plane(sx, sy):
    return lambda bm: bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=0.5,
                                            matrix=Matrix.Diagonal((sx, sy, 1.0, 1.0)))


def _cylinder(radius, depth, segments=32, z0=0.0):
    return lambda bm: bmesh.ops.create_cone(bm, cap_ends=True, segments=segments, radius1=radius, radius2=radius,
                                            depth=depth, matrix=Matrix.Translation((0, 0, z0 + depth / 2)))


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


def _truss(length, size=0.42, chord=0.035, bay=0.6):
    """A box truss along X: four chords and diagonal lacing, centred at the origin."""
    def build(bm):
        h = size / 2
        for y in (-h, h):
            for z in (-h, h):
                bmesh.ops.create_cube(bm, size=1.0, matrix=Matrix.Translation((0, y, z)) @ Matrix.Diagonal(
                    (length, chord * 1.6, chord * 1.6, 1.0)))
        n = max(1, int(length / bay))
        for i in range(n):
            x = -length / 2 + (i + 0.5) * length / n
            for y, z, rot in ((-h, 0, "X"), (h, 0, "X"), (0, -h, "Y"), (0, h, "Y")):
                ang = math.radians(45 if i % 2 else -45)
                m = Matrix.Translation((x, y, z)) @ Matrix.Rotation(ang, 4, "Y" if rot == "X" else "Z")
                bmesh.ops.create_cube(bm, size=1.0, matrix=m @ Matrix.Diagonal((chord, chord, size * 1.35, 1.0))
                                      if rot == "X" else m @ Matrix.Diagonal((chord, size * 1.35, chord, 1.0)))
    return build


def _beam(length: float, radius: float):
    """An open cone along -Z from the origin (the light) widening to ``radius`` at ``length``."""
    return lambda bm: bmesh.ops.create_cone(bm, cap_ends=False, segments=64, radius1=radius, radius2=0.05,
                                            depth=length, matrix=Matrix.Translation((0, 0, -length / 2)))


def beam_material():
    """The add-on's material of the visible light beams: a haze shaft, emission over transparency
    with a soft falloff along the beam and toward its edges (Cycles and EEVEE alike)."""
    name = "MS Beams"
    mat = bpy.data.materials.get(name)
    if mat is not None and is_owned(mat):
        return mat
    mat = _own(bpy.data.materials.new(name))
    mat.use_nodes = True
    nt = mat.node_tree
    for n in list(nt.nodes):
        nt.nodes.remove(n)
    N = _Nodes(nt)
    out = N.new("ShaderNodeOutputMaterial")
    em = N.new("ShaderNodeEmission", name="Beam Emission")
    em.inputs["Strength"].default_value = 1.0
    tr = N.new("ShaderNodeBsdfTransparent")
    mix = N.new("ShaderNodeMixShader", name="Beam Opacity")
    # along the beam: local -z from the light (0) to the floor (1), a soft start and a fade out
    tc = N.new("ShaderNodeTexCoord")
    sep = N.new("ShaderNodeSeparateXYZ")
    nt.links.new(tc.outputs["Object"], sep.inputs[0])
    t = N.op("DIVIDE", sep.outputs[2], -BEAM_LENGTH, clamp=True)
    along = N.op("MULTIPLY", N.smooth(t, 0.0, 0.06), N.op("POWER", N.op("SUBTRACT", 1.0, t, clamp=True), 1.4))
    # across: brightest where the view passes through the middle of the shaft (a volume's path length)
    lw = N.new("ShaderNodeLayerWeight")
    lw.inputs["Blend"].default_value = 0.5
    core = N.op("POWER", N.op("SUBTRACT", 1.0, lw.outputs["Facing"], clamp=True), 1.6)
    fac = N.op("MULTIPLY", N.op("MULTIPLY", along, core), BEAM_OPACITY, clamp=True)
    nt.links.new(fac, mix.inputs["Fac"])
    nt.links.new(tr.outputs[0], mix.inputs[1])
    nt.links.new(em.outputs[0], mix.inputs[2])
    nt.links.new(mix.outputs[0], out.inputs["Surface"])
    mat.surface_render_method = "BLENDED"
    mat.use_transparency_overlap = True
    if hasattr(mat, "use_transparent_shadow"):
        mat.use_transparent_shadow = True
    mat.diffuse_color = (1.0, 1.0, 1.0, BEAM_OPACITY * 0.6)  # Workbench: viewport colour with alpha
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
    if mat is not None and data is not None and hasattr(data, "materials") and mat.name not in data.materials:
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
    """Build the starter stage into ``scene`` and assign its collections to the roles.

    LED wall (a centre screen and two angled wings with music-driven content), a glossy
    floor, a box truss with eight spot lights and their smooth haze shafts, a fan of
    fifteen thin lasers from one point, a smooth central sphere with two pulse pillars,
    a camera on an orbit pivot, and the show world with a thin volumetric haze. An
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
    set_material_static(truss_mat, {"base_color": (0.05, 0.05, 0.055), "roughness": 0.3, "metallic": 1.0})
    _obj("MS Floor", _mesh("MS Floor", _plane(70, 70)), sets, mat=floor_mat)

    # LED wall: a big centre screen and two angled wings (object space: x across, y up)
    scr = role_material("screens")
    _obj("MS Screen Center", _mesh("MS Screen Center", _led_wall(12, 5)), cols["screens"], (0, 9, 3.6),
         (math.radians(90), 0, 0), scr)
    wing = _mesh("MS Screen Wing", _led_wall(4.5, 4))
    for side in (-1, 1):
        _obj(f"MS Screen {'L' if side < 0 else 'R'}", wing, cols["screens"],
             (side * 8.3, 7.9, 3.2), (math.radians(90), 0, -side * math.radians(30)), scr)

    # truss: a bar across and two legs; spots hang under the bar, aimed at the stage centre
    _obj("MS Truss Bar", _mesh("MS Truss Bar", _truss(16.8)), sets, (0, 4, 7.5), mat=truss_mat)
    leg = _mesh("MS Truss Leg", _box(0.42, 0.42, 7.7))
    for side in (-1, 1):
        _obj("MS Truss Leg", leg, sets, (side * 8.2, 4, 3.85), mat=truss_mat)
    spot = _own(bpy.data.lights.new("MS Spot", "SPOT"))
    spot.energy = 1000.0
    spot.spot_blend = 0.5
    spot.shadow_soft_size = 0.1
    beam_mesh = _mesh("MS Beam", _beam(BEAM_LENGTH, BEAM_LENGTH * math.tan(0.5 * BEAM_SPOT_SIZE)), smooth=True)
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
        bm_.visible_shadow = False

    # lasers: a symmetric fan of thin beams in an upright plane from one emitter above the
    # wall, tilted toward the audience (symmetric from every orbit angle); the fan position
    # (msvfx_fan, -1..1) is what Apply spreads further
    las = role_material("lasers")
    beam = _mesh("MS Laser Beam", _cylinder(LASER_RADIUS, 45.0, segments=8), smooth=True)
    beam.materials.append(las)
    n_las = LASER_COUNT
    for i in range(n_las):
        fan = (i - (n_las - 1) / 2) / ((n_las - 1) / 2)
        ob = _obj(f"MS Laser {i + 1:02d}", beam, cols["lasers"], LASER_ORIGIN,
                  (math.radians(LASER_TILT_DEG), fan * math.radians(LASER_FAN_DEG), 0.0))
        ob["msvfx_fan"] = fan
        ob.visible_shadow = False
    _obj("MS Laser Head", _mesh("MS Laser Head", _box(0.5, 0.4, 0.3)), sets,
         (LASER_ORIGIN[0], LASER_ORIGIN[1] + 0.1, LASER_ORIGIN[2] - 0.1), mat=truss_mat)

    # the central object (a smooth high-poly sphere) and pulse pillars
    pul = role_material("pulse")
    _obj("MS Core", _mesh("MS Core", lambda bm: bmesh.ops.create_icosphere(bm, subdivisions=5, radius=1.4),
                          smooth=True), cols["pulse"], (0, 3, 2.6), mat=pul)
    pillar = _mesh("MS Pillar", _cylinder(0.4, 4.0, segments=48), smooth=True)
    for side in (-1, 1):
        _obj("MS Pillar", pillar, cols["pulse"], (side * 5.0, 5.0, 0.0), mat=pul)

    # camera on an orbit pivot: the pivot turns, the camera keeps looking at the stage
    pivot = _obj("MS Camera Pivot", None, cols["camera"], CAMERA_PIVOT)
    pivot.empty_display_type = "PLAIN_AXES"
    cam_data = _own(bpy.data.cameras.new("MS Camera"))
    cam_data.lens = CAMERA_LENS
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.clip_end = 300.0
    cam = _obj("MS Camera", cam_data, cols["camera"], CAMERA_OFFSET)
    aim = Vector(CAMERA_AIM) - Vector(CAMERA_PIVOT)
    cam.rotation_euler = (aim - Vector(CAMERA_OFFSET)).to_track_quat("-Z", "Y").to_euler()
    cam.parent = pivot  # identity parent inverse: the location is relative to the pivot

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


# --------------------------------------------------------------------------- the stage's own scene

#: scene.msvfx properties not copied into the stage scene (the stage's own, or remade by syncing).
_NOT_COPIED = {"rna_type", "timeline_text", "markers", "strip_name", "sound", "prev_world", "prev_camera",
               "show_info", "last_error", *ROLE_PROPS.values()}


def _copy_group(src, dst, skip=frozenset()) -> None:
    """Copy a property group's values (nested groups and collections too) from ``src`` to ``dst``."""
    for p in src.bl_rna.properties:
        k = p.identifier
        if k == "rna_type" or k in skip:
            continue
        if p.type == "COLLECTION":
            dc = getattr(dst, k)
            dc.clear()
            for item in getattr(src, k):
                _copy_group(item, dc.add())
        elif p.type == "POINTER":
            if p.is_readonly:
                sub = getattr(src, k)
                if sub is not None and hasattr(sub, "bl_rna") and not isinstance(sub, bpy.types.ID):
                    _copy_group(sub, getattr(dst, k))
            else:
                setattr(dst, k, getattr(src, k))
        elif not p.is_readonly:
            v = getattr(src, k)
            try:
                setattr(dst, k, tuple(v) if getattr(p, "is_array", False) else v)
            except (TypeError, ValueError, AttributeError):
                pass  # e.g. a dynamic enum whose items differ: keep the default


def find_stage_scene():
    """The scene Build Stage made (tagged :data:`STAGE_SCENE_TAG`), or None."""
    return next((s for s in bpy.data.scenes if s.get(STAGE_SCENE_TAG) and is_owned(s)), None)


def copy_show_state(src, dst) -> str | None:
    """Copy what the show needs from ``src`` into ``dst`` (``src`` is left untouched).

    Frame rate and range, resolution, the look/mapping state ``scene.msvfx``, the stored
    timeline (a copy of its Text) and the audio; the sound strip and markers are remade
    in ``dst`` from the timeline. Returns the sync note (None when all went well).
    """
    from . import storage, sync
    r, q = src.render, dst.render
    q.fps, q.fps_base = r.fps, r.fps_base
    q.resolution_x, q.resolution_y, q.resolution_percentage = r.resolution_x, r.resolution_y, r.resolution_percentage
    dst.frame_start, dst.frame_end = src.frame_start, src.frame_end
    _copy_group(src.msvfx, dst.msvfx, _NOT_COPIED)
    dst[SOURCE_TAG] = src.name
    text = src.msvfx.timeline_text
    old = dst.msvfx.timeline_text
    if text is None:
        return None
    if old is None or old == text:
        old = bpy.data.texts.new(f"{dst.name}{storage.TEXT_SUFFIX}")
        dst.msvfx.timeline_text = old
    old.from_string(text.as_string())
    doc, problem = storage.stored_timeline_for_handler(dst)
    if doc is None:  # an untrusted stored text: nothing synced, Apply Looks reports why
        return problem or None
    return sync.sync_scene(dst, doc, storage.audio_abspath(dst))


def stage_render_settings(scene) -> None:
    """Render settings of the stage scene: EEVEE for 5.x (soft shadows, volumetrics), a quick
    Cycles preview (low samples + denoise, few light bounces), AgX view."""
    r = scene.render
    r.engine = "BLENDER_EEVEE"
    ee = scene.eevee
    for k, v in (("taa_render_samples", 32), ("use_shadows", True), ("use_raytracing", False),
                 ("volumetric_start", 0.5), ("volumetric_end", 80.0), ("volumetric_tile_size", "8"),
                 ("volumetric_samples", 64), ("use_volumetric_shadows", True), ("volumetric_light_clamp", 20.0),
                 ("clamp_surface_indirect", 10.0), ("use_fast_gi", False)):
        if hasattr(ee, k):
            try:
                setattr(ee, k, v)
            except (TypeError, ValueError):
                pass
    cy = scene.cycles
    for k, v in (("samples", 24), ("preview_samples", 12), ("use_denoising", True), ("use_preview_denoising", True),
                 ("use_adaptive_sampling", True), ("adaptive_threshold", 0.05), ("max_bounces", 4),
                 ("diffuse_bounces", 1), ("glossy_bounces", 2), ("transmission_bounces", 2), ("volume_bounces", 0),
                 ("transparent_max_bounces", 24), ("caustics_reflective", False), ("caustics_refractive", False),
                 ("blur_glossy", 1.0), ("sample_clamp_indirect", 10.0), ("volume_step_rate", 4.0)):
        if hasattr(cy, k):
            setattr(cy, k, v)
    vs = scene.view_settings
    vs.view_transform = "AgX"
    for look in ("AgX - Medium High Contrast", "Medium High Contrast"):
        try:
            vs.look = look
            break
        except TypeError:
            continue
    vs.exposure = 0.0


def build_stage_scene(src, rebuild: bool = False) -> tuple[bpy.types.Scene, bool]:
    """Build the starter stage in its own scene ("Mainstage Stage"), made when missing.

    The show state of ``src`` (the user's scene) is copied over (:func:`copy_show_state`)
    unless ``src`` is the stage scene itself. An existing stage is kept as the user left it
    unless ``rebuild`` (then it is built anew, discarding edits to it); parts of it the user
    deleted entirely are rebuilt too.

    Returns
    -------
    (scene, built) : the stage scene and whether the stage was (re)built.
    """
    scene = find_stage_scene()
    if scene is None:
        scene = _own(bpy.data.scenes.new(STAGE_SCENE))
        scene[STAGE_SCENE_TAG] = True
        stage_render_settings(scene)
    if src != scene:
        copy_show_state(src, scene)
    built = False
    if rebuild or stage_collection(scene) is None:
        build_stage(scene)
        built = True
    return scene, built
