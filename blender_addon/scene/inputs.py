"""Music values for any scene: animated scene custom properties and node groups that read them.

:func:`bake_music_values` writes the channels of :func:`..show.inputs.plan_music_values` as
scene custom properties (``scene["msvfx_energy"]`` ...), each with a UI range and a tooltip,
keyed in bulk with :class:`.keys.KeyWriter` (a slotted action of the scene). They are read:

* in **drivers**: a variable of type Single Property, ID type Scene, path ``["msvfx_energy"]``
  (:func:`add_music_driver` makes one);
* in **shaders**: an Attribute node of type View Layer named ``msvfx_energy`` (Cycles and EEVEE
  look the name up on the view layer, then the scene), or the group :data:`SHADER_GROUP`;
* in **Geometry Nodes**: the group :data:`GEOMETRY_GROUP`, whose outputs are Value nodes
  driven by the active scene's values.

:func:`clear_music_values` removes exactly what the bake made: the properties, their F-curves
(and the scene's action when the add-on made it), and the node groups nobody uses (a group the
user placed in a node tree stays, so their tree keeps its node).
"""
from __future__ import annotations

import contextlib
import time

import bpy

from ..show.inputs import plan_music_values, value_info
from . import keys

#: Scene custom property listing the values the last bake made (``;``-separated names).
VALUES_TAG = "msvfx_values"
GEOMETRY_GROUP = "MS Music Inputs"
SHADER_GROUP = "MS Music Inputs (Shader)"
GROUP_TAG = "msvfx_music_group"


def _fps(scene) -> float:
    return scene.render.fps / scene.render.fps_base


def baked_values(scene) -> list[str]:
    """Names of the music values baked into ``scene`` (empty when none)."""
    return [x for x in str(scene.get(VALUES_TAG, "")).split(";") if x]


def label(name: str) -> str:
    """Socket label of a value: ``msvfx_genre_bass_house`` -> ``Genre Bass House``."""
    return name.removeprefix("msvfx_").replace("_", " ").title()


def _scene_action(scene):
    """Give the scene an action slot of ID type Scene (the key writer only makes typed slots for objects and data)."""
    ad = scene.animation_data
    if ad is None:
        ad = scene.animation_data_create()
        scene[keys.MADE_ANIMDATA] = True
    if ad.action is None:
        name = keys.action_name(scene)
        action = bpy.data.actions.new(name)
        action[keys.OWNED] = True
        ad.action = action
    if hasattr(ad.action, "slots") and getattr(ad, "action_slot", None) is None:
        ad.action_slot = ad.action.slots.new(id_type="SCENE", name=scene.name)


def _make_property(scene, name: str) -> None:
    desc, hi = value_info(name)
    if name not in scene or not isinstance(scene[name], float):
        scene[name] = 0.0
    ui = scene.id_properties_ui(name)
    ui.update(min=0.0, max=hi, soft_min=0.0, soft_max=hi, description=desc, precision=3,
              step=100 if name == "msvfx_section" else 1)


def bake_music_values(scene, doc: dict) -> dict:
    """Write a timeline's music values onto ``scene`` (replacing a previous bake).

    Parameters
    ----------
    scene : bpy.types.Scene
    doc : dict
        A validated timeline.

    Returns
    -------
    dict
        ``values`` (property names), ``keys``, ``fcurves``, ``skipped`` (values the user
        animates, left alone), ``groups`` (node group names) and ``seconds``.
    """
    t0 = time.perf_counter()
    channels = plan_music_values(doc, _fps(scene), scene.frame_start)
    old = set(baked_values(scene))
    _remove_values(scene, [n for n in old if n not in channels])
    for name in channels:
        _make_property(scene, name)
    _scene_action(scene)
    w = keys.KeyWriter()
    for name, ch in channels.items():
        w.write(scene, f'["{name}"]', 0, ch.frames, ch.values, ch.interp, ch.easing)
    names = list(channels)
    scene[VALUES_TAG] = ";".join(names)
    groups = [ensure_geometry_group(names).name, ensure_shader_group(names).name]
    return {"values": names, "keys": w.n_keys, "fcurves": w.n_fcurves, "skipped": w.skipped, "groups": groups,
            "seconds": time.perf_counter() - t0}


