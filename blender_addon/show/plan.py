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
* The bar traits (:mod:`.traits`) then scale hits, camera, base levels and colours.
* The flash cap (:mod:`.flash`) then thins the pulse events of any part of the picture
  that would flash more than three times in a second.
* :attr:`Plan.base` and :attr:`Plan.reference` let :mod:`..scene.drive` apply the plan
  relative to a user's own values (:mod:`.relative`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.genres import GENRES
from ..core.timeline import genre_at
from . import color as C
from . import flash as F
from .channel import INTERP, Channel, make_channel
from .envelopes import combine, hold_keys
from .grid import Grid
from .palette import colour_channel, const_colour_channel
from .rules import Fire, fires, modulation, rule_list
from .traits import Shaping, Traits
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
    #: Scalar channels' blended look base at each of their keys (the value without reactions).
    base: dict[str, np.ndarray] = field(default_factory=dict)
    #: Scalar channels' typical base: the median over the bars (what a user's own value stands for).
    reference: dict[str, float] = field(default_factory=dict)
    #: Flash cap per source: ``before`` / ``after`` (most flashes in a second), ``thinned`` events.
    flash: dict[str, dict] = field(default_factory=dict)

    @property
    def n_keys(self) -> int:
        """Total number of keyframes over all channels and components."""
        return int(sum(len(c) * (c.values.shape[1] if c.values.ndim == 2 else 1) for c in self.channels.values()))


#: Scalar channels ``base x (1 + modulation)``: name -> (role, rule property, base of a look, lo, hi).
SCALARS = {
    "lights.energy": ("lights", "energy", lambda l: l["lighting"]["energy_w"], 0.0, np.inf),
    "lights.spot_size": ("lights", "spot_size", lambda l: np.radians(l["lighting"]["spot_size_deg"]),
                         np.radians(1.0), np.pi),
    **{f"{r}.emission_strength": (r, "emission_strength", lambda l, r=r: l["materials"][r]["emission_strength"],
                                  0.0, np.inf) for r in ("screens", "pulse", "lasers")},
    "pulse.scale": ("pulse", "scale", lambda l: 1.0, 0.05, np.inf),
    "lasers.spread": ("lasers", "spread", lambda l: 1.0, 0.0, np.inf),
    "world.strength": ("world", "strength", lambda l: l["world"]["strength"], 0.0, 50.0),
    "world.haze_density": ("world", "haze_density", lambda l: l["world"]["haze_density"], 0.0, 1.0),
    "camera.lens": ("camera", "punch_in", lambda l: l["camera"]["focal_mm"], 8.0, 600.0),
}


class _Planner:
    """The shared inputs of one plan (grid, weights, looks, rules, bar frames)."""

    def __init__(self, grid: Grid, weights: Weights, looks: list[dict], bars: np.ndarray, shaping: Shaping):
        self.grid, self.weights, self.looks, self.bars = grid, weights, looks, bars
        self.shaping = shaping
        self.rules = rule_list(looks)
        self.bar_w = weights.at(grid.frame_time(bars))[0]

    def base_at(self, base_fn, frames: np.ndarray) -> np.ndarray:
        """The weight-blend of ``base_fn(look)`` at ``frames``."""
        w, _ = self.weights.at(self.grid.frame_time(frames))
        return w @ np.array([base_fn(look) for look in self.looks], dtype=np.float64)

    def fires(self, name: str) -> list[Fire]:
        role, prop = SCALARS[name][:2]
        return self.role_fires(role, prop)

    def role_fires(self, role: str, prop: str) -> list[Fire]:
        """The events driving ``role.prop``, shaped by the bar traits."""
        return self.shaping.shape_fires(role, prop, fires(self.grid, self.weights, self.looks, role, prop, self.rules))

    def scalar(self, name: str, fired: list[Fire]) -> tuple[Channel, np.ndarray]:
        """``name`` as ``base x (1 + modulation)`` of the events ``fired``, clipped; and its base at its keys."""
        _, _, base_fn, lo, hi = SCALARS[name]
        U, M, interp = combine([f.keys(self.grid) for f in fired], self.bars)
        base = self.base_at(base_fn, U)
        level = self.shaping.level(name, U)
        if level is not None:
            base = base * level
        ch = make_channel(U, np.clip(base * (1.0 + M), lo, hi), interp)
        return ch, base[np.searchsorted(U, ch.frames)]

    def reference(self, name: str) -> float:
        """Median over the bars of the blended base of ``name``."""
        base_fn = SCALARS[name][2]
        return float(np.median(self.bar_w @ np.array([base_fn(look) for look in self.looks], dtype=np.float64)))


def _thinned(P: _Planner, fired: list[Fire], level: Channel, level_base: np.ndarray, color: Channel,
             peak: float, gap_s: float) -> tuple[list[Fire], int]:
    """``fired`` with the flash candidates :func:`.flash.select_events` drops removed (and filled)."""
    grid = P.grid
    pulses = [k for k, f in enumerate(fired) if f.is_pulse and len(f.times)]
    frames = [grid.frame(fired[k].times) for k in pulses]
    cand = []
    for k, fr in zip(pulses, frames):  # the luminance swing of each event on its own
        depth = np.interp(fr, level.frames, level_base) * fired[k].amps * (F.channel_at(color, fr) @ F.LUMA)
        cand.append(depth >= F.FLASH_DEPTH * F.MARGIN * max(peak, 1e-12))
    fc = np.concatenate(frames)[np.concatenate(cand)]
    keep = F.select_events(fc, F.event_rank(fc, grid.frame(grid.downbeats), grid.frame(grid.beats)),
                           int(np.ceil(gap_s * grid.fps - 1e-9)))
    out, pos, n_removed = list(fired), 0, 0
    for k, c, fr in zip(pulses, cand, frames):
        kept = np.ones(len(c), dtype=bool)
        kept[np.flatnonzero(c)] = keep[pos:pos + int(c.sum())]
        pos += int(c.sum())
        n_removed += int((~kept).sum())
        f = fired[k]
        out[k] = f.subset(kept)
        s0, s1, lv = F.steady_fill(fr, grid.beat_frames(f.times), ~kept, f.amps, f.area())
        if len(lv):
            out.append(Fire(np.zeros(0), np.zeros(0), None, f.env, "hold", f.look, fixed=hold_keys(s0, s1, lv)))
    return out, n_removed


