"""Rhythm and note patterns (16 sixteenth-note steps per bar), drawn from a seeded RNG.

Patterns are plain lists (JSON-friendly, they go into the truth file's generation
parameters). Pitches are relative: melodic parts give scale-degree offsets from the
current chord's root, bass parts give semitone offsets from the chord root, so one
pattern fits any key and progression.
"""
from __future__ import annotations

import numpy as np

STEPS = 16

#: Metrical weight of each 16th step: downbeats > quarter notes > off-8ths > off-16ths.
_METRIC = np.array([1.0, 0.1, 0.45, 0.1, 0.8, 0.1, 0.45, 0.1, 0.9, 0.1, 0.45, 0.1, 0.8, 0.1, 0.45, 0.1])


def _round(x, nd=3):
    return float(round(float(x), nd))


def rhythm(rng: np.random.Generator, frag: float, steps: int = STEPS, n_range: tuple[int, int] | None = None,
           forbid: tuple[int, ...] = (), must: tuple[int, ...] = ()) -> list[tuple[int, int]]:
    """Onsets and lengths (in steps) whose spread follows the fragmentation score.

    Fragmentation 1 gives a few long notes on strong steps; 5 gives many short,
    syncopated notes separated by rests.
    """
    f = (np.clip(frag, 1.0, 5.0) - 1.0) / 4.0  # 0..1
    metric = np.tile(_METRIC, steps // STEPS + 1)[:steps].copy()
    # Higher fragmentation moves weight from strong steps to syncopations.
    weights = metric ** (1.0 - 0.8 * f) + f * 0.5 * (metric < 0.5)
    weights[list(forbid)] = 0.0
    if n_range is None:
        lo = int(round((2 + 6 * f) * steps / STEPS))
        hi = int(round((4 + 8 * f) * steps / STEPS))
        n_range = (max(1, lo), max(lo + 1, hi))
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    chosen = set(int(m) for m in must)
    avail = np.flatnonzero(weights > 0)
    avail = np.array([a for a in avail if a not in chosen], dtype=int)
    k = max(0, min(n - len(chosen), avail.size))
    if k:
        p = weights[avail] / weights[avail].sum()
        chosen.update(int(a) for a in rng.choice(avail, size=k, replace=False, p=p))
    onsets = sorted(chosen)
    legato = 0.95 - 0.55 * f
    out = []
    for i, s in enumerate(onsets):
        gap = (onsets[i + 1] if i + 1 < len(onsets) else steps + onsets[0]) - s
        length = max(1, int(round(gap * legato * rng.uniform(0.85, 1.1))))
        out.append((s, min(length, gap)))
    return out


def melodic_line(rng: np.random.Generator, frag: float, bars: int = 2, style: str = "melodic") -> list[list]:
    """A lead motif over ``bars`` bars: ``[step, length, degree_offset, velocity]`` rows.

    Styles: ``melodic`` (chord tones on strong steps, stepwise elsewhere), ``riff``
    (festival lead: syncopated, mostly root and octave), ``vocal`` (fewer, longer
    sung notes), ``arp`` (pulsating chord-tone arpeggio), ``stab`` (non-melodic hits
    after the first kick, one pitch).
    """
    steps = STEPS * bars
    if style == "riff":
        templates = ([0, 3, 6, 8, 11, 14], [0, 3, 6, 10, 12, 14], [0, 2, 3, 6, 8, 10, 11, 14],
                     [0, 3, 6, 9, 12, 14], [2, 3, 6, 8, 10, 11, 14])
        base = templates[int(rng.integers(len(templates)))]
        onsets = sorted({s + STEPS * b for b in range(bars) for s in base})
        if rng.random() < 0.5:  # answer phrase: drop a hit in the second bar
            onsets.pop(int(rng.integers(len(base), len(onsets))))
        notes = []
        for i, s in enumerate(onsets):
            gap = (onsets[i + 1] if i + 1 < len(onsets) else steps) - s
            deg = int(rng.choice([0, 0, 0, 7, 7, 2, 4, -1]))
            notes.append([s, max(1, min(gap, int(rng.integers(1, 3)))), deg, _round(rng.uniform(0.85, 1.0))])
        return notes
    if style == "stab":
        notes = [[2 + STEPS * b, int(rng.integers(1, 3)), 0, 1.0] for b in range(bars)]
        extra = rhythm(rng, frag, steps, n_range=(1, 3), forbid=tuple(range(0, steps, 4)))
        for s, ln in extra:
            if all(abs(s - n[0]) > 1 for n in notes):
                notes.append([s, min(ln, 2), int(rng.choice([0, 0, 7, -5])), _round(rng.uniform(0.7, 0.95))])
        return sorted(notes)
    if style == "arp":
        every = int(rng.choice([1, 2])) if frag >= 3.5 else 2
        onsets = list(range(0, steps, every))
        f = (np.clip(frag, 1, 5) - 1) / 4
        keep = rng.random(len(onsets)) > 0.35 * f
        keep[0] = True
        cycle = [int(x) for x in rng.permutation([0, 2, 4, 7])]
        notes = [[s, max(1, every - (1 if rng.random() < f else 0)), cycle[i % 4], _round(0.75 + 0.25 * (s % 4 == 0))]
                 for i, s in enumerate(onsets) if keep[i]]
        return notes
    if style == "vocal":
        rh = rhythm(rng, frag, steps, n_range=(3 + int(frag), 5 + 2 * int(frag)))
    else:
        rh = rhythm(rng, frag, steps)
    notes = []
    deg = int(rng.choice([0, 2, 4, 7]))
    for s, ln in rh:
        strong = _METRIC[s % STEPS] >= 0.8
        if strong:
            deg = int(rng.choice([0, 2, 4, 7]) if deg > 3 else rng.choice([0, 2, 4]))
        else:
            deg = int(np.clip(deg + rng.choice([-2, -1, 1, 2, 3]), -2, 7))
        notes.append([int(s), int(ln), deg, _round(rng.uniform(0.75, 1.0) if not strong else 1.0)])
    return notes


def bass_line(rng: np.random.Generator, style: str, frag: float) -> list[list]:
    """One bar of bass: ``[step, length, semitone_offset, velocity]`` rows."""
    f = (np.clip(frag, 1, 5) - 1) / 4
    notes: list[list] = []
    if style == "offbeat":
        for s in (2, 6, 10, 14):
            notes.append([s, int(rng.choice([1, 2, 2])), 0, 1.0])
        if rng.random() < 0.5:
            notes.append([int(rng.choice([3, 7, 11, 15])), 1, 12, 0.8])
    elif style == "rolling":
        for s in range(STEPS):
            if s % 4 == 0:
                continue
            if s % 4 == 2 or rng.random() < 0.55 + 0.3 * f:
                off = int(rng.choice([0, 0, 0, 0, 12, 7, 10, -2]))
                notes.append([s, 1, off, _round(1.0 if s % 4 == 2 else rng.uniform(0.6, 0.85))])
    elif style == "growl":
        notes.append([2, int(rng.integers(2, 5)), 0, 1.0])  # the stab after the first kick
        for s, ln in rhythm(rng, 2.5 + 2 * f, STEPS, n_range=(2, 5), forbid=(0, 1, 2, 3, 4, 8, 12)):
            notes.append([s, min(ln, 3), int(rng.choice([0, 0, 12, -12, 7])), _round(rng.uniform(0.8, 1.0))])
    elif style == "bounce":
        seq = [2, 6, 10, 14] + [int(x) for x in rng.choice([3, 7, 11, 13, 15], size=1 + int(2 * f), replace=False)]
        for i, s in enumerate(sorted(set(seq))):
            notes.append([s, 1, 12 if i % 2 else 0, _round(1.0 if s % 4 == 2 else 0.8)])
    elif style == "reese":
        starts = sorted({0, int(rng.choice([6, 7, 8])), int(rng.choice([10, 11, 12, 14]))})
        for i, s in enumerate(starts):
            nxt = starts[i + 1] if i + 1 < len(starts) else STEPS
            notes.append([s, max(2, nxt - s), int(rng.choice([0, 0, 0, 12, -2, 3])) if i else 0, 1.0])
    elif style == "pulse":
        every = 1 if rng.random() < 0.3 + 0.4 * f else 2
        for s in range(0, STEPS, every):
            if s % 4 == 0 and rng.random() < 0.7:
                continue  # leave room for the kick
            notes.append([s, every, 0, _round(1.0 if s % 4 == 2 else 0.8)])
    elif style == "slap":
        opts = ([2, 3, 6, 10, 11, 14], [2, 6, 7, 10, 14, 15], [2, 5, 6, 10, 13, 14], [3, 6, 10, 11, 14])
        base = opts[int(rng.integers(len(opts)))]
        for i, s in enumerate(base):
            notes.append([s, int(rng.choice([1, 1, 2])), int(rng.choice([0, 0, 12, 12, 7, 10])), _round(rng.uniform(0.8, 1.0))])
    elif style == "sub":  # long, legato sub notes (deep house)
        cut = int(rng.choice([6, 8, 10]))
        notes = [[0, cut, 0, 1.0], [cut, STEPS - cut, int(rng.choice([0, 0, 12, -2, 3])), 0.9]]
    else:
        raise ValueError(f"unknown bass style {style!r}")
    notes.sort()
    # Never two notes on one step.
    uniq: dict[int, list] = {}
    for n in notes:
        uniq.setdefault(int(n[0]), n)
    return [list(v) for v in uniq.values()]


def chord_rhythm(rng: np.random.Generator, style: str, frag: float) -> list[list]:
    """One bar of chord hits: ``[step, length]`` rows (``pad``, ``stab``, ``comp``)."""
    if style == "pad":
        return [[0, STEPS]]
    if style == "stab":
        opts = ([2, 6, 10, 14], [3, 6, 10, 13], [2, 5, 8, 11, 14], [0, 3, 6, 10, 12], [2, 6, 9, 14])
        steps = opts[int(rng.integers(len(opts)))]
        ln = int(rng.choice([1, 1, 2]))
        return [[s, ln] for s in steps]
    if style == "comp":
        return [[s, ln] for s, ln in rhythm(rng, frag, STEPS, n_range=(2, 5))]
    raise ValueError(f"unknown chord style {style!r}")


def hat_pattern(rng: np.random.Generator, sixteenths: bool, open_offbeats: bool) -> dict:
    """Closed-hat velocities for 16 steps and open-hat steps."""
    vel = np.zeros(STEPS)
    if sixteenths:
        vel[:] = rng.uniform(0.35, 0.6, STEPS)
        vel[2::4] = rng.uniform(0.8, 1.0)
        vel[0::4] = rng.uniform(0.45, 0.7)
        drop = rng.random(STEPS) < 0.12
        drop[2::4] = False
        vel[drop] = 0.0
    else:
        style = int(rng.integers(3))
        vel[2::4] = 1.0
        if style == 1:  # straight 8ths, off-beats accented
            vel[0::4] = rng.uniform(0.4, 0.6)
        elif style == 2:  # off-beats plus a few ghost 16ths
            ghosts = rng.choice(np.arange(1, STEPS, 2), size=int(rng.integers(1, 4)), replace=False)
            vel[ghosts] = rng.uniform(0.3, 0.5, ghosts.size)
    open_steps: list[int] = []
    if open_offbeats:
        options = ([2, 6, 10, 14], [2, 6, 10, 14], [6, 14], [14], [2, 10])
        open_steps = list(options[int(rng.integers(len(options)))])
        vel[open_steps] = 0.0  # the open hat takes those steps
    return {"closed": [_round(v, 2) for v in vel], "open": open_steps}


def perc_pattern(rng: np.random.Generator, style: str, frag: float) -> list[list]:
    """One bar of percussion hits ``[step, velocity, pitch_variant]``."""
    if style == "shaker":
        return [[s, _round(1.0 if s % 2 == 0 else 0.6), 0] for s in range(STEPS)]
    if style == "ride":
        return [[s, 0.9 if s % 4 == 2 else 0.55, 0] for s in range(0, STEPS, 2)]
    if style == "tech":
        hits = rhythm(rng, max(frag, 3.0), STEPS, n_range=(4, 7), forbid=(0, 8))
        return [[s, _round(rng.uniform(0.6, 1.0)), int(rng.integers(0, 3))] for s, _ in hits]
    if style == "rim":
        hits = rhythm(rng, frag, STEPS, n_range=(2, 4), forbid=(0, 4, 8, 12))
        return [[s, _round(rng.uniform(0.6, 1.0)), 0] for s, _ in hits]
    raise ValueError(f"unknown percussion style {style!r}")


#: Extra percussion layers ("tops") and what they play.
TOP_KINDS = ("shaker16", "tamb", "conga", "rim", "ghost_snare", "hat16", "ride")


def tops_pattern(rng: np.random.Generator, kind: str, frag: float, busy: float) -> list[list]:
    """One bar of a tops layer: ``[step, velocity, pitch_variant]`` rows.

    ``busy`` (0..1) sets how many of the optional hits (ghost notes, 16ths) play, so
    tracks range from sparse to very busy percussion.
    """
    out: list[list] = []
    if kind == "shaker16":
        for s in range(STEPS):
            accent = s % 4 == 2 or (s % 2 == 0 and rng.random() < 0.5)
            if not accent and rng.random() > 0.35 + 0.65 * busy:
                continue
            out.append([s, _round(rng.uniform(0.8, 1.0) if accent else rng.uniform(0.3, 0.6), 2), 0])
    elif kind == "tamb":
        for s in (2, 6, 10, 14):
            out.append([s, _round(rng.uniform(0.85, 1.0), 2), 0])
        for s in range(1, STEPS, 2):
            if rng.random() < 0.6 * busy:
                out.append([s, _round(rng.uniform(0.25, 0.5), 2), 1])
    elif kind == "conga":
        n_lo = 3 + int(round(3 * busy))
        hits = rhythm(rng, max(frag, 2.5) + busy, STEPS, n_range=(n_lo, n_lo + 3), forbid=(0,))
        out = [[s, _round(rng.uniform(0.55, 1.0), 2), int(rng.integers(0, 3))] for s, _ in hits]
    elif kind == "rim":
        hits = rhythm(rng, max(frag, 3.0), STEPS, n_range=(2, 3 + int(round(3 * busy))), forbid=(0, 8))
        out = [[s, _round(rng.uniform(0.6, 1.0), 2), int(rng.integers(0, 2))] for s, _ in hits]
    elif kind == "ghost_snare":
        cands = [1, 3, 5, 7, 9, 11, 13, 15, 6, 10, 14]
        k = int(rng.integers(2, 3 + int(round(3 * busy)) + 1))
        for s in sorted(int(x) for x in rng.choice(cands, size=min(k, len(cands)), replace=False)):
            out.append([s, _round(rng.uniform(0.18, 0.42), 2), 0])
    elif kind == "hat16":
        for s in range(1, STEPS, 2):
            if rng.random() < 0.4 + 0.6 * busy:
                out.append([s, _round(rng.uniform(0.2, 0.45), 2), 0])
    elif kind == "ride":
        if rng.random() < 0.5:
            out = [[s, 0.85 if s % 4 == 2 else 0.5, 0] for s in range(0, STEPS, 2)]
        else:
            out = [[s, 0.9, 0] for s in (2, 6, 10, 14)]
    else:
        raise ValueError(f"unknown tops kind {kind!r}")
    return sorted(out)