def _remove_values(scene, names) -> int:
    """Remove the F-curves and properties of ``names``; returns F-curves removed."""
    import json
    names = [n for n in names if n]
    if not names:
        return 0
    tags = {f'["{n}"]|0' for n in names}
    n_fc = 0
    ad = scene.animation_data
    if ad is not None and ad.action is not None:
        fcurves = keys._fcurves_of(ad.action, getattr(ad, "action_slot", None), create=False)
        for tag in [t for t in keys._registry(scene) if t in tags] if len(fcurves) else ():
            fc = fcurves.find(tag.rsplit("|", 1)[0], index=0)
            if fc is not None:
                fcurves.remove(fc)
                n_fc += 1
    reg = [t for t in keys._registry(scene) if t not in tags]
    orig = {k: v for k, v in json.loads(scene.get(keys.ORIGINAL, "{}")).items() if k not in tags}
    for prop, value in ((keys.REGISTRY, ";".join(reg)), (keys.ORIGINAL, json.dumps(orig) if orig else "")):
        if value:
            scene[prop] = value
        elif prop in scene:
            del scene[prop]
    for n in names:
        if n in scene:
            del scene[n]
    return n_fc


def _drop_scene_action(scene) -> None:
    """Unassign and delete the scene action the add-on made once it holds no F-curves; drop made animation data."""
    ad = scene.animation_data
    if ad is None:
        return
    action = ad.action
    if action is not None and action.get(keys.OWNED):
        fcurves = keys._fcurves_of(action, getattr(ad, "action_slot", None), create=False)
        if len(fcurves) == 0 and keys.REGISTRY not in scene:
            ad.action = None
            if action.users == 0:
                bpy.data.actions.remove(action)
    if scene.get(keys.MADE_ANIMDATA) and ad.action is None and len(ad.drivers) == 0 and len(ad.nla_tracks) == 0:
        del scene[keys.MADE_ANIMDATA]
        scene.animation_data_clear()


_keep_groups = False


@contextlib.contextmanager
def keeping_groups():
    """Within this block :func:`clear_music_values` keeps the node groups (Apply re-bakes at once,
    and groups whose values are unchanged are then reused as they are)."""
    global _keep_groups
    old, _keep_groups = _keep_groups, True
    try:
        yield
    finally:
        _keep_groups = old


def _group_users(ng) -> int:
    return ng.users - (1 if ng.use_fake_user else 0)


def clear_music_values(scene) -> dict:
    """Remove the music values baked into ``scene`` and the node groups nobody uses.

    Returns
    -------
    dict
        ``values`` and ``fcurves`` removed, ``groups`` removed and ``kept_groups`` (in use).
    """
    names = baked_values(scene)
    n_fc = _remove_values(scene, names)
    if VALUES_TAG in scene:
        del scene[VALUES_TAG]
    _drop_scene_action(scene)
    removed, kept = [], []
    still_baked = any(VALUES_TAG in s for s in bpy.data.scenes)
    for ng in [g for g in bpy.data.node_groups if g.get(GROUP_TAG)]:
        if _group_users(ng) > 0 or still_baked or _keep_groups:
            kept.append(ng.name)
        else:
            removed.append(ng.name)
            bpy.data.node_groups.remove(ng)
    return {"values": len(names), "fcurves": n_fc, "groups": removed, "kept_groups": kept}


def _group(name: str, kind: str):
    ng = bpy.data.node_groups.get(name)
    if ng is not None and not ng.get(GROUP_TAG):
        ng = None  # the user's own group of that name: make ours beside it
    if ng is None:
        ng = bpy.data.node_groups.new(name, kind)
        ng[GROUP_TAG] = True
        ng[keys.OWNED] = True
    return ng


def _outputs(ng) -> list[str]:
    return [it.name for it in ng.interface.items_tree if getattr(it, "in_out", "") == "OUTPUT"]


def _rebuild(ng, names, head: list[str]):
    """Clear ``ng``; give it one float output per value after ``head`` sockets. True when rebuilt."""
    want = head + [label(n) for n in names]
    if _outputs(ng) == want and ng.get("msvfx_names") == ";".join(names):
        return False
    ng.nodes.clear()
    ng.interface.clear()
    if ng.animation_data is not None:
        ng.animation_data_clear()
    ng["msvfx_names"] = ";".join(names)
    return True


