"""General MIDI programs, drum kits and drum notes per genre and role, and their seeded draw.

SynthHouse's plan names an instrument for every part (``supersaw``, ``growl``,
``slap``, ...). Each name maps to several candidate GM presets ``(bank, program,
weight)``; a track draws one from those its soundfont has (bank 8 holds the GS
variation presets of FluidR3 and MuseScore General, e.g. Synth Bass 3 or Sine Wave).
Drums play on MIDI channel 10 with a kit (bank 128) and notes drawn per genre.
"""
from __future__ import annotations

import numpy as np

Candidates = tuple[tuple[int, int, float], ...]

#: Melodic presets per SynthHouse instrument (bank, program, weight).
INSTRUMENTS: dict[str, Candidates] = {
    # leads
    "supersaw": ((0, 81, 3), (0, 90, 2), (0, 50, 1.5), (8, 50, 1), (0, 62, 1), (0, 87, 0.5)),
    "piano": ((0, 0, 3), (0, 1, 2), (8, 0, 1), (0, 4, 1), (0, 2, 0.5)),
    "strings": ((0, 48, 2), (0, 49, 2), (0, 50, 1.5), (0, 51, 1), (8, 48, 1), (8, 50, 1)),
    "square": ((0, 80, 4), (8, 80, 1), (0, 82, 1), (0, 98, 1), (0, 83, 0.5)),
    "fm": ((0, 5, 2), (8, 5, 1), (0, 98, 1.5), (0, 102, 1), (0, 11, 1), (0, 108, 1), (0, 8, 0.5)),
    "stab": ((0, 84, 2), (0, 30, 1.5), (0, 87, 1), (0, 62, 1), (0, 29, 1), (0, 55, 0.5)),
    "organ": ((0, 16, 2), (0, 17, 2), (0, 18, 1), (8, 16, 1), (8, 17, 1)),
    "pluck": ((0, 45, 2), (0, 108, 1.5), (0, 46, 1), (0, 11, 1), (0, 24, 0.5), (0, 25, 0.5)),
    "horn": ((0, 62, 3), (0, 63, 2), (0, 61, 1.5), (8, 62, 1), (8, 63, 1), (0, 81, 1), (0, 87, 1)),
    "rave": ((0, 81, 2), (0, 84, 2), (0, 87, 1.5), (0, 86, 1), (0, 80, 1), (0, 90, 0.5)),
    "vocal": ((0, 54, 3), (0, 85, 2), (0, 53, 1.5), (0, 52, 1), (0, 91, 0.5)),
    # chords
    "supersaw_pad": ((0, 90, 3), (0, 89, 2), (0, 50, 2), (0, 95, 1), (0, 81, 1), (8, 50, 1)),
    "strings_pad": ((0, 48, 2), (0, 49, 2), (0, 50, 1.5), (0, 51, 1), (8, 48, 1), (0, 44, 0.5)),
    "piano_chords": ((0, 0, 3), (0, 1, 2), (8, 0, 1), (0, 4, 1)),
    "epiano_chords": ((0, 4, 3), (0, 5, 2), (8, 4, 1.5), (8, 5, 1), (0, 2, 0.5)),
    "organ_chords": ((0, 16, 2), (0, 17, 2), (0, 18, 1.5), (8, 16, 1), (8, 17, 1)),
    "warm_pad": ((0, 89, 3), (0, 88, 1), (0, 92, 1), (0, 94, 1.5), (0, 52, 1), (0, 91, 0.5), (8, 48, 0.5)),
    "stab_chords": ((0, 62, 2), (0, 63, 1.5), (0, 90, 2), (0, 81, 1), (8, 62, 1), (0, 61, 0.5)),
    # basses
    "bass_saw": ((0, 38, 3), (0, 39, 2), (8, 38, 1.5), (8, 39, 1), (0, 87, 1)),
    "rolling": ((0, 38, 2), (0, 39, 2), (0, 33, 1.5), (0, 34, 1), (8, 38, 1), (0, 36, 0.5)),
    "bounce": ((0, 38, 2), (0, 39, 2), (8, 39, 1.5), (0, 87, 1), (0, 81, 1), (0, 80, 0.5)),
    "growl": ((0, 39, 2), (0, 87, 2), (0, 84, 1.5), (8, 39, 1.5), (0, 30, 1), (0, 38, 1)),
    "reese": ((0, 39, 2), (0, 38, 2), (8, 38, 1.5), (0, 87, 1), (0, 81, 1)),
    "sub": ((8, 80, 3), (0, 38, 1.5), (0, 35, 1), (0, 32, 1), (0, 33, 0.5)),
    "pulse_bass": ((0, 38, 2), (0, 39, 2), (0, 87, 1.5), (8, 38, 1), (0, 81, 1)),
    "slap": ((0, 36, 4), (0, 37, 3), (0, 34, 0.5)),
}

