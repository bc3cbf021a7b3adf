"""A GM plan (:mod:`.plan`) -> Standard MIDI Files, one per stem (``mido``).

The arrangement is SynthHouse's: every bar's parts and variants, the patterns of the
genre that supplies each part, the key, scale and chord progression, the swing. Only
the sounds differ: the parts play General MIDI presets (:mod:`.programs`).

Layout: type 1, :data:`TPB` ticks per beat, 4/4. Track 0 holds the tempo map: a
one-beat pre-roll at :data:`PRE_ROLL_TEMPO` (exactly :data:`PRE_ROLL_S` seconds, so the
renderer's start-up latency never clips the first kick), then the song tempo at bar 0
and at every bar where it changes. One track per MIDI channel follows.

Channels (0-based): 0 bass, 8 second bass (reese detune), 1 lead, 2 lead double,
3 chords, 4 atmosphere pad, 9 drums (GM kit, bank 128), 5 riser / downlifter, 6 drop
impact, 7 Bigroom's tuned kick. :data:`STEMS` groups them into the three buses that
are rendered separately: ``drums`` (not side-chained), ``bass`` and ``music``.

Parts: kick, clap, hats, percussion, SynthHouse's extra percussion layers (``tops``),
transition effects (``fx``: snare roll and riser in builds, crash and impact at drops,
crash and downlifter at breakdowns), bass, lead (with an optional doubling layer),
chords and atmosphere. SynthHouse's ``vox`` and ``sfx`` parts have no GM rendition.

Automation: CC7 (channel level), CC10 (pan), CC91 / CC93 (reverb and chorus sends),
CC11 (expression: build swells, growl wobble, pulse tremolo, riser fades), CC1 (vocal
vibrato), CC74 (brightness: low in filtered bars, rising through builds; fluidsynth
with these soundfonts ignores CC74, so :mod:`.post` applies the same filters to the
stems), RPN 0 (bend range) and pitch bends (Future House bass dives and lead flicks,
vocal scoops, growl "yoy", Bigroom kick pitch drops, risers, downlifters, detune).
"""
from __future__ import annotations

import math

import mido
import numpy as np

from ..synthhouse.patterns import STEPS
from ..synthhouse.plan import derive_rng
from ..synthhouse.theory import chord, register, scale_note, voice_lead

TPB = 960
PRE_ROLL_TEMPO = 100_000  # microseconds per beat: the one-beat pre-roll lasts 0.1 s
PRE_ROLL_S = PRE_ROLL_TEMPO / 1e6
BASS, LEAD, LEAD2, CHORDS, ATMOS, RISER, IMPACT, TUNED, BASS2, DRUMS = 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
STEMS: dict[str, tuple[int, ...]] = {
    "drums": (DRUMS, RISER, IMPACT, TUNED),
    "bass": (BASS, BASS2),
    "music": (LEAD, LEAD2, CHORDS, ATMOS),
}
#: Pitch-bend range (semitones) per channel.
BEND_RANGE = {BASS: 24, BASS2: 2, LEAD: 12, LEAD2: 12, RISER: 12, TUNED: 24}
_PRIO_OFF, _PRIO_CTRL, _PRIO_ON = 0, 1, 2


def tempo_us(bpm: float) -> int:
    """MIDI tempo (integer microseconds per beat) of a BPM."""
    return int(round(60e6 / float(bpm)))


def bar_starts_s(params: dict) -> np.ndarray:
    """Bar boundaries (s) of the song as the MIDI file plays them (integer MIDI tempi), from bar 0."""
    bpms = [b.get("bpm", params["bpm"]) for b in params["bars"]]
    dur = np.array([4 * tempo_us(b) / 1e6 for b in bpms])
    return np.concatenate([[0.0], np.cumsum(dur)])


