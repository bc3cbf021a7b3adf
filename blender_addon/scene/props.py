"""Data the add-on keeps in the .blend: per-scene state, the look library and the genre mapping.

Look presets are edited as property groups whose fields mirror the preset JSON
(``core/schemas/preset.schema.json``); the table :data:`LOOK_FIELDS` ties each scalar JSON
field to its property, and the numeric bounds come from the schema itself, so a value
edited in the UI is always a valid preset value.
"""

import bpy
from bpy.props import (BoolProperty, CollectionProperty, EnumProperty, FloatProperty, FloatVectorProperty,
                       IntProperty, PointerProperty, StringProperty)
from bpy.types import PropertyGroup

from ..core import genres as _G
from ..core import presets as _P
from ..core.timeline import SECTION_LABELS

GENRES: tuple[str, ...] = tuple(_G.GENRES)


def _rng(path: str, kind: str = "preset") -> dict:
    lo, hi = _P.field_range(kind, path)
    out = {}
    if lo is not None:
        out["min"] = float(lo)
    if hi is not None:
        out["max"] = float(hi)
    return out


def _items(values, descriptions: dict | None = None) -> list[tuple[str, str, str]]:
    return [(v, v.replace("_", " ").title(), (descriptions or {}).get(v, "")) for v in values]


SECTION_ITEMS = _items(SECTION_LABELS)


class MSVFX_Color(PropertyGroup):
    """One palette colour (sRGB, as in the preset file)."""

    color: FloatVectorProperty(name="Colour", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0, default=(1.0, 1.0, 1.0))


class MSVFX_Palette(PropertyGroup):
    """A named palette (``name`` is main, build, drop or breakdown)."""

    colors: CollectionProperty(type=MSVFX_Color)


class MSVFX_Material(PropertyGroup):
    """Base material parameters of one material role (``name`` is the role)."""

    base_color: FloatVectorProperty(name="Base Colour", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0)
    color_source: EnumProperty(name="Emission Colour", items=_items(
        ("palette", "base"), {"palette": "Emission follows the active palette colour", "base": "Emission uses the base colour"}))
    emission_strength: FloatProperty(name="Emission", **_rng("material.emission_strength"))
    roughness: FloatProperty(name="Roughness", subtype="FACTOR", **_rng("material.roughness"))
    metallic: FloatProperty(name="Metallic", subtype="FACTOR", **_rng("material.metallic"))


def _rule_role_update(self, context):
    allowed = _P.ROLE_PROPERTIES[self.role]
    if self.prop not in allowed:
        self.prop = allowed[0]


class MSVFX_Rule(PropertyGroup):
    """A keyframe rule: on an event, a role's property reacts with an envelope."""

    event: EnumProperty(name="Event", items=_items(_P.EVENTS))
    role: EnumProperty(name="Role", items=_items(_P.ROLES), update=_rule_role_update)
    prop: EnumProperty(name="Property", items=_items(_P.PROPERTIES))
    amount: FloatProperty(name="Amount", default=0.5, **_rng("rule.amount"),
                          description="Peak change: value = base x (1 + amount x intensity); whole colours for palette step")
    mode: EnumProperty(name="Mode", items=_items(_P.RULE_MODES, {
        "pulse": "Envelope at each event", "span": "Hold for the whole section", "ramp": "Rise over the whole section"}))
    attack_beats: FloatProperty(name="Attack", **_rng("envelope.attack_beats"), description="Beats")
    hold_beats: FloatProperty(name="Hold", **_rng("envelope.hold_beats"), description="Beats")
    decay_beats: FloatProperty(name="Decay", default=1.0, **_rng("envelope.decay_beats"), description="Beats")
    curve: EnumProperty(name="Curve", items=_items(_P.CURVES))
    every: IntProperty(name="Every", default=1, min=1, max=64, description="React to every n-th event only")
    sections: EnumProperty(name="Sections", items=SECTION_ITEMS, options={"ENUM_FLAG"},
                           default=set(SECTION_LABELS))

    def is_consistent(self) -> bool:
        """Whether role, property and mode fit together (the schema's rules)."""
        return self.prop in _P.ROLE_PROPERTIES[self.role] and (self.mode == "pulse" or self.event in _P.SPAN_EVENTS)


