"""Apply and Clear: drive the scene's roles with the planned choreography.

:func:`apply_show` plans the keyframes (:mod:`..show.plan`, pure numpy) and writes them in bulk
(:mod:`.keys`) onto the objects of the role collections and the add-on's own materials and
world. :func:`clear_show` removes exactly what Apply made. Apply first clears, so Apply
twice gives the same scene as Apply once.

What each role gets:

* **Lights** (light data of the objects): ``energy`` (base, beat/drop reactions, strobe),
  ``color``, ``spot_size`` for spots.
* **Screens / Pulse / Lasers**: the add-on's material ``MS Screens`` / ``MS Pulse`` /
  ``MS Lasers`` (on the user's objects through object-linked material slots, restored on
  Clear): emission colour and strength, and the viewport colour (what Workbench shows)
  as colour x brightness. Pulse objects also pulse ``delta_scale``; lasers fan out with
  ``delta_rotation_euler`` (``spread``).
* **Beams** (starter stage): the visible shafts under the spots take the lights' colour,
  their energy as brightness (material ``MS Beams``) and the spot size as width.
* **Camera**: ``delta_location`` (shake), the lens (punch-in) and, for the starter
  stage's camera, the orbit pivot's rotation.
* **World**: the user's own world is never replaced: the Strength of the Background node
  feeding its output is keyed (restored on Clear); a scene without a world (or with the
  starter stage's) gets the add-on's world ``MS World`` (background colour and strength,
  volumetric haze density and colour).

Relative drive (``scene.msvfx.drive_mode``, the default): a user's light keeps its own power,
colour and cone, a user's camera its lens, a user's world its strength; the looks modulate
them (:mod:`..show.relative`). Absolute: the looks' values as planned. The starter stage's
own objects are always absolute.

Delta transforms are used so the user's own location/scale/rotation keys stay untouched.
"""
from __future__ import annotations

import time

import bpy
import numpy as np

from ..show.channel import INTERP, Channel, make_channel
from ..show import relative
from ..show.plan import plan_show
from . import inputs, keys, stage

SLOTS_TAG = "msvfx_slots"
ADDED_SLOT_TAG = "msvfx_added_slot"
MATERIAL_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT"}
#: World volume density (per metre) at a look's haze_density of 1.
HAZE_SCALE = 0.08
#: Brightest viewport (Workbench) color the show keys: white palette moments stay below the
#: display's clipping point (at 1.0 whole frames of the Workbench preview clipped).
VIEWPORT_MAX = 0.85
#: Emission strength of a beam at the show's typical light level.
BEAM_STRENGTH = 2.0


def _fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def _write(w: keys.KeyWriter, id_, path: str, ch: Channel, comps=None, values=None):
    vals = ch.values if values is None else values
    if vals.ndim == 1:
        w.write(id_, path, 0, ch.frames, vals, ch.interp, ch.easing)
        return
    for i in (comps if comps is not None else range(vals.shape[1])):
        w.write(id_, path, i, ch.frames, vals[:, i], ch.interp, ch.easing)


def _write_index(w, id_, path, index, ch, values=None):
    w.write(id_, path, index, ch.frames, ch.values if values is None else values, ch.interp, ch.easing)


def _override_materials(ob, mat) -> None:
    """Show ``mat`` on a user's object through object-linked slots (restorable)."""
    if ob.type not in MATERIAL_TYPES or ob.data is None:
        return
    if stage.is_owned(ob):
        if mat.name not in [m.name for m in ob.data.materials if m]:
            ob.data.materials.clear()
            ob.data.materials.append(mat)
        return
    if SLOTS_TAG not in ob:
        if len(ob.material_slots) == 0:
            ob.data.materials.append(None)
            ob[ADDED_SLOT_TAG] = True
        ob[SLOTS_TAG] = ";".join(s.link for s in ob.material_slots)
    for s in ob.material_slots:
        s.link = "OBJECT"
        s.material = mat


