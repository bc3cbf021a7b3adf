"""Operators for the look library and the genre mapping (all data, validated JSON)."""

import os

import bpy
from bpy.props import IntProperty, StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .. import deps
from ..scene import presets_io

_ERRORS = (ValueError, OSError, deps.DependencyError)


def _fail(op, st, msg: str):
    st.last_error = msg
    op.report({"ERROR"}, msg)
    return {"CANCELLED"}


def _active_look(op, context):
    st = context.scene.msvfx
    look = st.active_look()
    if look is None:
        op.report({"ERROR"}, "No look selected")
    return look


def _poll_library(cls, context, collection: str, message: str) -> bool:
    """Poll: the scene's ``msvfx.<collection>`` (looks, mapping) is not empty; else ``message``."""
    scene = context.scene
    if scene is None or not hasattr(scene, "msvfx"):
        return False
    if not len(getattr(scene.msvfx, collection)):
        cls.poll_message_set(message)
        return False
    return True


def _poll_look(cls, context, editable: bool = False, shipped: str = "duplicate it to edit") -> bool:
    """poll(): a look is selected (and, with ``editable``, it is not a shipped one: ``shipped`` says why)."""
    scene = context.scene
    if scene is None or not hasattr(scene, "msvfx"):
        return False
    look = scene.msvfx.active_look()
    if look is None:
        cls.poll_message_set("No look selected: load the shipped looks or select one in the library")
        return False
    if editable and look.source == "SHIPPED":
        cls.poll_message_set(f"{look.name} is a shipped look: {shipped}")
        return False
    return True


class MSVFX_OT_presets_reset(Operator):
    """Reload the shipped looks and your saved user looks, and reset the genre mapping to the shipped default"""

    bl_idname = "msvfx.presets_reset"
    bl_label = "Reset to Shipped Defaults"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        st = context.scene.msvfx
        try:
            problems = presets_io.reset_to_defaults(st, mapping=True)
        except _ERRORS as exc:
            return _fail(self, st, f"Looks not reset: {exc}")
        for p in problems:
            self.report({"WARNING"}, p)
        st.last_error = ""
        self.report({"INFO"}, f"{len(st.looks)} looks loaded; mapping reset to the default")
        return {"FINISHED"}


class MSVFX_OT_look_duplicate(Operator):
    """Copy the selected look into an editable look stored in this .blend"""

    bl_idname = "msvfx.look_duplicate"
    bl_label = "Duplicate Look"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context)

    def execute(self, context):
        st = context.scene.msvfx
        look = _active_look(self, context)
        if look is None:
            return {"CANCELLED"}
        source = look.name  # adding to the collection may move it: keep the name, not the item
        doc = presets_io.look_to_dict(look)
        doc["id"] = presets_io.unique_id(st, f"{source}_custom")
        doc["name"] = f"{look.label} (custom)"[:64]
        try:
            doc = presets_io.validate("preset", doc, f"look {look.name!r}")
        except _ERRORS as exc:
            return _fail(self, st, f"Look not duplicated: {exc}")
        new = presets_io.add_look(st, doc, "BLEND")
        st.active_look_index = list(st.looks).index(new)
        self.report({"INFO"}, f"Duplicated {source} as {new.name}")
        return {"FINISHED"}


class MSVFX_OT_look_remove(Operator):
    """Remove the selected look from this .blend (shipped looks and looks in use stay)"""

    bl_idname = "msvfx.look_remove"
    bl_label = "Remove Look"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context, editable=True, shipped="it cannot be removed")

    def execute(self, context):
        st = context.scene.msvfx
        look = _active_look(self, context)
        if look is None:
            return {"CANCELLED"}
        if look.source == "SHIPPED":
            return _fail(self, st, f"{look.name} is a shipped look and cannot be removed")
        users = [slot.name for slot in st.mapping if slot.preset == look.name]
        if users:
            return _fail(self, st, f"{look.name} is used by {', '.join(users)}; assign another look first")
        st.looks.remove(st.active_look_index)
        st.active_look_index = max(0, min(st.active_look_index, len(st.looks) - 1))
        return {"FINISHED"}


