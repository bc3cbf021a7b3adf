"""Bar traits shaping the show: the timeline's measured traits nudge the blended looks.

The timeline's ``bar_traits`` (``docs/timeline.md``, *Bar traits*) give every bar values in
[0, 1]. After the looks are blended and before the flash cap (:mod:`.flash`), the planner
scales what the looks made, each effect a factor ``1 + amount x gain x (trait - neutral)``
(gains below; ``amount`` is :func:`..plan.plan_show`'s ``traits``, 0 to 1):

* **distortion** -> harder hits: beat, off-beat, bar and strobe envelopes get a larger
  amplitude (x0.75 to x1.25) and shorter attacks and decays (x1.25 to x0.75).
* **organicity** -> softer, warmer light: longer attacks (x0.7 to x1.3) and decays
  (x0.85 to x1.15), shallower strobes (x1.25 to x0.75), and the role colours (lights,
  screens, pulse, lasers) shifted in OKLab toward warm (``a`` by +-0.01, ``b`` by +-0.025).
* **groove** -> off-beat reactions weigh more (x0.7 to x1.3).
* **fragmentation** -> more camera shake and harder punch-ins (x0.6 to x1.4).
* **energy** -> base level of the lights and emissive materials: x1 at the track's loud
  bars (energy 1), down to x0.6 at 30 dB below (energy 0).

A trait the timeline lacks takes its neutral value (factor 1), so a timeline without
``bar_traits`` plans exactly as with ``amount`` 0.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .grid import Grid
from .rules import Fire

#: The value of each trait at which it changes nothing (what a missing trait stands for).
NEUTRAL = {"distortion": 0.5, "organicity": 0.5, "groove": 0.5, "fragmentation": 0.5, "energy": 1.0}
#: Hit amplitude and attack/decay length per unit of distortion (the length shrinks).
DISTORTION_AMP, DISTORTION_TIME = 0.5, 0.5
#: Attack and decay length, and strobe depth (which shrinks), per unit of organicity.
ORGANIC_ATTACK, ORGANIC_DECAY, ORGANIC_STROBE = 0.6, 0.3, 0.5
#: OKLab (L, a, b) shift of the role colours per unit of organicity (toward warm: a+, b+).
ORGANIC_WARM = np.array([0.0, 0.02, 0.05])
#: Off-beat reaction amplitude per unit of groove.
GROOVE_OFFBEAT = 0.6
#: Camera shake and punch-in amplitude per unit of fragmentation.
FRAGMENTATION_CAMERA = 0.8
#: Base light level lost per unit of energy below 1.
ENERGY_LEVEL = 0.4
#: Instant events whose pulses are hits (distortion, organicity); ``_strobe`` is a look's strobe.
HIT_EVENTS = ("beat", "offbeat", "bar", "_strobe")
#: Scalar channels whose base follows the energy trait.
LEVEL_CHANNELS = ("lights.energy", "screens.emission_strength", "pulse.emission_strength",
                  "lasers.emission_strength")
#: Colour roles warmed by organicity.
WARM_ROLES = ("lights", "screens", "pulse", "lasers")


class Traits:
    """The timeline's bar traits, looked up by name at any time (neutral where absent).

    Parameters
    ----------
    grid : Grid
        The plan's grid; ``bar_traits`` rows belong to its downbeats.
    doc : dict
        A timeline; ``bar_traits`` with a row count other than the downbeats' is ignored.
    """

    def __init__(self, grid: Grid, doc: dict):
        self.grid = grid
        bt = doc.get("bar_traits") or {}
        names = list(bt.get("names") or [])
        vals = np.asarray(bt.get("values") or [], dtype=np.float64)
        self.values: dict[str, np.ndarray] = {}
        if names and vals.size and vals.size % len(names) == 0:
            vals = vals.reshape(-1, len(names))
            if len(vals) == len(grid.downbeats):
                self.values = {n: np.clip(vals[:, k], 0.0, 1.0) for k, n in enumerate(names)}

    def has(self, name: str) -> bool:
        """Whether the timeline measured trait ``name``."""
        return name in self.values

    def at(self, name: str, t) -> np.ndarray:
        """Value of trait ``name`` in the bar playing at times ``t`` (s); its neutral value if absent."""
        t = np.asarray(t, dtype=np.float64)
        if name not in self.values:
            return np.full(t.shape, NEUTRAL.get(name, 0.5))
        i = np.searchsorted(self.grid.downbeats, t + 1e-6, side="right") - 1
        return self.values[name][np.clip(i, 0, len(self.values[name]) - 1)]

    def at_frames(self, name: str, frames) -> np.ndarray:
        """:meth:`at` of frame numbers."""
        return self.at(name, self.grid.frame_time(frames))


class Shaping:
    """The traits' effects on a plan, ``amount`` (0 to 1) of the full strength.

    ``active`` is False when nothing would change (amount 0, or none of the traits used);
    the planner then skips every step, so the plan is exactly the looks' own.
    """

    def __init__(self, traits: Traits, amount: float = 1.0):
        self.traits = traits
        self.amount = float(np.clip(amount, 0.0, 1.0))
        self.active = self.amount > 0 and any(traits.has(n) for n in NEUTRAL)

    def factor(self, name: str, gain: float, t) -> np.ndarray:
        """``1 + amount x gain x (trait - neutral)`` at times ``t``."""
        return 1.0 + self.amount * gain * (self.traits.at(name, t) - NEUTRAL[name])

    def shape_fires(self, role: str, prop: str, fired: list[Fire]) -> list[Fire]:
        """``fired`` (the events driving ``role.prop``) with the traits' amplitudes and envelope lengths."""
        if not self.active:
            return fired
        out = []
        for f in fired:
            if not f.is_pulse or len(f.times) == 0:
                out.append(f)
                continue
            t = f.times
            amp = np.ones(len(t))
            if role == "camera" and prop in ("shake", "punch_in"):
                amp = amp * self.factor("fragmentation", FRAGMENTATION_CAMERA, t)
            if f.event == "offbeat":
                amp = amp * self.factor("groove", GROOVE_OFFBEAT, t)
            if f.event not in HIT_EVENTS or role == "camera":
                out.append(replace(f, amps=f.amps * amp))
                continue
            amp = amp * self.factor("distortion", DISTORTION_AMP, t)
            if f.strobe:
                amp = amp * self.factor("organicity", -ORGANIC_STROBE, t)
            sharp = self.factor("distortion", -DISTORTION_TIME, t)
            out.append(replace(f, amps=f.amps * amp,
                               attack_scale=sharp * self.factor("organicity", ORGANIC_ATTACK, t),
                               decay_scale=sharp * self.factor("organicity", ORGANIC_DECAY, t)))
        return out

    def level(self, name: str, frames: np.ndarray) -> np.ndarray | None:
        """Factor on the base of scalar channel ``name`` at ``frames`` (None: unchanged)."""
        if not self.active or name not in LEVEL_CHANNELS or not self.traits.has("energy"):
            return None
        return self.factor("energy", ENERGY_LEVEL, self.traits.grid.frame_time(frames))

    def colour_shift(self, role: str):
        """A function ``t -> (n, 3)`` OKLab shift of ``role``'s colour at times ``t`` (None: unchanged)."""
        if not self.active or role not in WARM_ROLES or not self.traits.has("organicity"):
            return None

        def shift(t):
            o = self.traits.at("organicity", t) - NEUTRAL["organicity"]
            return self.amount * o[:, None] * ORGANIC_WARM[None, :]
        return shift
