"""Writing and removing the add-on's own F-curves in bulk.

F-curves are created the Blender 4.4+ way: a slotted action per data-block, its channelbag
via ``bpy_extras.anim_utils.action_ensure_channelbag_for_slot`` (4.5+) or made on the first
layer's keyframe strip (4.4); ``action.fcurves`` on 4.2/4.3. Keys are written with
``keyframe_points.add`` + ``foreach_set`` (positions, interpolation, easing) and one
``fcurve.update()``.

Ownership: each data-block the add-on animates records the F-curves it made in the custom
property ``msvfx_fcurves`` (``"path|index"`` entries separated by ``;``); actions it made
carry ``msvfx_owned``. Removing touches exactly those, so a user's keys on other
properties of the same data-block (in the same action) stay as they were.
"""
from __future__ import annotations

import json

import bpy
import numpy as np

OWNED = "msvfx_owned"
REGISTRY = "msvfx_fcurves"
#: The data-block made ``animation_data`` itself (so Clear may drop it again).
MADE_ANIMDATA = "msvfx_animdata"
#: Values the driven properties had before Apply (JSON ``{"path|index": value}``), restored by Clear.
ORIGINAL = "msvfx_original"


def _get_value(id_, path: str, index: int):
    v = id_.path_resolve(path)
    if hasattr(v, "__len__") and not isinstance(v, str):
        return float(v[index])
    return float(v)


def _set_value(id_, path: str, index: int, value: float) -> None:
    try:
        v = id_.path_resolve(path)
        if hasattr(v, "__len__") and not isinstance(v, str):
            v[index] = value
            return
        head, _, attr = path.rpartition(".")
        setattr(id_.path_resolve(head) if head else id_, attr, value)
    except (ValueError, AttributeError, TypeError):
        pass  # the property no longer exists (e.g. a node was deleted): nothing to restore


def _id_type(id_) -> str:
    for cls, name in ((bpy.types.Object, "OBJECT"), (bpy.types.Light, "LIGHT"), (bpy.types.Material, "MATERIAL"),
                      (bpy.types.World, "WORLD"), (bpy.types.Camera, "CAMERA"), (bpy.types.NodeTree, "NODETREE"),
                      (bpy.types.Scene, "SCENE")):
        if isinstance(id_, cls):
            return name
    return "UNSPECIFIED"


def _registry(id_) -> list[str]:
    raw = id_.get(REGISTRY, "")
    return [x for x in raw.split(";") if x]


def _fcurves_of(action, slot, create: bool = True):
    """F-curves of ``slot`` in ``action`` (``action.fcurves`` before slotted actions).

    With ``create=False`` a slot without a channelbag gives ``[]`` and nothing is added to
    the action (Clear must not change a user's action it has no curves in).
    """
    if hasattr(action, "slots") and slot is not None:
        from bpy_extras import anim_utils
        if not create:
            bag = anim_utils.action_get_channelbag_for_slot(action, slot)
            return bag.fcurves if bag is not None else []
        ensure = getattr(anim_utils, "action_ensure_channelbag_for_slot", None)  # 4.5+
        if ensure is not None:
            return ensure(action, slot).fcurves
        # Blender 4.4 (slotted actions without that helper): the first layer's keyframe strip
        # holds the slot's channelbag, made here when missing, as the helper does
        bag = anim_utils.action_get_channelbag_for_slot(action, slot)
        if bag is None:
            layer = action.layers[0] if len(action.layers) else action.layers.new("Layer")
            strip = layer.strips[0] if len(layer.strips) else layer.strips.new(type="KEYFRAME")
            bag = strip.channelbags.new(slot)
        return bag.fcurves
    return action.fcurves


_KINDS = ((bpy.types.Light, "Light"), (bpy.types.Camera, "Camera"), (bpy.types.Material, "Material"),
          (bpy.types.World, "World"))


def _embedded_owner(tree):
    """The material, world or light whose embedded node tree ``tree`` is (None when not found)."""
    for coll in (bpy.data.materials, bpy.data.worlds, bpy.data.lights):
        for id_ in coll:
            if getattr(id_, "node_tree", None) == tree:
                return id_
    return None


def action_name(id_) -> str:
    """Name of the action the add-on makes for ``id_``, with the "MS " prefix once.

    Objects: "MS Beam 1 Action", "MS UserThing Action"; other data: "MS Spot Light Action",
    "MS Screens Material Action", "MS World Action"; a material's or world's node tree:
    "MS Screens Nodes Action" (so names do not clash and get ".001" suffixes).
    """
    name, kind = id_.name, ""
    if isinstance(id_, bpy.types.NodeTree):
        owner = _embedded_owner(id_) if getattr(id_, "is_embedded_data", False) else None
        name, kind = (owner.name, "Nodes") if owner is not None else (id_.name, "Nodes")
    elif not isinstance(id_, bpy.types.Object):
        kind = next((k for cls, k in _KINDS if isinstance(id_, cls)), "")
        if kind in ("Material", "World") and name.endswith(kind):
            kind = ""  # "MS World Action", not "MS World World Action"
    base = name if name.startswith("MS ") else f"MS {name}"
    return f"{base} {kind} Action" if kind else f"{base} Action"