class MSVFX_OT_look_save_user(Operator):
    """Save the selected look as a user preset (available in every .blend)"""

    bl_idname = "msvfx.look_save_user"
    bl_label = "Save as User Preset"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context, editable=True, shipped="duplicate it first")

    def execute(self, context):
        st = context.scene.msvfx
        look = _active_look(self, context)
        if look is None:
            return {"CANCELLED"}
        if look.source == "SHIPPED":
            return _fail(self, st, f"{look.name} is a shipped look; duplicate it first")
        try:
            path = presets_io.save_user_look(look)
        except _ERRORS as exc:
            return _fail(self, st, f"Look not saved: {exc}")
        st.last_error = ""
        self.report({"INFO"}, f"Saved {path}")
        return {"FINISHED"}


class MSVFX_OT_look_import(Operator, ImportHelper):
    """Import a look preset JSON file (validated; nothing changes if it is invalid)"""

    bl_idname = "msvfx.look_import"
    bl_label = "Import Look"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"}, description="Files shown in the file browser")

    def execute(self, context):
        st = context.scene.msvfx
        path = os.path.normpath(bpy.path.abspath(self.filepath))
        try:
            doc = presets_io.load_file("preset", path)
        except _ERRORS as exc:
            return _fail(self, st, f"Look not imported: {exc}")
        look = presets_io.add_look(st, doc, "FILE")
        st.active_look_index = list(st.looks).index(look)
        st.last_error = ""
        self.report({"INFO"}, f"Imported look {look.name}")
        return {"FINISHED"}


class MSVFX_OT_look_export(Operator, ExportHelper):
    """Export the selected look as a preset JSON file"""

    bl_idname = "msvfx.look_export"
    bl_label = "Export Look"
    bl_options = {"REGISTER"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"}, description="Files shown in the file browser")

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context)

    def invoke(self, context, event):
        look = context.scene.msvfx.active_look()
        if look is not None and not self.filepath:
            self.filepath = f"{look.name}.json"
        return super().invoke(context, event)

    def execute(self, context):
        st = context.scene.msvfx
        look = _active_look(self, context)
        if look is None:
            return {"CANCELLED"}
        path = os.path.normpath(bpy.path.abspath(self.filepath))
        try:
            presets_io.write_file("preset", presets_io.look_to_dict(look), path)
        except _ERRORS as exc:
            return _fail(self, st, f"Look not exported: {exc}")
        self.report({"INFO"}, f"Exported {path}")
        return {"FINISHED"}


class MSVFX_OT_mapping_import(Operator, ImportHelper):
    """Import a genre mapping JSON file (validated against the looks in this .blend)"""

    bl_idname = "msvfx.mapping_import"
    bl_label = "Import Mapping"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"}, description="Files shown in the file browser")

    @classmethod
    def poll(cls, context):
        return _poll_library(cls, context, "looks", "No looks in this .blend: load the shipped looks first")

    def execute(self, context):
        st = context.scene.msvfx
        path = os.path.normpath(bpy.path.abspath(self.filepath))
        try:
            doc = presets_io.load_file("mapping", path, known=list(st.looks.keys()))
        except _ERRORS as exc:
            return _fail(self, st, f"Mapping not imported: {exc}")
        presets_io.mapping_from_dict(st, doc)
        st.last_error = ""
        self.report({"INFO"}, f"Imported mapping {doc['name']!r}")
        return {"FINISHED"}


