"""Per-genre trait profiles (from GENRES.md) and seeded sound-design draws inside each genre.

:data:`TRAITS` transcribes the genre table: tempo range, which of lead / chord / bass
instruments are present and with which voices, and the 1-5 scores for groove
(attack), rhythm fragmentation, distortion and organicity, plus kick and swing
ranges. :func:`sample_genre_sound` turns one genre's traits into concrete, random
sound-design parameters (voices, envelopes, patterns); the scores map onto
parameters the same way for every genre, so the genres differ by where their
scores lie, not by hand-picked constants.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ...core.genres import GENRES
from . import patterns


@dataclass(frozen=True)
class Traits:
    """One genre row: ranges are (low, high) and sampled uniformly; dicts are choice weights."""

    bpm: tuple[int, int]
    lead: dict[str, float]
    chords: dict[str, float]
    bass: dict[str, float]
    groove: tuple[float, float]
    fragmentation: tuple[float, float]
    distortion: tuple[float, float]
    organicity: tuple[float, float]
    swing: tuple[float, float]
    kick_hz: tuple[float, float]
    kick_decay: tuple[float, float]
    kick_click: tuple[float, float]
    scales: dict[str, float]
    snare: float = 0.3  # probability of a snare instead of a clap on 2 and 4
    perc: dict[str, float] = field(default_factory=lambda: {"none": 1.0})
    sixteenth_hats: float = 0.6
    open_hats: float = 0.6
    reverb_boost: float = 1.0
    lead_style: dict[str, float] = field(default_factory=lambda: {"melodic": 1.0})
    lead_octave: int = 5  # lead register (MIDI octave of the chord root)
    levels: dict[str, float] = field(default_factory=dict)  # dB offsets of roles in the drop mix


NONE = "none"

TRAITS: dict[str, Traits] = {
    "Progressive House": Traits(
        bpm=(126, 128), lead={"supersaw": 0.55, "piano": 0.25, "strings": 0.2},
        chords={"supersaw_pad": 0.45, "strings_pad": 0.25, "piano_chords": 0.3}, bass={"bass_saw": 0.75, "rolling": 0.25},
        groove=(4, 5), fragmentation=(1, 3), distortion=(1, 2), organicity=(3, 5), swing=(0.0, 0.04),
        kick_hz=(46, 56), kick_decay=(0.22, 0.32), kick_click=(0.2, 0.4), scales={"minor": 0.65, "major": 0.35},
        snare=0.5, perc={"ride": 0.5, "shaker": 0.3, NONE: 0.2}, sixteenth_hats=0.7, open_hats=0.8,
        lead_style={"melodic": 0.8, "arp": 0.2}, levels={"lead": 1.0, "chords": 0.0},
    ),
    "Future House": Traits(
        bpm=(125, 130), lead={"square": 0.55, "fm": 0.45}, chords={"stab_chords": 0.3, "organ_chords": 0.2, NONE: 0.5},
        bass={"bounce": 1.0}, groove=(3, 4), fragmentation=(4, 5), distortion=(3, 4), organicity=(1, 3),
        swing=(0.0, 0.1), kick_hz=(46, 58), kick_decay=(0.18, 0.28), kick_click=(0.3, 0.5),
        scales={"minor": 0.7, "dorian": 0.3}, snare=0.2, perc={"rim": 0.5, NONE: 0.5}, sixteenth_hats=0.5,
        open_hats=0.7, lead_style={"melodic": 1.0}, levels={"bass": 1.0},
    ),
    "Bass House": Traits(
        bpm=(126, 130), lead={"stab": 0.5, NONE: 0.5}, chords={NONE: 1.0}, bass={"growl": 1.0},
        groove=(2, 4), fragmentation=(3, 4), distortion=(4, 5), organicity=(1, 2), swing=(0.0, 0.12),
        kick_hz=(48, 60), kick_decay=(0.22, 0.32), kick_click=(0.3, 0.6), scales={"minor": 0.6, "phrygian": 0.4},
        snare=0.25, perc={"rim": 0.4, "shaker": 0.2, NONE: 0.4}, sixteenth_hats=0.6, open_hats=0.6,
        lead_style={"stab": 1.0}, lead_octave=4, levels={"bass": 2.0},
    ),
    "Tech House": Traits(
        bpm=(120, 126), lead={NONE: 1.0}, chords={NONE: 1.0}, bass={"rolling": 1.0},
        groove=(3, 5), fragmentation=(3, 4), distortion=(2, 4), organicity=(1, 3), swing=(0.16, 0.36),
        kick_hz=(44, 54), kick_decay=(0.14, 0.22), kick_click=(0.4, 0.7), scales={"minor": 0.6, "phrygian": 0.4},
        snare=0.0, perc={"tech": 0.7, "shaker": 0.3}, sixteenth_hats=1.0, open_hats=0.7, levels={"bass": 1.0, "perc": 1.0},
    ),
    "Deep House": Traits(
        bpm=(115, 125), lead={"piano": 0.2, "organ": 0.15, "pluck": 0.2, NONE: 0.45},
        chords={"warm_pad": 0.5, "epiano_chords": 0.25, "organ_chords": 0.25}, bass={"reese": 0.75, "sub": 0.25},
        groove=(2, 3), fragmentation=(1, 2), distortion=(1, 2), organicity=(2, 4), swing=(0.1, 0.3),
        kick_hz=(42, 52), kick_decay=(0.2, 0.3), kick_click=(0.1, 0.3), scales={"dorian": 0.5, "minor": 0.5},
        snare=0.1, perc={"shaker": 0.5, "rim": 0.3, NONE: 0.2}, sixteenth_hats=1.0, open_hats=0.6,
        reverb_boost=2.8, levels={"chords": 2.0, "lead": -2.0},
    ),
    "Bigroom": Traits(
        bpm=(126, 130), lead={"horn": 1.0}, chords={NONE: 1.0}, bass={NONE: 1.0},
        groove=(1, 2), fragmentation=(1, 3), distortion=(4, 5), organicity=(1, 2), swing=(0.0, 0.0),
        kick_hz=(62, 76), kick_decay=(0.34, 0.5), kick_click=(0.5, 0.8), scales={"minor": 0.8, "harmonic_minor": 0.2},
        snare=0.7, perc={NONE: 1.0}, sixteenth_hats=0.2, open_hats=0.9, lead_style={"riff": 1.0},
        levels={"lead": 2.0, "kick": 2.0},
    ),
    "Future Rave": Traits(
        bpm=(125, 130), lead={"rave": 1.0}, chords={NONE: 1.0}, bass={"pulse_bass": 1.0},
        groove=(4, 5), fragmentation=(3, 5), distortion=(2, 4), organicity=(1, 2), swing=(0.0, 0.04),
        kick_hz=(48, 58), kick_decay=(0.24, 0.34), kick_click=(0.3, 0.5), scales={"minor": 0.7, "harmonic_minor": 0.3},
        snare=0.5, perc={NONE: 0.7, "rim": 0.3}, sixteenth_hats=0.5, open_hats=0.7,
        lead_style={"melodic": 0.5, "arp": 0.5}, levels={"lead": 1.0},
    ),
    "Slap House": Traits(
        bpm=(115, 125), lead={"vocal": 0.75, "pluck": 0.25}, chords={"piano_chords": 0.1, NONE: 0.9},
        bass={"slap": 1.0}, groove=(3, 4), fragmentation=(3, 5), distortion=(1, 3), organicity=(1, 2),
        swing=(0.0, 0.08), kick_hz=(45, 56), kick_decay=(0.18, 0.26), kick_click=(0.3, 0.5),
        scales={"minor": 1.0}, snare=0.2, perc={"shaker": 0.4, NONE: 0.6}, sixteenth_hats=0.5, open_hats=0.6,
        lead_style={"vocal": 1.0}, levels={"bass": 1.5},
    ),
}
assert tuple(TRAITS) == GENRES

#: Parts of the arrangement that come from one genre per 4-bar block in mixtures.
BLENDED_ROLES = ("lead", "chords", "bass", "clap", "hats", "perc")


def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    names = list(weights)
    p = np.array([weights[k] for k in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def _r(x: float, nd: int = 4) -> float:
    return float(round(float(x), nd))


# --- Trait score -> parameter maps (shared by all genres) ------------------------

def attack_s(groove: float) -> float:
    """Attack time of tonal parts: groove 1 -> 0.8 ms (festival snap), 5 -> ~36 ms (wave-like)."""
    return 0.0008 * 45.0 ** ((groove - 1.0) / 4.0)


def voice_drive(distortion: float) -> float:
    """Waveshaper drive of synth voices: 1 (clean) at distortion 1, ~11 at 5."""
    return 1.0 + 1.6 * max(distortion - 1.0, 0.0) ** 1.3


def master_drive(distortion: float) -> float:
    """Drive of the master saturation: transparent at 1, clipping at 5."""
    return 0.4 + 0.55 * (distortion - 1.0)


def pump_depth(groove: float) -> float:
    """Side-chain depth: deeper pumping gives the wave-like groove."""
    return 0.15 + 0.13 * (groove - 1.0)


def reverb_send(organicity: float, boost: float = 1.0) -> float:
    """Reverb send level of tonal parts."""
    return (0.03 + 0.06 * (organicity - 1.0)) * boost


def reverb_rt60(organicity: float, boost: float = 1.0) -> float:
    """Reverb decay time (s)."""
    return (0.5 + 0.4 * (organicity - 1.0)) * (1.0 + 0.35 * (boost - 1.0))


# --- Voice parameter draws -----------------------------------------------------

def _lead_voice(rng, name: str, sc: dict) -> dict:
    att = attack_s(sc["groove"]) * float(rng.uniform(0.8, 1.25))
    drv = voice_drive(sc["distortion"]) * float(rng.uniform(0.85, 1.15))
    if name == "supersaw":
        return {"type": "supersaw", "voices": int(rng.integers(5, 10)), "detune": _r(rng.uniform(14, 40)),
                "width": _r(rng.uniform(0.6, 1.0)), "cutoff": _r(rng.uniform(1500, 4000)), "env_amt": _r(rng.uniform(1500, 6000)),
                "env_decay": _r(rng.uniform(0.1, 0.4)), "attack": _r(att, 5), "decay": _r(rng.uniform(0.2, 0.6)),
                "sustain": _r(rng.uniform(0.5, 0.8)), "release": _r(rng.uniform(0.1, 0.3)), "drive": _r(drv)}
    if name == "square":
        return {"type": "square", "pw": _r(rng.uniform(0.3, 0.5)), "detune": _r(rng.uniform(4, 14)),
                "bend": _r(rng.choice([0.0, 2.0, 5.0, 12.0])), "bend_time": _r(rng.uniform(0.015, 0.05)),
                "cutoff": _r(rng.uniform(1200, 3000)), "env_amt": _r(rng.uniform(1500, 5000)), "env_decay": _r(rng.uniform(0.05, 0.2)),
                "resonance": _r(rng.uniform(0.3, 1.5)), "attack": _r(att, 5), "decay": _r(rng.uniform(0.1, 0.3)),
                "sustain": _r(rng.uniform(0.4, 0.7)), "release": _r(rng.uniform(0.05, 0.12)), "drive": _r(drv)}
    if name == "fm":
        return {"type": "fm", "ratio": _r(rng.choice([1.0, 2.0, 3.0, 3.5, 1.41, 0.5])), "index": _r(rng.uniform(2, 7)),
                "index_end": _r(rng.uniform(0.3, 1.5)), "index_decay": _r(rng.uniform(0.05, 0.25)), "attack": _r(att, 5),
                "decay": _r(rng.uniform(0.1, 0.3)), "sustain": _r(rng.uniform(0.4, 0.7)), "release": _r(rng.uniform(0.05, 0.15)),
                "drive": _r(drv)}
    if name == "pluck":
        return {"type": "pluck", "wave": str(rng.choice(["saw", "pulse"])), "env_amt": _r(rng.uniform(15, 45)),
                "env_decay": _r(rng.uniform(0.04, 0.15)), "decay": _r(rng.uniform(0.2, 0.5)), "detune": _r(rng.uniform(4, 15)),
                "attack": _r(min(att, 0.01), 5), "release": _r(rng.uniform(0.15, 0.35)), "drive": _r(drv)}
    if name == "piano":
        return {"type": "piano", "inharm": _r(rng.uniform(0.0001, 0.0008), 6), "rolloff": _r(rng.uniform(1.0, 1.8)),
                "decay": _r(rng.uniform(0.8, 1.8)), "tine": _r(rng.choice([0.0, 0.0, 0.4, 0.7])), "release": _r(rng.uniform(0.2, 0.4))}
    if name == "strings":
        return {"type": "strings", "voices": int(rng.integers(3, 6)), "detune": _r(rng.uniform(5, 14)),
                "vibrato": _r(rng.uniform(5, 15)), "cutoff": _r(rng.uniform(2000, 4500)), "attack": _r(max(att, 0.06) * 3, 5),
                "decay": 0.5, "sustain": 0.9, "release": _r(rng.uniform(0.3, 0.6))}
    if name == "organ":
        return {"type": "organ", "drawbars": [_r(x, 2) for x in rng.uniform(0.0, 1.0, 8)], "perc": _r(rng.uniform(0.2, 0.8)),
                "tremolo": _r(rng.uniform(4.5, 6.8)), "attack": 0.003, "decay": 0.3, "sustain": 0.8, "release": 0.08}
    if name == "horn":
        return {"type": "horn", "voices": int(rng.integers(3, 7)), "detune": _r(rng.uniform(10, 30)),
                "blip": _r(rng.uniform(0.5, 2.0)), "env_amt": _r(rng.uniform(4000, 9000)), "env_decay": _r(rng.uniform(0.08, 0.25)),
                "cutoff": _r(rng.uniform(1000, 2500)), "sub_square": _r(rng.uniform(0.3, 0.8)), "attack": _r(att, 5),
                "decay": _r(rng.uniform(0.1, 0.3)), "sustain": _r(rng.uniform(0.6, 0.9)), "release": _r(rng.uniform(0.03, 0.08)),
                "drive": _r(drv)}
    if name == "rave":
        return {"type": "rave", "detune": _r(rng.uniform(6, 20)), "pwm": _r(rng.uniform(0.05, 0.2)),
                "pwm_rate": _r(rng.uniform(1.0, 6.0)), "cutoff": _r(rng.uniform(2500, 6000)), "clip": _r(1.0 + 0.5 * drv),
                "bits": int(rng.integers(4, 8)), "attack": _r(att, 5), "decay": _r(rng.uniform(0.1, 0.3)),
                "sustain": _r(rng.uniform(0.6, 0.9)), "release": _r(rng.uniform(0.06, 0.15))}
    if name == "vocal":
        return {"type": "vocal", "shift": _r(rng.uniform(1.0, 1.25), 2), "scoop": _r(rng.uniform(0.3, 1.2)),
                "vibrato": _r(rng.uniform(15, 45)), "breath": _r(rng.uniform(0.03, 0.1)), "attack": _r(max(att, 0.01), 5),
                "decay": 0.3, "sustain": 0.85, "release": _r(rng.uniform(0.06, 0.12)), "drive": _r(drv),
                "vowels": [str(v) for v in rng.choice(list("aeiou"), size=4)]}
    if name == "stab":  # bass-house non-melodic lead: a growl stab
        return {"type": "growl", "r_lo": _r(rng.uniform(2, 4)), "r_hi": _r(rng.uniform(10, 30)), "wow_rate": _r(rng.uniform(4, 12)),
                "wow_phase": _r(rng.uniform(0, 3.14)), "resonance": _r(rng.uniform(2, 4)), "yoy": _r(rng.uniform(0, 12)),
                "fold": _r(rng.uniform(1.5, 3.0)), "fm": _r(rng.uniform(0.2, 0.6)), "noise": _r(rng.uniform(0.1, 0.3)),
                "sub": 0.0, "attack": _r(att, 5), "decay": 0.15, "sustain": 0.7, "release": 0.04, "drive": _r(drv)}
    raise ValueError(name)


def _chord_voice(rng, name: str, sc: dict) -> tuple[dict, str]:
    """Chord instrument and its rhythm style."""
    att = attack_s(sc["groove"])
    if name == "supersaw_pad":
        v = _lead_voice(rng, "supersaw", sc)
        v.update(attack=_r(max(att, 0.01) * 4, 5), cutoff=_r(rng.uniform(800, 2000)), env_amt=_r(rng.uniform(300, 1500)))
        return v, str(rng.choice(["pad", "stab", "comp"], p=[0.5, 0.3, 0.2]))
    if name == "strings_pad":
        return _lead_voice(rng, "strings", sc), "pad"
    if name == "piano_chords":
        return _lead_voice(rng, "piano", sc), str(rng.choice(["comp", "stab"]))
    if name == "epiano_chords":
        v = _lead_voice(rng, "piano", sc)
        v["tine"] = _r(rng.uniform(0.5, 0.9))
        return v, str(rng.choice(["comp", "stab"]))
    if name == "organ_chords":
        return _lead_voice(rng, "organ", sc), "stab"
    if name == "warm_pad":
        return {"type": "pad", "wave": str(rng.choice(["saw", "triangle"])), "voices": int(rng.integers(3, 6)),
                "detune": _r(rng.uniform(6, 18)), "cutoff": _r(rng.uniform(700, 1800)), "lfo": _r(rng.uniform(0.1, 0.5)),
                "attack": _r(rng.uniform(0.15, 0.5)), "decay": 1.0, "sustain": 0.9, "release": _r(rng.uniform(0.4, 1.0))}, "pad"
    if name == "stab_chords":
        return {"type": "stab", "detune": _r(rng.uniform(5, 15)), "cutoff": _r(rng.uniform(600, 1500)),
                "env_amt": _r(rng.uniform(2000, 6000)), "env_decay": _r(rng.uniform(0.04, 0.12)), "attack": _r(att, 5),
                "decay": 0.15, "sustain": 0.3, "release": 0.06, "drive": _r(voice_drive(sc["distortion"]) * 0.6)}, "stab"
    raise ValueError(name)


def _bass_voice(rng, name: str, sc: dict) -> tuple[dict, str]:
    """Bass instrument and its pattern style."""
    att = attack_s(sc["groove"]) * float(rng.uniform(0.8, 1.25))
    drv = voice_drive(sc["distortion"]) * float(rng.uniform(0.85, 1.15))
    if name == "bass_saw":
        return {"type": "bass_saw", "env_amt": _r(rng.uniform(4, 14)), "env_decay": _r(rng.uniform(0.04, 0.12)),
                "resonance": _r(rng.uniform(0.3, 1.2)), "sub": _r(rng.uniform(0.4, 0.9)), "attack": _r(att, 5),
                "decay": 0.2, "sustain": 0.6, "release": 0.05, "drive": _r(drv)}, "offbeat"
    if name == "rolling":
        return {"type": "rolling", "tri": _r(rng.uniform(0.2, 0.6)), "saw": _r(rng.uniform(0.1, 0.5)),
                "env_amt": _r(rng.uniform(3, 10)), "env_decay": _r(rng.uniform(0.02, 0.06)), "attack": _r(min(att, 0.006), 5),
                "decay": _r(rng.uniform(0.06, 0.15)), "sustain": _r(rng.uniform(0.2, 0.5)), "release": 0.03,
                "drive": _r(max(drv, 1.2))}, "rolling"
    if name == "reese":
        return {"type": "reese", "voices": int(rng.integers(2, 4)), "detune": _r(rng.uniform(10, 28)),
                "cutoff": _r(rng.uniform(250, 700)), "lfo": _r(rng.uniform(0.1, 0.6)), "sub": _r(rng.uniform(0.5, 0.9)),
                "attack": _r(max(att, 0.01), 5), "decay": 0.4, "sustain": 0.8, "release": 0.1, "drive": _r(drv)}, "reese"
    if name == "sub":
        return {"type": "sub", "attack": _r(max(att, 0.005), 5), "decay": 0.3, "sustain": 0.8, "release": 0.05,
                "drive": _r(drv)}, "sub"
    if name == "growl":
        return {"type": "growl", "r_lo": _r(rng.uniform(1.5, 3.5)), "r_hi": _r(rng.uniform(8, 25)),
                "wow_rate": _r(rng.uniform(3, 10)), "wow_phase": _r(rng.uniform(0, 3.14)), "resonance": _r(rng.uniform(1.5, 4)),
                "yoy": _r(rng.uniform(0, 12)), "fold": _r(rng.uniform(1.2, 3.0)), "fm": _r(rng.uniform(0.2, 0.7)),
                "noise": _r(rng.uniform(0.1, 0.3)), "sub": _r(rng.uniform(0.4, 0.8)), "attack": _r(att, 5),
                "decay": 0.2, "sustain": 0.8, "release": 0.04, "drive": _r(drv)}, "growl"
    if name == "bounce":
        return {"type": "bounce", "dive": _r(rng.choice([7.0, 12.0, 19.0, 24.0])), "dive_time": _r(rng.uniform(0.015, 0.04)),
                "env_amt": _r(rng.uniform(10, 35)), "env_decay": _r(rng.uniform(0.04, 0.1)), "pw": _r(rng.uniform(0.25, 0.5)),
                "resonance": _r(rng.uniform(0.8, 2.5)), "metal": _r(rng.uniform(0.1, 0.5)), "ratio": _r(rng.choice([2.0, 3.0, 3.5, 1.5])),
                "sub": _r(rng.uniform(0.4, 0.7)), "attack": _r(att, 5), "decay": 0.12, "sustain": 0.5, "release": 0.04,
                "drive": _r(drv)}, "bounce"
    if name == "pulse_bass":
        return {"type": "pulse_bass", "detune": _r(rng.uniform(5, 15)), "cutoff": _r(rng.uniform(500, 1400)),
                "trem": _r(rng.uniform(0.2, 0.5)), "trem_rate": _r(rng.choice([4.0, 8.0, 16.0])), "sub": _r(rng.uniform(0.3, 0.7)),
                "attack": _r(float(np.clip(att, 0.008, 0.03)), 5), "decay": 0.3, "sustain": 0.8, "release": 0.08, "drive": _r(drv)}, "pulse"
    if name == "slap":
        return {"type": "slap", "env_amt": _r(rng.uniform(15, 40)), "env_decay": _r(rng.uniform(0.04, 0.1)),
                "octave": _r(rng.uniform(0.3, 0.8)), "snap": _r(rng.uniform(0.3, 0.9)), "attack": _r(min(att, 0.004), 5),
                "decay": 0.15, "sustain": 0.5, "release": 0.05, "drive": _r(drv)}, "slap"
    raise ValueError(name)


def sample_genre_sound(genre: str, rng: np.random.Generator) -> dict:
    """Draw one concrete sound design for ``genre`` (JSON-serialisable dict).

    Covers the trait scores, kick, drum kit and patterns, and the lead / chord /
    bass instruments with their patterns (``None`` where the genre has no such part).
    """
    t = TRAITS[genre]
    sc = {"groove": _u(rng, t.groove), "fragmentation": _u(rng, t.fragmentation), "distortion": _u(rng, t.distortion),
          "organicity": _u(rng, t.organicity), "swing": _u(rng, t.swing)}
    sc = {k: _r(v, 3) for k, v in sc.items()}

    kick = {"pitch_hz": _r(_u(rng, t.kick_hz), 2), "start_hz": _r(rng.uniform(3.5, 6.0) * 50 + 20 * (sc["distortion"] - 1)),
            "pitch_decay": _r(rng.uniform(0.015, 0.045)), "decay": _r(_u(rng, t.kick_decay)), "hold": _r(rng.uniform(0.01, 0.04)),
            "click": _r(_u(rng, t.kick_click)), "tok_hz": _r(rng.uniform(900, 2500)), "drive": _r(1.0 + 0.6 * (sc["distortion"] - 1) * rng.uniform(0.7, 1.3))}

    use_snare = bool(rng.random() < t.snare)
    clap = {"type": "snare" if use_snare else "clap", "tone": _r(rng.uniform(900, 1800)), "tail": _r(rng.uniform(0.06, 0.2)),
            "spread": _r(rng.uniform(0.007, 0.013)), "bursts": int(rng.integers(3, 5)), "tone_hz": _r(rng.uniform(170, 240)),
            "noise_decay": _r(rng.uniform(0.1, 0.22)), "snappy": _r(rng.uniform(0.6, 1.0)), "drive": _r(1 + 0.3 * (sc["distortion"] - 1))}
    clap_fill = sorted({int(s) for s in rng.choice([13, 14, 15, 11, 7], size=int(rng.integers(1, 3)), replace=False)})
    hats = {"decay": _r(rng.uniform(0.02, 0.06)), "open_decay": _r(rng.uniform(0.15, 0.35)), "base_hz": _r(rng.uniform(280, 420)),
            "metal": _r(rng.uniform(0.2, 0.7)), "lo": _r(rng.uniform(6000, 9000)),
            "pattern": patterns.hat_pattern(rng, bool(rng.random() < t.sixteenth_hats), bool(rng.random() < t.open_hats))}
    perc_style = _pick(rng, t.perc)
    perc = None
    if perc_style != NONE:
        perc = {"style": perc_style, "kind": str(rng.choice(["conga", "rim"])) if perc_style == "tech" else "rim",
                "tone_hz": _r(rng.uniform(220, 420) if perc_style == "tech" else rng.uniform(1400, 2200)),
                "decay": _r(rng.uniform(0.05, 0.12)), "pan": _r(rng.uniform(0.2, 0.6)),
                "pattern": patterns.perc_pattern(rng, perc_style, sc["fragmentation"])}

    lead = None
    name = _pick(rng, t.lead)
    if name != NONE:
        style = _pick(rng, t.lead_style)
        voice = _lead_voice(rng, name, sc)
        up = int(rng.choice([0, 0, 1])) if style not in ("stab", "vocal") else 0
        lead = {"instrument": name, "voice": voice, "style": style, "octave": t.lead_octave + up,
                "pattern": patterns.melodic_line(rng, sc["fragmentation"], 2, style)}

    chords = None
    name = _pick(rng, t.chords)
    if name != NONE:
        voice, style = _chord_voice(rng, name, sc)
        chords = {"instrument": name, "voice": voice, "style": style, "size": int(rng.choice([3, 4, 4, 5] if genre == "Deep House" else [3, 3, 4])),
                  "rhythm": patterns.chord_rhythm(rng, style, sc["fragmentation"])}

    bass = None
    name = _pick(rng, t.bass)
    if name != NONE:
        voice, style = _bass_voice(rng, name, sc)
        low = 26 if style in ("rolling", "reese", "sub") else 31
        bass = {"instrument": name, "voice": voice, "style": style, "low": low,
                "pattern": patterns.bass_line(rng, style, sc["fragmentation"])}

    boost = t.reverb_boost
    return {
        "genre": genre,
        "traits": sc,
        "bpm_range": list(t.bpm),
        "scale": _pick(rng, t.scales),
        "kick": kick,
        "clap": clap,
        "clap_fill": clap_fill,
        "hats": hats,
        "perc": perc,
        "lead": lead,
        "chords": chords,
        "bass": bass,
        "reverb": {"send": _r(reverb_send(sc["organicity"], boost)), "rt60": _r(reverb_rt60(sc["organicity"], boost)),
                   "drum_send": _r(reverb_send(sc["organicity"], boost) * (0.8 if boost > 1 else 0.25))},
        "pump": _r(pump_depth(sc["groove"])),
        "master_drive": _r(master_drive(sc["distortion"])),
        "levels": {k: _r(v) for k, v in t.levels.items()},
    }
