"""The timeline kept inside the .blend, and the audio path kept relative to it.

The timeline JSON lives in a Text datablock referenced by ``scene.msvfx.timeline_text``
(saved with the file, visible in the Text Editor); a summary is copied into scene
properties so the panel never parses JSON while drawing. The audio path is stored
relative to the .blend (``//...``) whenever the .blend has a location, and re-made
relative when the file is saved elsewhere (:func:`relativize_paths`, a save_pre handler).
"""
from __future__ import annotations

import json
import os

import bpy

from ..core import jsonfile
from ..core.timeline import TimelineError
from ..show import summary

TEXT_SUFFIX = ".timeline.json"


def _text_name(scene) -> str:
    return f"{scene.name}{TEXT_SUFFIX}"


def store_timeline(scene, doc: dict) -> bpy.types.Text:
    """Write a validated timeline into the scene's Text datablock and refresh the summary."""
    st = scene.msvfx
    text = st.timeline_text
    if text is None:
        text = bpy.data.texts.new(_text_name(scene))
        st.timeline_text = text
    text.from_string(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n")
    set_summary(scene, summary.summarize(doc))
    return text


def set_summary(scene, info: dict) -> None:
    """Copy :func:`summary.summarize` output into the scene properties."""
    st = scene.msvfx
    st.has_timeline = True
    st.track_file = info["track_file"]
    st.duration_s = info["duration_s"]
    st.bpm = info["bpm"]
    st.n_beats = info["n_beats"]
    st.n_bars = info["n_bars"]
    st.n_drops = info["n_drops"]
    st.has_genres = info["has_genres"]
    st.genre_summary = info["genre_summary"]
    st.model_name = info["model_name"]
    st.sections.clear()
    for sec in info["sections"]:
        item = st.sections.add()
        item.name = sec["name"]
        item.label = sec["label"]
        item.start_s = sec["start_s"]
        item.end_s = sec["end_s"]
        item.genre = sec["genre"]
        item.genre_prob = sec["genre_prob"]


def stored_timeline(scene, validate: bool = True) -> dict | None:
    """The timeline stored in the scene, parsed (and validated), or None when there is none.

    Raises
    ------
    ValueError
        When the stored text was edited into something invalid (one-line message).
    """
    text = scene.msvfx.timeline_text
    if text is None:
        return None
    source = f"Text '{text.name}'"
    try:
        doc = jsonfile.loads(text.as_string())  # strict and depth-limited: the .blend is untrusted
    except ValueError as exc:
        raise TimelineError(source, f"not valid JSON ({exc})") from None
    if validate:
        from . import presets_io
        presets_io.validate("timeline", doc, source)
    return doc


def stored_timeline_for_handler(scene) -> tuple[dict | None, str]:
    """The stored timeline for code that must never raise (app handlers): ``(doc, "")`` or
    ``(None, one-line reason)``.

    Validated when that is possible inside Blender (the bare add-on would need the external
    interpreter, too slow for a handler: there only the JSON and its shape are checked). The
    text comes from a .blend that may be untrusted.
    """
    from .. import deps
    name = scene.msvfx.timeline_text.name if scene.msvfx.timeline_text is not None else "timeline"
    try:
        doc = stored_timeline(scene, validate=deps.can_validate_in_process())
        if doc is not None:
            float(doc["track"]["duration_s"])
            for key in ("beats", "downbeats", "phrases", "sections", "drops"):
                if not isinstance(doc.get(key, []), list):
                    raise TypeError(f"{key} is not a list")
    except ValueError as exc:
        return None, str(exc)
    except Exception as exc:  # noqa: BLE001 - wrong shape (KeyError, TypeError, ...): a handler never raises
        return None, f"Text '{name}': not a timeline ({type(exc).__name__}: {exc})"
    return doc, ""


def clear_timeline(scene) -> None:
    """Forget the stored timeline (the Text datablock is removed when nothing else uses it)."""
    st = scene.msvfx
    text = st.timeline_text
    st.timeline_text = None
    if text is not None and text.users <= (1 if text.use_fake_user else 0):
        bpy.data.texts.remove(text)
    st.has_timeline = False
    st.sections.clear()
    st.n_beats = st.n_bars = st.n_drops = 0
    st.bpm = st.duration_s = 0.0
    st.has_genres = False
    st.track_file = st.model_name = ""


def blend_relative(abspath: str, blend_path: str | None = None) -> str:
    """``abspath`` as a ``//``-relative path when the .blend has a location, else unchanged."""
    blend_path = bpy.data.filepath if blend_path is None else blend_path
    if not blend_path:
        return abspath
    try:
        return bpy.path.relpath(abspath, start=os.path.dirname(blend_path))
    except ValueError:  # another drive on Windows
        return abspath


def audio_abspath(scene) -> str:
    """The scene's audio path, absolute and normalized ("" when unset)."""
    p = scene.msvfx.audio_path
    return os.path.normpath(bpy.path.abspath(p)) if p else ""


def set_audio_path(scene, abspath: str) -> None:
    """Store the audio path, relative to the .blend when possible."""
    scene.msvfx.audio_path = blend_relative(abspath)


def relativize_paths(new_blend_path: str) -> None:
    """Before saving to ``new_blend_path``: make the audio paths (ours only) relative to it."""
    if not new_blend_path:
        return
    for scene in bpy.data.scenes:
        st = getattr(scene, "msvfx", None)
        if st is None:
            continue
        if st.audio_path:
            ab = os.path.normpath(bpy.path.abspath(st.audio_path))
            rel = blend_relative(ab, new_blend_path)
            if rel != st.audio_path:  # (the property accepts "//" paths: PATH_SUPPORTS_BLEND_RELATIVE)
                st.audio_path = rel
        sound = st.sound
        if sound is not None and not sound.library and sound.filepath:
            ab = os.path.normpath(bpy.path.abspath(sound.filepath, library=sound.library))
            rel = blend_relative(ab, new_blend_path)
            if rel != sound.filepath:
                sound.filepath = rel
