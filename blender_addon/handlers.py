"""App handlers: keep audio paths relative on save, drop a running job when another file opens."""

import bpy
from bpy.app.handlers import persistent

from . import jobs
from .scene import storage


@persistent
def _save_pre(filepath="", *_args):
    # Blender 4.x/5.x pass the path the file is being saved to.
    storage.relativize_paths(filepath if isinstance(filepath, str) else bpy.data.filepath)


@persistent
def _load_pre(*_args):
    jobs.file_loading()


_HANDLERS = ((bpy.app.handlers.save_pre, _save_pre), (bpy.app.handlers.load_pre, _load_pre))


def register() -> None:
    for lst, fn in _HANDLERS:
        if fn not in lst:
            lst.append(fn)


def unregister() -> None:
    for lst, fn in _HANDLERS:
        while fn in lst:
            lst.remove(fn)
