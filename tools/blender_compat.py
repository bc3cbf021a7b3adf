"""Check the built extension in another Blender release (e.g. 4.2 LTS, before slotted actions).

Run with a Python that has that release's ``bpy`` module::

    python tools/blender_compat.py --zip dist/mainstage_vfx-*.zip --timeline T.json

(``make compat`` builds the zip and a timeline, makes ``.venv-bpy42`` with ``bpy==4.2.*``
and runs this.) In a clean Blender user folder it installs the zip like a user, loads the
timeline, builds the starter stage, applies the looks, and checks: the F-curves are
created through the API that release has (channelbags on 4.4+, ``action.fcurves`` before),
keys land on the beat frames, stills and a short video render with audio, and Clear
leaves nothing of the add-on behind. Prints one JSON line and exits 1 on any failure.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile


def _fcurves(id_):
    ad = id_.animation_data
    if ad is None or ad.action is None:
        return []
    action = ad.action
    if hasattr(action, "layers") and len(action.layers):  # 4.4+: layered, slotted actions
        out = []
        for strip in action.layers[0].strips:
            for bag in strip.channelbags:
                if bag.slot == ad.action_slot:
                    out += list(bag.fcurves)
        return out
    return list(action.fcurves)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--zip", required=True, help="the built extension zip")
    p.add_argument("--timeline", required=True, help="a timeline JSON (its audio next to it)")
    p.add_argument("--out", default=None, help="folder for the stills and video (default: a temp folder)")
    args = p.parse_args(argv)
    home = tempfile.mkdtemp(prefix="msvfx-compat-")
    os.environ["HOME"] = home
    os.environ["BLENDER_USER_RESOURCES"] = os.path.join(home, "blender")
    out_dir = args.out or os.path.join(home, "out")
    os.makedirs(out_dir, exist_ok=True)

    import bpy
    import numpy as np

    res = {"blender": bpy.app.version_string, "checks": {}}
    checks = res["checks"]
    try:
        bpy.ops.extensions.package_install_files(filepath=os.path.abspath(args.zip), repo="user_default",
                                                 enable_on_install=True)
        pkg = "bl_ext.user_default.mainstage_vfx"
        checks["installed"] = pkg in bpy.context.preferences.addons
        addon = sys.modules[pkg]
        scene = bpy.context.scene
        for ob in list(bpy.data.objects):
            bpy.data.objects.remove(ob)
        st = scene.msvfx
        bpy.ops.msvfx.load_timeline(filepath=os.path.abspath(args.timeline))
        checks["timeline_loaded"] = bool(st.has_timeline and st.n_bars > 0)
        checks["sound_strip"] = bool(st.strip_name)  # False in bpy builds without audio (Audaspace)
        bpy.ops.msvfx.build_stage(scene_mode="HERE")  # beside the loaded timeline (no window to switch scenes)
        bpy.ops.msvfx.apply_show()
        spot = bpy.data.lights["MS Spot"]
        curves = {f.data_path: f for f in _fcurves(spot)}
        checks["spot_keyed"] = "energy" in curves and len(curves["energy"].keyframe_points) > 10
        checks["slotted_api"] = hasattr(bpy.types, "ActionSlot")
        # keys on beat frames (the strongest keys of the energy curve are beat hits)
        doc = json.load(open(args.timeline))
        fps = scene.render.fps / scene.render.fps_base
        f = curves["energy"]
        co = np.zeros(2 * len(f.keyframe_points), dtype=np.float32)
        f.keyframe_points.foreach_get("co", co)
        kf = co[0::2]
        beats = np.asarray(doc["beats"])
        drops = np.asarray([[d["start_s"], d["end_s"]] for d in doc.get("drops") or []]).reshape(-1, 2)
        in_drop = ((beats[:, None] >= drops[None, :, 0]) & (beats[:, None] < drops[None, :, 1] - 0.5)).any(axis=1)
        exact = scene.frame_start + beats[in_drop] * fps
        near = np.abs(exact[:, None] - kf[None, :]).min(axis=1) if exact.size else np.zeros(0)
        checks["drop_beats_with_key_frac"] = float(np.mean(near <= 0.5)) if exact.size else 0.0
        # renders: stills and a 1 s video with the audio
        render = sys.modules[pkg + ".render"] if pkg + ".render" in sys.modules else __import__(
            pkg + ".render", fromlist=["render"])
        render.configure(scene, os.path.join(out_dir, "unused.mp4"), "WORKBENCH", (160, 90))
        drop = doc["drops"][0]["start_s"] if doc.get("drops") else doc["track"]["duration_s"] / 2
        a = int(round(scene.frame_start + drop * fps))
        still = render.render_still(scene, a, os.path.join(out_dir, "still.png"))
        checks["still_written"] = os.path.getsize(still) > 1000
        full = (scene.frame_start, scene.frame_end)
        scene.frame_start, scene.frame_end = a, a + int(round(fps)) - 1
        st.render_path = os.path.join(out_dir, "excerpt.mp4")
        st.render_engine = "WORKBENCH"
        bpy.ops.msvfx.render_video()
        checks["video_written"] = os.path.getsize(st.render_path) > 1000
        scene.frame_start, scene.frame_end = full
        bpy.ops.msvfx.clear_show(remove_stage=True)
        left = sorted(id_.name for coll in (bpy.data.objects, bpy.data.materials, bpy.data.worlds, bpy.data.actions,
                                            bpy.data.lights, bpy.data.cameras, bpy.data.collections,
                                            bpy.data.meshes, bpy.data.node_groups)
                      for id_ in coll if id_.get("msvfx_owned"))
        checks["clear_left_nothing"] = left == []
        ok = (checks["installed"] and checks["timeline_loaded"] and checks["spot_keyed"]
              and checks["drop_beats_with_key_frac"] > 0.95 and checks["still_written"] and checks["video_written"]
              and checks["clear_left_nothing"])
        del addon
    except Exception as exc:  # report any failure as one JSON line
        res["error"] = f"{exc.__class__.__name__}: {exc}"
        ok = False
    res["ok"] = bool(ok)
    print("COMPAT " + json.dumps(res))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
