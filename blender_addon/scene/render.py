"""Rendering the show to an H.264 MP4 with the track's audio (Blender's own FFmpeg output).

The audio is the sequencer's sound strip (the add-on's "Mainstage Audio" strip, placed at
the scene's start frame), which Blender mixes down and muxes as AAC for exactly the
rendered frame range, so picture and sound stay in sync for any ``--from/--to``.
"""
from __future__ import annotations

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


def configure(scene, filepath: str, engine: str = "EEVEE", resolution: tuple[int, int] | None = None,
              frame_range: tuple[int, int] | None = None, glow: bool = True) -> None:
    """Set up ``scene`` to render an H.264/AAC MP4 to ``filepath``.

    Parameters
    ----------
    engine : {"WORKBENCH", "EEVEE", "CYCLES"}
    resolution : (width, height), optional
    frame_range : (first, last) frames, optional
    glow : bool
        Bloom through the add-on's compositor group (:func:`set_glow`), unless the scene has
        its own compositor.
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
    if engine.upper() == "WORKBENCH":
        sh = scene.display.shading
        sh.light = "FLAT"
        sh.color_type = "MATERIAL"
        sh.background_type = "WORLD"
        scene.display.render_aa = "8"
        # Workbench shows display colours: the "Standard" transform keeps them saturated
        # (AgX would grey them; it suits the emission values of EEVEE and Cycles)
        scene.view_settings.view_transform = "Standard"
    elif engine.upper() == "EEVEE":
        ee = scene.eevee
        ee.taa_render_samples = 16
        if hasattr(ee, "use_volumetric_shadows"):
            ee.use_volumetric_shadows = False
    else:
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


def start_render_job(scene, path: str) -> None:
    """Start Blender's own (non-blocking) animation render job for ``scene`` from the UI.

    ``scene.msvfx.show_info`` reports when the job completes or is cancelled.
    """
    name = scene.name

    def _done(*_args, cancelled=False):
        for lst, fn in ((bpy.app.handlers.render_complete, _complete), (bpy.app.handlers.render_cancel, _cancel)):
            if fn in lst:
                lst.remove(fn)
        sc = bpy.data.scenes.get(name)
        if sc is not None and hasattr(sc, "msvfx"):
            sc.msvfx.show_info = f"Render cancelled ({path} is incomplete)" if cancelled else f"Rendered {path}"

    def _complete(*args):
        _done(*args)

    def _cancel(*args):
        _done(*args, cancelled=True)

    bpy.app.handlers.render_complete.append(_complete)
    bpy.app.handlers.render_cancel.append(_cancel)
    bpy.ops.render.render("INVOKE_DEFAULT", animation=True, scene=scene.name)


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
