"""Whole flow in a clean Blender: install the zip, analyse a SynthHouse track through the
operator (timer-driven), check what it stores and adds to the scene, re-analyse, save,
reopen, move the project folder, clear. The user's own markers, strip and text stay."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, pump, result  # noqa: E402

import hashlib  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import shutil  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
track = os.environ["MSVFX_TRACK"]
truth_path = os.environ["MSVFX_TRUTH"]
work = os.environ["MSVFX_WORK"]

# --- the add-on runs on what the zip brought: vendored core + bundled wheels
ext_dir = os.path.dirname(addon.__file__)
user_ext = bpy.utils.user_resource("EXTENSIONS")
core_timeline = importlib.import_module(addon.__name__ + ".core.timeline")
assert os.path.isdir(os.path.join(ext_dir, "core")) and not os.path.islink(os.path.join(ext_dir, "core"))
assert core_timeline.__file__.startswith(ext_dir), "the vendored core is not used"
assert "mainstage" not in sys.modules and not any(m.startswith("mainstage.") for m in sys.modules)
assert addon.deps.missing() == [], addon.deps.missing()
import jsonschema  # noqa: E402
import onnxruntime  # noqa: E402
import soundfile  # noqa: E402

for mod in (onnxruntime, soundfile, jsonschema):
    assert mod.__file__.startswith(user_ext), f"{mod.__name__} not from the extension wheels: {mod.__file__}"

# --- a project folder with the audio inside, and the user's own data in the scene
proj = os.path.join(work, "project")
os.makedirs(os.path.join(proj, "audio"))
audio = os.path.join(proj, "audio", "bass_house.wav")
shutil.copy(track, audio)
scene = bpy.context.scene
scene.render.fps, scene.render.fps_base, scene.frame_start = 25, 1.001, 1
scene.timeline_markers.new("DROP 1", frame=10)
scene.timeline_markers.new("[MS] DROP 1", frame=5)  # looks like ours, but the user made it
notes = bpy.data.texts.new("notes.txt")
notes.from_string("my notes")
se = scene.sequence_editor_create()
user_strip = se.strips.new_sound("user sound", audio, channel=1, frame_start=1)
USER_MARKERS = {("DROP 1", 10), ("[MS] DROP 1", 5)}
blend = os.path.join(proj, "show.blend")
bpy.ops.wm.save_as_mainfile(filepath=blend)


def markers():
    return {(m.name, m.frame) for m in bpy.context.scene.timeline_markers}


def owned_strips(scene):
    return [s for s in scene.sequence_editor.strips_all if s.get("msvfx_owned")]


# --- analyse through the operator; completion is applied by the timer
st = scene.msvfx
st.audio_path = audio
assert bpy.ops.msvfx.analyze_track() == {"FINISHED"}
assert addon.jobs.busy()
timer_calls = pump(addon)
assert not addon.jobs.busy()
assert st.last_error == "", st.last_error
assert st.has_timeline and st.timeline_text is not None
doc = json.loads(st.timeline_text.as_string())
core_timeline.validate_timeline(doc, "stored")
with open(audio, "rb") as fh:
    assert doc["track"]["sha256"] == hashlib.sha256(fh.read()).hexdigest()
truth = json.load(open(truth_path))
duration = doc["track"]["duration_s"]
assert abs(duration - truth["track"]["duration_s"]) < 0.05
assert st.audio_path.startswith("//"), f"audio path not relative: {st.audio_path}"
assert st.n_bars == len(doc["downbeats"]) and st.n_drops == len(doc["drops"]) and st.n_drops >= 1
assert abs(st.bpm - doc["tempo"]["bpm"]) < 1e-3

# frame range at 25/1.001 fps, AV-sync, the sound strip
fps = 25 / 1.001
assert scene.frame_end == scene.frame_start + math.ceil(duration * fps) - 1, (scene.frame_end, duration)
assert scene.sync_mode == "AUDIO_SYNC"
ours = owned_strips(scene)
assert len(ours) == 1 and ours[0].name == st.strip_name and ours[0].type == "SOUND"
strip = ours[0]
assert strip.channel != 1 and strip.frame_start == scene.frame_start
assert abs(strip.frame_final_duration - duration * fps) <= 1.5
assert os.path.samefile(bpy.path.abspath(strip.sound.filepath), audio)
assert user_strip.name in scene.sequence_editor.strips and scene.sequence_editor.strips[user_strip.name].channel == 1

# markers: ours match the plan at the right frames; the user's are untouched
plan = addon.show.summary.marker_plan(doc)
expected = {("[MS] " + n, int(round(scene.frame_start + t * fps))) for n, t in plan}
assert {(r.name, r.frame) for r in st.markers} == expected
assert markers() == expected | USER_MARKERS, markers() ^ (expected | USER_MARKERS)
first_drop = next(s for s in doc["sections"] if s["label"] == "drop")
assert ("[MS] DROP 1", int(round(1 + first_drop["start_s"] * fps))) in expected

# --- re-analyse at another frame rate: our markers and strip are replaced, nothing else
scene.render.fps, scene.render.fps_base = 30, 1.0
bpy.ops.msvfx.analyze_track()
pump(addon)
assert st.last_error == ""
expected30 = {("[MS] " + n, int(round(1 + t * 30))) for n, t in plan}
assert markers() == expected30 | USER_MARKERS
assert len(owned_strips(scene)) == 1 and user_strip.name in scene.sequence_editor.strips
assert scene.frame_end == 1 + math.ceil(duration * 30) - 1

# --- save the timeline, load the truth timeline (with genres) made elsewhere
exported = os.path.join(work, "exported.timeline.json")
bpy.ops.msvfx.save_timeline(filepath=exported)
assert json.load(open(exported)) == json.loads(st.timeline_text.as_string())
bpy.ops.msvfx.load_timeline(filepath=truth_path)
assert st.has_genres
genres = list(addon.scene.props.GENRES)
assert genres[max(range(8), key=lambda i: st.genre_summary[i])] == "Bass House"
assert all(sec.genre == "Bass House" for sec in st.sections), [(s.name, s.genre) for s in st.sections]
assert any(name.endswith("| Bass House") for name, _ in markers())
assert len(owned_strips(scene)) == 1, "the truth's audio (same file) should be linked"
loaded_markers = markers()
assert USER_MARKERS <= loaded_markers

# --- save, reopen: the timeline comes back without re-analysis
bpy.ops.wm.save_mainfile()
stored = st.timeline_text.as_string()
bpy.ops.wm.open_mainfile(filepath=blend)
scene = bpy.context.scene
st = scene.msvfx
assert st.timeline_text is not None and st.timeline_text.as_string() == stored
assert st.has_timeline and st.has_genres and markers() == loaded_markers
assert len(owned_strips(scene)) == 1

# --- move the whole project folder: the relative audio path still resolves
bpy.ops.wm.read_homefile(use_empty=True)
moved = os.path.join(work, "moved_project")
shutil.move(proj, moved)
bpy.ops.wm.open_mainfile(filepath=os.path.join(moved, "show.blend"))
scene = bpy.context.scene
st = scene.msvfx
assert os.path.samefile(bpy.path.abspath(st.audio_path), os.path.join(moved, "audio", "bass_house.wav"))
strip = owned_strips(scene)[0]
assert os.path.samefile(bpy.path.abspath(strip.sound.filepath), os.path.join(moved, "audio", "bass_house.wav"))
assert st.timeline_text.as_string() == stored
assert bpy.data.texts["notes.txt"].as_string() == "my notes"

# --- clear: only what the add-on made goes away
bpy.ops.msvfx.clear_analysis()
assert markers() == USER_MARKERS
assert [s.name for s in scene.sequence_editor.strips_all] == ["user sound"]
assert list(bpy.data.texts.keys()) == ["notes.txt"]
assert not st.has_timeline

# --- analysed while the .blend had no location: saving makes our paths relative to it
bpy.ops.wm.read_homefile(use_empty=True)
st = bpy.context.scene.msvfx
moved_audio = os.path.join(moved, "audio", "bass_house.wav")
st.audio_path = moved_audio
bpy.ops.msvfx.load_timeline(filepath=truth_path)
assert st.audio_path == moved_audio and len(owned_strips(bpy.context.scene)) == 1
os.makedirs(os.path.join(moved, "scenes"))
bpy.ops.wm.save_as_mainfile(filepath=os.path.join(moved, "scenes", "late.blend"))
assert st.audio_path == "//../audio/bass_house.wav", st.audio_path
assert owned_strips(bpy.context.scene)[0].sound.filepath == "//../audio/bass_house.wav"

result(timer_calls=timer_calls, duration_s=duration, bars=len(doc["downbeats"]), drops=len(doc["drops"]),
       markers=len(plan))