class _Writer:
    """Collects timed MIDI messages per channel and turns them into mido tracks."""

    def __init__(self):
        #: channel -> [(tick, priority, sequence, message type, data bytes)]
        self.events: dict[int, list[tuple]] = {}
        self.seq = 0
        self.tracks: dict[tuple[int, int], mido.MidiTrack] = {}

    def add(self, ch: int, tick: float, prio: int, kind: str, *data: int) -> None:
        self.seq += 1
        self.events.setdefault(ch, []).append((max(0, int(round(tick))), prio, self.seq, kind, data))

    def cc(self, ch: int, tick: float, control: int, value: float) -> None:
        self.add(ch, tick, _PRIO_CTRL, "control_change", control, int(min(127, max(0, round(value)))))

    def bend(self, ch: int, tick: float, semitones: float) -> None:
        rng_st = BEND_RANGE.get(ch, 2)
        self.add(ch, tick, _PRIO_CTRL, "pitchwheel", int(min(8191, max(-8192, round(semitones / rng_st * 8192)))))

    def program(self, ch: int, tick: float, bank: int, program: int) -> None:
        if ch != DRUMS:
            self.cc(ch, tick, 0, bank)
        self.add(ch, tick, _PRIO_CTRL, "program_change", int(program))

    def note(self, ch: int, tick: float, dur_ticks: float, note: int, velocity: float) -> None:
        n = int(note)
        if not 0 <= n <= 127:
            return
        self.add(ch, tick, _PRIO_ON, "note_on", n, int(min(127, max(1, round(velocity)))))
        self.add(ch, tick + max(1.0, dur_ticks), _PRIO_OFF, "note_off", n, 0)

    @staticmethod
    def _message(kind: str, ch: int, data: tuple, time: int) -> mido.Message:
        if kind in ("note_on", "note_off"):
            return mido.Message(kind, channel=ch, note=data[0], velocity=data[1], time=time)
        if kind == "control_change":
            return mido.Message(kind, channel=ch, control=data[0], value=data[1], time=time)
        if kind == "pitchwheel":
            return mido.Message(kind, channel=ch, pitch=data[0], time=time)
        return mido.Message(kind, channel=ch, program=data[0], time=time)

    def track(self, ch: int, end_tick: int) -> mido.MidiTrack:
        """The channel's events as one MIDI track (built once; stems and the full file share it)."""
        key = (ch, end_tick)
        if key in self.tracks:
            return self.tracks[key]
        tr = mido.MidiTrack()
        tr.append(mido.MetaMessage("track_name", name=f"ch{ch + 1}", time=0))
        last = 0
        for tick, _p, _s, kind, data in sorted(self.events.get(ch, [])):
            tick = min(tick, end_tick)
            tr.append(self._message(kind, ch, data, tick - last))
            last = tick
        tr.append(mido.MetaMessage("end_of_track", time=max(0, end_tick - last)))
        self.tracks[key] = tr
        return tr


def _setup_channel(w: _Writer, ch: int, volume: float, pan: float, reverb: float, chorus: float) -> None:
    if ch in BEND_RANGE:  # RPN 0: pitch-bend sensitivity, then the null RPN
        for c, v in ((101, 0), (100, 0), (6, BEND_RANGE[ch]), (38, 0), (101, 127), (100, 127)):
            w.cc(ch, 0, c, v)
    w.cc(ch, 0, 7, volume)
    w.cc(ch, 0, 10, 64 + 63 * pan)
    w.cc(ch, 0, 91, 127 * reverb)
    w.cc(ch, 0, 93, 127 * chorus)
    w.cc(ch, 0, 11, 127)
    w.cc(ch, 0, 74, 100)


