"""``mainstage render`` and the demo's visual half (``headless.render_demo``), each in a fresh process
with the bpy wheel and the checkout's add-on (tiny Workbench renders)."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.hashing import sha256_file
from mainstage.core.timeline import save_timeline
from mainstage.training.synthhouse.timelines import click_track, synthetic_set

SR = 22050
pytestmark = [pytest.mark.blender, pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe")]
MAINSTAGE = str(Path(sys.executable).with_name("mainstage"))


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    d = tmp_path_factory.mktemp("render")
    doc = synthetic_set()
    audio = d / "set.wav"
    sf.write(audio, click_track(doc, SR), SR)
    doc["track"].update(file="set.wav", sha256=sha256_file(audio), sample_rate=SR)
    save_timeline(doc, d / "set.timeline.json")
    return d, doc


def _streams(path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return {s["codec_type"]: s for s in json.loads(out)["streams"]}


def test_cli_render_excerpt_and_errors(track):
    d, doc = track
    out = d / "cli.mp4"
    proc = subprocess.run([MAINSTAGE, "render", str(d / "set.timeline.json"), "-o", str(out), "--engine", "workbench",
                           "--resolution", "160x90", "--from", "60", "--to", "61.5", "--fps", "29.97", "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "frames at 29.970 fps" in proc.stdout
    s = _streams(out)
    assert s["video"]["codec_name"] == "h264" and s["audio"]["codec_name"] == "aac"
    assert (int(s["video"]["width"]), int(s["video"]["height"])) == (160, 90)
    assert abs(float(s["video"]["duration"]) - 1.5) < 0.1
    # bad input: one line naming the problem, exit 1, nothing written
    for args, frag in ((["--from", "5", "--to", "2"], "must be after"),
                       (["--to", "9999"], "outside the track"),
                       (["--resolution", "big"], "WIDTHxHEIGHT")):
        bad = subprocess.run([MAINSTAGE, "render", str(d / "set.timeline.json"), "-o", str(d / "bad.mp4"), *args],
                             capture_output=True, text=True, timeout=120)
        assert bad.returncode != 0 and frag in bad.stderr, (args, bad.stderr)
    (d / "moved.timeline.json").write_text((d / "set.timeline.json").read_text().replace('"set.wav"', '"gone.wav"'))
    bad = subprocess.run([MAINSTAGE, "render", str(d / "moved.timeline.json"), "-o", str(d / "bad.mp4")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "gone.wav" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (d / "bad.mp4").exists()
    # -o onto a directory: refused in one line (no IsADirectoryError traceback), the directory kept
    (d / "folder.mp4").mkdir()
    bad = subprocess.run([MAINSTAGE, "render", str(d / "set.timeline.json"), "-o", str(d / "folder.mp4")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "is a directory" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert (d / "folder.mp4").is_dir()


def test_preview_command_writes_the_three_outputs(track):
    """``mainstage preview`` (the demo's Blender half, found by the demo through the command registry)."""
    d, _doc = track
    out = d / "preview"
    proc = subprocess.run([MAINSTAGE, "preview", str(d / "set.timeline.json"), "--audio", str(d / "set.wav"),
                           "--out", str(out), "--seconds", "1"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("preview.mp4", "contact_sheet.png", "genre_timeline.png"):
        assert (out / name).stat().st_size > 1000 and f"wrote {out / name}" in proc.stdout, name
    assert _streams(str(out / "preview.mp4"))["audio"]["codec_name"] == "aac"
    bad = subprocess.run([MAINSTAGE, "preview", str(d / "set.timeline.json"), "--audio", str(d / "none.wav"),
                          "--out", str(out)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "none.wav" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_render_demo_outputs(track):
    d, doc = track
    code = ("import json, sys; from mainstage.blender_addon.headless.renderer import render_demo; "
            f"print('RESULT', json.dumps(render_demo({str(d / 'set.timeline.json')!r}, {str(d / 'set.wav')!r}, "
            f"{str(d / 'demo')!r}, seconds=2.0, resolution=(160, 90))))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads([l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1][7:])
    s = _streams(res["video"])
    assert s["video"]["codec_name"] == "h264" and s["audio"]["codec_name"] == "aac"
    import matplotlib.pyplot as plt
    sheet, plot = plt.imread(res["contact_sheet"]), plt.imread(res["genre_plot"])
    assert sheet.shape[0] > 300 and plot.shape[1] > 800 and sheet[..., :3].std() > 0.05
    a, b = res["window_s"]
    drops = [x["start_s"] for x in doc["drops"]]
    assert b - a == pytest.approx(2.0, abs=0.01)
    # the preview window is chosen around the drop whose genre differs from the section before
    from mainstage.blender_addon.headless.renderer import demo_window
    wa, wb = demo_window(doc, 24.0)
    assert any(wa < t < wb for t in drops)
    from mainstage.core.timeline import genre_at
    assert np.argmax(genre_at(doc, wa)) != np.argmax(genre_at(doc, wb - 0.1))


BLEND_SETUP = r'''
import sys, bpy, bmesh
from mainstage.blender_addon.headless import renderer as headless
scene = headless.new_scene(None)
def coll(name):
    c = bpy.data.collections.new(name); scene.collection.children.link(c); return c
screens, lights, cams = coll("My Screens"), coll("My Lights"), coll("My Camera")
me = bpy.data.meshes.new("Wall"); bm = bmesh.new(); bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=2.0)
bm.to_mesh(me); bm.free()
mat = bpy.data.materials.new("User Paint"); mat.diffuse_color = (0.1, 0.6, 0.2, 1.0); me.materials.append(mat)
wall = bpy.data.objects.new("Wall", me); wall.rotation_euler = (1.5708, 0, 0); screens.objects.link(wall)
lamp = bpy.data.objects.new("Lamp", bpy.data.lights.new("Lamp", "POINT")); lamp.location = (0, -2, 2)
lights.objects.link(lamp)
cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam")); cam.location = (0, -8, 0)
cam.rotation_euler = (1.5708, 0, 0); cams.objects.link(cam); scene.camera = cam
st = scene.msvfx
st.role_screens, st.role_lights, st.role_camera = screens, lights, cams
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
'''


def test_cli_render_with_users_blend(track):
    """``--blend``: the user's role collections are driven (no starter stage), the .blend on disk is
    left untouched, and the render has the track's audio."""
    d, doc = track
    blend = d / "user.blend"
    proc = subprocess.run([sys.executable, "-c", BLEND_SETUP, str(blend)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and blend.is_file(), proc.stderr[-3000:]
    before = sha256_file(blend)
    out = d / "blend.mp4"
    proc = subprocess.run([MAINSTAGE, "render", str(d / "set.timeline.json"), "-o", str(out), "--blend", str(blend),
                           "--engine", "workbench", "--resolution", "160x90", "--from", "60", "--to", "61", "-q"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("scene:")][-1]
    assert "starter stage" not in line and "screens 1" in line and "lights 1" in line and "camera 1" in line, line
    s = _streams(out)
    assert s["video"]["codec_name"] == "h264" and s["audio"]["codec_name"] == "aac"
    assert sha256_file(blend) == before
    assert not list(d.glob("user.blend?*")), "no backup or temp file left beside the user's .blend"
    # a missing .blend: one line, exit 1, nothing written
    bad = subprocess.run([MAINSTAGE, "render", str(d / "set.timeline.json"), "-o", str(d / "nb.mp4"), "--blend",
                          str(d / "nope.blend")], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "nope.blend" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert not (d / "nb.mp4").exists()