class MSVFX_OT_mapping_export(Operator, ExportHelper):
    """Export the genre mapping as a JSON file"""

    bl_idname = "msvfx.mapping_export"
    bl_label = "Export Mapping"
    bl_options = {"REGISTER"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"}, description="Files shown in the file browser")

    @classmethod
    def poll(cls, context):
        return _poll_library(cls, context, "mapping",
                             "No genre mapping in this .blend: load the shipped looks first")

    def execute(self, context):
        st = context.scene.msvfx
        path = os.path.normpath(bpy.path.abspath(self.filepath))
        try:
            presets_io.write_file("mapping", presets_io.mapping_to_dict(st), path, known=list(st.looks.keys()))
        except _ERRORS as exc:
            return _fail(self, st, f"Mapping not exported: {exc}")
        self.report({"INFO"}, f"Exported {path}")
        return {"FINISHED"}


class MSVFX_OT_palette_color_add(Operator):
    """Add a color to this palette"""

    bl_idname = "msvfx.palette_color_add"
    bl_label = "Add Color"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    palette: StringProperty(name="Palette", description="Name of the palette")

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context, editable=True)

    def execute(self, context):
        look = _active_look(self, context)
        pal = look.palettes.get(self.palette) if look else None
        if pal is None or len(pal.colors) >= 8:
            self.report({"WARNING"}, "A palette holds 1 to 8 colors")
            return {"CANCELLED"}
        new = pal.colors.add()
        if len(pal.colors) > 1:
            new.color = pal.colors[len(pal.colors) - 2].color
        return {"FINISHED"}


class MSVFX_OT_palette_color_remove(Operator):
    """Remove this color from the palette"""

    bl_idname = "msvfx.palette_color_remove"
    bl_label = "Remove Color"
    bl_options = {"REGISTER", "UNDO", "INTERNAL"}

    palette: StringProperty(name="Palette", description="Name of the palette")
    index: IntProperty(name="Index", description="Index of the color to remove")

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context, editable=True)

    def execute(self, context):
        look = _active_look(self, context)
        pal = look.palettes.get(self.palette) if look else None
        if pal is None or len(pal.colors) <= 1 or not 0 <= self.index < len(pal.colors):
            self.report({"WARNING"}, "A palette holds 1 to 8 colors")
            return {"CANCELLED"}
        pal.colors.remove(self.index)
        return {"FINISHED"}


class MSVFX_OT_rule_add(Operator):
    """Add a keyframe rule to the selected look"""

    bl_idname = "msvfx.rule_add"
    bl_label = "Add Rule"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return _poll_look(cls, context, editable=True)

    def execute(self, context):
        look = _active_look(self, context)
        if look is None:
            return {"CANCELLED"}
        if len(look.rules) >= 64:
            self.report({"WARNING"}, "A look holds at most 64 rules")
            return {"CANCELLED"}
        rule = look.rules.add()
        rule.event, rule.role, rule.prop = "beat", "pulse", "emission_strength"
        look.active_rule_index = len(look.rules) - 1
        return {"FINISHED"}


class MSVFX_OT_rule_remove(Operator):
    """Remove the selected keyframe rule"""

    bl_idname = "msvfx.rule_remove"
    bl_label = "Remove Rule"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if not _poll_look(cls, context, editable=True):
            return False
        look = context.scene.msvfx.active_look()
        if not 0 <= look.active_rule_index < len(look.rules):
            cls.poll_message_set("No rule selected")
            return False
        return True

    def execute(self, context):
        look = _active_look(self, context)
        if look is None or not 0 <= look.active_rule_index < len(look.rules):
            return {"CANCELLED"}
        look.rules.remove(look.active_rule_index)
        look.active_rule_index = max(0, min(look.active_rule_index, len(look.rules) - 1))
        return {"FINISHED"}


CLASSES = (
    MSVFX_OT_presets_reset, MSVFX_OT_look_duplicate, MSVFX_OT_look_remove, MSVFX_OT_look_save_user,
    MSVFX_OT_look_import, MSVFX_OT_look_export, MSVFX_OT_mapping_import, MSVFX_OT_mapping_export,
    MSVFX_OT_palette_color_add, MSVFX_OT_palette_color_remove, MSVFX_OT_rule_add, MSVFX_OT_rule_remove,
)
