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
from ..show.relative import TINT as _TINT

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


def _blend_relative_option() -> set[str]:
    """``{"PATH_SUPPORTS_BLEND_RELATIVE"}`` where Blender has that option (4.5+), else ``set()``.

    A file path property without it warns 'does not support blend relative "//" prefix'
    whenever a ``//`` path is set (4.5+); older versions accept such paths without the option.
    """
    if "is_path_supports_blend_relative" in bpy.types.Property.bl_rna.properties:
        return {"PATH_SUPPORTS_BLEND_RELATIVE"}
    return set()


#: Options of file path properties that hold "//"-relative paths.
BLEND_RELATIVE = _blend_relative_option()


class MSVFX_Color(PropertyGroup):
    """One palette color (sRGB, as in the preset file)."""

    color: FloatVectorProperty(name="Color", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0, default=(1.0, 1.0, 1.0),
                               description="Palette color (sRGB)")


class MSVFX_Palette(PropertyGroup):
    """A named palette (``name`` is main, build, drop or breakdown)."""

    colors: CollectionProperty(type=MSVFX_Color, name="Colors", description="The palette's colors, 1 to 8")


class MSVFX_Material(PropertyGroup):
    """Base material parameters of one material role (``name`` is the role)."""

    base_color: FloatVectorProperty(name="Base Color", subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0,
                                    description="Surface color of the material (sRGB)")
    color_source: EnumProperty(name="Emission Color", items=_items(
        ("palette", "base"), {"palette": "Emission follows the active palette color", "base": "Emission uses the base color"}),
        description="Where the emission color comes from")
    emission_strength: FloatProperty(name="Emission", **_rng("material.emission_strength"),
                                     description="Emission strength before the rules' reactions")
    roughness: FloatProperty(name="Roughness", subtype="FACTOR", **_rng("material.roughness"),
                             description="Surface roughness (0 mirror-like, 1 matte)")
    metallic: FloatProperty(name="Metallic", subtype="FACTOR", **_rng("material.metallic"),
                            description="How metallic the surface is")


def _rule_role_update(self, context):
    allowed = _P.ROLE_PROPERTIES[self.role]
    if self.prop not in allowed:
        self.prop = allowed[0]


class MSVFX_Rule(PropertyGroup):
    """A keyframe rule: on an event, a role's property reacts with an envelope."""

    event: EnumProperty(name="Event", items=_items(_P.EVENTS), description="Musical event the rule reacts to")
    role: EnumProperty(name="Role", items=_items(_P.ROLES), update=_rule_role_update,
                       description="Role collection whose objects react")
    prop: EnumProperty(name="Property", items=_items(_P.PROPERTIES), description="Property of the role that changes")
    amount: FloatProperty(name="Amount", default=0.5, **_rng("rule.amount"),
                          description="Peak change: value = base x (1 + amount x intensity); whole colors for palette step")
    mode: EnumProperty(name="Mode", items=_items(_P.RULE_MODES, {
        "pulse": "Envelope at each event", "span": "Hold for the whole section", "ramp": "Rise over the whole section"}),
        description="How the reaction is shaped in time")
    attack_beats: FloatProperty(name="Attack", **_rng("envelope.attack_beats"),
                                description="Rise time of the envelope, in beats")
    hold_beats: FloatProperty(name="Hold", **_rng("envelope.hold_beats"),
                              description="Time the envelope stays at its peak, in beats")
    decay_beats: FloatProperty(name="Decay", default=1.0, **_rng("envelope.decay_beats"),
                               description="Fall time of the envelope, in beats")
    curve: EnumProperty(name="Curve", items=_items(_P.CURVES), description="Shape of the envelope's rise and fall")
    every: IntProperty(name="Every", default=1, min=1, max=64, description="React to every n-th event only")
    sections: EnumProperty(name="Sections", items=SECTION_ITEMS, options={"ENUM_FLAG"},
                           default=set(SECTION_LABELS), description="Sections in which the rule is active")

    def is_consistent(self) -> bool:
        """Whether role, property and mode fit together (the schema's rules)."""
        return self.prop in _P.ROLE_PROPERTIES[self.role] and (self.mode == "pulse" or self.event in _P.SPAN_EVENTS)


