"""Rendering the show to an H.264 MP4 with the track's audio (Blender's own FFmpeg output).

The audio is the sequencer's sound strip (the add-on's "Mainstage Audio" strip, placed at
the scene's start frame), which Blender mixes down and muxes as AAC for exactly the
rendered frame range, so picture and sound stay in sync for any ``--from/--to``.
"""
from __future__ import annotations

import os
import time

import bpy

ENGINES = {"WORKBENCH": "BLENDER_WORKBENCH", "EEVEE": "BLENDER_EEVEE", "CYCLES": "CYCLES"}


GLOW_GROUP = "MS Glow"
OWNED = "msvfx_owned"


def glow_group():
    """The add-on's compositor node group: bloom around bright screens, lasers and beams.

    EEVEE (4.2+) has no built-in bloom and Workbench none at all; the compositor's Glare
    node (Bloom) gives every engine the same glow.
    """
    ng = bpy.data.node_groups.get(GLOW_GROUP)
    if ng is not None and ng.get(OWNED):
        return ng
    ng = bpy.data.node_groups.new(GLOW_GROUP, "CompositorNodeTree")
    ng[OWNED] = True
    ng.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    rl = ng.nodes.new("CompositorNodeRLayers")
    g = ng.nodes.new("CompositorNodeGlare")
    g.name = "Glow"
    for name, value in (("Type", "Bloom"), ("Threshold", 0.45), ("Strength", 1.3), ("Size", 0.75)):
        if name in g.inputs:
            g.inputs[name].default_value = value
    out = ng.nodes.new("NodeGroupOutput")
    rl.location, g.location, out.location = (-300, 0), (0, 0), (300, 0)
    ng.links.new(rl.outputs["Image"], g.inputs["Image"])
    ng.links.new(g.outputs[0], out.inputs[0])
    return ng


def set_glow(scene, on: bool) -> bool:
    """Use the add-on's glow compositor for ``scene`` (only where the scene has no compositor of
    its own: a user's compositing setup is never replaced). Returns whether glow is on."""
    if not hasattr(scene, "compositing_node_group"):  # Blender < 5.0: scene.node_tree API
        return False
    current = scene.compositing_node_group
    if current is not None and not current.get(OWNED):
        return False
    if on:
        scene.compositing_node_group = glow_group()
        scene.render.use_compositing = True
        return True
    remove_glow(scene)
    return False


def remove_glow(scene) -> None:
    """Take the add-on's glow compositor off ``scene`` and delete it when unused."""
    if getattr(scene, "compositing_node_group", None) is not None and scene.compositing_node_group.get(OWNED):
        scene.compositing_node_group = None
    ng = bpy.data.node_groups.get(GLOW_GROUP)
    if ng is not None and ng.get(OWNED) and ng.users == 0:
        bpy.data.node_groups.remove(ng)


#: Settings :func:`configure` may change, as paths from the scene, in the order they are restored
#: (the media type before the file format, the format before its codec settings).
SETTINGS = (
    "render.engine", "render.resolution_x", "render.resolution_y", "render.resolution_percentage",
    "frame_start", "frame_end",
    "render.image_settings.media_type", "render.image_settings.file_format",
    "render.ffmpeg.format", "render.ffmpeg.codec", "render.ffmpeg.constant_rate_factor",
    "render.ffmpeg.ffmpeg_preset", "render.ffmpeg.gopsize", "render.ffmpeg.audio_codec",
    "render.ffmpeg.audio_bitrate", "render.ffmpeg.audio_channels", "render.ffmpeg.audio_mixrate",
    "render.use_file_extension", "render.filepath", "render.use_sequencer", "render.use_compositing",
    "compositing_node_group",
    "display.shading.light", "display.shading.color_type", "display.shading.background_type",
    "display.render_aa", "view_settings.view_transform",
    "eevee.taa_render_samples", "eevee.use_volumetric_shadows", "cycles.samples", "cycles.use_denoising",
)


def _split(path: str):
    head, _, attr = path.rpartition(".")
    return head, attr


def snapshot(scene) -> dict:
    """The values of :data:`SETTINGS` in ``scene`` (those this Blender has), for :func:`restore`."""
    out = {}
    for path in SETTINGS:
        head, attr = _split(path)
        try:
            owner = scene.path_resolve(head) if head else scene
        except ValueError:
            continue  # e.g. no Cycles, or Blender < 5.0 without media_type
        if owner is None or not hasattr(owner, attr):
            continue
        out[path] = getattr(owner, attr)
    return out


