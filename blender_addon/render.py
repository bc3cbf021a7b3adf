"""Rendering the show to an H.264 MP4 with the track's audio (Blender's own FFmpeg output).

The audio is the sequencer's sound strip (the add-on's "Mainstage Audio" strip, placed at
the scene's start frame), which Blender mixes down and muxes as AAC for exactly the
rendered frame range, so picture and sound stay in sync for any ``--from/--to``.
"""
from __future__ import annotations

import bpy

ENGINES = {"WORKBENCH": "BLENDER_WORKBENCH", "EEVEE": "BLENDER_EEVEE", "CYCLES": "CYCLES"}


def configure(scene, filepath: str, engine: str = "EEVEE", resolution: tuple[int, int] | None = None,
              frame_range: tuple[int, int] | None = None) -> None:
    """Set up ``scene`` to render an H.264/AAC MP4 to ``filepath``.

    Parameters
    ----------
    engine : {"WORKBENCH", "EEVEE", "CYCLES"}
    resolution : (width, height), optional
    frame_range : (first, last) frames, optional
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
    elif engine.upper() == "EEVEE":
        ee = scene.eevee
        ee.taa_render_samples = 16
        if hasattr(ee, "use_volumetric_shadows"):
            ee.use_volumetric_shadows = False
    else:
        scene.cycles.samples = 32
        scene.cycles.use_denoising = True
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
