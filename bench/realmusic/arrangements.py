"""Seeded generator of house arrangements as Standard MIDI Files (``mido``).

``make_arrangement(seed)`` returns an :class:`Arrangement` (the plan, for logging only);
``write_midi(arr, path)`` writes it. The ground truth is NOT taken from the plan: it is
derived by reading the MIDI file back (``truth.py``).

Layout of a file: type 1, 480 ticks per beat, track 0 holds the meta events (track name,
4/4 time signature, ``set_tempo`` at tick 0 and optionally once more at a section start),
then one track per part: drums (channel index 9, GM percussion), bass (channel 0, GM
program 32-39), chords/pad (channel 1, programs 0-5 or 88-95), lead (channel 2, 80-87).

Humanised tracks shift every note-on by a Gaussian jitter (sd ``jitter_ms``, clipped to
+-2.5 sd) converted to ticks at the current tempo; the grid (tempo map) is untouched, so the
truth stays on the grid.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import mido

GENERATOR_VERSION = "realmusic-1"
TPB = 480
BEATS_PER_BAR = 4
BAR = TPB * BEATS_PER_BAR

DRUM_CH, BASS_CH, CHORD_CH, LEAD_CH = 9, 0, 1, 2
KICK, SNARE, CLAP, CHAT, OHAT, CRASH = 36, 38, 39, 42, 46, 49

MINOR = [0, 2, 3, 5, 7, 8, 10]
#: chord progressions as minor-scale degrees (0-based), one chord per bar
PROGRESSIONS = [[0, 5, 2, 6], [0, 3, 4, 0], [0, 6, 5, 6], [5, 6, 0, 0], [0, 2, 5, 4]]


@dataclass
class Section:
    """One planned section: label (the generator's intent) and its parts."""
    label: str
    bars: int
    kick: bool = False
    clap: bool = False
    hats: bool = False
    roll: bool = False
    crash: bool = False
    bass: str = ""          # "", "sparse", "full"
    chords: bool = False
    lead: bool = False
    bpm: float | None = None  # a tempo change at this section's start


@dataclass
class Arrangement:
    seed: int
    kind: str               # normal | short | sparse
    bpm: float
    sections: list[Section]
    root: int
    progression: list[int]
    bass_program: int
    chord_program: int
    lead_program: int
    bass_style: str         # offbeat | rolling
    hat_style: str          # offbeat | sixteenths
    swing: float            # fraction of a 16th that odd 16ths are delayed by
    open_hats: bool
    jitter_ms: float
    minimal: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def bars(self) -> int:
        return sum(s.bars for s in self.sections)

    def describe(self) -> dict:
        return {"seed": self.seed, "kind": self.kind, "bpm": self.bpm, "bars": self.bars,
                "plan": [(s.label, s.bars) for s in self.sections],
                "tempo_change": [s.bpm for s in self.sections if s.bpm],
                "jitter_ms": self.jitter_ms, "swing": self.swing, "minimal": self.minimal,
                "programs": {"bass": self.bass_program, "chords": self.chord_program, "lead": self.lead_program}}


def _pick_bpm(r: random.Random) -> float:
    u = r.random()
    if u < 0.75:
        return round(r.uniform(118, 132), 1)
    if u < 0.87:
        return round(r.uniform(100, 115), 1)
    return round(r.uniform(135, 150), 1)


def _groove(label, bars, **kw) -> Section:
    return Section(label, bars, **kw)


def make_arrangement(seed: int) -> Arrangement:
    """A house arrangement drawn from ``random.Random(seed)`` (deterministic)."""
    r = random.Random(seed)
    u = r.random()
    kind = "short" if u < 0.10 else ("sparse" if u < 0.20 else "normal")
    bpm = _pick_bpm(r)
    minimal = kind == "sparse" and r.random() < 0.5
    clap = not minimal
    if kind == "short":
        shape = r.choice(["a", "b", "c"])
        secs = [_groove("intro", 4, kick=r.random() < 0.5, hats=True)]
        if shape != "a":
            secs.append(_groove("build", 4, roll=True, chords=True, hats=r.random() < 0.5))
        secs.append(_groove("drop", 8, kick=True, clap=True, hats=True, crash=True, bass="full", chords=True,
                            lead=r.random() < 0.5))
        if shape == "c":
            secs.append(_groove("outro", 4, kick=True, hats=True))
    else:
        sparse_a = kind == "sparse" and not minimal
        intro_bars = 16 if sparse_a else r.choice([8, 16])
        intro_kick = False if sparse_a else r.random() < 0.6
        secs = [_groove("intro", intro_bars, kick=intro_kick, hats=not sparse_a, clap=intro_kick and clap and r.random() < 0.5,
                        bass="sparse" if (intro_kick and r.random() < 0.3) else "", chords=sparse_a)]
        build_kick = r.random() < 0.5 and not minimal
        lead1 = r.random() < 0.6
        secs.append(_groove("build", 8, kick=build_kick, roll=True, chords=True, hats=not minimal))
        secs.append(_groove("drop", 16, kick=True, clap=clap, hats=True, crash=True, bass="full", chords=not minimal,
                            lead=lead1))
        if r.random() < 0.85 or sparse_a:
            bd = r.choice([16, 24, 32]) if sparse_a else r.choice([8, 16])
            secs.append(_groove("breakdown", bd, chords=True, lead=True, hats=r.random() < 0.25 and not sparse_a))
            secs.append(_groove("build", 8, kick=build_kick, roll=True, chords=True, hats=not minimal, lead=lead1))
            secs.append(_groove("drop", 16, kick=True, clap=clap, hats=True, crash=True, bass="full",
                                chords=not minimal, lead=True))
        outro = r.choice([8, 8, 16])
        secs.append(_groove("outro", outro, kick=not sparse_a, hats=not sparse_a, chords=sparse_a or r.random() < 0.3))
        if r.random() < 0.08 and len(secs) > 3:
            i = r.randrange(2, len(secs))
            secs[i].bpm = round(bpm + r.choice([-1, 1]) * r.uniform(3, 8), 1)
    root = r.randrange(12)
    return Arrangement(
        seed=seed, kind=kind, bpm=bpm, sections=secs, root=root, progression=r.choice(PROGRESSIONS),
        bass_program=r.randint(32, 39), chord_program=r.choice(list(range(0, 6)) + list(range(88, 96))),
        lead_program=r.randint(80, 87), bass_style=r.choice(["offbeat", "rolling"]),
        hat_style=r.choice(["offbeat", "sixteenths"]), swing=r.choice([0.0, 0.0, 0.08, 0.15]),
        open_hats=r.random() < 0.4, jitter_ms=r.choice([0.0, 0.0, 0.0, 2.0, 4.0]), minimal=minimal)


def _events(arr: Arrangement) -> tuple[list, dict[int, list]]:
    """Meta events (abs tick, msg) and note events per channel: (tick, dur, note, vel)."""
    r = random.Random(arr.seed * 7919 + 1)
    meta = [(0, mido.MetaMessage("track_name", name=f"realmusic seed {arr.seed}")),
            (0, mido.MetaMessage("time_signature", numerator=4, denominator=4)),
            (0, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(arr.bpm)))]
    notes: dict[int, list] = {DRUM_CH: [], BASS_CH: [], CHORD_CH: [], LEAD_CH: []}
    s16 = TPB // 4
    motif = [r.choice([0, 2, 4, 7, 9, 11, 14]) for _ in range(8)]
    motif_rests = [r.random() < 0.3 for _ in range(8)]
    bar0 = 0
    for sec in arr.sections:
        if sec.bpm:
            meta.append((bar0 * BAR, mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(sec.bpm))))
        for b in range(sec.bars):
            t0 = (bar0 + b) * BAR
            deg = arr.progression[(bar0 + b) % len(arr.progression)]
            chord_root = arr.root + MINOR[deg]
            d = notes[DRUM_CH]
            if sec.crash and b == 0:
                d.append((t0, TPB, CRASH, 100))
            for beat in range(4):
                tb = t0 + beat * TPB
                if sec.kick:
                    d.append((tb, TPB // 4, KICK, 120))
                if sec.clap and beat in (1, 3):
                    d.append((tb, TPB // 4, CLAP if arr.seed % 2 else SNARE, 100))
                if sec.hats:
                    if arr.hat_style == "offbeat" or arr.minimal:
                        note = OHAT if (arr.open_hats and sec.label == "drop") else CHAT
                        d.append((tb + TPB // 2, s16, note, 80))
                    else:
                        for k in range(4):
                            sw = int(arr.swing * s16) if k % 2 else 0
                            d.append((tb + k * s16 + sw, s16 // 2, CHAT, 90 if k == 2 else 60))
            if sec.roll:
                step = s16 if b >= sec.bars // 2 else 2 * s16
                n = BAR // step
                for k in range(n):
                    vel = int(50 + 70 * ((b * BAR + k * step) / (sec.bars * BAR)))
                    d.append((t0 + k * step, step // 2, SNARE, min(vel, 127)))
            if sec.bass == "sparse":
                notes[BASS_CH].append((t0, TPB, 36 + chord_root % 12, 100))
            elif sec.bass == "full":
                for k in range(8):
                    if arr.bass_style == "offbeat" and k % 2 == 0:
                        continue
                    notes[BASS_CH].append((t0 + k * TPB // 2, TPB // 2 - 40, 36 + chord_root % 12 + (12 if k == 7 else 0), 105))
            if sec.chords:
                tones = [chord_root, chord_root + (3 if deg in (0, 3, 4) else 4), chord_root + 7]
                tones = [60 + (t % 12) for t in tones]
                if arr.chord_program <= 5:   # piano stabs on the off-beats
                    for beat in range(4):
                        for n in tones:
                            notes[CHORD_CH].append((t0 + beat * TPB + TPB // 2, TPB // 3, n, 85))
                else:                         # sustained pad
                    for n in tones:
                        notes[CHORD_CH].append((t0, BAR - 10, n, 70))
            if sec.lead:
                for k in range(8):
                    if not motif_rests[k]:
                        notes[LEAD_CH].append((t0 + k * TPB // 2, TPB // 2 - 30, 72 + (arr.root + motif[k]) % 24, 90))
        bar0 += sec.bars
    return meta, notes


def _tick_ms(meta: list) -> callable:
    """ms per tick at an absolute tick (from the meta tempo events)."""
    tempos = sorted((t, m.tempo) for t, m in meta if m.type == "set_tempo")

    def at(tick):
        cur = tempos[0][1]
        for t, tempo in tempos:
            if t <= tick:
                cur = tempo
        return cur / 1000.0 / TPB
    return at


def _to_track(events: list, name: str) -> mido.MidiTrack:
    track = mido.MidiTrack()
    events.sort(key=lambda e: (e[0], e[1]))
    last = 0
    for t, _, msg in events:
        track.append(msg.copy(time=t - last))
        last = t
    return track


def write_midi(arr: Arrangement, path) -> None:
    """Write ``arr`` as a Standard MIDI File (type 1, 480 ticks per beat)."""
    meta, notes = _events(arr)
    end = arr.bars * BAR
    jit = random.Random(arr.seed * 104729 + 3)
    ms_per_tick = _tick_ms(meta)
    mid = mido.MidiFile(type=1, ticks_per_beat=TPB)
    mid.tracks.append(_to_track([(t, 0, m) for t, m in meta] + [(end, 9, mido.MetaMessage("end_of_track"))], "meta"))
    programs = {BASS_CH: arr.bass_program, CHORD_CH: arr.chord_program, LEAD_CH: arr.lead_program}
    for ch in (DRUM_CH, BASS_CH, CHORD_CH, LEAD_CH):
        ev = [(0, 0, mido.MetaMessage("track_name", name={9: "drums", 0: "bass", 1: "chords", 2: "lead"}[ch]))]
        if ch in programs:
            ev.append((0, 1, mido.Message("program_change", channel=ch, program=programs[ch])))
        for t, dur, note, vel in notes[ch]:
            if arr.jitter_ms > 0:
                j = max(-2.5, min(2.5, jit.gauss(0.0, 1.0))) * arr.jitter_ms
                t = max(0, t + int(round(j / ms_per_tick(t))))
            off = min(t + dur, end)
            if off <= t:
                continue
            ev.append((t, 3, mido.Message("note_on", channel=ch, note=note, velocity=vel)))
            ev.append((off, 2, mido.Message("note_off", channel=ch, note=note, velocity=0)))
        ev.append((end, 9, mido.MetaMessage("end_of_track")))
        mid.tracks.append(_to_track(ev, ""))
    mid.save(str(path))