#: (JSON path, property name, kind, label, UI group) for the scalar fields of a look.
#: kind: float | enum | color | set.
LOOK_FIELDS: tuple[tuple[str, str, str, str, str], ...] = (
    ("palette_cycle.every", "palette_cycle", "enum", "Advance Color", "palettes"),
    ("palette_cycle.blend_beats", "palette_blend_beats", "float", "Crossfade (beats)", "palettes"),
    ("lighting.energy_w", "light_energy_w", "float", "Energy (W)", "lighting"),
    ("lighting.color_source", "light_color_source", "enum", "Light Color", "lighting"),
    ("lighting.spot_size_deg", "light_spot_size_deg", "float", "Spot Size (deg)", "lighting"),
    ("lighting.strobe.energy_scale", "strobe_energy_scale", "float", "Strobe Energy (x)", "lighting"),
    ("lighting.strobe.rate_beats", "strobe_rate_beats", "float", "Strobe Period (beats)", "lighting"),
    ("lighting.strobe.duty", "strobe_duty", "float", "Strobe Duty", "lighting"),
    ("lighting.strobe.sections", "strobe_sections", "set", "Strobe In", "lighting"),
    ("world.color", "world_color", "color", "Color", "world"),
    ("world.strength", "world_strength", "float", "Strength", "world"),
    ("world.haze_density", "haze_density", "float", "Haze Density", "world"),
    ("world.haze_color", "haze_color", "color", "Haze Color", "world"),
    ("camera.orbit_deg_per_bar", "cam_orbit_deg_per_bar", "float", "Orbit (deg/bar)", "camera"),
    ("camera.focal_mm", "cam_focal_mm", "float", "Focal Length (mm)", "camera"),
    ("camera.shake_m", "cam_shake_m", "float", "Shake (m)", "camera"),
    ("camera.shake_decay_beats", "cam_shake_decay_beats", "float", "Shake Decay (beats)", "camera"),
    ("camera.punch_in", "cam_punch_in", "float", "Punch-in", "camera"),
    ("camera.punch_in_beats", "cam_punch_in_beats", "float", "Punch-in Hold (beats)", "camera"),
)

#: Tooltips of the scalar look fields (by JSON path).
FIELD_DESCRIPTIONS = {
    "palette_cycle.every": "When the active palette color moves on to the next one",
    "palette_cycle.blend_beats": "Beats over which one palette color fades into the next",
    "lighting.energy_w": "Base power of the lights, in watts",
    "lighting.color_source": "Whether the lights take the palette color or stay white",
    "lighting.spot_size_deg": "Beam angle of the spot lights, in degrees",
    "lighting.strobe.energy_scale": "Light power during a strobe flash, as a multiple of the base",
    "lighting.strobe.rate_beats": "Beats from one strobe flash to the next",
    "lighting.strobe.duty": "Fraction of each strobe period the flash is on",
    "lighting.strobe.sections": "Sections in which the lights strobe",
    "world.color": "Background color of the world (sRGB)",
    "world.strength": "Brightness of the world background",
    "world.haze_density": "Density of the volumetric haze (0 none)",
    "world.haze_color": "Color of the volumetric haze (sRGB)",
    "camera.orbit_deg_per_bar": "How far the starter camera orbits per bar, in degrees",
    "camera.focal_mm": "Focal length of the camera lens, in millimeters",
    "camera.shake_m": "Camera shake at a drop or hit, in meters",
    "camera.shake_decay_beats": "Beats over which the camera shake dies away",
    "camera.punch_in": "Zoom-in at a drop, as a fraction of the focal length",
    "camera.punch_in_beats": "Beats the punch-in zoom is held",
}

_ENUM_VALUES = {
    "palette_cycle.every": _P.PALETTE_CYCLES,
    "lighting.color_source": ("palette", "white"),
}


def _look_field_property(path: str, kind: str, label: str):
    desc = FIELD_DESCRIPTIONS.get(path, label)
    if kind == "float":
        return FloatProperty(name=label, description=desc, **_rng(path))
    if kind == "enum":
        return EnumProperty(name=label, description=desc, items=_items(_ENUM_VALUES[path]))
    if kind == "color":
        return FloatVectorProperty(name=label, description=desc, subtype="COLOR_GAMMA", size=3, min=0.0, max=1.0)
    if kind == "set":
        return EnumProperty(name=label, description=desc, items=SECTION_ITEMS, options={"ENUM_FLAG"}, default=set())
    raise ValueError(kind)


SOURCE_ITEMS = [
    ("SHIPPED", "Shipped", "Shipped with the add-on (read-only; duplicate it to edit)"),
    ("USER", "User", "Saved in your user preset folder"),
    ("FILE", "Imported", "Imported from a file"),
    ("BLEND", "In .blend", "Exists only in this .blend file"),
]


