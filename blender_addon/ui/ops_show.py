"""Operators of the show: Build Stage, Apply Looks, Clear Show, Render Video."""
from __future__ import annotations

import bpy
from bpy.props import BoolProperty
from bpy.types import Operator

from ..scene import drive, stage, storage, sync


def _fail(op, st, msg: str):
    st.last_error = msg
    op.report({"ERROR"}, msg)
    return {"CANCELLED"}


class MSVFX_OT_build_stage(Operator):
    """Build a starter stage (LED wall, floor, truss of spots, lasers, central object, orbiting camera,
    haze) and assign its collections to the roles"""

    bl_idname = "msvfx.build_stage"
    bl_label = "Build Stage"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        root = stage.build_stage(context.scene)
        context.scene.msvfx.show_info = f"Built the starter stage ({len(root.all_objects)} objects)"
        self.report({"INFO"}, context.scene.msvfx.show_info)
        return {"FINISHED"}


class MSVFX_OT_apply_show(Operator):
    """Drive the role collections and the world with the genre looks along the timeline
    (replaces a previous Apply)"""

    bl_idname = "msvfx.apply_show"
    bl_label = "Apply Looks"
    bl_options = {"REGISTER", "UNDO"}

    def execute(self, context):
        scene = context.scene
        st = scene.msvfx
        try:
            doc, mapping, looks = drive.scene_inputs(scene)
        except ValueError as exc:
            return _fail(self, st, str(exc))
        if not any(getattr(st, p) for p in stage.ROLE_PROPS.values()):
            return _fail(self, st, "no roles: assign collections to the roles or click Build Stage")
        info = drive.apply_show(scene, doc, mapping, looks)
        st.last_error = ""
        msg = f"Applied {len(info['looks'])} looks: {info['keys']} keys on {info['fcurves']} curves " \
              f"in {info['plan_s'] + info['write_s']:.2f} s"
        if info["skipped"]:
            msg += f"; left {len(info['skipped'])} curves you animate alone"
        st.show_info = msg
        self.report({"INFO"}, msg)
        return {"FINISHED"}


class MSVFX_OT_clear_show(Operator):
    """Remove the keyframes, materials and world the add-on applied (and the starter stage if chosen)"""

    bl_idname = "msvfx.clear_show"
    bl_label = "Clear Show"
    bl_options = {"REGISTER", "UNDO"}

    remove_stage: BoolProperty(name="Remove Starter Stage", default=False)

    def execute(self, context):
        info = drive.clear_show(context.scene, keep_stage=not self.remove_stage)
        context.scene.msvfx.show_info = f"Removed {info['fcurves']} curves, {info['objects']} objects"
        self.report({"INFO"}, context.scene.msvfx.show_info)
        return {"FINISHED"}


class MSVFX_OT_render_video(Operator):
    """Render the scene to an H.264 MP4 with the track's audio (in the UI: Blender's render job,
    with its progress bar; Esc cancels)"""

    bl_idname = "msvfx.render_video"
    bl_label = "Render Video"

    def _check(self, context):
        scene = context.scene
        st = scene.msvfx
        path = bpy.path.abspath(st.render_path or "//mainstage.mp4")
        if path.startswith("//") or not path:
            return None, "save the .blend first or set an absolute video path"
        if scene.camera is None:
            return None, "the scene has no camera: click Build Stage or add one"
        return path, None

    def _setup(self, context, path):
        from ..scene import render
        scene = context.scene
        st = scene.msvfx
        if sync.owned_strip(scene) is None and storage.audio_abspath(scene):
            try:
                sync.set_sound_strip(scene, storage.audio_abspath(scene))
            except RuntimeError as exc:  # e.g. a Blender build without audio: render the picture alone
                reason = str(exc).strip().splitlines()[0].removeprefix("Error: ")
                self.report({"WARNING"}, f"rendering without sound: {reason}")
        render.configure(scene, path, st.render_engine, glow=st.render_glow)

    def invoke(self, context, event):
        # In the UI the render runs as Blender's own job: the interface stays responsive, the
        # status bar shows progress and Esc cancels; the handlers report the outcome.
        from ..scene import render
        st = context.scene.msvfx
        path, err = self._check(context)
        if err:
            return _fail(self, st, err)
        self._setup(context, path)
        total = context.scene.frame_end - context.scene.frame_start + 1
        st.show_info = f"Rendering {total} frames to {path} (Esc cancels)"
        render.start_render_job(context.scene, path)
        return {"FINISHED"}

    def execute(self, context):
        # Scripts and background mode: render now, blocking, with the window manager's progress.
        from ..scene import render
        scene = context.scene
        st = scene.msvfx
        path, err = self._check(context)
        if err:
            return _fail(self, st, err)
        self._setup(context, path)
        wm = context.window_manager
        total = scene.frame_end - scene.frame_start + 1
        wm.progress_begin(0, total)
        try:
            render.render_video(scene, lambda done, n: wm.progress_update(done))
        except RuntimeError as exc:
            return _fail(self, st, f"{path}: render failed ({exc})")
        finally:
            wm.progress_end()
        st.show_info = f"Rendered {total} frames to {path}"
        self.report({"INFO"}, st.show_info)
        return {"FINISHED"}


CLASSES = (MSVFX_OT_build_stage, MSVFX_OT_apply_show, MSVFX_OT_clear_show, MSVFX_OT_render_video)
