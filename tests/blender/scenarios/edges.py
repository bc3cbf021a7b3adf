"""Sharp edges in a clean Blender (installed zip): every operator has the poll() it needs, every
property a one-line tooltip, no British spellings; Render Video fails clearly when nothing would
be written and leaves the render settings as they were; a frame-rate change after the analysis
re-syncs the markers and frame end; Clear Analysis restores the frame range and sync mode; the
add-on's action names; saving prints no path warning."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import PACKAGE, bpy, install, result  # noqa: E402

import ast  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import re  # noqa: E402
import tempfile  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
render = __import__(PACKAGE + ".scene.render", fromlist=["render"])
work = os.environ["MSVFX_WORK"]
timeline_path = os.environ["MSVFX_TIMELINE"]
doc = json.load(open(timeline_path))
scene = bpy.context.scene
st = scene.msvfx
out = {}
BRITISH = re.compile(r"\b(analys(e|es|ed|ing)|colour\w*|normalis\w*|centre|behaviour)\b", re.IGNORECASE)

# --- operators: the poll() each has, and what it says in an empty scene (the pytest side judges)
classes = addon._classes()
ops = [c for c in classes if issubclass(c, bpy.types.Operator)]
polls = {}
for cls in ops:
    name = cls.__name__
    assert re.fullmatch(r"MSVFX_OT_[a-z_]+", name), name
    op = getattr(bpy.ops.msvfx, cls.bl_idname.split(".")[1])
    rec = {"has_poll": "poll" in cls.__dict__, "passes": op.poll(), "message": None}
    if not rec["passes"]:
        try:
            op()
            rec["message"] = "ran"
        except RuntimeError as exc:
            rec["message"] = str(exc)
    polls[name] = rec
out["polls"] = polls

# --- properties and operator tooltips: one line, no British spelling
problems = []


def check_text(where, text, need=True):
    if need and not text:
        problems.append(f"{where}: no description")
    if "\n" in text:
        problems.append(f"{where}: newline in {text!r}")
    if BRITISH.search(text):
        problems.append(f"{where}: British spelling in {text!r}")


def check_rna(owner, rna, base_props):
    for p in rna.properties:
        if p.identifier in base_props:
            continue
        where = f"{owner}.{p.identifier}"
        check_text(where, p.description)
        check_text(where + " (name)", p.name, need=False)
        if p.type == "ENUM":
            for item in p.enum_items:
                check_text(f"{where}[{item.identifier}]", item.description, need=False)
                check_text(f"{where}[{item.identifier}] (name)", item.name, need=False)


n_props = 0
for cls in classes:
    if issubclass(cls, bpy.types.Operator):
        rna = getattr(bpy.ops.msvfx, cls.bl_idname.split(".")[1]).get_rna_type()
        check_text(cls.__name__ + " (tooltip)", rna.description)
        check_text(cls.__name__ + " (label)", rna.name)
        check_rna(cls.__name__, rna, {"rna_type"})
        n_props += len(rna.properties) - 1
    elif issubclass(cls, (bpy.types.PropertyGroup, bpy.types.AddonPreferences)):
        base = bpy.types.PropertyGroup if issubclass(cls, bpy.types.PropertyGroup) else bpy.types.AddonPreferences
        check_rna(cls.__name__, cls.bl_rna, set(base.bl_rna.properties.keys()))
        n_props += len(cls.bl_rna.properties)
    elif issubclass(cls, bpy.types.Panel):
        check_text(cls.__name__ + " (label)", cls.bl_label)
out["n_props"] = n_props

# every string literal in the add-on's own code (docstrings of helpers aside) in US English
root = os.path.dirname(addon.__file__)
n_strings = 0
for dirpath, dirnames, filenames in os.walk(root):
    if os.path.relpath(dirpath, root).split(os.sep)[0] in ("core", "wheels"):
        continue  # the vendored runtime and the bundled libraries
    for fn in filenames:
        if not fn.endswith(".py"):
            continue
        path = os.path.join(dirpath, fn)
        with open(path, encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        docs = set()
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) and node.body:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    if not (isinstance(node, ast.ClassDef) and node.name.startswith("MSVFX_")):
                        docs.add(id(first.value))  # helpers' docstrings; class docstrings are tooltips
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
                n_strings += 1
                if BRITISH.search(node.value):
                    problems.append(f"{os.path.relpath(path, root)}:{node.lineno}: {node.value[:60]!r}")
out["n_strings"] = n_strings
out["text_problems"] = problems

# --- the user's scene before the analysis
scene.render.fps, scene.render.fps_base = 24, 1.0
scene.frame_start, scene.frame_end = 1, 123
scene.sync_mode = "FRAME_DROP"
before_sync = (scene.frame_start, scene.frame_end, scene.sync_mode)
bpy.ops.msvfx.load_timeline(filepath=timeline_path)
assert st.has_timeline and st.strip_name, "timeline or audio not linked"
out["synced"] = {"fps": st.sync_fps, "frame_end": scene.frame_end, "sync_mode": scene.sync_mode}
bpy.ops.msvfx.presets_reset()
build = bpy.ops.msvfx.build_stage
build(scene_mode="HERE") if "scene_mode" in build.get_rna_type().properties else build()
bpy.ops.msvfx.apply_show()
out["owned_actions"] = sorted(a.name for a in bpy.data.actions if a.get("msvfx_owned"))
out["all_actions"] = sorted(a.name for a in bpy.data.actions)
# every operator that needed a timeline, stage or look passes its poll now (but the job-bound ones)
out["poll_after"] = {c.__name__: getattr(bpy.ops.msvfx, c.bl_idname.split(".")[1]).poll() for c in ops}


# --- Render Video on an unsaved file: an error, no file, render settings unchanged
def settings():
    """The render settings Render Video must leave as the user had them."""
    r, ee, cy = scene.render, scene.eevee, scene.cycles
    im, ff = r.image_settings, r.ffmpeg
    sh = scene.display.shading
    return {
        "engine": r.engine, "res": (r.resolution_x, r.resolution_y, r.resolution_percentage),
        "frames": (scene.frame_start, scene.frame_end), "media_type": getattr(im, "media_type", None),
        "file_format": im.file_format, "filepath": r.filepath, "ffmpeg": (ff.format, ff.codec, ff.audio_codec),
        "use_file_extension": r.use_file_extension, "use_compositing": r.use_compositing,
        "use_sequencer": r.use_sequencer,
        "compositor": scene.compositing_node_group.name if scene.compositing_node_group else None,
        "eevee_samples": ee.taa_render_samples, "cycles_samples": cy.samples, "denoise": cy.use_denoising,
        "workbench": (sh.light, sh.color_type, sh.background_type, scene.display.render_aa),
        "view_transform": scene.view_settings.view_transform,
    }


scene.render.engine = "BLENDER_EEVEE"
scene.eevee.taa_render_samples = 64
scene.cycles.samples = 512
scene.cycles.use_denoising = False
scene.render.resolution_x, scene.render.resolution_y = 64, 36
scene.render.filepath = "//frames/"
st.render_engine = "WORKBENCH"
user = settings()
assert not bpy.data.filepath
unsaved = {}
for label, path in (("default", "//mainstage.mp4"), ("empty", ""), ("relative", "video.mp4"), ("folder", work)):
    st.render_path = path
    try:
        bpy.ops.msvfx.render_video()
        unsaved[label] = "ran"
    except RuntimeError as exc:
        unsaved[label] = str(exc).strip()
out["unsaved_errors"] = unsaved
out["unsaved_settings_same"] = settings() == user
out["unsaved_files"] = sorted(f for f in os.listdir(os.getcwd()) if f.endswith(".mp4"))
# the checks also run when a script calls the operator's execute without poll (the operator's _prepare)
st.render_path = "//mainstage.mp4"
out["render_problem"] = addon.ui.ops_show.render_problem(bpy.context)

# --- frame rate 24 -> 30 after the analysis: markers and frame end follow, the show is out of date
drop = next(s for s in doc["sections"] if s["label"] == "drop")
dur = float(doc["track"]["duration_s"])


def drop_marker():
    return next(m.frame for m in scene.timeline_markers if m.name == "[MS] DROP 1")


out["fps24"] = {"frame_end": scene.frame_end, "drop": drop_marker(), "expected_end": math.ceil(dur * 24),
                "expected_drop": 1 + drop["start_s"] * 24}
scene.render.fps = 30
bpy.context.view_layer.update()  # a depsgraph update, as any change in the UI makes
out["fps30"] = {"frame_end": scene.frame_end, "drop": drop_marker(), "expected_end": math.ceil(dur * 30),
                "expected_drop": 1 + drop["start_s"] * 30, "sync_fps": st.sync_fps, "stale": st.show_stale,
                "info": st.last_info, "owned_markers": len(st.markers),
                "user_markers": sorted(m.name for m in scene.timeline_markers if not m.name.startswith("[MS] "))}
scene.render.fps, scene.render.fps_base = 30, 1.001
bpy.context.view_layer.update()
out["fps2997"] = {"drop": drop_marker(), "expected_drop": 1 + drop["start_s"] * 30 / 1.001}
scene.render.fps, scene.render.fps_base = 24, 1.0
bpy.context.view_layer.update()
out["fps_back"] = {"frame_end": scene.frame_end, "drop": drop_marker()}
bpy.ops.msvfx.apply_show()

# --- saving prints no "does not support blend relative" warning; the audio path becomes relative
assert os.path.isabs(st.audio_path), st.audio_path  # an unsaved file keeps it absolute until the first save
proj = os.path.join(work, "project")
os.makedirs(os.path.join(proj, "sub"), exist_ok=True)
log = tempfile.TemporaryFile(mode="w+")
saved_fds = os.dup(1), os.dup(2)
sys.stdout.flush()
sys.stderr.flush()
os.dup2(log.fileno(), 1)
os.dup2(log.fileno(), 2)
try:
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(proj, "edges.blend"))
    first_rel = st.audio_path
    bpy.ops.wm.save_as_mainfile(filepath=os.path.join(proj, "sub", "edges2.blend"))
    sys.stdout.flush()
    sys.stderr.flush()
finally:
    os.dup2(saved_fds[0], 1)
    os.dup2(saved_fds[1], 2)
log.seek(0)
save_output = log.read()
out["save_output"] = save_output[-2000:]
out["audio_rel"] = [first_rel, st.audio_path]
out["audio_resolves"] = os.path.isfile(bpy.path.abspath(st.audio_path))
scene = bpy.context.scene
st = scene.msvfx

# --- a small successful Render Video: the settings are identical before and after
scene.frame_start, scene.frame_end = 1, 6
st.render_path = "//edges.mp4"
user = settings()
during = {}


def _pre(*_args):
    during.setdefault("compositor", scene.compositing_node_group.name if scene.compositing_node_group else None)
    during.setdefault("engine", scene.render.engine)
    during.setdefault("use_compositing", scene.render.use_compositing)


bpy.app.handlers.render_pre.append(_pre)
try:
    ret = bpy.ops.msvfx.render_video()
finally:
    bpy.app.handlers.render_pre.remove(_pre)
video = bpy.path.abspath("//edges.mp4")
out["render"] = {"ret": sorted(ret), "during": during, "same": settings() == user, "after": settings(), "user": user,
                 "size": os.path.getsize(video) if os.path.isfile(video) else 0, "info": st.show_info,
                 "video": video, "glow_left": "MS Glow" in bpy.data.node_groups}

# --- the UI's render job (Blender's own, non-blocking in a window): settings restored when it ends
user = settings()
snap = render.snapshot(scene)
render.configure(scene, bpy.path.abspath("//job.mp4"), "WORKBENCH", glow=True, quality="SCENE")
ended = []
finish = render.start_render_job(scene, bpy.path.abspath("//job.mp4"), snap,
                                 lambda sc, outcome, size: ended.append((outcome, size)))
bpy.app.timers.unregister(finish)  # headless Blender has no event loop: run the timer here
while finish() is not None:
    pass
out["job"] = {"ended": ended, "same": settings() == user}

# --- a preview quality only when asked, and only for that render
scene.render.engine = "CYCLES"
snap = render.snapshot(scene)
render.configure(scene, os.path.join(work, "unused.mp4"), "CYCLES", quality="SCENE")
scene_quality = scene.cycles.samples
render.restore(scene, snap)
render.configure(scene, os.path.join(work, "unused.mp4"), "CYCLES", quality="PREVIEW")
preview_quality = scene.cycles.samples
render.restore(scene, snap)
out["quality"] = {"scene": scene_quality, "preview": preview_quality, "restored": scene.cycles.samples,
                  "engine": scene.render.engine, "default": st.bl_rna.properties["render_quality"].default}
scene.render.engine = "BLENDER_EEVEE"

# --- Clear Show, then Clear Analysis: the frame range and sync mode from before the analysis
bpy.ops.msvfx.clear_show(remove_stage=True)
out["stale_after_clear_show"] = st.show_stale
bpy.ops.msvfx.clear_analysis()
out["cleared"] = {"range_mode": [scene.frame_start, scene.frame_end, scene.sync_mode], "before": list(before_sync),
                  "markers": sorted(m.name for m in scene.timeline_markers), "info": st.last_info}
result(**out)
