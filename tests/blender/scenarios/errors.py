"""Errors in a clean Blender: unreadable audio, missing files, cancelled analysis and invalid
timeline files are reported (operator report + panel state) and change nothing."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, expect_error, install, pump, result  # noqa: E402

import json  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
track = os.environ["MSVFX_TRACK"]
work = os.environ["MSVFX_WORK"]
bad_dir = os.environ["MSVFX_BAD_DIR"]
scene = bpy.context.scene
st = scene.msvfx
scene.timeline_markers.new("my cue", frame=42)


def state():
    """Everything an analysis or a timeline load may change."""
    return (st.timeline_text.as_string() if st.timeline_text else None, st.audio_path, scene.frame_start,
            scene.frame_end, sorted((m.name, m.frame) for m in scene.timeline_markers),
            sorted(s.name for s in scene.sequence_editor.strips_all) if scene.sequence_editor else [])


messages = {}
# --- problems found before starting: reported by the operator itself
st.audio_path = ""
messages["no_file_set"] = expect_error(bpy.ops.msvfx.analyze_track, "No audio file set")
st.audio_path = os.path.join(work, "missing.wav")
messages["missing"] = expect_error(bpy.ops.msvfx.analyze_track, "missing.wav", "no such file")
assert "no such file" in st.last_error
st.audio_path = work
messages["folder"] = expect_error(bpy.ops.msvfx.analyze_track, "folder")
assert not addon.jobs.busy()

# --- a file that is not audio: the worker fails, the timer reports it, nothing changes
fake = os.path.join(work, "notes.wav")
with open(fake, "w") as fh:
    fh.write("these are my notes, not audio\n" * 20)
st.audio_path = fake
before = state()
bpy.ops.msvfx.analyze_track()
pump(addon)
assert st.last_error.startswith("Analysis failed: ") and "notes.wav" in st.last_error, st.last_error
assert "Traceback" not in st.last_error and "\n" not in st.last_error
assert state() == before and not st.has_timeline
messages["not_audio"] = st.last_error

# --- a good analysis, then a cancelled one: the cancelled one leaves the first in place
st.audio_path = track
bpy.ops.msvfx.analyze_track()
pump(addon)
assert st.last_error == "" and st.has_timeline
good = state()
bpy.ops.msvfx.analyze_track()
assert bpy.ops.msvfx.cancel_analysis() == {"FINISHED"}
pump(addon)
job = addon.jobs.last()
assert job.state == "cancelled", job.state
assert "cancelled" in st.last_error
assert state() == good
assert not job.thread.is_alive()
messages["cancelled"] = st.last_error
messages["cancel_idle"] = "no job" if not bpy.ops.msvfx.cancel_analysis.poll() else "?"  # greyed out

# --- invalid timeline files: rejected with file + field, nothing changes
expected = json.load(open(os.path.join(bad_dir, "expected.json")))
for name, fragments in sorted(expected.items()):
    path = os.path.join(bad_dir, name)
    msg = expect_error(lambda: bpy.ops.msvfx.load_timeline(filepath=path), name, *fragments)
    assert state() == good, f"{name} changed the scene"
    assert "Timeline not loaded" in st.last_error
    messages[name] = msg.strip()

# --- a stored timeline edited into garbage (Text Editor) cannot be saved out
st.timeline_text.from_string("{ not json")
messages["edited_text"] = expect_error(lambda: bpy.ops.msvfx.save_timeline(filepath=os.path.join(work, "out.json")),
                                       "not valid JSON")
assert not os.path.exists(os.path.join(work, "out.json"))

result(messages=messages)
