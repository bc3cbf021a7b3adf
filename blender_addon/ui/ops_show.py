"""Operators of the show: Build Stage, Apply Looks, Clear Show, Render Video."""
from __future__ import annotations

import os

import bpy
from bpy.props import BoolProperty
from bpy.types import Operator

from .. import deps
from ..scene import drive, stage, storage, sync


def _fail(op, st, msg: str):
    st.last_error = msg
    op.report({"ERROR"}, msg)
    return {"CANCELLED"}


class MSVFX_OT_build_stage(Operator):
    """Build a starter stage (LED wall, floor, truss of spots, lasers, central object, orbiting camera, haze) in a scene of its own and assign its collections to the roles"""

    bl_idname = "msvfx.build_stage"
    bl_label = "Build Stage"
    bl_options = {"REGISTER", "UNDO"}

    scene_mode: bpy.props.EnumProperty(
        name="Where", default="OWN",
        items=[("OWN", "Own Scene", "Build in the scene 'Mainstage Stage' with a copy of this scene's track and looks"),
               ("HERE", "This Scene", "Build into the current scene, beside your own objects")],
        description="Scene the stage is built in")
    rebuild: BoolProperty(name="Rebuild (discards your edits to the stage)", default=False,
                          description="Build the stage anew even where it exists, discarding your edits to it")

    def _target(self, context):
        if self.scene_mode == "HERE":
            return context.scene
        return stage.find_stage_scene()

    def invoke(self, context, event):
        target = self._target(context)
        if target is not None and stage.stage_collection(target) is not None:
            # the stage exists: ask before anything of it is replaced
            return context.window_manager.invoke_props_dialog(
                self, title="The starter stage exists", confirm_text="Build Stage")
        return self.execute(context)

    def draw(self, context):
        self.layout.label(text="Building keeps your edits to the stage unless you rebuild it.")
        self.layout.prop(self, "rebuild")

    def execute(self, context):
        if self.scene_mode == "HERE":
            scene = context.scene
            built = self.rebuild or stage.stage_collection(scene) is None
            if built:
                stage.build_stage(scene)
        else:
            scene, built = stage.build_stage_scene(context.scene, rebuild=self.rebuild)
            if context.window is not None:
                context.window.scene = scene
        root = stage.stage_collection(scene)
        if built:
            msg = f"Built the starter stage in '{scene.name}' ({len(root.all_objects)} objects)"
        else:
            msg = f"Kept your stage in '{scene.name}' (choose Rebuild to build it anew)"
        scene.msvfx.show_info = msg
        self.report({"INFO"}, msg)
        return {"FINISHED"}


class MSVFX_OT_apply_show(Operator):
    """Drive the role collections and the world with the genre looks along the timeline (replaces a previous Apply)"""

    bl_idname = "msvfx.apply_show"
    bl_label = "Apply Looks"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        scene = context.scene
        if scene is None or not hasattr(scene, "msvfx"):
            return False
        if not scene.msvfx.has_timeline:
            cls.poll_message_set("No timeline: analyze a track or load a timeline first")
            return False
        return True  # without roles, Apply bakes the music values alone

    def execute(self, context):
        scene = context.scene
        st = scene.msvfx
        try:
            doc, mapping, looks = drive.scene_inputs(scene)
        except (ValueError, deps.DependencyError) as exc:
            return _fail(self, st, str(exc))
        from ..scene import inputs
        if not any(getattr(st, p) for p in stage.ROLE_PROPS.values()):
            # no roles: the music values alone, for the user's own drivers and shaders
            with inputs.keeping_groups():
                drive.clear_show(scene, keep_stage=True)
            vals = inputs.bake_music_values(scene, doc)
            st.last_error = ""
            st.show_stale = False
            st.show_info = f"No roles to drive: baked {len(vals['values'])} music values ({vals['keys']} keys) " \
                           f"as scene properties msvfx_*; assign collections to the roles or click Build Stage"
            self.report({"INFO"}, st.show_info)
            return {"FINISHED"}
        with inputs.keeping_groups():  # the music node groups stay for the bake that follows
            info = drive.apply_show(scene, doc, mapping, looks)
        vals = inputs.bake_music_values(scene, doc)
        st.last_error = ""
        st.show_stale = False
        msg = f"Applied {len(info['looks'])} looks: {info['keys']} keys on {info['fcurves']} curves " \
              f"in {info['plan_s'] + info['write_s']:.2f} s, {len(vals['values'])} music values"
        if info["skipped"]:
            msg += f"; left {len(info['skipped'])} curves you animate alone"
        st.show_info = msg
        self.report({"INFO"}, msg)
        return {"FINISHED"}


def _show_to_clear(scene) -> bool:
    """Whether the add-on's show or stage is in the file (cheap: no walk over all objects)."""
    return (any(a.get("msvfx_owned") for a in bpy.data.actions) or stage.stage_collection(scene) is not None
            or any(w.get("msvfx_owned") for w in bpy.data.worlds)
            or any("msvfx_values" in s for s in bpy.data.scenes))


