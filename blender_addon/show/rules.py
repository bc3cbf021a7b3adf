"""The looks' rules: which events they fire on, and the envelope keys they put on a property.

A rule's amplitude at an event is ``amount x gain`` of its look there (for camera shake and
punch-in the look's ``shake_m`` / ``punch_in`` is the unit); a look's strobe is one more
rule on the lights' energy.
"""
from __future__ import annotations

import numpy as np

from .envelopes import RuleKeys, pulse_keys, span_keys
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


def modulation(grid: Grid, weights: Weights, looks: list[dict], role: str, prop: str,
               rules: list[tuple[int, dict]]) -> list[RuleKeys]:
    """The envelope keys of every rule driving ``role.prop`` (amplitudes include the look's gain).

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
    list of RuleKeys
        One per rule that fires while its look's weight is at least :data:`.weights.MIN_WEIGHT`.
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
        w, g = weights.at(times)
        amps = float(r["amount"]) * unit * g[:, j]
        live = w[:, j] >= MIN_WEIGHT
        if not live.any():
            continue
        mode = r.get("mode", "pulse")
        if spans is not None and mode in ("span", "ramp"):
            out.append(span_keys(grid, spans[live], amps[live], env, mode))
        else:  # instants, or a pulse on a span event (fires at the span start)
            out.append(pulse_keys(grid, times[live], amps[live], env))
    return out