def build_midi(params: dict) -> dict[str, mido.MidiFile]:
    """MIDI files of a GM plan: ``{"full": ..., "drums": ..., "bass": ..., "music": ...}``.

    Deterministic: note-level randomness (velocity spread, humanised timing) comes
    from streams derived from the track seed.
    """
    gm = params["gm"]
    sounds, gsounds = params["sound"], gm["sounds"]
    dominant = params["dominant"]
    swing = float(params["global"]["swing"])
    key_pc, scale, prog = int(params["key_pc"]), params["scale"], params["progression"]
    rng = derive_rng(params["seed"], "gm-midi")
    w = _Writer()
    beat = TPB
    bar_len = 4 * TPB
    pre = TPB  # the pre-roll
    step_ticks = TPB / 4.0
    n_bars = len(params["bars"])
    end_tick = pre + n_bars * bar_len + TPB  # one beat of tail after the last bar

    dom = gsounds[dominant]
    chorus = gm["chorus_send"]
    _setup_channel(w, DRUMS, 110, 0.0, dom["drum_send"], 0.0)
    w.program(DRUMS, 0, 128, dom["kit"])
    _setup_channel(w, BASS, 110, 0.0, 0.0, 0.0)
    _setup_channel(w, BASS2, 96, 0.0, 0.0, 0.0)
    _setup_channel(w, LEAD, 105, float(rng.uniform(-0.1, 0.1)), dom["reverb_send"], chorus * 0.5)
    _setup_channel(w, LEAD2, 90, float(rng.choice([-1, 1]) * rng.uniform(0.3, 0.6)), dom["reverb_send"], chorus)
    _setup_channel(w, CHORDS, 95, float(rng.uniform(-0.2, 0.2)), min(1.0, dom["reverb_send"] * 1.3), chorus)
    _setup_channel(w, ATMOS, 85, 0.0, min(1.0, dom["reverb_send"] * 1.5), chorus)
    _setup_channel(w, RISER, 100, 0.0, 0.4, 0.0)
    _setup_channel(w, IMPACT, 105, 0.0, 0.3, 0.0)
    _setup_channel(w, TUNED, 115, 0.0, 0.0, 0.0)
    current: dict[int, tuple] = {}

    def use(ch: int, tick: float, p: dict | None) -> None:
        """Program change when the channel's preset changes (mixtures switch per block)."""
        if p is None:
            return
        key = (p["bank"], p["program"])
        if current.get(ch) != key:
            w.program(ch, tick - 2, *key)
            current[ch] = key

    def jitter(genre: str, bpm: float) -> float:
        sd = gsounds[genre]["humanise_ms"]
        if sd <= 0:
            return 0.0
        ms = float(np.clip(rng.normal(0.0, sd), -2.5 * sd, 2.5 * sd))
        return ms / 1000.0 * bpm / 60.0 * TPB

    def vel(genre: str, v: float) -> float:
        return 127.0 * v * (1.0 + gsounds[genre]["velocity_spread"] * float(np.clip(rng.standard_normal(), -2.0, 2.0)))

    def at(bar_tick: int, step: float) -> float:
        return bar_tick + (step + (swing if int(step) % 2 == 1 else 0.0)) * step_ticks

    # Detune of the layered channels: set once.
    lay = dom["lead_layer"]
    if lay and lay.get("detune_cents"):
        w.bend(LEAD2, 0, lay["detune_cents"] / 100.0)
    if dom["bass"] and dom["bass"].get("detune_cents"):
        w.bend(BASS2, 0, dom["bass"]["detune_cents"] / 100.0)

    for i, bar in enumerate(params["bars"]):
        t0 = pre + i * bar_len
        bpm = float(bar.get("bpm", params["bpm"]))
        cycle = bar["pos"] % len(prog)
        deg = int(prog[cycle % len(prog)])
        roles, src = bar["roles"], bar["sources"]
        ms_ticks = bpm / 60.0 * TPB / 1000.0  # ticks per millisecond

        if "kick" in roles:
            for b in range(2 if roles["kick"] == "half" else 4):
                for k, note in enumerate(dom["kick_notes"]):
                    w.note(DRUMS, t0 + b * beat, beat / 2, note, dom["kick_velocity"] - 8 * k)
                tk = dom["tuned_kick"]
                if tk:
                    use(TUNED, t0 + b * beat, tk)
                    pitch = register(key_pc, 33)
                    decay = sounds[dominant]["kick"]["pitch_decay"] * 1000.0
                    for j in range(6):
                        w.bend(TUNED, t0 + b * beat + j * decay / 3 * ms_ticks, tk["drop"] * math.exp(-j))
                    w.note(TUNED, t0 + b * beat + 1, beat * 0.6, pitch, 120)
        if "clap" in roles:
            g = src["clap"]
            steps = [(4, 1.0), (12, 1.0)] + ([(s, 0.65) for s in sounds[g]["clap_fill"]] if roles["clap"] == "fill" else [])
            for s, v in steps:
                t = at(t0, s) + jitter(g, bpm)
                for k, note in enumerate(gsounds[g]["clap_notes"]):
                    w.note(DRUMS, t, step_ticks, note, vel(g, 0.86 * v) - 10 * k)
        if "hats" in roles:
            g = src["hats"]
            pat = sounds[g]["hats"]["pattern"]
            for s, v in enumerate(pat["closed"]):
                if v > 0:
                    w.note(DRUMS, at(t0, s) + jitter(g, bpm), step_ticks / 2, gsounds[g]["hat_note"], 25 + 75 * v)
            for s in pat["open"]:
                w.note(DRUMS, at(t0, s) + jitter(g, bpm), 2 * step_ticks, gsounds[g]["open_hat_note"], vel(g, 0.7))
        if "perc" in roles and gsounds[src["perc"]]["perc"]:
            g = src["perc"]
            notes = gsounds[g]["perc"]["notes"]
            for s, v, var in sounds[g]["perc"]["pattern"]:
                w.note(DRUMS, at(t0, s) + jitter(g, bpm), step_ticks, notes[int(var) % len(notes)], vel(g, 0.8 * v))
        if "tops" in roles and (sounds[src["tops"]].get("tops") or {}).get("layers"):
            g = src["tops"]
            sparse = roles["tops"] == "sparse"
            for layer, notes in zip(sounds[g]["tops"]["layers"], gsounds[g].get("tops", [])):
                if not notes:
                    continue
                level = 10 ** (float(layer.get("gain_db", 0.0)) / 40.0)
                for k, (s, v, var) in enumerate(layer["pattern"]):
                    if sparse and k % 2:
                        continue
                    w.note(DRUMS, at(t0, s) + jitter(g, bpm), step_ticks / 2, notes[int(var) % len(notes)],
                           vel(g, 0.75 * float(v) * level))
        fx = roles.get("fx")
        if fx and fx.startswith("build"):
            _build_fx(w, t0, int(fx[5:]), dom, key_pc, use)
        elif fx == "crash":
            w.note(DRUMS, t0, 2 * beat, dom["crash_note"], 96)
            if dom["impact"]:
                use(IMPACT, t0, dom["impact"])
                w.note(IMPACT, t0, 2 * beat, register(key_pc, 48), 80)
        elif fx == "down":
            w.note(DRUMS, t0, 2 * beat, 57, 90)
            use(RISER, t0, dom["riser"])
            w.cc(RISER, t0 - 1, 11, 127)
            length = min(2, bar["n"]) * bar_len  # a downlifter over (up to) two bars
            for j in range(33):
                w.bend(RISER, t0 + j * length / 32, -12.0 * j / 32)
                w.cc(RISER, t0 + j * length / 32, 11, 127 * (1 - j / 32) ** 1.5)
            w.note(RISER, t0, length - 4, register(key_pc, 60), 100)

        if "bass" in roles:
            g = src["bass"]
            _bass_bar(w, t0, at, sounds[g]["bass"], gsounds[g], roles["bass"], key_pc, scale, deg, ms_ticks, step_ticks,
                      lambda v, g=g: vel(g, v), lambda g=g, bpm=bpm: jitter(g, bpm), use)
        if "lead" in roles:
            g = src["lead"]
            _lead_bar(w, t0, at, sounds[g]["lead"], gsounds[g], roles["lead"], key_pc, scale, deg, cycle, ms_ticks,
                      step_ticks, lambda v, g=g: vel(g, v), lambda g=g, bpm=bpm: jitter(g, bpm), use)
        if "chords" in roles:
            g = src["chords"]
            ch = sounds[g]["chords"]
            use(CHORDS, t0, gsounds[g]["chords"])
            variant = roles["chords"]
            notes = voice_lead(chord(48 + key_pc, scale, deg, ch["size"]), 52, 72)
            hits = ch["rhythm"] if variant not in ("pad", "filtered") else [[0, STEPS]]
            _swell(w, CHORDS, t0, bar_len, variant)
            for s, ln in hits:
                t = at(t0, s) + jitter(g, bpm)
                for m in notes:
                    w.note(CHORDS, t, ln * step_ticks * 0.97, m, vel(g, 0.78 if variant != "filtered" else 0.6))
        if "atmos" in roles:
            use(ATMOS, t0, dom["atmos"])
            root = register(scale_note(key_pc, scale, deg) % 12, 45)
            gain = 0.5 + 0.5 * (bar["pos"] + 1) / bar["n"] if bar["section"] == "build" else 1.0
            w.cc(ATMOS, t0 - 1, 11, 127 * gain)
            for m in (root, root + 7, root + 12):
                w.note(ATMOS, t0, bar_len - 2, m, 72)

    tempo = mido.MidiTrack()
    tempo.append(mido.MetaMessage("track_name", name=f"gmrender seed {params['seed']}", time=0))
    tempo.append(mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0))
    tempo.append(mido.MetaMessage("set_tempo", tempo=PRE_ROLL_TEMPO, time=0))
    last_tick, last_tempo = 0, None
    for i, bar in enumerate(params["bars"]):
        tu = tempo_us(bar.get("bpm", params["bpm"]))
        if tu != last_tempo:
            tick = pre + i * bar_len
            tempo.append(mido.MetaMessage("set_tempo", tempo=tu, time=tick - last_tick))
            last_tick, last_tempo = tick, tu
    tempo.append(mido.MetaMessage("end_of_track", time=end_tick - last_tick))

    def file_of(channels) -> mido.MidiFile:
        mf = mido.MidiFile(type=1, ticks_per_beat=TPB)
        mf.tracks.append(tempo)
        for ch in channels:
            mf.tracks.append(w.track(ch, end_tick))
        return mf

    out = {name: file_of(chs) for name, chs in STEMS.items()}
    out["full"] = file_of(sorted(c for chs in STEMS.values() for c in chs))
    return out