def restore_materials() -> int:
    """Give every overridden object its own material slots back; returns objects restored."""
    n = 0
    for ob in bpy.data.objects:
        if SLOTS_TAG not in ob:
            continue
        links = ob[SLOTS_TAG].split(";")
        for s, link in zip(ob.material_slots, links):
            s.material = None  # clears the object-level material only
            s.link = link
        if ob.get(ADDED_SLOT_TAG) and ob.data is not None and len(ob.data.materials):
            ob.data.materials.pop()
        for tag in (SLOTS_TAG, ADDED_SLOT_TAG):
            if tag in ob:
                del ob[tag]
        n += 1
    return n


def clear_show(scene, keep_stage: bool = True) -> dict:
    """Remove the add-on's keyframes, material overrides, world (and the starter stage unless kept).

    Returns
    -------
    dict with ``fcurves`` and ``objects`` removed.
    """
    n_fc = keys.remove_owned_fcurves()
    n_fc += inputs.clear_music_values(scene)["fcurves"]
    restore_materials()
    n_obj = 0 if keep_stage else stage.remove_stage(scene)
    if not keep_stage or stage.stage_collection(scene) is None:
        stage.remove_owned_materials_and_world(scene)
        from .render import remove_glow
        remove_glow(scene)
    return {"fcurves": n_fc, "objects": n_obj}


def _material_brightness(em: np.ndarray, ref: float) -> np.ndarray:
    return np.clip(0.75 * em / max(ref, 1e-3), 0.04, VIEWPORT_MAX)


def _interp_rows(frames_from, values, frames_to):
    if values.ndim == 1:
        return np.interp(frames_to, frames_from, values)
    return np.stack([np.interp(frames_to, frames_from, values[:, i]) for i in range(values.shape[1])], axis=1)


