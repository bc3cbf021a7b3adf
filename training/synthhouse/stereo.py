"""Stereo image: mono-compatible widening of parts and a tempo-synced ping-pong delay.

Both leave the mono sum of the dry signal untouched, so nothing here moves or changes
what a mono analysis (beats, onsets, drops) hears of the dry parts:

* :func:`widen` adds a high-passed, delayed copy of a part's mid signal to its side
  signal (the classic "Haas" widener, done in mid/side so the copy cancels in mono);
* :func:`pingpong` is a send effect: echoes of a mono send alternate between the left
  and right channels, each one darker than the last.

The per-track width of the whole master is a mastering stage
(:func:`.mastering.set_width`).
"""
from __future__ import annotations

import numpy as np



def _one_pole(x: np.ndarray, sr: int, hz: float, high: bool = False) -> np.ndarray:
    """First-order (6 dB/octave) low- or high-pass, as the damping of a tape/analogue delay.

    ``scipy.signal.lfilter`` runs the recursion in C; a per-sample Python loop would be
    far too slow and an FFT filter costs more for these short, gentle slopes.
    """
    from scipy.signal import lfilter

    a = float(np.exp(-2.0 * np.pi * hz / sr))
    lp = lfilter([1.0 - a], [1.0, -a], x, axis=0)
    return x - lp if high else lp

#: Parts that may be widened (kick, clap and bass stay centred, as in most club mixes).
WIDEN_ROLES = ("lead", "chords", "atmos", "vox", "hats", "tops", "perc")
#: Parts that may feed the delay send.
DELAY_ROLES = ("lead", "chords", "vox", "perc", "tops", "clap")


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def random_stereo(rng: np.random.Generator) -> dict:
    """Draw the widening of each part and the delay send (JSON-ready).

    ``widen[role]`` is ``{"amount": side gain of the delayed copy (0-0.9), "delay_ms": 6-24}``
    or None; ``delay`` is ``{"beats", "feedback", "damp_hz", "sends": {role: level}}`` or
    None (about 40 % of tracks have no delay).
    """
    widen = {}
    for role in WIDEN_ROLES:
        on = rng.random() < 0.75
        amount, delay = rng.uniform(0.2, 1.0), rng.uniform(6.0, 24.0)
        widen[role] = {"amount": _r(amount), "delay_ms": _r(delay, 2)} if on else None
    delay = None
    on = rng.random() < 0.6
    beats = float(rng.choice([0.75, 0.75, 0.5, 0.375, 1.0, 0.25]))
    fb, damp = rng.uniform(0.2, 0.55), rng.uniform(1800.0, 6000.0)
    levels = {role: rng.uniform(0.0, hi) for role, hi in
              zip(DELAY_ROLES, (0.3, 0.15, 0.45, 0.15, 0.1, 0.1))}
    if on:
        delay = {"beats": beats, "feedback": _r(fb), "damp_hz": _r(damp, 0),
                 "sends": {k: _r(v) for k, v in levels.items()}}
    return {"widen": widen, "delay": delay}


def widen(x: np.ndarray, sr: int, amount: float, delay_ms: float, low_hz: float = 300.0) -> np.ndarray:
    """Widen stereo ``x`` (n, 2): side += ``amount`` x delayed, high-passed mid.

    The output is ``delay`` samples longer (the copy rings on). The mono sum
    ``(L + R) / 2`` equals the input's.
    """
    d = int(round(delay_ms * 1e-3 * sr))
    n = x.shape[0]
    out = np.zeros((n + d, 2), dtype=np.float64)
    out[:n] = x
    mid = 0.5 * (x[:, 0] + x[:, 1])
    copy = _one_pole(mid.astype(np.float64), sr, low_hz, high=True) * amount
    out[d:, 0] += copy
    out[d:, 1] -= copy
    return out


def pingpong(mono: np.ndarray, sr: int, delay_s: float, feedback: float, damp_hz: float,
             floor: float = 0.02) -> np.ndarray:
    """Wet output of a ping-pong delay fed by ``mono``: stereo (n + k * delay, 2).

    Echo ``k`` (1, 2, ...) has gain ``feedback ** (k - 1)`` and sits on the left for odd
    ``k``, the right for even ``k``; echoes are low-passed at ``damp_hz`` (the first two
    once, later ones twice), as in a tape or analogue-modelled delay. Echoes below
    ``floor`` are dropped.
    """
    d = max(1, int(round(delay_s * sr)))
    k_max = 1 + int(np.log(floor) / np.log(max(feedback, 1e-3))) if feedback > floor else 1
    n = mono.shape[0]
    v1 = _one_pole(np.asarray(mono, dtype=np.float64), sr, damp_hz)
    v2 = _one_pole(v1, sr, damp_hz) if k_max >= 3 else v1
    out = np.zeros((n + k_max * d, 2))
    for k in range(1, k_max + 1):
        src = v1 if k <= 2 else v2
        out[k * d:k * d + n, (k + 1) % 2] += feedback ** (k - 1) * src
    return out
