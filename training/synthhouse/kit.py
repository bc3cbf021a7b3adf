"""Drum one-shots of a plan: recorded samples (as the plan chose them) or synthetic drums.

:func:`oneshot` is what the engine calls for every drum sound. When the plan's
``samples`` entry has a file for the role, the file is decoded (cached per process),
varispeed-tuned and shaped to the plan's drum parameters: a replacing kick is retuned to
the plan's body pitch and faded at the plan's decay, a layered kick is the synthetic kick
plus the sample's content above the crossover, claps and snares get
the plan's drive (distortion), hats their open/closed length. Otherwise the synthetic
instrument of :mod:`.instruments` plays.
"""
from __future__ import annotations

import numpy as np

from . import instruments as ins
from . import samples
from .dsp import exp_decay, fade_edges, fft_filter, seconds

#: High-pass (Hz) of recorded claps and snares: their sub-bass thump would sound like a bass
#: line between the beats; the body (150-250 Hz) stays.
SNARE_HP_HZ = 120.0
#: Pitch ratios of the percussion variants (a sampler's "tuned" hits: 0, +4, -3 semitones).
PERC_RATIOS = (1.0, 1.26, 0.84)


def _norm(x: np.ndarray) -> np.ndarray:
    return x / (float(np.max(np.abs(x))) or 1.0)


def _pan(x: np.ndarray, pan: float) -> np.ndarray:
    """Constant-power pan of a stereo one-shot (balance of its two channels)."""
    if not pan:
        return x
    a = (pan + 1.0) * np.pi / 4.0
    return x * (np.array([np.cos(a), np.sin(a)]) * np.sqrt(2.0))