def _swell(w: _Writer, ch: int, t0: int, bar_len: int, variant: str) -> None:
    """CC11 / CC74 of one bar for a part variant: build sweeps rise, soft and filtered parts sit low."""
    if variant.startswith("sweep"):
        k, n = (int(v) for v in variant[5:].split("/"))
        for j in range(4):
            u = (k + j / 4) / n
            w.cc(ch, t0 + j * bar_len / 4 - 1, 11, 127 * (0.45 + 0.55 * min(1.0, u + 1 / (4 * n))))
            w.cc(ch, t0 + j * bar_len / 4 - 1, 74, 20 + 107 * u)
    elif variant in ("soft", "filtered"):
        w.cc(ch, t0 - 1, 11, 127 * (0.7 if variant == "soft" else 0.9))
        w.cc(ch, t0 - 1, 74, 45 if variant == "soft" else 30)
    else:
        w.cc(ch, t0 - 1, 11, 127)
        w.cc(ch, t0 - 1, 74, 100)


def _build_fx(w: _Writer, t0: int, n_bars: int, dom: dict, key_pc: int, use) -> None:
    """Snare roll doubling its rate every quarter of the build, and a riser bending up an octave."""
    n_beats = 4 * n_bars
    for b in range(n_beats):
        rate = 2 ** min(3, int(4 * b / n_beats))
        for r in range(rate):
            t = (b + r / rate) * TPB
            u = t / (n_beats * TPB)
            w.note(DRUMS, t0 + t, TPB / rate / 2, dom["roll_note"], 20 + 105 * u ** 2)
    use(RISER, t0, dom["riser"])
    length = n_beats * TPB
    steps = 8 * n_bars
    for j in range(steps + 1):
        u = j / steps
        w.bend(RISER, t0 + u * length - 1, 12.0 * u ** 2)
        w.cc(RISER, t0 + u * length - 1, 11, 127 * (0.25 + 0.75 * u))
    w.note(RISER, t0, length - 4, register(key_pc, 60), 110)


