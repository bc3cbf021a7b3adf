"""Headless rendering with the ``bpy`` module: ``mainstage render`` and ``mainstage preview``.

Runs in a Python that has ``bpy`` (the ``blender`` extra) and ``mainstage.core``; the
add-on is registered in-process from this package. Public entry points:

* :func:`render_show` - timeline (+ audio) -> MP4 (H.264 + AAC), used by ``mainstage render``;
* :func:`render_demo` - a preview video, contact sheet and genre-timeline plot, used by
  ``mainstage preview`` (the demo's visual half).
"""
from __future__ import annotations

import contextlib
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.errors import MainstageError
from ..core.timeline import genre_at, load_timeline


def _bpy():
    import bpy
    return bpy


def require_bpy() -> None:
    """Raise a one-line :class:`MainstageError` when Blender's ``bpy`` module is not installed."""
    try:
        import bpy  # noqa: F401
    except ImportError as exc:
        raise MainstageError(f"rendering needs Blender's bpy module ({exc}); "
                             "install the 'blender' extra: pip install 'mainstage-vfx[blender]'") from None


def _publish(path) -> None:
    """Give a finished output the usual permissions (atomic temp files are created 0600)."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def _register():
    """Register the add-on in this bpy process (once)."""
    bpy = _bpy()
    if not hasattr(bpy.types.Scene, "msvfx"):
        from .. import register
        register()


def new_scene(blend: str | None = None, fps: float | None = None):
    """A clean scene (factory settings, or the given .blend) with the add-on registered."""
    bpy = _bpy()
    if blend:
        bpy.ops.wm.open_mainfile(filepath=str(blend), load_ui=False)
    else:
        bpy.ops.wm.read_factory_settings(use_empty=True)
    _register()
    scene = bpy.context.scene
    if fps:
        num = float(fps)
        if abs(num - round(num)) < 1e-6:
            scene.render.fps, scene.render.fps_base = int(round(num)), 1.0
        else:  # e.g. 29.97 = 30 / 1.001
            scene.render.fps = int(math.ceil(num))
            scene.render.fps_base = scene.render.fps / num
    return scene


def prepare_show(scene, doc: dict, audio: str | None, mapping: dict | None = None, build_stage: bool = True,
                 keep_mapping: bool = False) -> dict:
    """Store the timeline in ``scene``, link the audio, build the stage if asked, apply the looks.

    Parameters
    ----------
    keep_mapping : bool
        Keep the scene's own look library and genre mapping (a user's .blend) instead of
        resetting them to the shipped defaults; ``mapping`` still replaces the mapping.

    Returns the :func:`drive.apply_show` summary, plus ``stage_built``.
    """
    from ..scene import drive, presets_io, stage, sync
    st = scene.msvfx
    note = sync.apply_timeline(scene, doc, audio)
    if note:
        print(f"warning: {note}", file=sys.stderr)
    if keep_mapping and len(st.looks):
        presets_io.ensure_library(st)
    else:
        presets_io.reset_to_defaults(st)
    built = False
    if mapping is not None:
        presets_io.mapping_from_dict(st, mapping)
    if build_stage and stage.stage_collection(scene) is None:
        stage.build_stage(scene)
        built = True
    from ..scene import inputs
    doc2, mapping2, looks = drive.scene_inputs(scene)
    with inputs.keeping_groups():  # as Apply Looks: the show, then the music values for the user's drivers
        info = drive.apply_show(scene, doc2, mapping2, looks)
    inputs.bake_music_values(scene, doc2)
    return {**info, "stage_built": built}


@contextlib.contextmanager
def _quiet_blender_output():
    """Silence Blender's per-frame ``Saved: ...`` lines (C-level stdout) during headless renders.

    Our own progress bar writes to stderr, so it stays visible.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _progress_bar(total: int, label: str):
    from tqdm import tqdm
    bar = tqdm(total=total, unit="frame", desc=label, leave=True, dynamic_ncols=True)
    return bar, (lambda done, n: bar.update(done - bar.n))