class MSVFX_Look(PropertyGroup):
    """A look preset held in the .blend (``name`` is the preset id)."""

    label: StringProperty(name="Name", maxlen=64, description="Display name of the look")
    description: StringProperty(name="Description", maxlen=400, description="What the look is like, in a sentence")
    genre: EnumProperty(name="Designed For", items=[("NONE", "None", "No particular genre")]
                        + [(g, g, f"Designed for {g}") for g in GENRES], description="The genre the look was made for")
    source: EnumProperty(name="Source", items=SOURCE_ITEMS, default="BLEND", description="Where the look comes from")
    palettes: CollectionProperty(type=MSVFX_Palette, name="Palettes", description="Palettes of the look by section kind")
    materials: CollectionProperty(type=MSVFX_Material, name="Materials", description="Base materials by role")
    rules: CollectionProperty(type=MSVFX_Rule, name="Rules", description="Keyframe rules of the look")
    active_rule_index: IntProperty(name="Active Rule", description="Rule selected in the list")
    editor_tab: EnumProperty(name="Edit", description="Part of the look shown in the editor", items=[
        ("palettes", "Palettes", "Palette colors by section"), ("materials", "Materials", "Base materials by role"),
        ("lighting", "Lighting", "Lights and strobe"), ("world", "World", "Background and haze"),
        ("camera", "Camera", "Camera motion"), ("rules", "Rules", "Keyframe rules")])


for _path, _attr, _kind, _label, _group in LOOK_FIELDS:
    MSVFX_Look.__annotations__[_attr] = _look_field_property(_path, _kind, _label)


class MSVFX_GenreSlot(PropertyGroup):
    """One row of the genre mapping (``name`` is the genre)."""

    preset: StringProperty(name="Look", description="Look preset used for this genre")
    intensity: FloatProperty(name="Intensity", default=1.0, subtype="FACTOR", **_rng("slot.intensity", "mapping"),
                             description="Scales the look's reactions (1 = as designed)")


class MSVFX_Section(PropertyGroup):
    """Summary of one analyzed section (``name`` is the marker-style label)."""

    label: StringProperty(name="Label", description="Kind of section (intro, build, drop, breakdown, outro)")
    start_s: FloatProperty(name="Start", description="Start of the section, in seconds")
    end_s: FloatProperty(name="End", description="End of the section, in seconds")
    genre: StringProperty(name="Genre", description="Most probable genre of the section")
    genre_prob: FloatProperty(name="Genre Probability", description="Probability of that genre")


class MSVFX_MarkerRecord(PropertyGroup):
    """A timeline marker the add-on created (``name`` and ``frame`` identify it)."""

    frame: IntProperty(name="Frame", description="Frame the add-on put the marker at")