def _values_group(name: str, tree_type: str, description: str, names, value_socket) -> bpy.types.NodeTree:
    """A node group with one float output per value; ``value_socket(ng, name)`` makes the node
    giving the value and returns its output socket."""
    ng = _group(name, tree_type)
    if not _rebuild(ng, names, []):
        return ng
    ng.description = description
    out = ng.nodes.new("NodeGroupOutput")
    out.location = (400, 0)
    for i, value in enumerate(names):
        desc, _ = value_info(value)
        sock = ng.interface.new_socket(label(value), in_out="OUTPUT", socket_type="NodeSocketFloat")
        sock.description = desc
        src = value_socket(ng, value)
        src.node.name = src.node.label = value
        src.node.location = (0, -60 * i)
        ng.links.new(src, out.inputs[i])
    return ng


def _driven_value(ng, name: str):
    """A Value node whose driver reads ``name`` from the scene being evaluated (Active Scene)."""
    node = ng.nodes.new("ShaderNodeValue")
    drv = node.outputs[0].driver_add("default_value").driver
    drv.type = "AVERAGE"
    var = drv.variables.new()
    var.name = "value"
    var.type = "CONTEXT_PROP"
    var.targets[0].context_property = "ACTIVE_SCENE"
    var.targets[0].data_path = f'["{name}"]'
    return node.outputs[0]


def _view_layer_attribute(ng, name: str):
    """An Attribute node (View Layer) reading ``name``; its Fac output."""
    node = ng.nodes.new("ShaderNodeAttribute")
    node.attribute_type = "VIEW_LAYER"
    node.attribute_name = name
    return node.outputs["Fac"]


def ensure_geometry_group(names) -> bpy.types.NodeTree:
    """The Geometry Nodes group :data:`GEOMETRY_GROUP`: one float output per value (driven Value nodes).

    Each Value node has a driver reading the value from the scene being evaluated (a Context
    Property variable, Active Scene), so the group works in every scene that has baked values.
    """
    return _values_group(GEOMETRY_GROUP, "GeometryNodeTree",
                         "Mainstage music values of the scene being evaluated (bake them in the Show panel)",
                         names, _driven_value)


def ensure_shader_group(names) -> bpy.types.NodeTree:
    """The shader group :data:`SHADER_GROUP`: one float output per value (View Layer Attribute nodes)."""
    return _values_group(SHADER_GROUP, "ShaderNodeTree",
                         "Mainstage music values of the scene being rendered (bake them in the Show panel)",
                         names, _view_layer_attribute)


def add_music_driver(id_, data_path: str, value: str, index: int = -1, expression: str = "", scene=None):
    """Drive ``id_.data_path`` (component ``index``, -1 for a scalar) with a music value.

    Parameters
    ----------
    id_ : bpy.types.ID
        The data-block owning the property (an object, light, material ...).
    data_path : str
        RNA path from ``id_`` (``"energy"``, ``'nodes["Emission"].inputs[1].default_value'``).
    value : str
        A value name, with or without the ``msvfx_`` prefix (``"energy"``, ``"msvfx_drop"``).
    index : int
        Array index of the property, -1 for a scalar.
    expression : str
        Python expression of the variable ``value`` (``"100 * value"``); empty: the value itself
        (an Average driver, which needs no script permission).
    scene : bpy.types.Scene, optional
        The scene holding the values (default: the context's).

    Returns
    -------
    bpy.types.Driver
    """
    name = value if value.startswith("msvfx_") else f"msvfx_{value}"
    fc = id_.driver_add(data_path, index) if index >= 0 else id_.driver_add(data_path)
    drv = fc.driver
    for v in list(drv.variables):
        drv.variables.remove(v)
    var = drv.variables.new()
    var.name = "value"
    var.type = "SINGLE_PROP"
    var.targets[0].id_type = "SCENE"
    var.targets[0].id = scene or bpy.context.scene
    var.targets[0].data_path = f'["{name}"]'
    if expression:
        drv.type = "SCRIPTED"
        drv.expression = expression
    else:
        drv.type = "AVERAGE"
    return drv
