"""The looks' rules: which events they fire on, and the envelope keys they put on a property.

A rule's amplitude at an event is ``amount x gain`` of its look there (for camera shake and
punch-in the look's ``shake_m`` / ``punch_in`` is the unit); a look's strobe is one more
rule on the lights' energy.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .envelopes import RuleKeys, mean_level, pulse_keys, span_keys
from .grid import Grid
from .weights import MIN_WEIGHT, Weights


def rule_events(grid: Grid, rule: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """Where a rule fires, filtered by its ``sections`` and ``every``.

    Parameters
    ----------
    grid : Grid
    rule : dict
        A look's rule (``event``, ``sections``, ``every``).

    Returns
    -------
    times : (n,) float
        Event times (s): the instants, or the span starts of a span event.
    spans : (n, 2) float or None
        Start and end times of a span event (build, drop, breakdown); None for instants.
    """
    if rule["event"] in ("build", "drop", "breakdown"):
        spans = grid.span_events(rule["event"])
        lab = grid.label_of(spans[:, 0] + 1e-3) if len(spans) else np.zeros(0, dtype=str)
        spans = spans[np.isin(lab, rule.get("sections") or []) | (lab == "")]
        spans = spans[::int(rule.get("every", 1))]
        return spans[:, 0], spans
    t = grid.events(rule["event"])
    if len(t):
        lab = grid.label_of(t)
        t = t[np.isin(lab, rule.get("sections") or []) | (lab == "")]
    return t[::int(rule.get("every", 1))], None


def _strobe_rule(look: dict) -> dict | None:
    """The look's strobe as a pulse rule on the lights' energy (None when it has none)."""
    s = look["lighting"]["strobe"]
    if s["energy_scale"] <= 0 or not s["sections"]:
        return None
    return {"event": "_strobe", "role": "lights", "property": "energy", "amount": float(s["energy_scale"]),
            "mode": "pulse", "every": 1, "sections": list(s["sections"]),
            "envelope": {"attack_beats": 0, "hold_beats": s["rate_beats"] * s["duty"], "decay_beats": 0,
                         "curve": "constant"}, "_rate": float(s["rate_beats"])}


def _strobe_times(grid: Grid, rule: dict) -> np.ndarray:
    """Flash times of a strobe rule: every ``rate`` beats, inside its sections."""
    rate = rule["_rate"]
    p = np.arange(0.0, grid.idx[-1] + 1e-9, rate)
    t = grid.time(p)
    return t[np.isin(grid.label_of(t), rule["sections"])]


#: Properties whose amplitude unit is a look parameter (``look[section][key]``) rather than 1.
_UNIT = {"shake": ("camera", "shake_m"), "punch_in": ("camera", "punch_in")}


def rule_list(looks: list[dict]) -> list[tuple[int, dict]]:
    """Every rule of the looks, strobes included, as ``(look index, rule)``."""
    out = []
    for j, look in enumerate(looks):
        for r in look["rules"]:
            out.append((j, r))
        s = _strobe_rule(look)
        if s is not None:
            out.append((j, s))
    return out


@dataclass
class Fire:
    """One rule's events on one property: where it fires, how strongly, with which envelope.

    ``times`` (n,) event times (s), ``amps`` (n,) amplitudes (``amount x unit x gain``),
    ``spans`` (n, 2) for span/ramp envelopes (else None), ``env`` the envelope (look
    defaults filled in), ``mode`` pulse/span/ramp, ``look`` the look index, ``strobe``
    whether this is a look's strobe; ``fixed``, ready-made keys instead of events (the
    steady level that stands in for strobe events the flash cap removed); ``event`` the
    rule's event; ``attack_scale`` / ``decay_scale`` (n,) per-event factors on the
    envelope's attack and decay (None: as the look has them; :mod:`.traits`).
    """

    times: np.ndarray
    amps: np.ndarray
    spans: np.ndarray | None
    env: dict
    mode: str
    look: int
    strobe: bool = False
    fixed: RuleKeys | None = None
    event: str = ""
    attack_scale: np.ndarray | None = None
    decay_scale: np.ndarray | None = None

    @property
    def is_pulse(self) -> bool:
        """Whether each event is a separate envelope (not one held over a span)."""
        return self.spans is None and self.fixed is None

    def keys(self, grid: Grid) -> RuleKeys:
        """The envelope keys of these events."""
        if self.fixed is not None:
            return self.fixed
        if self.spans is not None:
            return span_keys(grid, self.spans, self.amps, self.env, self.mode)
        return pulse_keys(grid, self.times, self.amps, self.env, self.attack_scale, self.decay_scale)

    def area(self):
        """Area of each event's unit envelope in beats (:func:`.envelopes.mean_level`)."""
        if self.attack_scale is None and self.decay_scale is None:
            return mean_level(self.env)
        return mean_level(self.env, 1.0 if self.attack_scale is None else self.attack_scale,
                          1.0 if self.decay_scale is None else self.decay_scale)

    def subset(self, keep: np.ndarray) -> Fire:
        """The same rule firing only on the events where ``keep`` is True."""
        return replace(self, times=self.times[keep], amps=self.amps[keep],
                       spans=None if self.spans is None else self.spans[keep],
                       attack_scale=None if self.attack_scale is None else self.attack_scale[keep],
                       decay_scale=None if self.decay_scale is None else self.decay_scale[keep])


