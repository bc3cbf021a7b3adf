"""What a timeline does to the scene: sound strip, frame range, AV-sync and markers.

Everything created here is recorded as the add-on's own (the strip by name plus an
``msvfx_owned`` tag, the markers by name and frame in ``scene.msvfx.markers``), so that
re-analyzing or clearing touches only those; markers and strips the user made, even
with the same names, are left alone.
"""
from __future__ import annotations

import math
import os

import bpy

from . import storage
from ..show import summary

MARKER_PREFIX = "[MS] "
STRIP_NAME = "Mainstage Audio"
OWNED_TAG = "msvfx_owned"


def fps(scene) -> float:
    """Effective frame rate of the scene (``fps / fps_base``)."""
    return scene.render.fps / scene.render.fps_base


def time_to_frame(scene, t: float) -> float:
    """Frame (float) at which time ``t`` seconds of the track plays (the track starts at frame_start)."""
    return scene.frame_start + t * fps(scene)


def set_frame_range(scene, duration_s: float) -> None:
    """End the scene where the track ends, at the scene's own frame rate (frame_start kept)."""
    n = max(1, math.ceil(duration_s * fps(scene) - 1e-6))
    scene.frame_end = scene.frame_start + n - 1


# --- markers ---

def remove_owned_markers(scene) -> int:
    """Remove the markers this add-on created (matched by name and frame); returns the count."""
    st = scene.msvfx
    removed = 0
    for rec in st.markers:
        for m in scene.timeline_markers:
            if m.name == rec.name and m.frame == rec.frame:
                scene.timeline_markers.remove(m)
                removed += 1
                break
    st.markers.clear()
    return removed


def add_markers(scene, doc: dict) -> list[str]:
    """Add section/drop/genre-change markers for ``doc`` and record them as owned."""
    st = scene.msvfx
    names = []
    for name, t in summary.marker_plan(doc):
        full = (MARKER_PREFIX + name)[:63]
        frame = int(round(time_to_frame(scene, t)))
        scene.timeline_markers.new(full, frame=frame)
        rec = st.markers.add()
        rec.name = full
        rec.frame = frame
        names.append(full)
    return names


# --- sound strip ---
# Blender 4.4 renamed SequenceEditor.sequences/sequences_all to strips/strips_all (5.0 dropped
# the old names); the helpers below work with both so the add-on runs on 4.2 LTS too.

def _top_strips(container):
    return container.strips if hasattr(container, "strips") else container.sequences


def _all_strips(se):
    return se.strips_all if hasattr(se, "strips_all") else se.sequences_all


def owned_strip(scene):
    """The add-on's sound strip in the scene, or None."""
    st = scene.msvfx
    se = scene.sequence_editor
    if se is None or not st.strip_name:
        return None
    strip = _all_strips(se).get(st.strip_name)
    if strip is not None and strip.get(OWNED_TAG):
        return strip
    return None


def remove_sound_strip(scene) -> None:
    """Remove the add-on's sound strip (and its sound when nothing else uses it)."""
    st = scene.msvfx
    strip = owned_strip(scene)
    if strip is not None:
        parent = strip.parent_meta() if hasattr(strip, "parent_meta") else None
        _top_strips(parent if parent is not None else scene.sequence_editor).remove(strip)
    st.strip_name = ""
    sound = st.sound
    st.sound = None
    if sound is not None and sound.users == 0:
        bpy.data.sounds.remove(sound)


def _free_channel(se, start: int, end: int) -> int:
    busy = {s.channel for s in _top_strips(se) if s.frame_final_start <= end and s.frame_final_end >= start}
    return next(c for c in range(1, 129) if c not in busy)


def set_sound_strip(scene, audio_abspath: str):
    """Put the track in the sequencer as the add-on's sound strip, starting at frame_start."""
    remove_sound_strip(scene)
    se = scene.sequence_editor or scene.sequence_editor_create()
    channel = _free_channel(se, scene.frame_start, scene.frame_end)
    strip = _top_strips(se).new_sound(name=STRIP_NAME, filepath=audio_abspath, channel=channel,
                                frame_start=scene.frame_start)
    strip[OWNED_TAG] = True
    st = scene.msvfx
    st.strip_name = strip.name
    sound = strip.sound
    if sound is not None:
        rel = storage.blend_relative(audio_abspath)
        if rel != sound.filepath:
            sound.filepath = rel
        st.sound = sound
    return strip


# --- all together ---