def render_show(doc: dict, audio: str | None, out: str, *, mapping: dict | None = None, engine: str = "EEVEE",
                resolution: tuple[int, int] = (1280, 720), t_from: float | None = None, t_to: float | None = None,
                blend: str | None = None, fps: float | None = None, progress: bool = True,
                glow: bool = True) -> dict:
    """Render a timeline's show to ``out`` (MP4, H.264 + AAC from ``audio``).

    Parameters
    ----------
    doc : dict
        A validated timeline.
    audio : str or None
        The track; without it the video is silent.
    blend : str, optional
        A .blend whose role collections are used (else the starter stage is built).
    t_from, t_to : float, optional
        Render only this part of the track (seconds).
    glow : bool
        Bloom through the add-on's compositor (not where a ``blend`` has its own compositor).

    Returns
    -------
    dict with ``path``, ``frames``, ``apply`` (summary), ``render_s``.
    """
    from ..scene import render
    from ..scene.sync import time_to_frame
    scene = new_scene(blend, fps)
    info = prepare_show(scene, doc, audio, mapping, build_stage=blend is None or not any(
        getattr(scene.msvfx, p) for p in ("role_lights", "role_pulse", "role_screens", "role_lasers", "role_camera")),
        keep_mapping=blend is not None)
    first, last = scene.frame_start, scene.frame_end
    if t_from is not None:
        first = max(first, int(math.floor(time_to_frame(scene, t_from))))
    if t_to is not None:
        last = min(last, int(math.ceil(time_to_frame(scene, t_to))) - 1)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        tmp = str(tmp)
        if not tmp.endswith(".mp4"):  # keep the container recognisable for Blender's writer
            tmp_mp4 = tmp + ".mp4"
        else:
            tmp_mp4 = tmp
        render.configure(scene, tmp_mp4, engine, resolution, (first, last), glow=glow)
        t0 = time.perf_counter()
        bar, cb = _progress_bar(last - first + 1, "render") if progress else (None, None)
        try:
            with _quiet_blender_output():
                render.render_video(scene, cb)
        finally:
            if bar is not None:
                bar.close()
        if tmp_mp4 != tmp:
            os.replace(tmp_mp4, tmp)
    _publish(out)
    return {"path": str(out), "frames": last - first + 1, "apply": info, "render_s": time.perf_counter() - t0,
            "frame_range": (first, last), "fps": scene.render.fps / scene.render.fps_base}


def demo_window(doc: dict, length_s: float = 24.0) -> tuple[float, float]:
    """A preview window covering a genre change and a drop: ends ~14 s into the first drop whose
    dominant genre differs from the previous section's (else the first drop)."""
    drops = [d["start_s"] for d in doc.get("drops") or []] or \
        [s["start_s"] for s in doc.get("sections") or [] if s["label"] == "drop"]
    dur = float(doc["track"]["duration_s"])
    if not drops:
        return 0.0, min(dur, length_s)
    pick = drops[0]
    if doc.get("genre_windows"):
        for d in drops:
            before = np.argmax(genre_at(doc, max(0.0, d - 30.0)))
            after = np.argmax(genre_at(doc, min(dur - 0.01, d + 8.0)))
            if before != after:
                pick = d
                break
    start = max(0.0, min(pick - (length_s - 14.0), dur - length_s))
    return start, min(dur, start + length_s)