def fires(grid: Grid, weights: Weights, looks: list[dict], role: str, prop: str,
          rules: list[tuple[int, dict]]) -> list[Fire]:
    """The events of every rule driving ``role.prop`` (amplitudes include the look's gain).

    Parameters
    ----------
    grid : Grid
    weights : Weights
    looks : list of dict
        The looks, in the order of ``weights.look_ids``.
    role, prop : str
        The driven property, such as ``"lights"``, ``"energy"``.
    rules : list of (int, dict)
        :func:`rule_list` of ``looks``.

    Returns
    -------
    list of Fire
        One per rule with events while its look's weight is at least :data:`.weights.MIN_WEIGHT`.
    """
    out = []
    for j, r in rules:
        if r["role"] != role or r["property"] != prop:
            continue
        env = dict(r["envelope"])
        unit = 1.0
        if prop in _UNIT:
            unit = float(looks[j][_UNIT[prop][0]][_UNIT[prop][1]])
            if prop == "shake" and env["decay_beats"] == 0:
                env["decay_beats"] = looks[j]["camera"]["shake_decay_beats"]
            if prop == "punch_in" and env["hold_beats"] == 0:
                env["hold_beats"] = looks[j]["camera"]["punch_in_beats"]
        if r["event"] == "_strobe":
            times, spans = _strobe_times(grid, r), None
        else:
            times, spans = rule_events(grid, r)
        if len(times) == 0:
            continue
        w, g = weights.look_at(times, j)
        amps = float(r["amount"]) * unit * g
        live = w >= MIN_WEIGHT
        if not live.any():
            continue
        mode = r.get("mode", "pulse")
        if spans is not None and mode in ("span", "ramp"):
            out.append(Fire(times[live], amps[live], spans[live], env, mode, j, event=r["event"]))
        else:  # instants, or a pulse on a span event (fires at the span start)
            out.append(Fire(times[live], amps[live], None, env, "pulse", j, r["event"] == "_strobe",
                            event=r["event"]))
    return out


def modulation(grid: Grid, weights: Weights, looks: list[dict], role: str, prop: str,
               rules: list[tuple[int, dict]]) -> list[RuleKeys]:
    """The envelope keys of every rule driving ``role.prop``: :meth:`Fire.keys` of :func:`fires`."""
    return [f.keys(grid) for f in fires(grid, weights, looks, role, prop, rules)]