#: A second, doubling preset for big leads: instrument -> (probability, candidates, octave shifts).
LEAD_LAYERS: dict[str, tuple[float, Candidates, tuple[int, ...]]] = {
    "supersaw": (0.7, ((0, 50, 2), (0, 90, 2), (0, 81, 1), (0, 62, 1)), (0, 12, -12)),
    "horn": (0.9, ((0, 81, 2), (0, 87, 2), (0, 63, 1), (0, 62, 1), (0, 30, 0.5)), (0, 12, -12)),
    "rave": (0.5, ((0, 84, 1), (0, 80, 1), (0, 86, 1), (0, 81, 1)), (0, -12)),
    "vocal": (0.3, ((0, 52, 1), (0, 53, 1), (0, 91, 0.5)), (0, 12)),
    "strings": (0.3, ((0, 48, 1), (0, 49, 1), (0, 50, 1)), (12,)),
    "square": (0.3, ((0, 80, 1), (0, 81, 1), (0, 98, 1)), (12,)),
}

#: Presets for parts every genre shares.
ATMOS: Candidates = ((0, 89, 2), (0, 91, 1), (0, 92, 1), (0, 94, 1.5), (0, 95, 1.5), (0, 99, 1), (0, 88, 1), (0, 52, 0.5))
RISER: Candidates = ((0, 122, 3), (0, 121, 1.5), (0, 95, 1), (0, 99, 1), (0, 126, 1), (9, 125, 1), (0, 97, 0.5))
IMPACT: Candidates = ((0, 55, 2), (0, 116, 2), (8, 116, 1), (0, 118, 1), (0, 47, 1))
TUNED_KICK: Candidates = ((0, 118, 3), (0, 116, 1.5), (0, 117, 1.5), (8, 118, 1), (8, 116, 1))

#: Drum kits (bank 128 program -> weight) per genre: Standard 0, Room 8, Power 16,
#: Electronic 24, TR-808 25, Jazz 32.
KITS: dict[str, dict[int, float]] = {
    "Progressive House": {0: 3, 16: 2, 24: 1.5, 8: 1},
    "Future House": {24: 3, 25: 2, 0: 1.5, 16: 1},
    "Bass House": {16: 3, 24: 2, 0: 1.5, 25: 1},
    "Tech House": {25: 3, 24: 2, 0: 1.5, 8: 1},
    "Deep House": {25: 3, 8: 2, 0: 1.5, 32: 1, 24: 1},
    "Bigroom": {16: 3, 0: 2, 24: 1.5},
    "Future Rave": {24: 3, 16: 2, 0: 1.5, 25: 1},
    "Slap House": {0: 3, 24: 2, 25: 1.5, 8: 1},
}

#: Kick notes (36 Bass Drum 1, 35 Acoustic Bass Drum; lists are layers) and velocity ranges.
KICKS: dict[str, tuple[tuple[tuple[int, ...], float], ...]] = {
    "Bigroom": (((36, 35), 3), ((35, 36), 1), ((36,), 1)),
    "Bass House": (((36, 35), 2), ((36,), 2), ((35,), 1)),
    "Future Rave": (((36, 35), 2), ((36,), 2), ((35,), 1)),
    "Tech House": (((36,), 3), ((35,), 1)),
}
KICK_DEFAULT = (((36,), 3), ((35,), 1.5), ((36, 35), 1))
KICK_VELOCITY: dict[str, tuple[int, int]] = {"Tech House": (92, 112), "Deep House": (96, 116), "Bigroom": (118, 127),
                                             "Bass House": (112, 127), "Future Rave": (110, 127)}