def plot_genres(doc: dict, path: str, window: tuple[float, float] | None = None) -> str:
    """Plot the genre probabilities over time (stacked), sections and drops, to a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dur = float(doc["track"]["duration_s"])
    t = np.linspace(0, dur, 600, endpoint=False)
    probs = genre_at(doc, t) if doc.get("genre_windows") else np.tile(
        np.asarray(doc.get("genre_summary") or [1 / 8] * 8), (len(t), 1))
    colors = ["#FFB347", "#36D6E7", "#D7263D", "#C9A227", "#2B4FBF", "#F5F5F5", "#7CFC00", "#FF6EC7"]
    fig, ax = plt.subplots(figsize=(12, 3.6), dpi=110)
    ax.stackplot(t, probs.T, labels=doc["genres"], colors=colors, alpha=0.9, edgecolor="#333333", linewidth=0.2)
    for s in doc.get("sections") or []:
        ax.axvline(s["start_s"], color="black", lw=0.6, alpha=0.5)
        ax.text(s["start_s"] + 0.5, 1.02, s["label"], fontsize=7, rotation=0, va="bottom")
    for d in doc.get("drops") or []:
        ax.axvspan(d["start_s"], d["end_s"], ymin=0.0, ymax=0.04, color="red")
    if window:
        ax.axvspan(window[0], window[1], color="black", alpha=0.12, label="preview")
    ax.set_xlim(0, dur)
    ax.set_ylim(0, 1.12)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("genre probability")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png")
    plt.close(fig)
    _publish(path)
    return path


def contact_sheet(scene, path: str, n: int = 12, cols: int = 4, size=(320, 180), doc: dict | None = None) -> str:
    """Render ``n`` stills evenly over the track and tile them (with time and section) into a PNG."""
    import tempfile

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..scene import render
    bpy = _bpy()
    r = scene.render
    saved = (r.resolution_x, r.resolution_y, r.resolution_percentage)
    r.resolution_x, r.resolution_y, r.resolution_percentage = size[0], size[1], 100
    fps = r.fps / r.fps_base
    frames = np.linspace(scene.frame_start, scene.frame_end, n + 2)[1:-1].round().astype(int)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 3.2, rows * 2.0), dpi=100)
    with tempfile.TemporaryDirectory() as td:
        for ax, f in zip(np.ravel(axes), frames):
            png = os.path.join(td, f"f{f}.png")
            with _quiet_blender_output():
                render.render_still(scene, int(f), png)
            img = plt.imread(png)
            ax.imshow(img)
            t = (f - scene.frame_start) / fps
            label = ""
            if doc:
                from ..show.grid import Grid
                label = str(Grid(doc, fps, scene.frame_start).label_of([t])[0])
            ax.set_title(f"{int(t // 60)}:{t % 60:04.1f} {label}", fontsize=8, color="#DDDDDD")
            ax.axis("off")
    for ax in np.ravel(axes)[len(frames):]:
        ax.axis("off")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(str(tmp), format="png", facecolor="#111111")
    plt.close(fig)
    _publish(path)
    r.resolution_x, r.resolution_y, r.resolution_percentage = saved
    del bpy
    return path


def render_demo(timeline_path: str, audio_path: str, out_dir: str, *, seconds: float = 24.0,
                resolution: tuple[int, int] = (640, 360), engine: str = "WORKBENCH", fps: float = 24.0) -> dict:
    """The demo's visual half: starter stage + shipped looks, preview video, contact sheet, genre plot.

    Parameters
    ----------
    timeline_path, audio_path : str
        The analyzed mix and its audio.
    out_dir : str
        Folder for ``preview.mp4``, ``contact_sheet.png``, ``genre_timeline.png``.
    seconds : float
        Preview length; the window covers a genre change and a drop (:func:`demo_window`).

    Returns
    -------
    dict ``{"video": path, "contact_sheet": path, "genre_plot": path, "window_s": [a, b],
    "apply": {...}, "render_s": float}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = load_timeline(timeline_path)
    window = demo_window(doc, seconds)
    res = render_show(doc, str(audio_path), str(out / "preview.mp4"), engine=engine, resolution=resolution,
                      t_from=window[0], t_to=window[1], fps=fps)
    bpy = _bpy()
    scene = bpy.context.scene
    scene.frame_start = 1
    from ..scene.sync import set_frame_range
    set_frame_range(scene, float(doc["track"]["duration_s"]))
    sheet = contact_sheet(scene, str(out / "contact_sheet.png"), doc=doc)
    plot = plot_genres(doc, str(out / "genre_timeline.png"), window)
    return {"video": res["path"], "contact_sheet": sheet, "genre_plot": plot, "window_s": list(window),
            "apply": {k: v for k, v in res["apply"].items() if k != "skipped"}, "render_s": res["render_s"]}
