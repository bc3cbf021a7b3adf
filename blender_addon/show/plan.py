"""Show planning: timeline + genre mapping + looks -> sparse keyframes per channel.

Pure numpy (no ``bpy``), so it is unit-tested without Blender and runs the same in the
extension and in the headless renderer. The result, a :class:`Plan`, holds one
:class:`.channel.Channel` per driven property of a role (``"lights.energy"``,
``"screens.color"``, ``"camera.shake"`` ...): integer frame numbers, values, and the
Blender interpolation and easing of each key. :mod:`..scene.drive` writes these with
``foreach_set``.

How a value is made (see ``docs/looks.md``):

* Every look gets a weight and a gain at every moment (:mod:`.weights`).
* Base parameters (energies, focal length, haze ...) are the weight-blended look
  parameters; colours are blended in OKLab (:mod:`.palette`).
* Each rule places an envelope at each of its events (:mod:`.rules`, :mod:`.envelopes`).
  A property's value is ``base x (1 + sum of envelopes)``; camera shake is the sum itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.genres import GENRES
from ..core.timeline import genre_at
from . import color as C
from .channel import INTERP, Channel, make_channel
from .envelopes import combine
from .grid import Grid
from .palette import colour_channel, const_colour_channel
from .rules import modulation, rule_list
from .weights import Weights

#: Turn (radians) between the shake directions of successive keys: well spread, never repeating.
GOLDEN_ANGLE = 2.399963229728653
#: Largest orbit angle (radians) either side of the starting camera position.
ORBIT_LIMIT = np.radians(35.0)


@dataclass
class Plan:
    """Everything :mod:`..scene.drive` writes: keyed channels and static (un-animated) parameters."""

    channels: dict[str, Channel]
    static: dict[str, dict] = field(default_factory=dict)
    fps: float = 24.0
    frame_start: int = 1
    look_ids: list[str] = field(default_factory=list)
    #: (n_bars,) bar frames and (n_bars, n_looks) weights, for summaries and tests.
    bar_frames: np.ndarray | None = None
    bar_weights: np.ndarray | None = None

    @property
    def n_keys(self) -> int:
        """Total number of keyframes over all channels and components."""
        return int(sum(len(c) * (c.values.shape[1] if c.values.ndim == 2 else 1) for c in self.channels.values()))


def _base_and_modulation(grid: Grid, weights: Weights, looks: list[dict], rules, role: str, prop: str, base_fn,
                         bar_frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(frames, base, modulation, interp) of ``role.prop``: keys of its rules and of ``bar_frames``.

    ``base`` is the weight-blend of ``base_fn(look)``, ``modulation`` the sum of the rules'
    envelopes, each (n,) at ``frames``; ``interp`` is the interpolation of each key.
    """
    keys = modulation(grid, weights, looks, role, prop, rules)
    U, M, interp = combine(keys, bar_frames)
    w, _ = weights.at(grid.frame_time(U))
    base = w @ np.array([base_fn(look) for look in looks], dtype=np.float64)
    return U, base, M, interp


def _scalar(grid, weights, looks, rules, role, prop, base_fn, *, bar_frames, lo=0.0, hi=np.inf) -> Channel:
    """``role.prop`` as ``base x (1 + modulation)``, clipped to [lo, hi]."""
    U, base, M, interp = _base_and_modulation(grid, weights, looks, rules, role, prop, base_fn, bar_frames)
    return make_channel(U, np.clip(base * (1.0 + M), lo, hi), interp)