#: (JSON path, property name, kind, label, UI group) for the scalar fields of a look.
#: kind: float | enum | color | set.
LOOK_FIELDS: tuple[tuple[str, str, str, str, str], ...] = (
    ("palette_cycle.every", "palette_cycle", "enum", "Advance Colour", "palettes"),
    ("palette_cycle.blend_beats", "palette_blend_beats", "float", "Crossfade (beats)", "palettes"),
    ("lighting.energy_w", "light_energy_w", "float", "Energy (W)", "lighting"),
    ("lighting.color_source", "light_color_source", "enum", "Light Colour", "lighting"),
    ("lighting.spot_size_deg", "light_spot_size_deg", "float", "Spot Size (deg)", "lighting"),
    ("lighting.strobe.energy_scale", "strobe_energy_scale", "float", "Strobe Energy (x)", "lighting"),
    ("lighting.strobe.rate_beats", "strobe_rate_beats", "float", "Strobe Period (beats)", "lighting"),
    ("lighting.strobe.duty", "strobe_duty", "float", "Strobe Duty", "lighting"),
    ("lighting.strobe.sections", "strobe_sections", "set", "Strobe In", "lighting"),
    ("world.color", "world_color", "color", "Colour", "world"),
    ("world.strength", "world_strength", "float", "Strength", "world"),
    ("world.haze_density", "haze_density", "float", "Haze Density", "world"),
    ("world.haze_color", "haze_color", "color", "Haze Colour", "world"),
    ("camera.orbit_deg_per_bar", "cam_orbit_deg_per_bar", "float", "Orbit (deg/bar)", "camera"),
    ("camera.focal_mm", "cam_focal_mm", "float", "Focal Length (mm)", "camera"),
    ("camera.shake_m", "cam_shake_m", "float", "Shake (m)", "camera"),
    ("camera.shake_decay_beats", "cam_shake_decay_beats", "float", "Shake Decay (beats)", "camera"),
    ("camera.punch_in", "cam_punch_in", "float", "Punch-in", "camera"),
    ("camera.punch_in_beats", "cam_punch_in_beats", "float", "Punch-in Hold (beats)", "camera"),
)

_ENUM_VALUES = {
    "palette_cycle.every": _P.PALETTE_CYCLES,
    "lighting.color_source": ("palette", "white"),
}


def _look_field_property(path: str, kind: str, label: str):
    if kind == "float":
        return FloatProperty(name=label, **_rng(path))
    if kind == "enum":
        return EnumProperty(name=label, items=_items(_ENUM_VALUES[path]))
    if kind == "color":
        return FloatVectorProperty(name=label, subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0)
    if kind == "set":
        return EnumProperty(name=label, items=SECTION_ITEMS, options={"ENUM_FLAG"}, default=set())
    raise ValueError(kind)


SOURCE_ITEMS = [
    ("SHIPPED", "Shipped", "Shipped with the add-on (read-only; duplicate it to edit)"),
    ("USER", "User", "Saved in your user preset folder"),
    ("FILE", "Imported", "Imported from a file"),
    ("BLEND", "In .blend", "Exists only in this .blend file"),
]


class MSVFX_Look(PropertyGroup):
    """A look preset held in the .blend (``name`` is the preset id)."""

    label: StringProperty(name="Name", maxlen=64)
    description: StringProperty(name="Description", maxlen=400)
    genre: EnumProperty(name="Designed For", items=[("NONE", "None", "")] + [(g, g, "") for g in GENRES])
    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="BLEND")
    palettes: CollectionProperty(type=MSVFX_Palette)
    materials: CollectionProperty(type=MSVFX_Material)
    rules: CollectionProperty(type=MSVFX_Rule)
    active_rule_index: IntProperty(name="Active Rule")
    editor_tab: EnumProperty(name="Edit", items=[
        ("palettes", "Palettes", ""), ("materials", "Materials", ""), ("lighting", "Lighting", ""),
        ("world", "World", ""), ("camera", "Camera", ""), ("rules", "Rules", "")])


for _path, _attr, _kind, _label, _group in LOOK_FIELDS:
    MSVFX_Look.__annotations__[_attr] = _look_field_property(_path, _kind, _label)


class MSVFX_GenreSlot(PropertyGroup):
    """One row of the genre mapping (``name`` is the genre)."""

    preset: StringProperty(name="Look", description="Look preset used for this genre")
    intensity: FloatProperty(name="Intensity", default=1.0, subtype="FACTOR", **_rng("slot.intensity", "mapping"),
                             description="Scales the look's reactions (1 = as designed)")


class MSVFX_Section(PropertyGroup):
    """Summary of one analysed section (``name`` is the marker-style label)."""

    label: StringProperty()
    start_s: FloatProperty()
    end_s: FloatProperty()
    genre: StringProperty()
    genre_prob: FloatProperty()


class MSVFX_MarkerRecord(PropertyGroup):
    """A timeline marker the add-on created (``name`` and ``frame`` identify it)."""

    frame: IntProperty()


