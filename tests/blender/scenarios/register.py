"""Register / unregister / register in a clean Blender leaves no classes, handlers or timers
behind, also when the add-on is disabled while an analysis runs."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import PACKAGE, bpy, install, pump, result  # noqa: E402

import addon_utils  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
track = os.environ["MSVFX_TRACK"]
HANDLER_LISTS = [name for name in dir(bpy.app.handlers) if not name.startswith("_")
                 and isinstance(getattr(bpy.app.handlers, name), list)]


def snapshot():
    mod = sys.modules[PACKAGE]
    classes = sorted(n for n in dir(bpy.types) if n.startswith("MSVFX_"))
    handlers = sorted(f"{name}:{getattr(fn, '__module__', '')}.{getattr(fn, '__name__', '')}"
                      for name in HANDLER_LISTS for fn in getattr(bpy.app.handlers, name)
                      if getattr(fn, "__module__", "").startswith(PACKAGE))
    return {
        "classes": classes,
        "handlers": handlers,
        "timer": bpy.app.timers.is_registered(mod.jobs.drain),
        "scene_prop": hasattr(bpy.types.Scene, "msvfx"),
        "enabled": PACKAGE in bpy.context.preferences.addons,
    }


registered = snapshot()
assert registered["classes"] and registered["scene_prop"] and registered["enabled"]
assert registered["handlers"] == sorted([f"save_pre:{PACKAGE}.handlers._save_pre", f"load_pre:{PACKAGE}.handlers._load_pre",
                                        f"depsgraph_update_post:{PACKAGE}.handlers._depsgraph_update_post"])
assert not registered["timer"]
EMPTY = {"classes": [], "handlers": [], "timer": False, "scene_prop": False, "enabled": False}

# --- disable while an analysis is running: the job is cancelled, its thread ends, the timer goes
scene = bpy.context.scene
scene.msvfx.audio_path = track
bpy.ops.msvfx.analyze_track()
job = addon.jobs.current()
assert snapshot()["timer"]
addon_utils.disable(PACKAGE, default_set=True)
assert snapshot() == EMPTY, snapshot()
assert not job.thread.is_alive() and job.cancel_requested

cycles = []
for i in range(3):
    addon_utils.enable(PACKAGE, default_set=True)
    again = snapshot()
    assert again == registered, (again, registered)
    mod = sys.modules[PACKAGE]
    bpy.context.scene.msvfx.audio_path = track
    bpy.ops.msvfx.analyze_track()
    pump(mod)
    assert bpy.context.scene.msvfx.has_timeline and bpy.context.scene.msvfx.last_error == ""
    addon_utils.disable(PACKAGE, default_set=True)
    assert snapshot() == EMPTY, snapshot()
    cycles.append(len(again["classes"]))

# the stored analysis survives in the file's data while the add-on is off, and is back on re-enable
addon_utils.enable(PACKAGE, default_set=True)
assert bpy.context.scene.msvfx.has_timeline
result(classes=len(registered["classes"]), cycles=cycles)