def plan_show(doc: dict, mapping: dict, looks: dict[str, dict], fps: float, frame_start: int = 1) -> Plan:
    """Plan every keyframe of a show.

    Parameters
    ----------
    doc : dict
        A validated timeline.
    mapping : dict
        A validated genre mapping (``mode`` blend or dominant, intensities).
    looks : dict
        ``{id: validated look preset}``; must hold every look the mapping names.
    fps : float
        Effective frame rate (``render.fps / render.fps_base``).
    frame_start : int
        Frame at which the track starts.

    Returns
    -------
    Plan
    """
    missing = sorted({mapping["genres"][g]["preset"] for g in GENRES} - set(looks))
    if missing:
        raise ValueError(f"mapping names looks that are not loaded: {', '.join(missing)}")
    grid = Grid(doc, fps, frame_start)
    weights = Weights(grid, doc, mapping, GENRES, genre_at)
    L = [looks[i] for i in weights.look_ids]
    rules = rule_list(L)
    bars = np.unique(np.concatenate([[grid.frame_start], grid.frame(grid.downbeats), [grid.last_frame]]))
    ch: dict[str, Channel] = {}

    ch["lights.energy"] = _scalar(grid, weights, L, rules, "lights", "energy",
                                  lambda l: l["lighting"]["energy_w"], bar_frames=bars)
    ch["lights.spot_size"] = _scalar(grid, weights, L, rules, "lights", "spot_size",
                                     lambda l: np.radians(l["lighting"]["spot_size_deg"]),
                                     lo=np.radians(1.0), hi=np.pi, bar_frames=bars)
    for role in ("screens", "pulse", "lasers"):
        ch[f"{role}.emission_strength"] = _scalar(grid, weights, L, rules, role, "emission_strength",
                                                  lambda l, r=role: l["materials"][r]["emission_strength"],
                                                  bar_frames=bars)
    ch["pulse.scale"] = _scalar(grid, weights, L, rules, "pulse", "scale", lambda l: 1.0, lo=0.05, bar_frames=bars)
    ch["lasers.spread"] = _scalar(grid, weights, L, rules, "lasers", "spread", lambda l: 1.0, bar_frames=bars)
    for role in ("lights", "screens", "pulse", "lasers"):
        ch[f"{role}.color"] = colour_channel(grid, weights, L, role, bars)
    ch["world.strength"] = _scalar(grid, weights, L, rules, "world", "strength", lambda l: l["world"]["strength"],
                                   hi=50.0, bar_frames=bars)
    ch["world.haze_density"] = _scalar(grid, weights, L, rules, "world", "haze_density",
                                       lambda l: l["world"]["haze_density"], hi=1.0, bar_frames=bars)
    ch["world.color"] = const_colour_channel(grid, weights, L, lambda l: l["world"]["color"], bars)
    ch["world.haze_color"] = const_colour_channel(grid, weights, L, lambda l: l["world"]["haze_color"], bars)

    # camera: focal length with punch-ins, shake offsets, orbit angle
    U, base, M, interp = _base_and_modulation(grid, weights, L, rules, "camera", "punch_in",
                                              lambda l: l["camera"]["focal_mm"], bars)
    ch["camera.lens"] = make_channel(U, np.clip(base * (1.0 + M), 8.0, 600.0), interp)
    U, _, M, interp = _base_and_modulation(grid, weights, L, rules, "camera", "shake", lambda l: 0.0, bars)
    ang = U * GOLDEN_ANGLE  # a fresh direction on every key frame: jitter, not a sway
    ch["camera.shake"] = make_channel(U, np.stack([M * np.cos(ang), np.zeros(len(U)), M * np.sin(ang) * 0.6], axis=1),
                                      interp)
    keys = modulation(grid, weights, L, "camera", "orbit_speed", rules)
    tb = grid.frame_time(bars)
    wb, _ = weights.at(tb)
    speed = wb @ np.array([np.radians(l["camera"]["orbit_deg_per_bar"]) for l in L])
    speed = speed * (1.0 + sum((k.evaluate(bars) for k in keys), np.zeros(len(bars))))
    bar_len = np.append(np.diff(bars), np.diff(bars)[-1:] if len(bars) > 1 else [1.0])
    bar_frames_nominal = 4.0 * grid.period * grid.fps
    travel = np.concatenate([[0.0], np.cumsum(speed[:-1] * bar_len[:-1] / bar_frames_nominal)])
    # the orbit swings to and fro within +-ORBIT_LIMIT: the camera never ends up behind the wall
    angle = ORBIT_LIMIT * np.sin(travel / ORBIT_LIMIT)
    ch["camera.orbit"] = make_channel(bars.copy(), angle, np.full(len(bars), INTERP["linear"]))

    # un-animated material parameters: blended by the track-average look weights
    wmean = weights.w.mean(axis=0)
    static = {}
    for role in ("screens", "pulse", "lasers", "floor"):
        m = [l["materials"][role] for l in L]
        static[role] = {
            "base_color": tuple(C.blend_oklab(np.stack([C.hex_to_oklab([x["base_color"]])[0] for x in m])[None],
                                              wmean[None])[0]),
            "roughness": float(wmean @ np.array([x["roughness"] for x in m])),
            "metallic": float(wmean @ np.array([x["metallic"] for x in m])),
            "emission_strength": float(wmean @ np.array([x["emission_strength"] for x in m])),
        }
    return Plan(ch, static, float(fps), int(frame_start), list(weights.look_ids),
                bars, weights.at(grid.frame_time(bars))[0])
