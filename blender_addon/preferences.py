"""Add-on preferences: where the analysis runs (inside Blender or in an external Python)."""

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import AddonPreferences

from . import deps

ADDON_ID = __package__


class MSVFX_AddonPreferences(AddonPreferences):
    bl_idname = ADDON_ID

    analysis_mode: EnumProperty(
        name="Run Analysis",
        items=[
            ("AUTO", "Automatic", "Inside Blender when the bundled libraries are there, else in the external Python"),
            ("IN_PROCESS", "Inside Blender", "Always inside Blender (needs the full extension with its wheels)"),
            ("EXTERNAL", "External Python", "Always in the external Python interpreter below"),
        ],
        default="AUTO",
        description="Where Analyze Track runs the analysis",
    )
    external_python: StringProperty(
        name="External Python",
        subtype="FILE_PATH",
        description="A Python interpreter with mainstage-vfx installed (e.g. .venv/bin/python of a checkout); "
                    "used when Blender lacks the analysis libraries",
    )

    def draw(self, context):
        layout = self.layout
        miss = deps.missing()
        box = layout.box()
        if miss:
            box.label(text=f"Missing inside Blender: {', '.join(miss)}", icon="ERROR")
            box.label(text="Install the full extension zip, or set an external Python below.")
        else:
            box.label(text="All analysis libraries are available inside Blender.", icon="CHECKMARK")
        layout.prop(self, "analysis_mode")
        row = layout.row(align=True)
        row.prop(self, "external_python")
        row.operator("msvfx.check_external_python", text="", icon="FILE_REFRESH")


def get() -> MSVFX_AddonPreferences | None:
    """The add-on's preferences, or None when the add-on is not enabled."""
    addon = bpy.context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def external_python() -> str:
    """Absolute path of the external interpreter ("" when unset)."""
    prefs = get()
    if prefs is None or not prefs.external_python:
        return ""
    return bpy.path.abspath(prefs.external_python)


def analysis_mode() -> str:
    """``"IN_PROCESS"`` or ``"EXTERNAL"`` for the next analysis, or ``""`` when neither can run."""
    prefs = get()
    mode = prefs.analysis_mode if prefs is not None else "AUTO"
    if mode == "IN_PROCESS":
        return "IN_PROCESS"
    if mode == "EXTERNAL":
        return "EXTERNAL"
    if deps.can_analyze_in_process():
        return "IN_PROCESS"
    return "EXTERNAL" if external_python() else ""


CLASSES = (MSVFX_AddonPreferences,)
