"""Operators of the music values: Bake Music Values, Clear Music Values."""
from __future__ import annotations

import bpy
from bpy.types import Operator

from .. import deps
from ..scene import inputs, storage


def bake_message(info: dict) -> str:
    """One-line summary of :func:`..scene.inputs.bake_music_values`'s result."""
    msg = f"Baked {len(info['values'])} music values ({info['keys']} keys) as scene properties msvfx_*"
    if info["skipped"]:
        msg += f"; left {len(info['skipped'])} you animate alone"
    return msg


class MSVFX_OT_bake_music_values(Operator):
    """Key the timeline's beat, bar, phrase, energy, section, drop, build, genre and trait values as scene properties (msvfx_*) for your own drivers, shaders and Geometry Nodes"""

    bl_idname = "msvfx.bake_music_values"
    bl_label = "Bake Music Values"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        st = getattr(context.scene, "msvfx", None)
        if st is None or not st.has_timeline or st.timeline_text is None:
            cls.poll_message_set("No timeline: analyze a track or load a timeline first")
            return False
        return True

    def execute(self, context):
        scene = context.scene
        st = scene.msvfx
        try:
            doc = storage.stored_timeline(scene)
        except (ValueError, deps.DependencyError) as exc:
            st.last_error = str(exc)
            self.report({"ERROR"}, st.last_error)
            return {"CANCELLED"}
        if doc is None:
            st.last_error = "no timeline: analyze a track or load a timeline first"
            self.report({"ERROR"}, st.last_error)
            return {"CANCELLED"}
        info = inputs.bake_music_values(scene, doc)
        st.last_error = ""
        st.show_info = bake_message(info)
        self.report({"INFO"}, st.show_info)
        return {"FINISHED"}


class MSVFX_OT_clear_music_values(Operator):
    """Remove the music values (msvfx_* scene properties, their keys) and the unused music node groups"""

    bl_idname = "msvfx.clear_music_values"
    bl_label = "Clear Music Values"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if context.scene is None or not (inputs.baked_values(context.scene)
                                         or any(g.get(inputs.GROUP_TAG) for g in bpy.data.node_groups)):
            cls.poll_message_set("No music values baked in this scene")
            return False
        return True

    def execute(self, context):
        info = inputs.clear_music_values(context.scene)
        msg = f"Removed {info['values']} music values"
        if info["kept_groups"]:
            msg += f"; kept node groups in use: {', '.join(info['kept_groups'])}"
        context.scene.msvfx.show_info = msg
        self.report({"INFO"}, msg)
        return {"FINISHED"}


CLASSES = (MSVFX_OT_bake_music_values, MSVFX_OT_clear_music_values)