class MSVFX_OT_clear_show(Operator):
    """Remove the keyframes, materials and world the add-on applied (and the starter stage if chosen)"""

    bl_idname = "msvfx.clear_show"
    bl_label = "Clear Show"
    bl_options = {"REGISTER", "UNDO"}

    remove_stage: BoolProperty(name="Remove Starter Stage", default=False,
                               description="Also delete the starter stage that Build Stage made")

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "msvfx"):
            return False
        if not _show_to_clear(context.scene):
            cls.poll_message_set("Nothing to clear: no show applied and no starter stage")
            return False
        return True

    def execute(self, context):
        info = drive.clear_show(context.scene, keep_stage=not self.remove_stage)
        st = context.scene.msvfx
        st.show_stale = False
        st.show_info = f"Removed {info['fcurves']} curves, {info['objects']} objects"
        self.report({"INFO"}, st.show_info)
        return {"FINISHED"}


def render_problem(context) -> str:
    """Why Render Video cannot run now ("" when it can): the checks of its poll()."""
    scene = context.scene
    if scene is None or not hasattr(scene, "msvfx"):
        return "No scene"
    st = scene.msvfx
    if not st.has_timeline:
        return "No timeline: analyze a track or load a timeline first"
    if scene.camera is None:
        return "The scene has no camera: click Build Stage or add one"
    if scene.frame_end < scene.frame_start:
        return "The frame range is empty"
    from ..scene import render
    return render.output_problem(st.render_path, bool(bpy.data.filepath))


class MSVFX_OT_render_video(Operator):
    """Render the scene to an H.264 MP4 with the track's audio; render settings are restored afterwards"""

    bl_idname = "msvfx.render_video"
    bl_label = "Render Video"

    @classmethod
    def poll(cls, context):
        problem = render_problem(context)
        if problem:
            cls.poll_message_set(problem)
            return False
        return True

    def _prepare(self, context):
        """(absolute video path, error): checks again (scripts skip poll with a stale context) and
        adds the sound strip when the add-on's is missing."""
        scene = context.scene
        st = scene.msvfx
        problem = render_problem(context)
        if problem:
            return None, problem
        try:  # validated on every use: the stored text comes from a .blend that may be untrusted
            storage.stored_timeline(scene)
        except (ValueError, deps.DependencyError) as exc:
            return None, f"Render not started: {exc}"
        path = os.path.normpath(bpy.path.abspath(st.render_path))
        audio = storage.audio_abspath(scene)
        if sync.owned_strip(scene) is None:
            if audio and os.path.isfile(audio):
                try:
                    sync.set_sound_strip(scene, audio)
                except RuntimeError as exc:  # e.g. a Blender build without audio: render the picture alone
                    reason = str(exc).strip().splitlines()[0].removeprefix("Error: ")
                    self.report({"WARNING"}, f"Rendering without sound: {reason}")
            else:
                self.report({"WARNING"}, "Rendering without sound: the track's audio file is not found")
        return path, None

    def invoke(self, context, event):
        # In the UI the render runs as Blender's own job: the interface stays responsive, the
        # status bar shows progress and Esc cancels; the settings are restored when it ends.
        from ..scene import render
        scene = context.scene
        st = scene.msvfx
        path, err = self._prepare(context)
        if err:
            return _fail(self, st, err)
        total = scene.frame_end - scene.frame_start + 1
        snap = render.snapshot(scene)
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            render.configure(scene, path, st.render_engine, glow=st.render_glow, quality=st.render_quality)
        except (OSError, TypeError, ValueError) as exc:
            render.restore(scene, snap)
            return _fail(self, st, f"{path}: render not started ({exc})")

        def _done(sc, outcome, size):
            msg = {"done": f"Rendered {total} frames to {path} ({render.size_text(size)})",
                   "cancelled": f"Render cancelled ({path} is incomplete)",
                   "failed": f"{path}: the render wrote no video file"}[outcome]
            sc.msvfx.show_info = msg
            if outcome == "failed":
                sc.msvfx.last_error = msg
            from .ops_analyze import notify
            notify("ERROR" if outcome == "failed" else "INFO" if outcome == "done" else "WARNING", msg)

        st.show_info = f"Rendering {total} frames to {path} (Esc cancels)"
        render.start_render_job(scene, path, snap, _done)
        return {"FINISHED"}

    def execute(self, context):
        # Scripts and background mode: render now, blocking, with the window manager's progress.
        from ..scene import render
        scene = context.scene
        st = scene.msvfx
        path, err = self._prepare(context)
        if err:
            return _fail(self, st, err)
        wm = context.window_manager
        total = scene.frame_end - scene.frame_start + 1
        wm.progress_begin(0, total)
        try:
            size = render.render_to_file(scene, path, st.render_engine, glow=st.render_glow,
                                         quality=st.render_quality, progress=lambda done, n: wm.progress_update(done))
        except RuntimeError as exc:
            return _fail(self, st, f"Render failed: {exc}")
        finally:
            wm.progress_end()
        st.last_error = ""
        st.show_info = f"Rendered {total} frames to {path} ({render.size_text(size)})"
        self.report({"INFO"}, st.show_info)
        return {"FINISHED"}


CLASSES = (MSVFX_OT_build_stage, MSVFX_OT_apply_show, MSVFX_OT_clear_show, MSVFX_OT_render_video)