def restore(scene, snap: dict) -> list[str]:
    """Set ``scene``'s settings back to a :func:`snapshot`; returns the paths that could not be set."""
    failed = []
    for path in SETTINGS:
        if path not in snap:
            continue
        head, attr = _split(path)
        try:
            owner = scene.path_resolve(head) if head else scene
            if getattr(owner, attr) != snap[path]:
                setattr(owner, attr, snap[path])
        except (ValueError, TypeError, AttributeError, ReferenceError):
            failed.append(path)
    ng = bpy.data.node_groups.get(GLOW_GROUP)
    if ng is not None and ng.get(OWNED) and ng.users == 0:
        bpy.data.node_groups.remove(ng)  # made for this render only
    return failed


def configure(scene, filepath: str, engine: str = "EEVEE", resolution: tuple[int, int] | None = None,
              frame_range: tuple[int, int] | None = None, glow: bool = True, quality: str = "PREVIEW") -> None:
    """Set up ``scene`` to render an H.264/AAC MP4 to ``filepath``.

    This changes the scene's render settings; keep a :func:`snapshot` to :func:`restore` them
    (:func:`render_to_file` does).

    Parameters
    ----------
    engine : {"WORKBENCH", "EEVEE", "CYCLES"}
    resolution : (width, height), optional
    frame_range : (first, last) frames, optional
    glow : bool
        Bloom through the add-on's compositor group (:func:`set_glow`), unless the scene has
        its own compositor.
    quality : {"PREVIEW", "SCENE"}
        ``"PREVIEW"``: few samples (EEVEE 16, Cycles 32 with denoising); ``"SCENE"``: the
        scene's own sample settings.
    """
    r = scene.render
    r.engine = ENGINES[engine.upper()]
    if resolution is not None:
        r.resolution_x, r.resolution_y = int(resolution[0]), int(resolution[1])
        r.resolution_percentage = 100
    if frame_range is not None:
        scene.frame_start, scene.frame_end = int(frame_range[0]), int(frame_range[1])
    im = r.image_settings
    if hasattr(im, "media_type"):  # Blender 5.0 separates image and video outputs
        im.media_type = "VIDEO"
    im.file_format = "FFMPEG"
    ff = r.ffmpeg
    ff.format = "MPEG4"
    ff.codec = "H264"
    ff.constant_rate_factor = "MEDIUM"
    ff.ffmpeg_preset = "REALTIME" if engine.upper() == "WORKBENCH" else "GOOD"
    ff.gopsize = max(1, round(r.fps / r.fps_base))
    ff.audio_codec = "AAC"
    ff.audio_bitrate = 192
    ff.audio_channels = "STEREO"
    ff.audio_mixrate = 48000
    r.use_file_extension = False
    r.filepath = filepath
    preview = quality.upper() == "PREVIEW"
    if engine.upper() == "WORKBENCH":
        sh = scene.display.shading
        sh.light = "FLAT"
        sh.color_type = "MATERIAL"
        sh.background_type = "WORLD"
        scene.display.render_aa = "8"
        # Workbench shows display colors: the "Standard" transform keeps them saturated
        # (AgX would grey them; it suits the emission values of EEVEE and Cycles)
        scene.view_settings.view_transform = "Standard"
    elif engine.upper() == "EEVEE":
        ee = scene.eevee
        if preview:
            ee.taa_render_samples = 16
        if hasattr(ee, "use_volumetric_shadows"):
            ee.use_volumetric_shadows = False
    elif preview:
        scene.cycles.samples = 32
        scene.cycles.use_denoising = True
    set_glow(scene, glow)
    # the sequencer stays on: its sound strip is the audio (a scene with only sound strips
    # still renders the 3D view; switching the sequencer off would also drop the audio)
    r.use_sequencer = True


def render_video(scene, progress=None) -> str:
    """Render the scene's frame range to its configured video file; returns the path.

    Parameters
    ----------
    progress : callable, optional
        ``progress(done, total)`` after every frame.
    """
    total = scene.frame_end - scene.frame_start + 1
    done = [0]

    def _post(*_args):
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    bpy.app.handlers.render_post.append(_post)
    try:
        bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        bpy.app.handlers.render_post.remove(_post)
    return bpy.path.abspath(scene.render.filepath)