def _cap_flashes(P: _Planner, ch: dict[str, Channel], base: dict[str, np.ndarray],
                 fired: dict[str, list[Fire]]) -> dict[str, dict]:
    """Thin the pulse events of every source over :data:`.flash.MAX_FLASHES` a second (in place).

    Returns ``{source: {"before", "after", "thinned"[, "gap_s"]}}``.
    """
    fps = P.grid.fps
    stats = {}
    for src, (lev, col) in F.SOURCES.items():
        frames, lum = F.luminance(ch[lev], ch[col])
        before = F.max_flashes(F.transitions(frames, lum), fps)
        stats[src] = {"before": before, "after": before, "thinned": 0}
        if before <= F.MAX_FLASHES:
            continue
        original = fired[lev]
        for gap_s in F.GAPS_S:  # wider gaps only if the first try still flashes too often
            fired[lev], n = _thinned(P, original, ch[lev], base[lev], ch[col], float(lum.max()), gap_s)
            ch[lev], base[lev] = P.scalar(lev, fired[lev])
            frames, lum = F.luminance(ch[lev], ch[col])
            after = F.max_flashes(F.transitions(frames, lum), fps)
            stats[src].update(after=after, thinned=n, gap_s=round(gap_s, 3))
            if after <= F.MAX_FLASHES:
                break
    return stats


def plan_show(doc: dict, mapping: dict, looks: dict[str, dict], fps: float, frame_start: int = 1,
              flash_cap: bool = True, traits: float = 1.0) -> Plan:
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
    flash_cap : bool
        Thin strobes and fast pulses to at most three flashes in any second (:mod:`.flash`).
    traits : float
        How strongly the timeline's bar traits shape the show, 0 to 1 (:mod:`.traits`);
        0, or a timeline without traits, plans from the looks alone.

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
    bars = np.unique(np.concatenate([[grid.frame_start], grid.frame(grid.downbeats), [grid.last_frame]]))
    P = _Planner(grid, weights, L, bars, Shaping(Traits(grid, doc), traits))
    rules = P.rules
    ch: dict[str, Channel] = {}
    base: dict[str, np.ndarray] = {}
    fired = {name: P.fires(name) for name in SCALARS}
    for name in SCALARS:
        ch[name], base[name] = P.scalar(name, fired[name])
    for role in ("lights", "screens", "pulse", "lasers"):
        ch[f"{role}.color"] = colour_channel(grid, weights, L, role, bars, P.shaping.colour_shift(role))
    ch["world.color"] = const_colour_channel(grid, weights, L, lambda l: l["world"]["color"], bars)
    ch["world.haze_color"] = const_colour_channel(grid, weights, L, lambda l: l["world"]["haze_color"], bars)
    flash = _cap_flashes(P, ch, base, fired) if flash_cap else {}

    # camera: shake offsets, orbit angle (the lens with its punch-ins is a scalar above)
    U, M, interp = combine([f.keys(grid) for f in P.role_fires("camera", "shake")], bars)
    ang = U * GOLDEN_ANGLE  # a fresh direction on every key frame: jitter, not a sway
    ch["camera.shake"] = make_channel(U, np.stack([M * np.cos(ang), np.zeros(len(U)), M * np.sin(ang) * 0.6], axis=1),
                                      interp)
    keys = modulation(grid, weights, L, "camera", "orbit_speed", rules)
    speed = P.bar_w @ np.array([np.radians(l["camera"]["orbit_deg_per_bar"]) for l in L])
    speed = speed * (1.0 + sum((k.evaluate(bars) for k in keys), np.zeros(len(bars))))
    bar_len = np.append(np.diff(bars), np.diff(bars)[-1:] if len(bars) > 1 else [1.0])
    bar_frames_nominal = 4.0 * grid.period * grid.fps
    travel = np.concatenate([[0.0], np.cumsum(speed[:-1] * bar_len[:-1] / bar_frames_nominal)])
    # the orbit swings to and fro within +-ORBIT_LIMIT: the camera never ends up behind the wall.
    # It moves phrase by phrase: from each phrase's angle it glides (eased, Bezier) to the next
    # phrase's over the first 3/4 of the phrase, then holds until the phrase changes
    ph = np.unique(np.concatenate([[bars[0]], grid.frame(grid.phrases), [bars[-1]]]))
    ph = ph[(ph >= bars[0]) & (ph <= bars[-1])]
    target = ORBIT_LIMIT * np.sin(np.interp(ph, bars, travel) / ORBIT_LIMIT)
    arrive = ph[:-1] + np.round(0.75 * np.diff(ph)).astype(ph.dtype)
    use = (arrive > ph[:-1]) & (arrive < ph[1:])
    F_orb = np.concatenate([ph, arrive[use]])
    V_orb = np.concatenate([target, target[1:][use]])
    order = np.argsort(F_orb, kind="stable")
    ch["camera.orbit"] = make_channel(F_orb[order], V_orb[order], np.full(len(F_orb), INTERP["smooth"]))

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
    return Plan(ch, static, float(fps), int(frame_start), list(weights.look_ids), bars, P.bar_w,
                base, {name: P.reference(name) for name in SCALARS}, flash)