CLAP_NOTES = {"clap": (((39,), 4), ((39, 40), 1), ((39, 38), 1)), "snare": (((38,), 3), ((40,), 2), ((38, 39), 1))}
CLOSED_HATS = (((42,), 4), ((44,), 1))
OPEN_HAT = 46
CRASHES = (49, 57)
ROLL_NOTES = ((38, 3), (40, 2), (39, 1))
#: Percussion notes per SynthHouse style ("tech" has three pitch variants).
PERC_NOTES: dict[str, tuple[tuple[tuple[int, ...], float], ...]] = {
    "shaker": (((70,), 3), ((82,), 2), ((69,), 1.5), ((54,), 1)),
    "ride": (((51,), 3), ((59,), 2), ((53,), 1)),
    "conga": (((62, 63, 64), 3), ((60, 61, 64), 2), ((63, 62, 64), 1)),
    "rim": (((37,), 3), ((75,), 2), ((76,), 1), ((77,), 1)),
}

#: GM notes of SynthHouse's extra percussion layers ("tops"), indexed by the hit's pitch variant.
TOPS_NOTES: dict[str, tuple[tuple[tuple[int, ...], float], ...]] = {
    "shaker16": (((70,), 3), ((82,), 2), ((69,), 1)),
    "tamb": (((54, 54), 1),),
    "conga": (((62, 63, 64), 3), ((60, 61, 64), 1)),
    "rim": (((37, 75), 2), ((75, 76), 1)),
    "ghost_snare": (((38,), 2), ((40,), 1)),
    "hat16": (((42,), 1),),
    "ride": (((51,), 2), ((59,), 1), ((53,), 0.5)),
}

#: Humanised timing (sd of the note-on jitter in ms) where the genre allows it:
#: genre -> (probability, (lo, hi)). Kicks are never moved.
HUMANISE: dict[str, tuple[float, tuple[float, float]]] = {
    "Deep House": (0.8, (2.0, 5.0)),
    "Tech House": (0.7, (1.5, 4.0)),
    "Progressive House": (0.4, (1.0, 2.5)),
    "Slap House": (0.3, (1.0, 2.0)),
    "Future House": (0.2, (0.5, 1.5)),
}


def _available(cands: Candidates, presets) -> Candidates:
    ok = tuple(c for c in cands if (c[0], c[1]) in presets)
    if ok:
        return ok
    return tuple((0, c[1], c[2]) for c in cands if (0, c[1]) in presets) or ((0, cands[0][1], 1.0),)


def pick(rng: np.random.Generator, cands, presets=None):
    """Weighted draw from ``((..., weight), ...)``; presets filter ``(bank, program, w)`` candidates."""
    if presets is not None:
        cands = _available(cands, presets)
    w = np.array([c[-1] for c in cands], dtype=np.float64)
    return cands[int(rng.choice(len(cands), p=w / w.sum()))]