def _remember_scene_settings(scene) -> None:
    """Keep the frame range and sync mode the scene had before the first sync (Clear restores them)."""
    st = scene.msvfx
    if st.sync_saved:
        return  # re-analysis: keep what the scene had before the first one
    st.saved_frame_start, st.saved_frame_end = scene.frame_start, scene.frame_end
    st.saved_sync_mode = scene.sync_mode
    st.sync_saved = True


def restore_scene_settings(scene) -> bool:
    """Give the scene back the frame range and sync mode it had before the first sync.

    Returns whether anything was stored to restore.
    """
    st = scene.msvfx
    if not st.sync_saved:
        return False
    scene.frame_start = st.saved_frame_start  # start first: a start past the end moves the end along
    scene.frame_end = st.saved_frame_end
    if st.saved_sync_mode:
        scene.sync_mode = st.saved_sync_mode
    st.sync_saved = False
    st.saved_sync_mode = ""
    return True


def sync_scene(scene, doc: dict, audio_abspath: str | None) -> str | None:
    """Apply a timeline to the scene: frame range, AV-sync, sound strip (when the audio exists), markers.

    The frame range and sync mode the scene had before are stored (restored by
    :func:`clear_scene`); the frame rate synced at is kept in ``scene.msvfx.sync_fps``
    (see :func:`resync_fps`). Returns a one-line note when the sound strip could not be
    made (the rest is still applied), else None.
    """
    _remember_scene_settings(scene)
    set_frame_range(scene, float(doc["track"]["duration_s"]))
    scene.sync_mode = "AUDIO_SYNC"
    note = None
    if audio_abspath and os.path.isfile(audio_abspath):
        try:
            set_sound_strip(scene, audio_abspath)
        except RuntimeError as exc:  # e.g. a Blender build without audio support, an unreadable file
            remove_sound_strip(scene)
            reason = str(exc).strip().splitlines()[0].removeprefix("Error: ")
            note = f"{os.path.basename(audio_abspath)}: no sound strip ({reason})"
    else:
        remove_sound_strip(scene)
    remove_owned_markers(scene)
    add_markers(scene, doc)
    st = scene.msvfx
    st.sync_fps = fps(scene)
    st.sync_frame_end = scene.frame_end
    return note


def fps_changed(scene) -> bool:
    """Whether the scene's frame rate differs from the one its timeline was synced at."""
    st = scene.msvfx
    return bool(st.has_timeline and st.sync_fps > 0.0 and abs(fps(scene) - st.sync_fps) > 1e-6)


def resync_fps(scene) -> bool:
    """After a frame-rate change: put the add-on's markers and frame end at the new rate.

    The frame end moves only when it is still where the last sync put it (a range the user
    set is kept). Returns False when there was nothing to do.
    """
    st = scene.msvfx
    if not fps_changed(scene) or st.timeline_text is None:
        return False
    doc, problem = storage.stored_timeline_for_handler(scene)
    if doc is None:  # an untrusted .blend's text: reported in the panel, the scene left as it is
        st.last_error = f"Frame rate change not followed: {problem}" if problem else ""
        return False
    old = st.sync_fps
    try:
        if scene.frame_end == st.sync_frame_end:
            set_frame_range(scene, float(doc["track"]["duration_s"]))
        remove_owned_markers(scene)
        add_markers(scene, doc)
    except Exception as exc:  # noqa: BLE001 - runs in a depsgraph handler, which must never raise
        st.last_error = f"Frame rate change not followed: {type(exc).__name__}: {exc}".splitlines()[0]
        return False
    st.sync_fps = fps(scene)
    st.sync_frame_end = scene.frame_end
    st.last_info = (f"Frame rate changed from {old:.3g} to {st.sync_fps:.3g} fps: "
                    "markers and frame range re-synced")
    return True


def clear_scene(scene) -> None:
    """Remove everything :func:`sync_scene` created and restore the frame range and sync mode
    the scene had before."""
    remove_owned_markers(scene)
    remove_sound_strip(scene)
    restore_scene_settings(scene)
    scene.msvfx.sync_fps = 0.0


def apply_timeline(scene, doc: dict, audio_abspath: str | None) -> str | None:
    """Store a *validated* timeline in the scene and sync the scene to it; returns
    :func:`sync_scene`'s note (None when all went well)."""
    storage.store_timeline(scene, doc)
    if audio_abspath:
        storage.set_audio_path(scene, audio_abspath)
    return sync_scene(scene, doc, audio_abspath)
