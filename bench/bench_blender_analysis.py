"""Benchmark: analysing a 5-minute track inside Blender through the installed extension.

Renders a 5-minute SynthHouse track, builds the extension zip, and times
  baseline  - core's analyze_track() called directly in this Python (same code, no Blender);
  blender   - the "Analyze Track" operator in a clean bpy process with the installed zip,
              from the click until the timer has stored the timeline and synced the scene;
  external  - the same with the bare zip and this Python as the external interpreter.
Also reports the longest timer callback while the analysis runs (UI responsiveness) and
the time to apply the result to the scene. Prints ratios against the baseline.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
from blender_site import build_zip, isolated_site  # noqa: E402  (shared with the Blender tests)

SCENARIO = r'''
import os, sys, time, json
sys.path.append(os.environ["MSVFX_SITE"])
import bpy
bpy.ops.extensions.package_install_files(filepath=os.environ["ZIP"], repo="user_default", enable_on_install=True)
addon = sys.modules["bl_ext.user_default.mainstage_vfx"]
if os.environ.get("PYTHON_EXT"):
    addon.preferences.get().external_python = os.environ["PYTHON_EXT"]
    addon.deps.external_python_problem(os.environ["PYTHON_EXT"])  # the interpreter check is cached after the first use
st = bpy.context.scene.msvfx
st.audio_path = os.environ["TRACK"]
drain = addon.jobs.drain
t0 = time.perf_counter()
bpy.ops.msvfx.analyze_track()
longest = 0.0
last = 0.0
while bpy.app.timers.is_registered(drain):
    a = time.perf_counter()
    iv = drain()
    took = time.perf_counter() - a
    if iv is None:
        bpy.app.timers.unregister(drain)
        last = took
        break
    longest = max(longest, took)
    time.sleep(iv)
total = time.perf_counter() - t0
assert st.has_timeline and not st.last_error, st.last_error
print("RESULT " + json.dumps({"total_s": total, "longest_tick_s": longest, "apply_s": last, "bars": st.n_bars,
                              "markers": len(st.markers)}))
'''


def run_blender(site, zip_path, track, home, python_ext=""):
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "BLENDER_USER_RESOURCES": str(home / "b"),
           "MSVFX_SITE": str(site), "ZIP": str(zip_path), "TRACK": str(track), "PYTHON_EXT": python_ext}
    proc = subprocess.run([sys.executable, "-I", "-S", "-c", SCENARIO], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"Blender run failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[7:])


def main():
    from mainstage.core.analysis.track import analyze_track
    from mainstage.training.synthhouse import render_track, write_track

    tmp = Path(tempfile.mkdtemp(prefix="msvfx-bench-"))
    track = tmp / "five_minutes.wav"
    t = time.perf_counter()
    write_track(render_track("Progressive House:0.6,Future House:0.4", seed=5, duration_s=300), track)
    print(f"rendered {track.name} in {time.perf_counter() - t:.1f} s")
    full = build_zip(tmp / "dist", tmp / "stage")
    bare = build_zip(tmp / "dist", tmp / "stage", "--bare")
    site = isolated_site(tmp / "site")

    t = time.perf_counter()
    doc = analyze_track(str(track))
    base = time.perf_counter() - t
    dur = doc["track"]["duration_s"]
    print(f"track: {dur:.1f} s, {len(doc['downbeats'])} bars, {len(doc['drops'])} drops, "
          f"genres {'yes' if doc['genre_summary'] else 'no'}")
    inside = run_blender(site, full, track, tmp / "home1")
    ext = run_blender(site, bare, track, tmp / "home2", python_ext=sys.executable)
    print(f"baseline  analyze_track() in this Python : {base:6.2f} s")
    print(f"blender   Analyze Track, installed zip   : {inside['total_s']:6.2f} s  ratio {inside['total_s'] / base:5.2f}")
    print(f"external  Analyze Track, bare + ext. Py  : {ext['total_s']:6.2f} s  ratio {ext['total_s'] / base:5.2f}")
    print(f"longest timer tick while running         : {inside['longest_tick_s'] * 1000:6.2f} ms")
    print(f"apply result (store, strip, markers)     : {inside['apply_s'] * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