class MSVFX_SceneState(PropertyGroup):
    """Everything the add-on stores per scene (``scene.msvfx``)."""

    audio_path: StringProperty(name="Audio File", subtype="FILE_PATH", options=BLEND_RELATIVE,
                               description="Track to analyze (stored relative to the .blend when possible)")
    timeline_text: PointerProperty(type=bpy.types.Text, name="Timeline",
                                   description="Text datablock holding the timeline JSON")
    # summary of the stored timeline (for drawing without parsing the JSON)
    has_timeline: BoolProperty(name="Has Timeline", description="A timeline is stored in this scene")
    track_file: StringProperty(name="Track", description="File name of the analyzed track")
    duration_s: FloatProperty(name="Duration", description="Length of the track, in seconds")
    bpm: FloatProperty(name="Tempo", description="Tempo of the track, in beats per minute (0: none found)")
    n_beats: IntProperty(name="Beats", description="Number of beats found")
    n_bars: IntProperty(name="Bars", description="Number of bars found")
    n_drops: IntProperty(name="Drops", description="Number of drops found")
    has_genres: BoolProperty(name="Has Genres", description="The timeline holds genre probabilities")
    genre_summary: FloatVectorProperty(name="Genres", size=len(GENRES), min=0.0, max=1.0,
                                       description="Probability of each genre over the whole track")
    model_name: StringProperty(name="Model", description="Genre model that analyzed the track")
    sections: CollectionProperty(type=MSVFX_Section, name="Sections", description="The track's sections")
    # what the add-on owns in the scene
    markers: CollectionProperty(type=MSVFX_MarkerRecord, name="Markers",
                                description="Timeline markers the add-on made (only these are replaced or removed)")
    strip_name: StringProperty(name="Sound Strip", description="Name of the add-on's sound strip in the sequencer")
    sound: PointerProperty(type=bpy.types.Sound, name="Sound", description="Sound data-block of the add-on's strip")
    # what syncing the timeline changed in the scene (restored by Clear Analysis) and at which frame rate
    sync_saved: BoolProperty(name="Settings Saved", description="The frame range and sync mode before the sync are stored")
    saved_frame_start: IntProperty(name="Saved Start", description="Start frame the scene had before the sync")
    saved_frame_end: IntProperty(name="Saved End", description="End frame the scene had before the sync")
    saved_sync_mode: StringProperty(name="Saved Sync Mode", description="Playback sync mode the scene had before the sync")
    sync_fps: FloatProperty(name="Synced Frame Rate", description="Frame rate the markers and frame range were made for")
    sync_frame_end: IntProperty(name="Synced End", description="End frame the last sync set")
    show_stale: BoolProperty(name="Show Out of Date",
                             description="The frame rate changed after Apply Looks: the show's keys are at the old rate")
    # last outcome, shown in the panel
    last_error: StringProperty(name="Last Error", description="The last error, shown in the panel")
    last_info: StringProperty(name="Last Info", description="The last message, shown in the panel")
    # look library and genre mapping
    looks: CollectionProperty(type=MSVFX_Look, name="Looks", description="The look library of this .blend")
    active_look_index: IntProperty(name="Active Look", description="Look selected in the library")
    mapping: CollectionProperty(type=MSVFX_GenreSlot, name="Mapping", description="The look of each genre")
    active_mapping_index: IntProperty(name="Active Genre", description="Genre selected in the mapping")
    mapping_name: StringProperty(name="Mapping Name", default="Default", maxlen=64,
                                 description="Name of the genre mapping (saved in exported mappings)")
    mapping_description: StringProperty(name="Mapping Description", maxlen=400,
                                        description="What the genre mapping is for, in a sentence")
    mapping_mode: EnumProperty(name="Mode", items=_items(_P.MAPPING_MODES, {
        "blend": "Mix the looks by the genre probabilities of each moment",
        "dominant": "Switch to the dominant genre's look at section boundaries"}),
        description="How the genre looks combine along the track")
    crossfade_beats: FloatProperty(name="Crossfade (beats)", default=8.0, **_rng("crossfade_beats", "mapping"),
                                   description="Beats over which one look fades into the next")
    # the show: role collections, what Build Stage replaced, render settings
    role_lights: PointerProperty(type=bpy.types.Collection, name="Lights",
                                 description="Lights driven by the looks (energy, color, spot size, strobe)")
    role_pulse: PointerProperty(type=bpy.types.Collection, name="Pulse",
                                description="Objects that pulse (scale, emissive material)")
    role_screens: PointerProperty(type=bpy.types.Collection, name="Screens",
                                  description="LED screens (emissive material, palette color)")
    role_lasers: PointerProperty(type=bpy.types.Collection, name="Lasers",
                                 description="Laser beams (emission, spread)")
    role_camera: PointerProperty(type=bpy.types.Collection, name="Camera",
                                 description="Cameras (shake, punch-in; the starter camera also orbits)")
    prev_world: PointerProperty(type=bpy.types.World, name="Previous World",
                                description="The scene's world before the show's")
    prev_camera: PointerProperty(type=bpy.types.Object, name="Previous Camera",
                                 description="The scene's camera before the stage's")
    show_info: StringProperty(name="Show Info", description="The last message of the show, shown in the panel")
    render_engine: EnumProperty(name="Engine", items=[
        ("WORKBENCH", "Workbench", "Fast preview: material colors, no lights"),
        ("EEVEE", "EEVEE", "Real-time renderer: emission, lights, haze"),
        ("CYCLES", "Cycles", "Path tracer (slow)")], default="EEVEE",
        description="Render engine for Render Video (the scene's engine is restored afterwards)")
    render_quality: EnumProperty(name="Quality", items=[
        ("SCENE", "Scene Settings", "Render with the scene's own samples and quality settings"),
        ("PREVIEW", "Preview", "Fewer samples for a quick look (EEVEE 16, Cycles 32), for this render only")],
        default="SCENE", description="Samples used by Render Video (the scene's settings are restored afterwards)")
    render_path: StringProperty(name="Video", subtype="FILE_PATH", default="//mainstage.mp4",
                                options=BLEND_RELATIVE,
                                description="MP4 file Render Video writes (// means next to the saved .blend)")
    render_glow: BoolProperty(name="Glow", default=True,
                              description="Bloom around screens, lasers and beams (the add-on's compositor; "
                                          "a scene with its own compositor keeps it)")
    # how the show drives the user's own objects, and the photosensitivity cap (show/relative.py, show/flash.py)
    drive_mode: EnumProperty(name="Drive", default="RELATIVE", items=[
        ("RELATIVE", "Relative", "Modulate your own lights, cameras and world from their own values"),
        ("ABSOLUTE", "Absolute", "Set your lights, cameras and world to the looks' own values")],
        description="How Apply drives your own objects (the starter stage always gets the looks' own values)")
    palette_tint: FloatProperty(name="Tint", default=_TINT, min=0.0, max=1.0, subtype="FACTOR",
                                description="Relative drive: how far your lights' own colors move toward the palette")
    flash_cap: BoolProperty(name="Flash Cap", default=True,
                            description="At most three flashes in any second (WCAG 2.3.1): thins strobes and fast pulses")
    trait_shaping: FloatProperty(name="Traits", default=1.0, min=0.0, max=1.0, subtype="FACTOR",
                                 description="How strongly the measured bar traits (distortion, organicity, groove, "
                                             "fragmentation, energy) shape the show; 0 uses the genre looks alone")

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