class MSVFX_SceneState(PropertyGroup):
    """Everything the add-on stores per scene (``scene.msvfx``)."""

    audio_path: StringProperty(name="Audio File", subtype="FILE_PATH",
                               description="Track to analyse (stored relative to the .blend when possible)")
    timeline_text: PointerProperty(type=bpy.types.Text, name="Timeline",
                                   description="Text datablock holding the timeline JSON")
    # summary of the stored timeline (for drawing without parsing the JSON)
    has_timeline: BoolProperty()
    track_file: StringProperty()
    duration_s: FloatProperty()
    bpm: FloatProperty()
    n_beats: IntProperty()
    n_bars: IntProperty()
    n_drops: IntProperty()
    has_genres: BoolProperty()
    genre_summary: FloatVectorProperty(size=len(GENRES), min=0.0, max=1.0)
    model_name: StringProperty()
    sections: CollectionProperty(type=MSVFX_Section)
    # what the add-on owns in the scene
    markers: CollectionProperty(type=MSVFX_MarkerRecord)
    strip_name: StringProperty()
    sound: PointerProperty(type=bpy.types.Sound)
    # last outcome, shown in the panel
    last_error: StringProperty()
    last_info: StringProperty()
    # look library and genre mapping
    looks: CollectionProperty(type=MSVFX_Look)
    active_look_index: IntProperty(name="Active Look")
    mapping: CollectionProperty(type=MSVFX_GenreSlot)
    active_mapping_index: IntProperty(name="Active Genre")
    mapping_name: StringProperty(name="Mapping Name", default="Default", maxlen=64)
    mapping_description: StringProperty(name="Mapping Description", maxlen=400)
    mapping_mode: EnumProperty(name="Mode", items=_items(_P.MAPPING_MODES, {
        "blend": "Mix the looks by the genre probabilities of each moment",
        "dominant": "Switch to the dominant genre's look at section boundaries"}))
    crossfade_beats: FloatProperty(name="Crossfade (beats)", default=8.0, **_rng("crossfade_beats", "mapping"))
    # the show: role collections, what Build Stage replaced, render settings
    role_lights: PointerProperty(type=bpy.types.Collection, name="Lights",
                                 description="Lights driven by the looks (energy, colour, spot size, strobe)")
    role_pulse: PointerProperty(type=bpy.types.Collection, name="Pulse",
                                description="Objects that pulse (scale, emissive material)")
    role_screens: PointerProperty(type=bpy.types.Collection, name="Screens",
                                  description="LED screens (emissive material, palette colour)")
    role_lasers: PointerProperty(type=bpy.types.Collection, name="Lasers",
                                 description="Laser beams (emission, spread)")
    role_camera: PointerProperty(type=bpy.types.Collection, name="Camera",
                                 description="Cameras (shake, punch-in; the starter camera also orbits)")
    prev_world: PointerProperty(type=bpy.types.World, description="The scene's world before the show's")
    prev_camera: PointerProperty(type=bpy.types.Object, description="The scene's camera before the stage's")
    show_info: StringProperty()
    render_engine: EnumProperty(name="Engine", items=[
        ("WORKBENCH", "Workbench", "Fast preview: material colours, no lights"),
        ("EEVEE", "EEVEE", "Real-time renderer: emission, lights, haze"),
        ("CYCLES", "Cycles", "Path tracer (slow)")], default="EEVEE")
    render_path: StringProperty(name="Video", subtype="FILE_PATH", default="//mainstage.mp4")
    render_glow: BoolProperty(name="Glow", default=True,
                              description="Bloom around screens, lasers and beams (the add-on's compositor; "
                                          "a scene with its own compositor keeps it)")

    def active_look(self):
        """The look selected in the library list, or None."""
        if 0 <= self.active_look_index < len(self.looks):
            return self.looks[self.active_look_index]
        return None


CLASSES = (
    MSVFX_Color, MSVFX_Palette, MSVFX_Material, MSVFX_Rule, MSVFX_Look, MSVFX_GenreSlot,
    MSVFX_Section, MSVFX_MarkerRecord, MSVFX_SceneState,
)


def register_pointers() -> None:
    """Attach the per-scene state (``Scene.msvfx``); call after the classes are registered."""
    bpy.types.Scene.msvfx = PointerProperty(type=MSVFX_SceneState)


def unregister_pointers() -> None:
    """Detach ``Scene.msvfx`` (the data stays in the .blend for the next registration)."""
    if hasattr(bpy.types.Scene, "msvfx"):
        del bpy.types.Scene.msvfx