def _bass_bar(w, t0, at, b: dict, gb: dict, variant: str, key_pc, scale, deg, ms_ticks, step_ticks, vel, jitter, use) -> None:
    use(BASS, t0, gb["bass"])
    reese = bool(gb["bass"].get("detune_cents"))
    if reese:
        use(BASS2, t0, gb["bass"])
    v = b["voice"]
    kind = b["instrument"]
    root = register(scale_note(key_pc, scale, deg) % 12, b["low"])
    w.cc(BASS, t0 - 1, 74, 30 if variant == "filtered" else 100)
    for s, ln, semi, vv in b["pattern"]:
        m = root + int(semi)
        if m < 23:
            m += 12
        t = at(t0, s) + jitter()
        dur = ln * step_ticks * 0.92
        velocity = vel(float(vv) * (0.8 if variant == "filtered" else 1.0))
        if kind == "bounce":  # pitch dive into the note
            dive, tau = float(v["dive"]), float(v["dive_time"]) * 1000.0
            for j in range(6):
                w.bend(BASS, t - 1 + j * tau / 2 * ms_ticks, dive * math.exp(-j / 2 * 1.0) if j < 5 else 0.0)
        elif kind == "growl":  # pitch "yoy" from below plus a wobbling expression
            yoy = float(v["yoy"])
            for j in range(5):
                w.bend(BASS, t - 1 + j * 20 * ms_ticks, -yoy * math.exp(-j / 2) if j < 4 else 0.0)
            n = max(2, int(dur / (step_ticks / 4)))
            for j in range(n):
                ph = 2 * math.pi * float(v["wow_rate"]) * (j * step_ticks / 4) / (ms_ticks * 1000.0) + float(v["wow_phase"])
                w.cc(BASS, t + j * step_ticks / 4, 11, 127 * (0.55 + 0.45 * (0.5 + 0.5 * math.cos(ph))))
        elif kind == "pulse_bass":  # tremolo pulses
            n = max(2, int(dur / (step_ticks / 4)))
            for j in range(n):
                ph = 2 * math.pi * float(v["trem_rate"]) * (j * step_ticks / 4) / (ms_ticks * 1000.0)
                w.cc(BASS, t + j * step_ticks / 4, 11, 127 * (1 - float(v["trem"]) * (0.5 + 0.5 * math.cos(ph))))
        w.note(BASS, t, dur, m, velocity)
        if kind == "slap":  # the octave layer that fills the mids
            w.note(BASS, t, dur, m + 12, velocity * float(v["octave"]))
        if reese:
            w.note(BASS2, t, dur, m, velocity * 0.85)


