"""Rule envelopes as sparse keys: pulses at instant events, spans and ramps over sections.

Each rule places an envelope (attack / hold / decay in beats, converted per event with the
local beat length) at each of its events; a new event of the same rule restarts the
envelope (retrigger, as a lighting desk does). Keys sit on the events' frames (the frame
nearest the beat), one frame apart at least; an instant attack gets a key one frame before
the event holding the previous value, so the jump happens exactly on the beat frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .channel import INTERP
from .grid import Grid


@dataclass
class RuleKeys:
    """The keys of one rule's envelopes.

    ``frames`` (strictly increasing) and ``values``; ``curve``, the interpolation between
    them (a key of :data:`.channel.INTERP`); ``peak``, the largest event amplitude.
    """

    frames: np.ndarray
    values: np.ndarray
    curve: str
    peak: float

    def evaluate(self, frames: np.ndarray) -> np.ndarray:
        """Value at ``frames`` (step-wise for constant curves, else linear between keys)."""
        if len(self.frames) == 0:
            return np.zeros(len(frames))
        if self.curve == "constant":
            i = np.searchsorted(self.frames, frames, side="right") - 1
            return np.where(i >= 0, self.values[np.clip(i, 0, None)], 0.0)
        return np.interp(frames, self.frames, self.values, left=0.0, right=self.values[-1])


def _monotone(offsets: np.ndarray) -> np.ndarray:
    """Make each row of integer frame offsets strictly increasing (>= 1 frame apart)."""
    out = offsets.copy()
    for j in range(1, out.shape[1]):
        out[:, j] = np.maximum(out[:, j], out[:, j - 1] + 1)
    return out


def _sorted_keys(frames: np.ndarray, values: np.ndarray, curve: str, amps: np.ndarray) -> RuleKeys:
    """RuleKeys of unsorted keys; of keys on one frame the first listed is kept."""
    order = np.argsort(frames, kind="stable")
    frames, values = frames[order], values[order]
    frames, first = np.unique(frames, return_index=True)
    return RuleKeys(frames, values[first], curve, float(np.max(np.abs(amps))) if len(amps) else 0.0)


def pulse_keys(grid: Grid, times: np.ndarray, amps: np.ndarray, env: dict,
               attack_scale: np.ndarray | None = None, decay_scale: np.ndarray | None = None) -> RuleKeys:
    """Envelopes at instant events, retriggered: each event cuts the previous envelope.

    Parameters
    ----------
    grid : Grid
    times : (n,) event times in seconds, increasing.
    amps : (n,) peak amplitude of each event.
    env : dict
        ``attack_beats``, ``hold_beats``, ``decay_beats``, ``curve``.
    attack_scale, decay_scale : (n,) positive, optional
        Per-event factors on the attack and decay length (:mod:`.traits`); None keeps the envelope's.
    """
    curve = env["curve"]
    if len(times) == 0:
        return RuleKeys(np.zeros(0, np.int64), np.zeros(0), curve, 0.0)
    a, h, d = float(env["attack_beats"]), float(env["hold_beats"]), float(env["decay_beats"])
    # each key's offset as (attack, hold, decay) multiples, so the lengths can scale per event
    if a > 0:
        coef, vals = [(0, 0, 0), (1, 0, 0), (1, 1, 0), (1, 1, 1)], [0.0, 1.0, 1.0, 0.0]
    else:
        coef, vals = [(0, 0, 0), (0, 1, 0), (0, 1, 1)], [1.0, 1.0, 0.0]
    beats = [ca * a + ch * h + cd * d for ca, ch, cd in coef]
    if h == 0:  # drop the duplicate hold point
        keep = [i for i in range(len(beats)) if not (i > 0 and beats[i] == beats[i - 1])]
        beats, vals, coef = [beats[i] for i in keep], [vals[i] for i in keep], [coef[i] for i in keep]
    if vals[-1] != 0.0 or len(beats) == 1:
        beats, vals, coef = beats + [beats[-1]], vals + [0.0], coef + [coef[-1]]
    frames0 = grid.frame(times)
    bf = grid.beat_frames(times)
    if attack_scale is None and decay_scale is None:
        B = np.asarray(beats)[None, :]
    else:
        n = len(times)
        sa = np.ones(n) if attack_scale is None else np.asarray(attack_scale, dtype=np.float64)
        sd = np.ones(n) if decay_scale is None else np.asarray(decay_scale, dtype=np.float64)
        c = np.asarray(coef, dtype=np.float64)
        B = c[None, :, 0] * (a * sa)[:, None] + c[None, :, 1] * h + c[None, :, 2] * (d * sd)[:, None]
    offs = _monotone(np.rint(B * bf[:, None]).astype(np.int64))
    F = frames0[:, None] + offs                      # (n, m)
    V = amps[:, None] * np.asarray(vals)[None, :]    # (n, m)
    nxt = np.append(frames0[1:], np.iinfo(np.int64).max // 4)
    # retrigger: keys at or after the next event's frame (or its pre-key) are cut
    limit = nxt - (1 if a == 0 else 0)
    keep = F < limit[:, None]
    keep[:, 0] = True
    rows_f, rows_v = [F[keep]], [V[keep]]
    if a == 0:
        # pre-key one frame before each event (after the first), holding what the previous
        # envelope had decayed to, so the rise happens within the event's own frame
        pre_f = frames0[1:] - 1
        prev_last = np.where(keep, F, -1).max(axis=1)[:-1]
        ok = pre_f > prev_last
        # residual of envelope k-1 at pre_f (linear between its keys; 0 once it ended)
        res = np.zeros(len(pre_f))
        Fp, Vp = F[:-1], V[:-1]
        x = pre_f.astype(np.float64)
        for j in range(F.shape[1] - 1):
            seg = (x >= Fp[:, j]) & (x < Fp[:, j + 1])
            if curve == "constant":
                val = Vp[:, j]
            else:
                frac = (x - Fp[:, j]) / np.maximum(Fp[:, j + 1] - Fp[:, j], 1)
                val = Vp[:, j] + frac * (Vp[:, j + 1] - Vp[:, j])
            res = np.where(seg, val, res)
        rows_f.append(pre_f[ok])
        rows_v.append(res[ok])
    return _sorted_keys(np.concatenate(rows_f), np.concatenate(rows_v), curve, amps)


def mean_level(env: dict, attack_scale=1.0, decay_scale=1.0):
    """Area of a unit pulse envelope, in beats (its mean level times its length).

    ``attack_scale`` / ``decay_scale`` (scalars or per-event arrays) scale the attack and decay
    as :func:`pulse_keys` does; the result then has their shape.
    """
    a, h, d = float(env["attack_beats"]), float(env["hold_beats"]), float(env["decay_beats"])
    a, d = a * attack_scale, d * decay_scale
    if env["curve"] == "constant":  # each key's value holds to the next key
        return h + d
    if env["curve"] == "exponential":
        return 0.3 * a + h + 0.3 * d
    return 0.5 * a + h + 0.5 * d


def hold_keys(starts: np.ndarray, ends: np.ndarray, levels: np.ndarray) -> RuleKeys:
    """Steady levels: ``levels[i]`` from frame ``starts[i]`` to ``ends[i]`` (then 0), constant curve.

    Where one hold ends on the frame another starts, the new level takes over on that frame.
    """
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    lv = np.asarray(levels, dtype=np.float64)
    return _sorted_keys(np.concatenate([starts, np.maximum(ends, starts + 1)]),
                        np.concatenate([lv, np.zeros(len(lv))]), "constant", lv)


def span_keys(grid: Grid, spans: np.ndarray, amps: np.ndarray, env: dict, mode: str) -> RuleKeys:
    """Envelopes over spans: ``span`` (attack, hold to the end, decay) or ``ramp`` (rise to the end).

    Parameters
    ----------
    grid : Grid
    spans : (n, 2) start and end times in seconds.
    amps : (n,) peak amplitude of each span.
    env : dict
        ``attack_beats``, ``decay_beats``, ``curve`` (a ramp uses only the decay).
    mode : {"span", "ramp"}
    """
    curve = env["curve"]
    if len(spans) == 0:
        return RuleKeys(np.zeros(0, np.int64), np.zeros(0), curve, 0.0)
    a, d = float(env["attack_beats"]), float(env["decay_beats"])
    s, e = grid.frame(spans[:, 0]), grid.frame(spans[:, 1])
    bf = grid.beat_frames(spans[:, 0])
    if mode == "ramp":
        cols = [s, np.maximum(e, s + 1), np.maximum(e, s + 1) + np.maximum(1, np.rint(d * bf)).astype(np.int64)]
        vals = [0.0, 1.0, 0.0]
    else:
        s1 = s + np.rint(a * bf).astype(np.int64)
        cols = [s, s1, e, e + np.rint(d * bf).astype(np.int64)]
        vals = [0.0, 1.0, 1.0, 0.0]
        if a == 0:
            cols, vals = [s - 1, s, e, cols[3]], [0.0, 1.0, 1.0, 0.0]
    F = _monotone(np.stack(cols, axis=1))
    V = amps[:, None] * np.asarray(vals)[None, :]
    return _sorted_keys(F.ravel(), V.ravel(), curve, amps)


def combine(keys: list[RuleKeys], extra_frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum rule envelopes on the union of their key frames.

    Parameters
    ----------
    keys : list of RuleKeys
        The envelopes driving one property.
    extra_frames : (m,) int
        Frames keyed even where no envelope has a key (bar frames).

    Returns
    -------
    frames : (n,) int64
        Sorted union of the key frames and ``extra_frames``.
    modulation : (n,) float
        Sum of the envelopes at ``frames``.
    interp : (n,) int64
        Interpolation of each key: the curve of the strongest rule keying it, else linear.
    """
    parts = [k.frames for k in keys if len(k.frames)] + [extra_frames]
    U = np.unique(np.concatenate(parts).astype(np.int64))
    M = np.zeros(len(U))
    interp = np.full(len(U), INTERP["linear"], dtype=np.int64)
    for k in sorted(keys, key=lambda k: k.peak):  # the strongest rule's curve wins a shared key
        if len(k.frames) == 0:
            continue
        M += k.evaluate(U)
        interp[np.isin(U, k.frames)] = INTERP[k.curve]
    return U, M, interp