def apply_show(scene, doc: dict, mapping: dict, looks: dict[str, dict]) -> dict:
    """Plan and write the show for ``scene`` (replacing a previous Apply).

    Parameters
    ----------
    scene : bpy.types.Scene
        Roles come from ``scene.msvfx.role_*`` collections; the World is always driven.
        ``scene.msvfx.drive_mode`` RELATIVE modulates the user's own lights, cameras and world
        from their own values (:mod:`..show.relative`); the starter stage is always absolute.
    doc, mapping, looks
        A validated timeline, genre mapping and ``{id: look}``.

    Returns
    -------
    dict
        ``keys``, ``fcurves``, ``plan_s``, ``write_s``, ``skipped`` (user curves left alone),
        ``roles`` (objects per role), ``looks``, ``mode`` (``scene.msvfx.drive_mode``) and
        ``flash`` (:attr:`..show.plan.Plan.flash`).
    """
    t0 = time.perf_counter()
    st = scene.msvfx
    plan = plan_show(doc, mapping, looks, _fps(scene), scene.frame_start, flash_cap=st.flash_cap,
                     traits=st.trait_shaping)
    t1 = time.perf_counter()
    clear_show(scene, keep_stage=True)
    w = keys.KeyWriter()
    ch = plan.channels
    roles = {r: stage.role_objects(scene, r) for r in stage.ROLE_PROPS}
    rel = st.drive_mode == "RELATIVE"  # the user's own objects; the starter stage is always absolute

    # lights
    seen = set()
    for ob in roles["lights"]:
        if ob.type != "LIGHT" or ob.data.as_pointer() in seen:
            continue
        seen.add(ob.data.as_pointer())
        if rel and not _owned(ob):
            _write_user_light(w, ob.data, plan, st.palette_tint)
            continue
        _write(w, ob.data, "energy", ch["lights.energy"])
        _write(w, ob.data, "color", ch["lights.color"])
        if ob.data.type == "SPOT":
            _write(w, ob.data, "spot_size", ch["lights.spot_size"])

    # visible beams of the starter stage's spots: colour of the lights, brightness from their
    # energy (relative to the show's typical level), width from the spot size
    beams = stage.beam_objects(scene)
    if beams:
        bmat = stage.beam_material()
        en, lc = ch["lights.energy"], ch["lights.color"]
        F = np.union1d(en.frames, lc.frames)
        ref = max(float(np.percentile(en.values, 90)), 1e-3)
        level = np.clip(np.interp(F, en.frames, en.values) / ref, 0.0, 1.5)
        rgb = _interp_rows(lc.frames, lc.values, F)
        interp = np.full(len(F), INTERP["linear"])
        on_en = np.isin(F, en.frames)
        interp[on_en] = en.interp[np.searchsorted(en.frames, F[on_en])]
        col_path, str_path = stage.beam_paths(bmat)
        _write(w, bmat.node_tree, col_path, lc, comps=(0, 1, 2))
        _write(w, bmat.node_tree, str_path, make_channel(F, level * BEAM_STRENGTH, interp))
        _write(w, bmat, "diffuse_color", make_channel(F, np.clip(rgb * level[:, None], 0.0, VIEWPORT_MAX), interp),
               comps=(0, 1, 2))
        ss = ch["lights.spot_size"]
        width = np.tan(0.5 * ss.values) / np.tan(0.5 * stage.BEAM_SPOT_SIZE)
        for ob in beams:
            for i in (0, 1):
                _write_index(w, ob, "delta_scale", i, ss, values=width)

    # emissive materials
    for role in ("screens", "pulse", "lasers"):
        mat = stage.role_material(role)
        stage.set_material_static(mat, plan.static[role])
        for ob in roles[role]:
            _override_materials(ob, mat)
        col_path, str_path = stage.emission_paths(mat)
        em, col = ch[f"{role}.emission_strength"], ch[f"{role}.color"]
        _write(w, mat.node_tree, str_path, em)
        _write(w, mat.node_tree, col_path, col, comps=(0, 1, 2))
        # viewport colour = colour x brightness, keyed on the union of both channels' frames
        F = np.union1d(em.frames, col.frames)
        E = np.interp(F, em.frames, em.values)
        rgb = _interp_rows(col.frames, col.values, F) * _material_brightness(E, plan.static[role]["emission_strength"])[:, None]
        interp = np.full(len(F), INTERP["linear"])
        on_em = np.isin(F, em.frames)
        interp[on_em] = em.interp[np.searchsorted(em.frames, F[on_em])]
        vis = make_channel(F, rgb, interp)
        _write(w, mat, "diffuse_color", vis, comps=(0, 1, 2))
    floor = stage.role_material("floor") if bpy.data.materials.get("MS Floor") else None
    if floor is not None:
        stage.set_material_static(floor, plan.static["floor"])

    # object transforms (delta channels, so the user's own transform keys stay)
    for ob in roles["pulse"]:
        _write(w, ob, "delta_scale", ch["pulse.scale"], values=np.repeat(ch["pulse.scale"].values[:, None], 3, 1))
    las = roles["lasers"]
    spread = ch["lasers.spread"]
    for i, ob in enumerate(las):
        fan = float(ob.get("msvfx_fan", (i - (len(las) - 1) / 2) / max(1, (len(las) - 1) / 2)))
        _write_index(w, ob, "delta_rotation_euler", 2, spread, values=(spread.values - 1.0) * fan * 0.35)

    # camera
    seen = set()
    for ob in roles["camera"]:
        if ob.type != "CAMERA":
            continue
        _write(w, ob, "delta_location", ch["camera.shake"])
        if ob.data.as_pointer() not in seen:
            seen.add(ob.data.as_pointer())
            lens = ch["camera.lens"]
            if rel and not _owned(ob):  # the user's framing, with the looks' punch-ins
                _write(w, ob.data, "lens", lens,
                       values=relative.shape(ob.data.lens, lens.values, plan.base["camera.lens"], 1.0, 5000.0))
            else:
                _write(w, ob.data, "lens", lens)
        pivot = ob.parent
        if pivot is not None and stage.is_owned(pivot) and pivot.type == "EMPTY" and pivot.as_pointer() not in seen:
            seen.add(pivot.as_pointer())
            _write_index(w, pivot, "rotation_euler", 2, ch["camera.orbit"])

    # world: the user's own is never replaced (its background is modulated); a scene without
    # one, or with the starter stage's, gets the show's world
    if scene.world is not None and not stage.is_owned(scene.world):
        _write_user_world(w, scene.world, plan, rel)
    else:
        _write_show_world(w, scene, plan)
    t2 = time.perf_counter()
    return {"keys": w.n_keys, "fcurves": w.n_fcurves, "plan_s": t1 - t0, "write_s": t2 - t1,
            "skipped": w.skipped, "roles": {r: len(v) for r, v in roles.items()}, "looks": plan.look_ids,
            "mode": st.drive_mode, "flash": plan.flash}


