"""Operators for timeline JSON made elsewhere (batch CLI, a GPU server): load, save, clear."""

import os

import bpy
from bpy.props import StringProperty
from bpy.types import Operator
from bpy_extras.io_utils import ExportHelper, ImportHelper

from .. import deps
from ..core import atomic, presets, timeline
from ..core.hashing import sha256_file
from ..scene import presets_io, storage, sync


def _read_timeline(path: str) -> dict:
    """Read and validate a timeline file (in Blender, or via the external interpreter)."""
    if deps.can_validate_in_process():
        return timeline.load_timeline(path)
    doc = presets.read_json_file(path)  # strict JSON, size-limited
    return presets_io.validate("timeline", doc, path)


def find_audio(scene, doc: dict, timeline_path: str) -> tuple[str, str]:
    """The audio file a timeline describes: ``(abspath or "", note)``.

    Candidates are the scene's audio file, ``track.file`` as written and next to the
    timeline; a candidate counts only when its SHA-256 equals ``track.sha256``.
    """
    name = doc["track"]["file"]
    base = os.path.dirname(os.path.abspath(timeline_path))
    candidates = [storage.audio_abspath(scene), name if os.path.isabs(name) else os.path.join(base, name),
                  os.path.join(base, os.path.basename(name))]
    seen, mismatched = set(), []
    for c in candidates:
        if not c or c in seen or not os.path.isfile(c):
            continue
        seen.add(c)
        if sha256_file(c) == doc["track"]["sha256"]:
            return os.path.normpath(c), ""
        mismatched.append(c)
    if mismatched:
        return "", f"{mismatched[0]} is not the analyzed audio (different SHA-256); no sound strip added"
    return "", f"audio {name!r} not found; set the audio file to add the sound strip"


class MSVFX_OT_load_timeline(Operator, ImportHelper):
    """Load a timeline JSON file (validated) into this scene: markers, frame range and sound strip"""

    bl_idname = "msvfx.load_timeline"
    bl_label = "Load Timeline"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"}, description="Files shown in the file browser")

    def execute(self, context):
        scene = context.scene
        st = scene.msvfx
        path = os.path.normpath(bpy.path.abspath(self.filepath))
        try:
            doc = _read_timeline(path)
        except (ValueError, deps.DependencyError) as exc:
            st.last_error = f"Timeline not loaded: {exc}"
            self.report({"ERROR"}, st.last_error)
            return {"CANCELLED"}
        audio, note = find_audio(scene, doc, path)
        strip_note = sync.apply_timeline(scene, doc, audio or None)
        if strip_note:
            note = f"{note}; {strip_note}" if note else strip_note
        try:
            presets_io.ensure_library(st)
        except (ValueError, deps.DependencyError) as exc:
            self.report({"WARNING"}, f"Looks not loaded: {exc}")
        st.last_error = ""
        st.last_info = f"Loaded {os.path.basename(path)}: {st.n_bars} bars, {st.n_drops} drops"
        if note:
            st.last_info += f" ({note})"
            self.report({"WARNING"}, note)
        self.report({"INFO"}, st.last_info)
        return {"FINISHED"}


class MSVFX_OT_save_timeline(Operator, ExportHelper):
    """Save the scene's timeline as a JSON file (validated, written atomically)"""

    bl_idname = "msvfx.save_timeline"
    bl_label = "Save Timeline"
    bl_options = {"REGISTER"}

    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"}, description="Files shown in the file browser")

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "msvfx"):
            return False
        if context.scene.msvfx.timeline_text is None:
            cls.poll_message_set("No timeline to save: analyze a track or load a timeline first")
            return False
        return True

    def invoke(self, context, event):
        if not self.filepath:
            stem = os.path.splitext(os.path.basename(context.scene.msvfx.track_file))[0] or "track"
            self.filepath = f"{stem}.timeline.json"
        return super().invoke(context, event)

    def execute(self, context):
        st = context.scene.msvfx
        path = os.path.normpath(bpy.path.abspath(self.filepath))
        try:
            doc = storage.stored_timeline(context.scene)
            atomic.write_json_atomic(path, doc)
        except (ValueError, OSError, deps.DependencyError) as exc:
            st.last_error = f"Timeline not saved: {exc}"
            self.report({"ERROR"}, st.last_error)
            return {"CANCELLED"}
        st.last_error = ""
        self.report({"INFO"}, f"Saved {path}")
        return {"FINISHED"}


class MSVFX_OT_clear_analysis(Operator):
    """Remove the stored timeline and the markers and sound strip the add-on made, and restore the frame range and sync mode"""

    bl_idname = "msvfx.clear_analysis"
    bl_label = "Clear Analysis"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "msvfx"):
            return False
        if not context.scene.msvfx.has_timeline:
            cls.poll_message_set("No analysis to clear")
            return False
        return True

    def execute(self, context):
        scene = context.scene
        restored = scene.msvfx.sync_saved
        sync.clear_scene(scene)
        storage.clear_timeline(scene)
        st = scene.msvfx
        st.last_info = "Analysis cleared" + ("; frame range and sync mode restored" if restored else "")
        st.last_error = ""
        self.report({"INFO"}, st.last_info)
        return {"FINISHED"}


CLASSES = (MSVFX_OT_load_timeline, MSVFX_OT_save_timeline, MSVFX_OT_clear_analysis)