def sample_kick(choice: dict, kick_p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A recorded kick, replacing or layered on the synthetic one (see the module docstring)."""
    y = np.array(samples.load(choice, sr))
    if choice.get("mode") == "replace":
        t = seconds(y.shape[0], sr)
        length = float(choice["length_s"])
        env = np.exp(-np.maximum(t - length, 0.0) / (0.15 * length))
        y *= env[:, None]
        y = ins._drive(y, kick_p.get("drive", 1.0))
        # As loud as the synthetic kick it replaces (first 50 ms), so the beat stays on top.
        return fade_edges(_match(_norm(y), ins.kick(kick_p, sr, rng), sr), sr, 0.0003, 0.02)
    # Layer: the whole synthetic kick (its body, pitch and click stay: the kick is what the
    # beat is heard from) plus the sample above the crossover for its character.
    body = ins.kick(kick_p, sr, rng)
    xo = float(choice["crossover_hz"])
    top = fft_filter(y, sr, lo=xo, order=4)
    # Only the sample's attack is layered (10 ms, then a 40 ms decay): a ringing top would
    # blur the onset the synthetic kick gives.
    top *= exp_decay(top.shape[0], sr, 0.04, 0.01)[:, None]
    top = 0.5 * _norm(top) * float(np.max(np.abs(body)))
    out = np.zeros((max(body.shape[0], top.shape[0]), 2))
    out[:body.shape[0]] += body
    out[:top.shape[0]] += top
    # Not renormalised: the body keeps the synthetic kick's level (the top only adds to it).
    return fade_edges(out, sr, 0.0003, 0.02)


def _rms_head(x: np.ndarray, sr: int, s: float = 0.05) -> float:
    head = x[: max(1, int(s * sr))]
    return float(np.sqrt(np.mean(np.square(head)))) or 1e-9


def _match(sample: np.ndarray, synth: np.ndarray, sr: int) -> np.ndarray:
    """Scale a sample to the loudness of the synthetic drum it replaces (RMS of the first 50 ms).

    The mix levels were set for the synthetic drums; recorded hits are often denser at the
    same peak, and would otherwise stand out against the kick (the beat's anchor).
    """
    return sample * min(_rms_head(synth, sr) / _rms_head(sample, sr), 2.0)


def oneshot(params: dict, kind: str, genre: str | None, variant: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Stereo float64 one-shot of drum ``kind`` for ``genre`` (synthetic ones peak at 1).

    Kinds: ``kick``, ``clap``, ``snare_roll``, ``hat``, ``open_hat``, ``perc``, ``crash``
    and ``top<i>`` (tops layer ``i``). A recorded hit that replaces a synthetic one is
    loudness-matched to it (:func:`_match`).
    """
    sm = params.get("samples") or {}
    if kind == "kick":
        c = sm.get("kick")
        glob = params["global"]
        return sample_kick(c, glob["kick"], sr, rng) if c else ins.kick(glob["kick"], sr, rng)
    synth = _synthetic(params, kind, genre, variant, sr, rng)
    sample = _sampled(params, kind, genre, variant, sr)
    return synth if sample is None else _match(sample, synth, sr)


def _synthetic(params: dict, kind: str, genre: str | None, variant: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    snd = params["sound"].get(genre) if genre else None
    if kind == "clap":
        p = snd["clap"]
        return ins.snare(p, sr, rng) if p["type"] == "snare" else ins.clap(p, sr, rng)
    if kind == "snare_roll":
        return ins.snare(params["global"]["snare_roll"], sr, rng)
    if kind in ("hat", "open_hat"):
        return ins.hat(snd["hats"], sr, rng, open_=kind == "open_hat")
    if kind == "perc":
        pc = snd["perc"]
        if pc["style"] == "shaker":
            return ins.shaker(pc, sr, rng)
        return ins.ride(pc, sr, rng) if pc["style"] == "ride" else ins.perc(pc, sr, rng, variant)
    if kind == "crash":
        return ins.crash({"decay": 1.6, "impact": 0.7}, sr, rng)
    if kind.startswith("top"):
        layer = snd["tops"]["layers"][int(kind[3:])]
        return _pan(tops_synthetic(params, layer, genre, variant, sr, rng), layer["pan"])
    raise KeyError(kind)


def _sampled(params: dict, kind: str, genre: str | None, variant: int, sr: int) -> np.ndarray | None:
    """The recorded hit the plan chose for ``kind`` (shaped), or None."""
    sm = params.get("samples") or {}
    gs = (sm.get("genres") or {}).get(genre) or {}
    snd = params["sound"].get(genre) if genre else None
    if kind == "clap":
        c = gs.get("clap")
        if not c:
            return None
        y = fft_filter(np.array(samples.load(c, sr)), sr, lo=SNARE_HP_HZ)
        return fade_edges(_norm(ins._drive(y, snd["clap"].get("drive", 1.0))), sr, 0.0002, 0.01)
    if kind == "snare_roll":
        c = sm.get("snare_roll")
        if not c:
            return None
        # A roll plays up to 32nd notes: a short, tight hit (30 ms, then a 40 ms decay) keeps
        # every hit audible instead of a wash of overlapping tails.
        y = fft_filter(np.array(samples.load(c, sr)), sr, lo=SNARE_HP_HZ)
        y = y[: int(0.3 * sr)] * exp_decay(min(y.shape[0], int(0.3 * sr)), sr, 0.04, 0.03)[:, None]
        return fade_edges(_norm(y), sr, 0.0002, 0.01)
    if kind in ("hat", "open_hat"):
        c = gs.get(kind)
        if not c:
            return None
        p = snd["hats"]
        y = np.array(samples.load(c, sr, 1.04 if variant == 1 else 1.0))
        if kind == "hat":  # the plan's closed-hat decay shortens a ringing sample
            y *= exp_decay(y.shape[0], sr, max(p.get("decay", 0.04) * 2.0, 0.03), p.get("decay", 0.04))[:, None]
        return fade_edges(_norm(y), sr, 0.0002, 0.005)
    if kind == "perc":
        c = gs.get("perc")
        if not c:
            return None
        y = np.array(samples.load(c, sr, PERC_RATIOS[int(variant) % 3]))
        return fade_edges(_pan(_norm(y), snd["perc"].get("pan", 0.0) * (1 if variant % 2 else -1)), sr, 0.0002, 0.005)
    if kind == "crash":
        c = sm.get("crash")
        return np.array(samples.load(c, sr)) if c else None
    if kind.startswith("top"):
        i = int(kind[3:])
        layer = snd["tops"]["layers"][i]
        choices = gs.get("tops") or []
        c = choices[i] if i < len(choices) else None
        if not c:
            return None
        kind_ = layer["kind"]
        ratio = PERC_RATIOS[int(variant) % 3] if kind_ in ("conga", "rim") else (1.06 if variant else 1.0)
        return _pan(fade_edges(_norm(np.array(samples.load(c, sr, ratio))), sr, 0.0002, 0.005), layer["pan"])
    raise KeyError(kind)


def tops_synthetic(params: dict, layer: dict, genre: str, variant: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """The synthetic instrument of one tops layer (or the genre's own clap / hat, played softly)."""
    kind, p = layer["kind"], layer["synth"]
    if kind == "ghost_snare":
        return oneshot(params, "clap", genre, 0, sr, rng)
    if kind == "hat16":
        return oneshot(params, "hat", genre, 1, sr, rng)
    if kind == "shaker16":
        return ins.shaker(p, sr, rng)
    if kind == "tamb":
        return ins.hat(p, sr, rng, open_=bool(variant))
    if kind in ("conga", "rim"):
        return ins.perc(p, sr, rng, variant)
    if kind == "ride":
        return ins.ride(p, sr, rng)
    raise KeyError(kind)


__all__ = ["oneshot", "sample_kick", "tops_synthetic"]