def _owned(ob) -> bool:
    """Whether an object (or its data) is the starter stage's: always driven with absolute values."""
    return stage.is_owned(ob) or (ob.data is not None and stage.is_owned(ob.data))


def _write_user_light(w: keys.KeyWriter, light, plan, tint: float) -> None:
    """A user's light, relative: its own power scaled, its color tinted, its cone with the reactions."""
    ch = plan.channels
    en, col = ch["lights.energy"], ch["lights.color"]
    _write(w, light, "energy", en, values=relative.level(light.energy, en.values, plan.reference["lights.energy"]))
    _write(w, light, "color", col, values=relative.tint(tuple(light.color), col.values, tint))
    if light.type == "SPOT":
        ss = ch["lights.spot_size"]
        size = relative.shape(light.spot_size, ss.values, plan.base["lights.spot_size"], np.radians(1.0), np.pi)
        _write(w, light, "spot_size", ss, values=size)


def _background(world):
    """The Background node feeding the world's active output (None when there is none)."""
    nt = world.node_tree
    if nt is None:
        return None
    outs = [n for n in nt.nodes if n.type == "OUTPUT_WORLD"]
    out = next((n for n in outs if n.is_active_output), outs[0] if outs else None)
    if out is None or not out.inputs["Surface"].is_linked:
        return None
    node = out.inputs["Surface"].links[0].from_node
    return node if node.type == "BACKGROUND" else None


def _write_user_world(w: keys.KeyWriter, world, plan, rel: bool) -> None:
    """The user's world: its Background strength (relative: scaled from its own) and, absolute, color.

    Only unlinked inputs of a Background node feeding the output are keyed (restored on Clear);
    a world without one is left alone.
    """
    bg = _background(world)
    if bg is None:
        return
    ch = plan.channels
    ws, s_in = ch["world.strength"], bg.inputs["Strength"]
    if not s_in.is_linked:
        vals = relative.level(s_in.default_value, ws.values, plan.reference["world.strength"]) if rel else None
        _write(w, world.node_tree, s_in.path_from_id("default_value"), ws, values=vals)
    c_in = bg.inputs["Color"]
    if not rel and not c_in.is_linked:
        _write(w, world.node_tree, c_in.path_from_id("default_value"), ch["world.color"], comps=(0, 1, 2))


def _write_show_world(w: keys.KeyWriter, scene, plan) -> None:
    """The show's own world ``MS World`` (background, haze, viewport color), absolute."""
    ch = plan.channels
    world = stage.show_world()
    scene.world = world
    paths = stage.world_paths(world)
    _write(w, world.node_tree, paths["color"], ch["world.color"], comps=(0, 1, 2))
    _write(w, world.node_tree, paths["strength"], ch["world.strength"])
    hz = ch["world.haze_density"]
    _write(w, world.node_tree, paths["haze_density"], hz, values=hz.values * HAZE_SCALE)
    _write(w, world.node_tree, paths["haze_color"], ch["world.haze_color"], comps=(0, 1, 2))
    wc, ws = ch["world.color"], ch["world.strength"]
    F = np.union1d(wc.frames, ws.frames)
    vis = _interp_rows(wc.frames, wc.values, F) * np.clip(np.interp(F, ws.frames, ws.values), 0.0, 4.0)[:, None] * 4.0
    _write(w, world, "color", make_channel(F, np.clip(vis, 0.0, VIEWPORT_MAX), np.full(len(F), INTERP["linear"])))


def scene_inputs(scene) -> tuple[dict, dict, dict]:
    """(timeline, mapping, looks) stored in the scene, validated.

    Raises
    ------
    ValueError
        With a one-line message when there is no timeline or the mapping names a missing look.
    """
    from . import presets_io, storage
    st = scene.msvfx
    doc = storage.stored_timeline(scene)
    if doc is None:
        raise ValueError("no timeline: analyze a track or load a timeline first")
    presets_io.ensure_library(st)
    looks = {lk.name: presets_io.look_to_dict(lk) for lk in st.looks}
    mapping = presets_io.validate("mapping", presets_io.mapping_to_dict(st), "genre mapping", list(looks))
    return doc, mapping, looks
