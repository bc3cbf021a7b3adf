"""Shared helpers for scenarios that run inside a clean Blender (bpy) process.

A scenario runs as ``python -I -S scenario.py`` with only bpy and numpy on ``sys.path``
(``MSVFX_SITE``), like a real Blender whose bundled Python has numpy but none of the
add-on's libraries. HOME and BLENDER_USER_RESOURCES point into a temporary folder.
"""
import json
import os
import sys
import time

sys.path.append(os.environ["MSVFX_SITE"])

import bpy  # noqa: E402

PACKAGE = "bl_ext.user_default.mainstage_vfx"


def install(zip_path: str):
    """Install and enable the extension zip the way a user does; returns the add-on module."""
    bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    assert PACKAGE in bpy.context.preferences.addons, f"{zip_path} was not installed/enabled"
    return sys.modules[PACKAGE]


def pump(addon, timeout: float = 120.0) -> int:
    """Act as Blender's event loop for the add-on's timer until it unregisters itself.

    Headless bpy has no event loop, so registered timers never fire on their own; this
    calls the registered callback at the interval it asks for, and unregisters it when it
    returns None, as Blender does. Returns the number of calls.
    """
    drain = addon.jobs.drain
    assert bpy.app.timers.is_registered(drain), "no timer was registered for the job"
    calls = 0
    t0 = time.monotonic()
    while bpy.app.timers.is_registered(drain):
        interval = drain()
        calls += 1
        if interval is None:
            bpy.app.timers.unregister(drain)
            break
        assert time.monotonic() - t0 < timeout, "job did not finish in time"
        time.sleep(interval)
    return calls


def expect_error(fn, *fragments):
    """Call an operator expected to report an ERROR; return the message (must contain ``fragments``)."""
    try:
        fn()
    except RuntimeError as exc:
        msg = str(exc)
        for frag in fragments:
            assert frag in msg, f"{frag!r} not in error {msg!r}"
        return msg
    raise AssertionError(f"expected an error containing {fragments}")


def result(**values) -> None:
    """Hand values back to the pytest side (one JSON line on stdout)."""
    print("RESULT " + json.dumps(values), flush=True)