def _action_for(id_):
    """(action, slot) animating ``id_``; makes an owned action and slot when it has none."""
    ad = id_.animation_data
    if ad is None:
        ad = id_.animation_data_create()
        id_[MADE_ANIMDATA] = True
    action = ad.action
    if action is None:
        action = bpy.data.actions.new(action_name(id_))
        action[OWNED] = True
        if hasattr(action, "slots"):
            slot = action.slots.new(id_type=_id_type(id_), name=id_.name)
            ad.action = action
            ad.action_slot = slot
            return action, slot
        ad.action = action
        return action, None
    slot = getattr(ad, "action_slot", None)
    if hasattr(action, "slots") and slot is None:
        slot = action.slots.new(id_type=_id_type(id_), name=id_.name)
        ad.action_slot = slot
    return action, slot


class KeyWriter:
    """Writes keyframe channels onto data-blocks and records them as the add-on's own."""

    def __init__(self):
        self.n_keys = 0
        self.n_fcurves = 0
        self.skipped: list[str] = []
        self._cache: dict = {}

    def _fcurves(self, id_):
        k = id_.as_pointer()
        if k not in self._cache:
            self._cache[k] = _fcurves_of(*_action_for(id_))
        return self._cache[k]

    def write(self, id_, data_path: str, index: int, frames: np.ndarray, values: np.ndarray,
              interp: np.ndarray, easing: np.ndarray) -> bool:
        """Create ``id_``'s F-curve ``data_path[index]`` holding the given keys.

        Returns False (and notes it in ``skipped``) when the user already animates that
        property: the user's curve is left alone.
        """
        fcurves = self._fcurves(id_)
        tag = f"{data_path}|{index}"
        reg = _registry(id_)
        old = fcurves.find(data_path, index=index)
        if old is not None:
            if tag not in reg:
                self.skipped.append(f"{id_.name}: {data_path}[{index}]")
                return False
            fcurves.remove(old)
        if tag not in reg:
            orig = json.loads(id_.get(ORIGINAL, "{}"))
            orig[tag] = _get_value(id_, data_path, index)
            id_[ORIGINAL] = json.dumps(orig)
        fc = fcurves.new(data_path, index=index)
        n = len(frames)
        fc.keyframe_points.add(n)
        co = np.empty(2 * n, dtype=np.float32)
        co[0::2] = frames
        co[1::2] = values
        fc.keyframe_points.foreach_set("co", co)
        fc.keyframe_points.foreach_set("interpolation", np.asarray(interp, dtype=np.int32))
        fc.keyframe_points.foreach_set("easing", np.asarray(easing, dtype=np.int32))
        fc.update()
        if tag not in reg:
            reg.append(tag)
            id_[REGISTRY] = ";".join(reg)
        self.n_keys += n
        self.n_fcurves += 1
        return True


def animated_ids():
    """Every data-block (incl. embedded node trees) that holds F-curves the add-on made."""
    out = []
    for coll in (bpy.data.objects, bpy.data.lights, bpy.data.cameras, bpy.data.materials, bpy.data.worlds):
        for id_ in coll:
            if REGISTRY in id_ or MADE_ANIMDATA in id_:
                out.append(id_)
            nt = getattr(id_, "node_tree", None)
            if nt is not None and (REGISTRY in nt or MADE_ANIMDATA in nt):
                out.append(nt)
    return out


def remove_owned_fcurves() -> int:
    """Remove every F-curve the add-on made, its own actions, and animation data it created.

    Returns the number of F-curves removed.
    """
    n = 0
    for id_ in animated_ids():
        ad = id_.animation_data
        if ad is not None and ad.action is not None:
            action = ad.action
            fcurves = _fcurves_of(action, getattr(ad, "action_slot", None), create=False)
            for tag in _registry(id_) if len(fcurves) else ():
                path, idx = tag.rsplit("|", 1)
                fc = fcurves.find(path, index=int(idx))
                if fc is not None:
                    fcurves.remove(fc)
                    n += 1
            if action.get(OWNED) and len(fcurves) == 0:
                ad.action = None
                if action.users == 0:
                    bpy.data.actions.remove(action)
        orig = json.loads(id_.get(ORIGINAL, "{}"))
        for tag, value in orig.items():
            path, idx = tag.rsplit("|", 1)
            _set_value(id_, path, int(idx), value)
        for tag in (REGISTRY, ORIGINAL):
            if tag in id_:
                del id_[tag]
        if id_.get(MADE_ANIMDATA):
            del id_[MADE_ANIMDATA]
            ad = id_.animation_data
            if ad is not None and ad.action is None and len(ad.drivers) == 0 and len(ad.nla_tracks) == 0:
                id_.animation_data_clear()
    for action in list(bpy.data.actions):
        if action.get(OWNED) and action.users == 0:
            bpy.data.actions.remove(action)
    return n
