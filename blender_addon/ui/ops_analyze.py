"""Operators that start, cancel and report the background analysis."""

import functools
import os
import sys

import bpy
from bpy.props import EnumProperty, StringProperty
from bpy.types import Operator

from .. import analysis_runner, deps, jobs, preferences
from ..scene import presets_io, props, storage, sync


def notify(level: str, message: str) -> None:
    """Report ``message`` from code that runs outside an operator (timers): via :class:`MSVFX_OT_notify`."""
    try:
        bpy.ops.msvfx.notify(level=level, message=message)
    except RuntimeError:
        pass  # called from Python, an ERROR report is raised back here after being reported
    except AttributeError:  # the add-on is being unregistered
        print(f"Mainstage VFX {level}: {message}", file=sys.stderr)


class MSVFX_OT_notify(Operator):
    """Show a message from a background job in Blender's reports"""

    bl_idname = "msvfx.notify"
    bl_label = "Mainstage VFX Message"
    bl_options = {"INTERNAL"}

    level: EnumProperty(name="Level", description="Kind of report", items=[
        ("INFO", "Info", "A message"), ("WARNING", "Warning", "Something to look at"),
        ("ERROR", "Error", "Something failed")])
    message: StringProperty(name="Message", description="Text of the report")

    def execute(self, context):
        self.report({self.level}, self.message)
        return {"FINISHED"}


def audio_problem(path: str) -> str:
    """Why ``path`` cannot be analyzed ("" when it can be tried)."""
    if not path:
        return "No audio file set: choose one in the Mainstage panel"
    if not os.path.exists(path):
        return f"{path}: no such file"
    if os.path.isdir(path):
        return f"{path}: is a folder, not an audio file"
    if not os.access(path, os.R_OK):
        return f"{path}: not readable (permission denied)"
    return ""


def _on_error(job: jobs.Job) -> None:
    scene = bpy.data.scenes.get(job.context.get("scene", ""))
    msg = f"Analysis failed: {job.error}"
    if scene is not None:
        scene.msvfx.last_error = msg
        scene.msvfx.last_info = ""
    notify("ERROR", msg)


def _on_finish(job: jobs.Job) -> None:
    if job.context.get("stale"):
        return
    scene = bpy.data.scenes.get(job.context["scene"])
    if scene is None:
        notify("ERROR", f"Analysis finished, but scene {job.context['scene']!r} no longer exists")
        return
    st = scene.msvfx
    if job.state == "done":
        strip_note = sync.apply_timeline(scene, job.result, job.context["audio"])
        if strip_note:
            notify("WARNING", strip_note)
        try:
            presets_io.ensure_library(st)
        except (ValueError, deps.DependencyError) as exc:
            notify("WARNING", f"Looks not loaded: {exc}")
        st.last_error = ""
        try:  # one undo step for the result, which a timer (not an operator) applied
            bpy.ops.ed.undo_push(message="Mainstage: Analyze Track")
        except RuntimeError:
            pass  # no window (background mode): nothing to undo into
        bpm = f"{st.bpm:.1f} BPM" if st.bpm else "no tempo"
        st.last_info = (f"Analyzed {job.label} in {job.elapsed:.1f} s: {bpm}, {st.n_bars} bars, "
                        f"{st.n_drops} drop{'s' if st.n_drops != 1 else ''}")
        notify("INFO", st.last_info)
    elif job.state == "cancelled":
        st.last_error = "Analysis cancelled; the scene was not changed"
        st.last_info = ""
        notify("WARNING", st.last_error)
    else:
        _on_error(job)


class MSVFX_OT_analyze_track(Operator):
    """Analyze the audio file (beats, sections, drops, genres) in the background, then add it to the scene"""

    bl_idname = "msvfx.analyze_track"
    bl_label = "Analyze Track"
    bl_options = {"REGISTER"}

    filepath: StringProperty(name="Audio File", subtype="FILE_PATH",
                             options={"SKIP_SAVE"} | props.BLEND_RELATIVE,
                             description="Audio file to analyze (default: the scene's audio file)")

    @classmethod
    def poll(cls, context):
        if context.scene is None or not hasattr(context.scene, "msvfx"):
            return False
        job = jobs.current()
        if job is not None:
            cls.poll_message_set(f"An analysis is already running ({job.label}); cancel it first")
            return False
        return True

    def _fail(self, st, msg: str):
        st.last_error = msg
        st.last_info = ""
        self.report({"ERROR"}, msg)
        return {"CANCELLED"}

    def execute(self, context):
        scene = context.scene
        st = scene.msvfx
        if self.filepath:
            storage.set_audio_path(scene, os.path.normpath(bpy.path.abspath(self.filepath)))
        path = storage.audio_abspath(scene)
        problem = audio_problem(path)
        if problem:
            return self._fail(st, problem)
        if jobs.busy():
            return self._fail(st, f"An analysis is already running ({jobs.current().label}); cancel it first")
        mode = preferences.analysis_mode()
        python = preferences.external_python()
        if mode == "IN_PROCESS" and not deps.can_analyze_in_process():
            return self._fail(st, deps.summary_line())
        if mode == "EXTERNAL" and not python:
            return self._fail(st, "Analysis is set to run in an external Python, but none is set in the preferences")
        if not mode:
            return self._fail(st, deps.summary_line())
        if mode == "IN_PROCESS":
            work = functools.partial(analysis_runner.analyze_in_process, audio_path=path)
        else:
            work = functools.partial(analysis_runner.analyze_external, audio_path=path, python=python)
        job = jobs.Job(os.path.basename(path), work, _on_finish,
                       {"scene": scene.name, "audio": path, "mode": mode, "on_error": _on_error})
        jobs.start(job)
        st.last_error = ""
        where = "inside Blender" if mode == "IN_PROCESS" else f"with {python}"
        st.last_info = f"Analyzing {job.label} {where}"
        self.report({"INFO"}, st.last_info)
        return {"FINISHED"}


class MSVFX_OT_cancel_analysis(Operator):
    """Stop the running analysis; the scene stays as it was"""

    bl_idname = "msvfx.cancel_analysis"
    bl_label = "Cancel Analysis"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        if jobs.current() is None:
            cls.poll_message_set("No analysis is running")
            return False
        return True

    def execute(self, context):
        job = jobs.current()
        if job is None:
            self.report({"WARNING"}, "No analysis is running")
            return {"CANCELLED"}
        job.cancel()
        self.report({"INFO"}, f"Cancelling the analysis of {job.label}")
        return {"FINISHED"}


class MSVFX_OT_check_external_python(Operator):
    """Check that the external Python interpreter can run the Mainstage analysis"""

    bl_idname = "msvfx.check_external_python"
    bl_label = "Check External Python"
    bl_options = {"REGISTER"}

    @classmethod
    def poll(cls, context):
        if not preferences.external_python():
            cls.poll_message_set("No external Python set: choose an interpreter first")
            return False
        return True

    def execute(self, context):
        deps.refresh()
        problem = deps.external_python_problem(preferences.external_python())
        if problem:
            self.report({"ERROR"}, problem)
            return {"CANCELLED"}
        self.report({"INFO"}, f"External Python OK: {preferences.external_python()}")
        return {"FINISHED"}


CLASSES = (MSVFX_OT_notify, MSVFX_OT_analyze_track, MSVFX_OT_cancel_analysis, MSVFX_OT_check_external_python)
