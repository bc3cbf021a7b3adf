"""Transition effects: varied risers and snare rolls, impacts, sweeps and reverse swells.

:func:`random_fx` draws a track's effect design (``params["fx"]``): the build's riser kind
and level, the build roll pattern, the drop impact, the downlifter, and how often the
extra ``sfx`` events of :func:`place_sfx` occur at section changes and phrase starts:

* ``up1`` / ``up2``: a noise uplifter over the last one or two bars before a section change;
* ``rev``: a reversed cymbal swelling into the next downbeat (last bar of a build);
* ``impact``: a sub "boom" (and noise burst) on the first beat of a section;
* ``down2`` / ``down4``: a white-noise downsweep from the first beat of a drop;
* ``phrase``: a lighter crash at 8-bar phrase starts inside drops (and some intros).

Every effect starts and ends on bar lines; none moves the beat grid.
"""
from __future__ import annotations

import numpy as np

from . import instruments as ins
from .dsp import exp_decay, fade_edges, phase_of, seconds, white
from .dsp import fft_filter

RISERS = ("noise", "noise_pitch", "sweep", "reverse")
ROLLS = ("double", "eighths", "sixteenths", "claps", "none")
IMPACTS = ("boom", "boom_noise", "none")


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def random_fx(rng: np.random.Generator) -> dict:
    """Draw the effect design of one track (JSON-ready)."""
    v = rng.random(12)
    return {
        "riser": str(RISERS[int(v[0] * len(RISERS))]),
        "riser_gain_db": _r(rng.uniform(-6.0, 2.0), 2),
        "riser_bars": int(rng.choice([0, 0, 2, 4])),  # 0: the whole build
        "roll": str(ROLLS[int(v[1] * len(ROLLS))] if v[2] < 0.85 else "double"),
        "roll_gain_db": _r(rng.uniform(-1.5, 2.0), 2),
        "impact": str(IMPACTS[int(v[3] * len(IMPACTS))]),
        "boom_hz": _r(rng.uniform(30.0, 55.0), 2),
        "boom_start_hz": _r(rng.uniform(70.0, 160.0), 1),
        "boom_decay": _r(rng.uniform(0.15, 0.4), 3),
        "crash_gain_db": _r(rng.uniform(-6.0, 1.0), 2),
        "down_s_bars": int(rng.choice([1, 2, 2, 4])),
        "down_top_hz": _r(rng.uniform(5000.0, 12000.0), 0),
        "p_up": _r(rng.uniform(0.0, 1.0), 3),
        "p_rev": _r(rng.uniform(0.0, 1.0), 3),
        "p_impact": _r(rng.uniform(0.0, 1.0), 3),
        "p_down": _r(rng.uniform(0.0, 0.8), 3),
        "p_phrase": _r(rng.uniform(0.0, 1.0), 3),
        "sfx_gain_db": _r(rng.uniform(-8.0, 0.0), 2),
    }


def place_sfx(bars: list[dict], fx: dict, rng: np.random.Generator) -> None:
    """Add the ``sfx`` role (one variant per bar at most) to the bars of a plan (in place)."""
    n = len(bars)
    for i, bar in enumerate(bars):
        lab, pos, length = bar["section"], bar["pos"], bar["n"]
        nxt = bars[i + 1]["section"] if i + 1 < n else None
        last = pos == length - 1
        u = rng.random(5)
        variant = None
        if last and lab == "build" and nxt == "drop" and u[0] < fx["p_rev"]:
            variant = "rev"
        elif nxt is not None and lab in ("intro", "breakdown") and bars[i + 1]["pos"] == 0 and u[1] < fx["p_up"]:
            variant = "up1"
        elif (nxt is not None and lab in ("intro", "breakdown") and pos == length - 2 and bars[i + 1]["pos"] != 0
              and u[1] < 0.5 * fx["p_up"]):
            variant = "up2"
        elif pos == 0 and i > 0 and lab in ("build", "breakdown", "outro") and u[2] < fx["p_impact"]:
            variant = "impact"
        elif pos == 0 and lab == "drop" and u[3] < fx["p_down"]:
            variant = f"down{fx['down_s_bars']}"
        elif pos > 0 and pos % 8 == 0 and (lab == "drop" or (lab == "intro" and u[4] < 0.5)) and u[4] < fx["p_phrase"]:
            variant = "phrase"
        if variant:
            bar["roles"]["sfx"] = variant


def impact(fx: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sub boom: a sine falling from ``boom_start_hz`` to ``boom_hz``, with a noise burst for ``boom_noise``."""
    n = int(fx["boom_decay"] * 6 * sr)
    t = seconds(n, sr)
    f = fx["boom_hz"] + (fx["boom_start_hz"] - fx["boom_hz"]) * np.exp(-t / 0.08)
    # Exponential decay to -52 dB, then a half-length raised-cosine fade: in a quiet breakdown
    # the end of the boom must not be a step in the low band's loudness.
    fade = 0.5 + 0.5 * np.cos(np.pi * np.clip((t / t[-1] - 0.5) * 2.0, 0.0, 1.0)) if n > 1 else np.ones(n)
    x = np.sin(2 * np.pi * phase_of(f, n, sr)) * exp_decay(n, sr, fx["boom_decay"]) * fade
    out = np.stack([x, x], axis=1)
    if fx["impact"] == "boom_noise":
        burst = fft_filter(white(rng, n, 2), sr, lo=200, hi=6000) * exp_decay(n, sr, 0.12)[:, None]
        out += 0.35 * burst / (np.max(np.abs(burst)) or 1.0)
    return fade_edges(out, sr, 0.001, 0.05)


def reverse_swell(crash: np.ndarray, n: int, sr: int) -> np.ndarray:
    """A crash played backwards, cut so that its loudest sample is the last of ``n`` samples."""
    rev = crash[::-1]
    if rev.shape[0] >= n:
        rev = rev[-n:]
    out = np.zeros((n, 2))
    out[n - rev.shape[0]:] = rev
    fade_edges(out, sr, 0.05, 0.002)
    return out


def uplifter(fx: dict, riser_p: dict, dur_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A short noise riser (the build riser's sweep, over ``dur_s``)."""
    return ins.riser(dict(riser_p, pitch=0.0, curve=1.5), dur_s, sr, rng)


def downsweep(fx: dict, dur_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """White-noise downsweep from ``down_top_hz`` that fades out."""
    return ins.downlifter({"top": fx["down_top_hz"]}, dur_s, sr, rng)


def pitch_sweep(midi: float, dur_s: float, sr: int) -> np.ndarray:
    """A tonal riser: a detuned saw gliding up two octaves with a swelling level."""
    from .dsp import osc
    from .theory import midi_to_hz

    n = int(dur_s * sr)
    u = np.linspace(0, 1, n)
    f = midi_to_hz(midi) * 2.0 ** (2.0 * u ** 1.5)
    saw = 0.5 * (osc("saw", f, n, sr, cutoff_hz=6000.0) + osc("saw", f * 1.007, n, sr, cutoff_hz=6000.0))
    x = (u ** 2 * saw)[:, None] * np.array([0.9, 1.1])
    return fade_edges(x, sr, 0.01, 0.003)
