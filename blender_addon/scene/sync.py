"""What a timeline does to the scene: sound strip, frame range, AV-sync and markers.

Everything created here is recorded as the add-on's own (the strip by name plus an
``msvfx_owned`` tag, the markers by name and frame in ``scene.msvfx.markers``), so that
re-analysing or clearing touches only those; markers and strips the user made, even
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

def sync_scene(scene, doc: dict, audio_abspath: str | None) -> str | None:
    """Apply a timeline to the scene: frame range, AV-sync, sound strip (when the audio exists), markers.

    Returns a one-line note when the sound strip could not be made (the rest is still applied),
    else None.
    """
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
    return note


def clear_scene(scene) -> None:
    """Remove everything :func:`sync_scene` created (frame range and sync mode stay)."""
    remove_owned_markers(scene)
    remove_sound_strip(scene)


def apply_timeline(scene, doc: dict, audio_abspath: str | None) -> str | None:
    """Store a *validated* timeline in the scene and sync the scene to it; returns
    :func:`sync_scene`'s note (None when all went well)."""
    storage.store_timeline(scene, doc)
    if audio_abspath:
        storage.set_audio_path(scene, audio_abspath)
    return sync_scene(scene, doc, audio_abspath)
