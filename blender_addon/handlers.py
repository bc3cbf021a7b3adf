"""App handlers: keep audio paths relative on save, drop a running job when another file opens,
and follow frame-rate changes made after a timeline was synced."""

import bpy
from bpy.app.handlers import persistent

from . import jobs
from .scene import storage, sync

_busy = False
#: Scene (pointer) -> the frame rate whose re-sync failed (an invalid stored timeline). Not
#: retried until the rate changes again: the handler runs on every depsgraph update, and the
#: failed attempt's own panel report would otherwise re-parse the text on each of them.
_unfollowed: dict[int, float] = {}


@persistent
def _save_pre(filepath="", *_args):
    # Blender 4.x/5.x pass the path the file is being saved to.
    storage.relativize_paths(filepath if isinstance(filepath, str) else bpy.data.filepath)


@persistent
def _load_pre(*_args):
    jobs.file_loading()
    _unfollowed.clear()  # pointers of the closing file's scenes may be reused by the next file's


def _show_applied() -> bool:
    """Whether the add-on's show keys exist (its actions are tagged as owned)."""
    return any(a.get("msvfx_owned") for a in bpy.data.actions)


def check_fps(scene) -> bool:
    """Re-sync ``scene`` when its frame rate differs from the one its timeline was synced at.

    The add-on's markers and frame end move to the new rate (:func:`sync.resync_fps`); a
    show applied at the old rate is marked out of date (``show_stale``: the panel asks for
    Apply Looks again). Returns whether anything was re-synced.
    """
    st = getattr(scene, "msvfx", None)
    if st is None or not sync.fps_changed(scene):
        return False
    key, rate = scene.as_pointer(), sync.fps(scene)
    if _unfollowed.get(key) == rate:
        return False
    if not sync.resync_fps(scene):
        _unfollowed[key] = rate
        return False
    _unfollowed.pop(key, None)
    if _show_applied():
        st.show_stale = True
        st.show_info = "The frame rate changed after Apply Looks: click Apply Looks again"
    return True


@persistent
def _depsgraph_update_post(scene=None, *_args):
    # Cheap unless the frame rate changed: two property reads per update.
    global _busy
    if _busy or scene is None or not hasattr(scene, "msvfx"):
        return
    _busy = True
    try:
        check_fps(scene)
    finally:
        _busy = False


_HANDLERS = ((bpy.app.handlers.save_pre, _save_pre), (bpy.app.handlers.load_pre, _load_pre),
             (bpy.app.handlers.depsgraph_update_post, _depsgraph_update_post))


def register() -> None:
    for lst, fn in _HANDLERS:
        if fn not in lst:
            lst.append(fn)


def unregister() -> None:
    for lst, fn in _HANDLERS:
        while fn in lst:
            lst.remove(fn)