def _lead_bar(w, t0, at, ld: dict, gl: dict, variant: str, key_pc, scale, deg, cycle, ms_ticks, step_ticks, vel, jitter,
              use) -> None:
    use(LEAD, t0, gl["lead"])
    layer = gl["lead_layer"]
    if layer:
        use(LEAD2, t0, layer)
    _swell(w, LEAD, t0, 4 * TPB, variant)
    if layer:
        _swell(w, LEAD2, t0, 4 * TPB, variant)
    v = ld["voice"]
    half = cycle % 2
    base = 12 * int(ld["octave"]) + key_pc
    lo, hi = base - 7, base + 19
    root_deg = deg if deg <= 4 else deg - 7
    soft = 0.75 if variant == "soft" else 1.0
    for s, ln, dg, vv in ld["pattern"]:
        if not (STEPS * half <= s < STEPS * half + STEPS):
            continue
        m = scale_note(base, scale, root_deg + int(dg))
        while m > hi:
            m -= 12
        while m < lo:
            m += 12
        t = at(t0, s - STEPS * half) + jitter()
        dur = ln * step_ticks * 0.95
        velocity = vel(float(vv) * 0.9 * soft)
        if v.get("type") == "square" and float(v.get("bend", 0.0)) > 0:  # pitch flick from above
            tau = float(v["bend_time"]) * 1000.0
            for j in range(5):
                w.bend(LEAD, t - 1 + j * tau / 2 * ms_ticks, float(v["bend"]) * math.exp(-j) if j < 4 else 0.0)
        elif v.get("type") == "vocal":  # sung scoop from below, vibrato on the mod wheel
            for j in range(5):
                w.bend(LEAD, t - 1 + j * 25 * ms_ticks, -float(v["scoop"]) * math.exp(-j) if j < 4 else 0.0)
            w.cc(LEAD, t - 1, 1, min(127.0, float(v["vibrato"]) * 2))
        w.note(LEAD, t, dur, m, velocity)
        if layer:
            w.note(LEAD2, t, dur, m + int(layer["octave"]), velocity * 0.8)