def render_to_file(scene, path: str, engine: str = "EEVEE", glow: bool = True, quality: str = "SCENE",
                   progress=None) -> int:
    """Render the scene's frame range to the MP4 ``path`` and give the scene its settings back.

    The render settings :func:`configure` changes are restored afterwards, also when the
    render fails or is cancelled.

    Returns
    -------
    int
        Size in bytes of the written video.

    Raises
    ------
    RuntimeError
        When the render fails or writes no file (one-line message).
    """
    snap = snapshot(scene)
    t0 = time.time()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        configure(scene, path, engine, glow=glow, quality=quality)
        render_video(scene, progress)
    except OSError as exc:
        raise RuntimeError(f"{path}: cannot write the video ({exc.strerror or exc})") from None
    finally:
        restore(scene, snap)
    size = written(path, t0)
    if not size:
        raise RuntimeError(f"{path}: the render wrote no video file")
    return size


def output_problem(path: str, blend_saved: bool) -> str:
    """Why Render Video cannot write ``path`` (the video path as set: "" or "//..." or absolute).

    Returns "" when it can be tried.
    """
    if not path:
        return "No video path set: choose an MP4 file in the Show panel"
    if path.startswith("//") and not blend_saved:
        return "Save the .blend first, or set an absolute video path (// is relative to the saved file)"
    resolved = bpy.path.abspath(path)
    if not os.path.isabs(resolved):
        return f"{path}: set an absolute video path, or one starting with // next to the saved .blend"
    if os.path.isdir(resolved):
        return f"{resolved}: is a folder, not a video file"
    folder = os.path.dirname(resolved)
    if os.path.isdir(folder) and not os.access(folder, os.W_OK):
        return f"{folder}: not writable (permission denied)"
    return ""


def written(path: str, since: float) -> int:
    """Size in bytes of the video at ``path`` when it was written after ``since`` (0 when not)."""
    try:
        st = os.stat(path)
    except OSError:
        return 0
    return st.st_size if st.st_mtime >= since - 1.0 else 0


def size_text(n: int) -> str:
    """A file size for a report: "830 kB", "12.4 MB"."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def start_render_job(scene, path: str, snap: dict | None = None, on_done=None):
    """Start Blender's own (non-blocking) animation render job for ``scene`` from the UI.

    When the job has ended (completed, cancelled or failed to start) the scene's render
    settings go back to ``snap`` (a :func:`snapshot` taken before :func:`configure`) and
    ``on_done(scene, state, size)`` is called with state "done", "cancelled" or "failed"
    and the written file's size. That happens in a timer on the main thread; the render
    handlers, which may run on the render thread, only set a flag. Returns the timer's
    function (it returns None once it has finished).
    """
    name = scene.name
    state = {"ended": None}
    t0 = time.time()

    def _complete(*_args):
        state["ended"] = "done"

    def _cancel(*_args):
        state["ended"] = "cancelled"

    handlers = ((bpy.app.handlers.render_complete, _complete), (bpy.app.handlers.render_cancel, _cancel))

    def _finish():
        running = bpy.app.is_job_running("RENDER")
        if running or (state["ended"] is None and time.time() - t0 < 2.0):
            return 0.5  # still rendering (or not started yet)
        for lst, fn in handlers:
            if fn in lst:
                lst.remove(fn)
        sc = bpy.data.scenes.get(name)
        if sc is None:
            return None
        if snap is not None:
            restore(sc, snap)
        size = written(path, t0)
        outcome = state["ended"] or ("done" if size else "failed")
        if outcome == "done" and not size:
            outcome = "failed"
        if on_done is not None:
            on_done(sc, outcome, size)
        return None

    for lst, fn in handlers:
        lst.append(fn)
    try:
        bpy.ops.render.render("INVOKE_DEFAULT", animation=True, scene=scene.name)
    finally:
        bpy.app.timers.register(_finish, first_interval=0.5)
    return _finish


def render_still(scene, frame: int, filepath: str) -> str:
    """Render one frame to a PNG (used for contact sheets and tests)."""
    im = scene.render.image_settings
    saved = (getattr(im, "media_type", None), im.file_format, scene.render.filepath)
    if hasattr(im, "media_type"):
        im.media_type = "IMAGE"
    im.file_format = "PNG"
    scene.frame_set(frame)
    scene.render.filepath = filepath
    bpy.ops.render.render(write_still=True, scene=scene.name)
    if saved[0] is not None:
        im.media_type = saved[0]
    im.file_format = saved[1]
    scene.render.filepath = saved[2]
    return filepath