def preset(rng: np.random.Generator, cands: Candidates, presets) -> dict:
    bank, program, _w = pick(rng, cands, presets)
    return {"bank": int(bank), "program": int(program)}


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def draw_gm_sound(genre: str, snd: dict, rng: np.random.Generator, presets) -> dict:
    """The GM rendition of one genre's SynthHouse sound design (JSON-ready).

    ``snd`` is ``plan["sound"][genre]``; ``presets`` the ``(bank, program)`` set of the
    track's soundfont.
    """
    tr = snd["traits"]
    org = (tr["organicity"] - 1.0) / 4.0  # 0..1
    dist = (tr["distortion"] - 1.0) / 4.0
    kit_w = KITS[genre]
    kits = [k for k in kit_w if (128, k) in presets] or [0]
    kit = int(pick(rng, tuple((k, kit_w.get(k, 1.0)) for k in kits))[0])
    kick_notes = list(pick(rng, KICKS.get(genre, KICK_DEFAULT))[0])
    vlo, vhi = KICK_VELOCITY.get(genre, (108, 124))
    out: dict = {
        "kit": kit,
        "kick_notes": kick_notes,
        "kick_velocity": int(rng.integers(vlo, vhi + 1)),
        "clap_notes": list(pick(rng, CLAP_NOTES[snd["clap"]["type"]])[0]),
        # FluidR3's TR-808 pedal hat rings unchoked: it costs seconds of render time.
        "hat_note": int(pick(rng, CLOSED_HATS)[0][0]) if kit != 25 else 42,
        "open_hat_note": OPEN_HAT,
        "crash_note": int(rng.choice(CRASHES)),
        "roll_note": int(pick(rng, ROLL_NOTES)[0]),
        "velocity_spread": _r(rng.uniform(0.02, 0.06)),
        "reverb_send": _r(0.12 + 0.7 * org + (0.15 if genre == "Deep House" else 0.0) + rng.uniform(-0.05, 0.05)),
        "drum_send": _r(0.05 + 0.25 * org * rng.uniform(0.5, 1.0)),
        "chorus": _r(rng.uniform(0.0, 0.45)),
        "atmos": preset(rng, ATMOS, presets),
        "riser": preset(rng, RISER, presets),
        "impact": preset(rng, IMPACT, presets) if rng.random() < 0.5 + 0.4 * dist else None,
        "perc": None,
        "lead": None,
        "lead_layer": None,
        "chords": None,
        "bass": None,
        "tuned_kick": None,
    }
    tops = (snd.get("tops") or {}).get("layers") or []
    out["tops"] = [list(pick(rng, TOPS_NOTES[t["kind"]])[0]) if t["kind"] in TOPS_NOTES else None for t in tops]
    p, (lo, hi) = HUMANISE.get(genre, (0.0, (0.0, 0.0)))
    out["humanise_ms"] = _r(rng.uniform(lo, hi), 2) if rng.random() < p else 0.0
    if snd["perc"]:
        style = snd["perc"]["style"]
        key = ("conga" if snd["perc"]["kind"] == "conga" else "rim") if style == "tech" else style
        out["perc"] = {"notes": list(pick(rng, PERC_NOTES[key])[0])}
    lead = snd["lead"]
    if lead:
        name = lead["instrument"]
        out["lead"] = preset(rng, INSTRUMENTS[name], presets)
        layer = LEAD_LAYERS.get(name)
        if layer and rng.random() < layer[0]:
            lp = preset(rng, layer[1], presets)
            lp["octave"] = int(rng.choice(layer[2]))
            # A unison double of the same preset only adds width when it is detuned.
            lp["detune_cents"] = _r(rng.uniform(4, 14), 1) if lp["octave"] == 0 else 0.0
            out["lead_layer"] = lp
    if snd["chords"]:
        out["chords"] = preset(rng, INSTRUMENTS[snd["chords"]["instrument"]], presets)
    if snd["bass"]:
        b = dict(preset(rng, INSTRUMENTS[snd["bass"]["instrument"]], presets))
        if snd["bass"]["instrument"] == "reese":  # two detuned copies make the reese
            b["detune_cents"] = _r(snd["bass"]["voice"]["detune"], 1)
        out["bass"] = b
    if genre == "Bigroom":  # the pitched kick is the bass
        out["tuned_kick"] = dict(preset(rng, TUNED_KICK, presets), drop=int(rng.choice([7, 12, 12, 19])))
    # Post-processing of the stems (the GM presets are clean; the genre's grit comes after).
    bass_drive = float(snd["bass"]["voice"].get("drive", 1.0)) if snd["bass"] else 1.0
    lead_drive = float(snd["lead"]["voice"].get("drive", 1.0)) if snd["lead"] else 1.0
    out["post"] = {
        "bass_drive": _r(min(bass_drive, 9.0) * rng.uniform(0.7, 1.0)),
        "music_drive": _r(min(lead_drive, 6.0) * rng.uniform(0.5, 0.9)),
        "bass_db": _r(snd["levels"].get("bass", 0.0) + rng.uniform(-1.5, 1.5), 2),
        "music_db": _r(snd["levels"].get("lead", 0.0) + rng.uniform(-1.5, 1.5), 2),
        "drums_db": _r(rng.uniform(-1.0, 1.0), 2),
    }
    return out
