"""The bare extension (no wheels) in a clean Blender: the missing libraries are named, and with
an external Python the analysis (and validation) runs there, with progress and cancel."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, expect_error, install, pump, result  # noqa: E402

import time  # noqa: E402

addon = install(os.environ["MSVFX_BARE_ZIP"])
track = os.environ["MSVFX_TRACK"]
work = os.environ["MSVFX_WORK"]
python = os.environ["MSVFX_PYTHON"]
scene = bpy.context.scene
st = scene.msvfx

# --- what is missing is named exactly, and nothing works without an external Python
missing = addon.deps.missing()
assert missing == ["soundfile", "soxr", "onnxruntime", "jsonschema"], missing
line = addon.deps.summary_line("")
assert all(m in line for m in missing) and "external Python" in line
assert addon.preferences.analysis_mode() == ""
st.audio_path = track
msg_no_python = expect_error(bpy.ops.msvfx.analyze_track, "soundfile", "onnxruntime", "external Python")
msg_no_validation = expect_error(bpy.ops.msvfx.presets_reset, "jsonschema", "external Python")
assert not st.has_timeline and len(st.looks) == 0

# --- a wrong interpreter path is reported when the job runs
prefs = addon.preferences.get()
prefs.external_python = os.path.join(work, "no-such-python")
assert addon.preferences.analysis_mode() == "EXTERNAL"
bpy.ops.msvfx.analyze_track()
pump(addon)
assert "no such file" in st.last_error and not st.has_timeline, st.last_error
msg_bad_python = st.last_error

# --- with the external interpreter: analysis, progress, result stored and applied
prefs.external_python = python
assert bpy.ops.msvfx.check_external_python() == {"FINISHED"}
bpy.ops.msvfx.analyze_track()
job = addon.jobs.current()
progress_seen = []
drain = addon.jobs.drain
t0 = time.monotonic()
while bpy.app.timers.is_registered(drain):
    iv = drain()
    progress_seen.append(job.progress)
    if iv is None:
        bpy.app.timers.unregister(drain)
        break
    assert time.monotonic() - t0 < 120
    time.sleep(iv)
elapsed = time.monotonic() - t0
assert job.state == "done" and st.last_error == "", (job.state, st.last_error)
assert st.has_timeline and st.n_drops >= 1 and len(st.markers) >= 1
assert any(0.0 < p < 1.0 for p in progress_seen), progress_seen
assert progress_seen == sorted(progress_seen)
try:
    os.kill(job.pid, 0)
    raise AssertionError("external analysis process still exists")
except ProcessLookupError:
    pass
good = (st.timeline_text.as_string(), sorted((m.name, m.frame) for m in scene.timeline_markers))

# --- validation through the external interpreter: looks load, a bad timeline is refused
bpy.ops.msvfx.presets_reset()
assert len(st.looks) == 8
bad = os.path.join(work, "bad.timeline.json")
with open(bad, "w") as fh:
    text = st.timeline_text.as_string()
    assert '"schema":"mainstage.timeline/2"' in text, text[:200]
    fh.write(text.replace('"schema":"mainstage.timeline/2"', '"schema":"mainstage.timeline/7"'))
msg_bad_timeline = expect_error(lambda: bpy.ops.msvfx.load_timeline(filepath=bad), "bad.timeline.json",
                                "unsupported schema version")
assert (st.timeline_text.as_string(), sorted((m.name, m.frame) for m in scene.timeline_markers)) == good

# --- cancel kills the external process and leaves the scene as it was
bpy.ops.msvfx.analyze_track()
job = addon.jobs.current()
t0 = time.monotonic()
while job.pid is None:
    assert time.monotonic() - t0 < 30
    time.sleep(0.02)
bpy.ops.msvfx.cancel_analysis()
pump(addon)
assert job.state == "cancelled" and "cancelled" in st.last_error
job.thread.join(5)
assert not job.thread.is_alive()
try:
    os.kill(job.pid, 0)
    raise AssertionError("cancelled external process is still running")
except ProcessLookupError:
    pass
assert (st.timeline_text.as_string(), sorted((m.name, m.frame) for m in scene.timeline_markers)) == good

result(missing=missing, elapsed_s=elapsed, messages=[msg_no_python, msg_no_validation, msg_bad_python, msg_bad_timeline])
