"""Hydrogen engine for the realmusic corpus: the seeded plans as Hydrogen songs, rendered by h2cli.

Built by ``python bench/realmusic/build_corpus.py --hydrogen N`` (with the other engines).
Tracks ``h2000`` .. ``h2{N-1}``, one render at a time. Resumable: a track whose truth file carries the same ``generator_version`` and seed is skipped.
Needs ``h2cli`` (Debian package ``hydrogen`` 1.2.x, its drumkits in
``/usr/share/hydrogen/data/drumkits``) and LMMS's sample set (``/usr/share/lmms/samples``,
package ``lmms-common``).

Engine
------
Track ``h2NNN`` (``idx`` = NNN) plays the plan ``make_arrangement(seed * 100003 + 70000 + idx)``
(``arrangements.py``; the offset keeps the plans apart from the other engines' tracks). The notes
are those of ``arrangements._events`` (the parts the MIDI files get), moved from 480 to
Hydrogen's 48 ticks per beat (a 4/4 bar = one 192-tick pattern column). Every plan tick is a
multiple of 10 except the hat swing (9 or 18 of 480); the remainder becomes a time offset, see
*Timing* below. ``h2NNN.h2song`` is a plain Hydrogen 1.2 song (``<mode>song</mode>``, loop off,
humanize/swing 0): an instrument list (one instrument per role, see below), one pattern per
distinct bar content of each part (drums, bass, chords, lead; deduplicated), and a pattern
sequence with one ``<group>`` per bar holding the parts that play in that bar. It is rendered
with Hydrogen's command-line exporter::

    HOME=<fresh temp dir> JACK_NO_START_SERVER=1 h2cli -d alsa -s h2NNN.h2song -o <tmp>.wav -r 44100 -b 16

(16-bit stereo 44.1 kHz, linear interpolation; written to a temporary name in DIR, then renamed.
The throw-away ``HOME`` keeps h2cli's preferences, which it rewrites on exit, from leaking from one
render into the next; ``JACK_NO_START_SERVER`` and ``-d alsa`` skip the JACK probing that
otherwise costs ~20 s a render: the export runs on Hydrogen's own DiskWriter driver either way.)
The render is deterministic (bit-identical on re-render) and sample-exact: an isolated kick
starts within +-0.5 frame of its tick, also across a Timeline tempo marker. h2cli rings out the
last bar until every note has ended; the truth ends at the song end, the timeline's duration is
the audio's. When the song ends in silence h2cli stops at the 200th zero frame of its last
buffer, up to ~23 ms before the song end; such a WAV is padded with digital silence to the song
end (``analysis.renderer.padded_frames``).

Instruments (drawn per track from ``random.Random(track_seed * 7127 + 29)``; recorded in
``analysis.sound`` of the truth):

* drum kit alternating with the plan seed: odd seeds TR808EmulationKit (808 kick long or short),
  even seeds GMRockKit (velocity layers); each drum role (kick, snare, clap, closed hat, open
  hat, crash) is replaced, with probability 0.35, by an LMMS sample from ``drums/`` (kicks only
  kick_hiphop01, kick03 and kick_hardcore01, whose < 150 Hz envelope is at >= 30 % of its peak
  5 ms after the start; the others build their body 20-120 ms late, which lets the bass's low
  end mask the attack in the onset check). Kick four on the floor where the plan has a kick,
  clap (odd plan seeds, GM 39) or snare (even, GM 38) on beats 2 and 4, snare rolls in builds
  (8ths then 16ths, rising velocity), closed hats on off-beats or 16ths (swing), open hats on
  drop off-beats, crash at drop starts. Drum notes play their whole sample (``<length>`` -1).
* bass: an LMMS sample whose fundamental was measured at C2 (MIDI 36: ``basses/bass01``,
  ``basses/synth_acid01``, ``basses/matrix1000_pluck01``) played at the plan's pitches through
  Hydrogen's per-note key/octave (resampling).
* chords: piano stabs (plans with programs 0-5: ``instruments/piano01``, C4) or a sustained pad
  (programs 88-95: ``stringsnpads/strings01`` or ``orion_string01``, C4, slow attack, long
  release), three notes of the same instrument at one position; lead: ``instruments/trumpet01``
  (A4), ``piano01`` or ``orion_string01``, one-bar motif. These are resampled one-shots: a pitch
  shift of up to +35 semitones shortens them accordingly, so lead and pads are plainer than a
  synthesiser's.
* every pitched layer carries ``<pitch>`` = 60 - (root of its sample), so that a note's
  ``<key>``/octave is its MIDI pitch - 60 (``C0`` = middle C).
* a pitched note ends where the plan's note ends (bass 20 ticks, stabs 16, lead 21, pads up to
  tick 188 of the bar) by a note-off note (``<note_off>true``) of its instrument, which releases
  the instrument's sounding notes through its ADSR release: h2cli 1.2.0-beta1 crashes
  (SIGSEGV) on notes with a ``<length>`` that are pitched up or carry a negative lead/lag.
* levels: instrument volumes drawn within ranges per role; the song ``<volume>`` starts at 0.45 and
  is rescaled to a peak of 0.8 (rewrite + re-render) when a render peaks outside [0.6, 0.95)
  (DiskWriter clamps at 1.0; a clipped render is retried at 0.6 x the volume).

Timing (humanised plans, swing)
-------------------------------
Hydrogen's song ``humanize_time`` is random at render time, so it is not used. Plans with
``jitter_ms`` > 0 get a per-note Gaussian offset (sd ``jitter_ms``, clipped at 2.5 sd, from
``random.Random(track_seed * 104729 + 5)``) written into the file; together with the swing
remainder it is realised by Hydrogen's per-note ``<leadlag>`` (delay = leadlag x the frames of
5 ticks at the current tempo). The Debian h2cli 1.2.0-beta1 honours only negative lead/lag
(positive values are ignored, tested), so an offset d > 0 is written as the note ``n =
ceil(d / tick)`` ticks later with ``leadlag = (d - n * tick) / (5 * tick)`` <= 0. The grid (tempo
map, pattern columns) is untouched, so beats, downbeats and sections stay exact; a note stays in
its bar (it moves at most 3 ticks, < the 6-tick tolerance of ``truth_derive.bar_activity``) and a
kick rounds to its beat. The jitter is recorded as ``analysis.humanise_jitter_ms``.

Tempo: the song ``<bpm>`` is the plan tempo (one decimal). A plan tempo change is rendered with
Hydrogen's Timeline (``<isTimelineActivated>true``, ``<BPMTimeLine>`` markers at column 0 and at
the section's first bar = column); h2cli honours it (checked sample-exact across the marker).

Ground truth (``read_h2song``: the .h2song read back with ElementTree, never the plan)
----------------------------------------------------------------------------------------
* 48 ticks per beat (Hydrogen's fixed resolution); column c lasts the size of its longest
  pattern (192 if empty), starting where the previous ended; time signature per column
  ``size * denominator / 192`` over ``denominator`` (4/4 here).
* tempo per column: the song ``<bpm>``, or with the Timeline activated the last ``newBPM``
  marker at a column <= c (the song bpm before the first marker, as Hydrogen does); a tempo
  event where it changes. Song end = the end of the last column.
* notes: every ``<note>`` (``note_off`` false) of every pattern in every group, at column start +
  ``position`` (when ``position`` < the pattern's size), unless its instrument is muted; a
  probability other than 1 or a virtual pattern is refused (ValueError). The instrument's role
  comes from its ``<name>`` (``"Kick: ..."``, ``"Snare: ..."``, ...): kick -> channel 9 note 36,
  snare 38, clap 39, closed hat 42, open hat 46, crash 49 (GM percussion); bass -> channel 0
  program 32; chords -> channel 1 and lead -> channel 2, program 0; melodic note = 60 + 12 *
  octave + key (the ``<key>`` field). Then ``truth_derive.write_truth_events`` (drop = kick + bass
  after four bars without, etc.).

Sources and licences
--------------------
TR808EmulationKit (ArtemioLabs) and GMRockKit (Glen MacArthur / Sebastian Moors): Debian package
``hydrogen-data``; their ``drumkit.xml`` say ``<license>GPL</license>`` and
/usr/share/doc/hydrogen-data/copyright puts all of Hydrogen's data under GPL-2+. LMMS samples:
package ``lmms-common``, GPL-2+ per /usr/share/doc/lmms-common/copyright. The songs are generated
here; Hydrogen's demo songs and the other reserved acceptance sources are not used.

Limits: drums and one-shot samples only (no synthesiser, no effects); chords/lead are resampled
samples; 4/4 only; tempo changes only at bar (column) starts; the positive-lead/lag workaround
above is specific to this h2cli build (a build that honours positive lead/lag plays late notes
up to one lead/lag step later, still inside the bar).
"""
from __future__ import annotations

import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from functools import cache, lru_cache
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from arrangements import (
    BASS_CH,
    CHORD_CH,
    DRUM_CH,
    LEAD_CH,
    TPB,
    _events,
    make_arrangement,
)
from arrangements import GENERATOR_VERSION as PLAN_VERSION
from build_corpus import kick_onset_check
from onset_check import peak as _peak
from mainstage.core.atomic import atomic_open, atomic_path
from truth_derive import cached_analysis, derive_events, tick_to_seconds, write_truth_events

GENERATOR_VERSION = f"{PLAN_VERSION}+h2-1"
SEED_OFFSET = 70000
H2_TPB = 48                      # Hydrogen's fixed resolution (ticks per quarter note)
H2_BAR = 4 * H2_TPB              # one 4/4 pattern column
TICK_DIV = TPB // H2_TPB         # plan ticks per Hydrogen tick (10)
LEADLAG_TICKS = 5                # Hydrogen: leadlag 1.0 = the duration of 5 ticks
NOTE_OFF_MAX = H2_BAR - 4        # latest note-off in a bar (clear of an early next-bar note)
SR = 44100
HOW = "bench/realmusic/hydrogen_source.py read_h2song (from the .h2song file)"

DRUMKITS = Path("/usr/share/hydrogen/data/drumkits")
LMMS = Path("/usr/share/lmms/samples")
DK_NS = "{http://www.hydrogen-music.org/drumkit}"

#: role -> (instrument-name label, GM channel, GM note or None, GM program)
ROLES = {
    "kick": ("Kick", DRUM_CH, 36, 0), "snare": ("Snare", DRUM_CH, 38, 0), "clap": ("Clap", DRUM_CH, 39, 0),
    "chat": ("Closed hat", DRUM_CH, 42, 0), "ohat": ("Open hat", DRUM_CH, 46, 0), "crash": ("Crash", DRUM_CH, 49, 0),
    "bass": ("Bass", BASS_CH, None, 32), "chords": ("Chords", CHORD_CH, None, 0), "lead": ("Lead", LEAD_CH, None, 0),
}
LABEL_ROLE = {v[0].lower(): k for k, v in ROLES.items()}
GM_DRUM_ROLE = {36: "kick", 38: "snare", 39: "clap", 42: "chat", 46: "ohat", 49: "crash"}
DRUM_ROLES = ("kick", "snare", "clap", "chat", "ohat", "crash")

KIT_INSTRUMENTS = {
    "TR808EmulationKit": {"kick": ["Kick Long", "Kick Short"], "snare": ["Snare 1", "Snare 2"], "clap": ["Clap"],
                          "chat": ["Closed Hat"], "ohat": ["Open Hat"], "crash": ["Cymbal"]},
    "GMRockKit": {"kick": ["Kick"], "snare": ["Snare"], "clap": ["Hand Clap"], "chat": ["Hat Closed"],
                  "ohat": ["Hat Open"], "crash": ["Crash"]},
}
LMMS_DRUMS = {
    "kick": ["kick_hiphop01", "kick03", "kick_hardcore01"],
    "snare": ["snare01", "snare03", "snare04", "snare05", "snare06"],
    "clap": ["clap01", "clap03", "clap04"],
    "chat": ["hihat_closed01", "hihat_closed03", "hihat_closed04"],
    "ohat": ["hihat_opened01", "hihat_opened02"],
    "crash": ["crash01"],
}
#: pitched one-shots: (path under LMMS, MIDI pitch of the sample's fundamental, measured)
BASSES = [("basses/bass01.ogg", 36), ("basses/synth_acid01.ogg", 36), ("basses/matrix1000_pluck01.ogg", 36)]
STABS = [("instruments/piano01.ogg", 60)]
PADS = [("stringsnpads/strings01.ogg", 60), ("stringsnpads/orion_string01.ogg", 60)]
LEADS = [("instruments/trumpet01.ogg", 69), ("instruments/piano01.ogg", 60), ("stringsnpads/orion_string01.ogg", 60)]
#: role -> (volume range, (attack, decay, sustain, release) in frames)
LEVELS = {
    "kick": ((0.95, 1.0), (0, 0, 1.0, 1000)), "snare": ((0.5, 0.65), (0, 0, 1.0, 1000)),
    "clap": ((0.6, 0.75), (0, 0, 1.0, 1000)), "chat": ((0.35, 0.5), (0, 0, 1.0, 1000)),
    "ohat": ((0.3, 0.45), (0, 0, 1.0, 1000)), "crash": ((0.35, 0.5), (0, 0, 1.0, 1000)),
    "bass": ((0.55, 0.7), (0, 0, 1.0, 1500)), "stabs": ((0.3, 0.4), (0, 0, 1.0, 4000)),
    "pad": ((0.25, 0.35), (4000, 0, 1.0, 12000)), "lead": ((0.25, 0.35), (200, 0, 1.0, 3000)),
}
KEYS = ["C", "Cs", "D", "Ef", "E", "F", "Fs", "G", "Af", "A", "Bf", "B"]   # Hydrogen's key names


# ----------------------------------------------------------------------------------------------
# sound choice
# ----------------------------------------------------------------------------------------------

@cache
def _kit_instruments(kit: str) -> dict:
    """name -> {layers: [(abs file, min, max, gain, pitch)], pan} of a system drumkit."""
    root = ET.parse(DRUMKITS / kit / "drumkit.xml").getroot()
    out = {}
    for inst in root.find(f"{DK_NS}instrumentList"):
        name = inst.findtext(f"{DK_NS}name")
        layers = [(str(DRUMKITS / kit / lay.findtext(f"{DK_NS}filename")), float(lay.findtext(f"{DK_NS}min", "0")),
                   float(lay.findtext(f"{DK_NS}max", "1")), float(lay.findtext(f"{DK_NS}gain", "1")),
                   float(lay.findtext(f"{DK_NS}pitch", "0"))) for lay in inst.iter(f"{DK_NS}layer")]
        out[name] = {"layers": layers, "pan": float(inst.findtext(f"{DK_NS}pan", "0"))}
    return out


def choose_sound(arr) -> dict:
    """Kit, samples and levels of a track (deterministic in the plan seed)."""
    r = random.Random(arr.seed * 7127 + 29)
    kit = "TR808EmulationKit" if arr.seed % 2 else "GMRockKit"
    inst = {}
    for role in DRUM_ROLES:
        vol = round(r.uniform(*LEVELS[role][0]), 3)
        if r.random() < 0.35:
            name = r.choice(LMMS_DRUMS[role])
            pitch = 0.0 if role == "kick" else float(r.choice([-1, 0, 0, 1]))
            inst[role] = {"source": f"lmms:drums/{name}.ogg", "files": [str(LMMS / "drums" / f"{name}.ogg")],
                          "pitch": pitch, "volume": vol, "kit": None}
        else:
            name = r.choice(KIT_INSTRUMENTS[kit][role])
            inst[role] = {"source": f"{kit}:{name}", "kit_instrument": name, "pitch": 0.0, "volume": vol, "kit": kit}
    bass = r.choice(BASSES)
    chord_kind = "stabs" if arr.chord_program <= 5 else "pad"
    chords = r.choice(STABS if chord_kind == "stabs" else PADS)
    lead = r.choice(LEADS)
    for role, (src, root), lv in (("bass", bass, "bass"), ("chords", chords, chord_kind), ("lead", lead, "lead")):
        inst[role] = {"source": f"lmms:{src}", "files": [str(LMMS / src)], "root": root, "pitch": float(60 - root),
                      "volume": round(r.uniform(*LEVELS[lv][0]), 3), "kit": None, "adsr": LEVELS[lv][1]}
    for role in DRUM_ROLES:
        inst[role]["adsr"] = LEVELS[role][1]
    return {"kit": kit, "chords": chord_kind, "instruments": inst}


# ----------------------------------------------------------------------------------------------
# the song
# ----------------------------------------------------------------------------------------------

def _sub(parent: ET.Element, tag: str, text=None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = text if isinstance(text, str) else (("true" if text else "false") if isinstance(text, bool)
                                                       else _num(text))
    return el


def _num(v) -> str:
    if isinstance(v, int):
        return str(v)
    s = f"{float(v):.6f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _instrument_xml(parent, iid: int, role: str, spec: dict, kit_name: str) -> None:
    label, ch, note, _ = ROLES[role]
    el = _sub(parent, "instrument")
    _sub(el, "id", iid)
    _sub(el, "name", f"{label}: {spec['source']}")
    if spec["kit"]:
        kit = _kit_instruments(spec["kit"])[spec["kit_instrument"]]
        layers, pan = kit["layers"], kit["pan"]
    else:
        layers, pan = [(f, 0.0, 1.0, 1.0, 0.0) for f in spec["files"]], 0.0
    # every instrument names the track's kit (h2cli 1.2.0-beta1 crashes on instruments without
    # one); the layers hold absolute sample paths, which Hydrogen loads as they are
    _sub(el, "drumkitPath", str(DRUMKITS / kit_name))
    _sub(el, "drumkit", kit_name)
    a, d, s, rel = spec["adsr"]
    for tag, val in (("volume", spec["volume"]), ("isMuted", False), ("isSoloed", False), ("pan", pan),
                     ("pitchOffset", 0), ("randomPitchFactor", 0), ("gain", 1), ("applyVelocity", True),
                     ("filterActive", False), ("filterCutoff", 1), ("filterResonance", 0), ("Attack", a),
                     ("Decay", d), ("Sustain", s), ("Release", rel), ("muteGroup", -1),
                     ("midiOutChannel", ch), ("midiOutNote", note if note is not None else 60),
                     ("isStopNote", False), ("sampleSelectionAlgo", "VELOCITY"), ("isHihat", -1),
                     ("lower_cc", 0), ("higher_cc", 127), ("FX1Level", 0), ("FX2Level", 0), ("FX3Level", 0),
                     ("FX4Level", 0)):
        _sub(el, tag, val)
    comp = _sub(el, "instrumentComponent")
    _sub(comp, "component_id", 0)
    _sub(comp, "gain", 1)
    for f, lo, hi, gain, pitch in layers:
        lay = _sub(comp, "layer")
        for tag, val in (("filename", f), ("min", lo), ("max", hi), ("gain", gain), ("pitch", pitch + spec["pitch"])):
            _sub(lay, tag, val)


def _key(semitones: int) -> str:
    """Hydrogen key/octave string for a pitch offset from C0 (= middle C here)."""
    octave, key = divmod(semitones, 12)
    if not -3 <= octave <= 3:
        raise ValueError(f"pitch offset {semitones} outside Hydrogen's octaves -3..3")
    return f"{KEYS[key]}{octave}"


def song_notes(arr, sound: dict) -> tuple[list, list[tuple[int, float]]]:
    """Per bar, per part: notes as (pos, instrument id, velocity, leadlag, key, note_off).

    Returns (bars, tempo_markers) where bars[i] = {part: tuple(notes)} and tempo markers are
    (column, bpm) with the first at column 0.
    """
    meta, notes = _events(arr)
    role_ids = {}
    for role in ROLES:
        if role in sound["instruments"]:
            role_ids[role] = len(role_ids)
    tempos = sorted((t, 60e6 / m.tempo) for t, m in meta if m.type == "set_tempo")
    plan_bar = TPB * 4
    n_bars = arr.bars
    markers = []
    for t, bpm in tempos:
        if t % plan_bar:
            raise ValueError("tempo change off a bar start")
        col, bpm = t // plan_bar, round(bpm, 1)
        markers = [m for m in markers if m[0] != col] + [(col, bpm)]
    bar_bpm = []
    for b in range(n_bars):
        bar_bpm.append([bpm for c, bpm in markers if c <= b][-1])
    jit = random.Random(arr.seed * 104729 + 5)
    bars = [{"drums": [], "bass": [], "chords": [], "lead": []} for _ in range(n_bars)]
    parts = {DRUM_CH: "drums", BASS_CH: "bass", CHORD_CH: "chords", LEAD_CH: "lead"}
    ends = []                  # pitched notes: (bar, part, instrument id, plan start, plan end, pos, leadlag)
    for ch in (DRUM_CH, BASS_CH, CHORD_CH, LEAD_CH):
        for t, dur, note, vel in notes[ch]:
            bar, in_bar = divmod(t, plan_bar)
            pos, frac = divmod(in_bar, TICK_DIV)
            tick_ms = 60000.0 / bar_bpm[bar] / H2_TPB
            offset_ms = frac / TICK_DIV * tick_ms
            if arr.jitter_ms > 0:
                offset_ms += max(-2.5, min(2.5, jit.gauss(0.0, 1.0))) * arr.jitter_ms
                if t == 0:
                    offset_ms = max(offset_ms, 0.0)     # nothing can start before the song
            leadlag = 0.0
            if offset_ms > 1e-9:      # positive lead/lag is ignored by this h2cli: later tick, negative leadlag
                n = math.ceil(offset_ms / tick_ms - 1e-9)
                pos += n
                leadlag = (offset_ms - n * tick_ms) / (LEADLAG_TICKS * tick_ms)
            elif offset_ms < -1e-9:
                leadlag = offset_ms / (LEADLAG_TICKS * tick_ms)
            if pos >= H2_BAR:
                raise ValueError(f"note moved out of its bar (bar {bar}, pos {pos})")
            leadlag = round(max(-1.0, leadlag), 6)
            if ch == DRUM_CH:
                role, key = GM_DRUM_ROLE[note], "C0"
            else:
                role = {BASS_CH: "bass", CHORD_CH: "chords", LEAD_CH: "lead"}[ch]
                key = _key(note - 60)
                ends.append((bar, parts[ch], role_ids[role], t, t + dur, pos, leadlag))
            bars[bar][parts[ch]].append((pos, role_ids[role], round(vel / 127, 4), leadlag, key, False))
    # A pitched note ends with a note-off note of its instrument (which releases every sounding
    # note of it), not with <length>: h2cli 1.2.0-beta1 crashes on notes with a length that are
    # pitched up or carry a negative lead/lag. One note-off per plan note end (the latest of a
    # chord's jittered ends), at least 2 ticks before the instrument's next note in the bar (a
    # note starts at most 1.25 ticks early) and not after tick NOTE_OFF_MAX.
    starts: dict[tuple, list] = {}
    for bar, part, iid, t, _, pos, _ in ends:
        starts.setdefault((bar, part, iid), []).append((t, pos))
    offs: dict[tuple, tuple[int, float]] = {}
    for bar, part, iid, t, t_end, pos, leadlag in ends:
        nxt = min((p for t2, p in starts[(bar, part, iid)] if t2 > t), default=H2_BAR)
        off = min(pos + max(1, (t_end - t) // TICK_DIV), NOTE_OFF_MAX, nxt - 2)
        k = (bar, part, iid, t_end)
        if off > pos and (off, leadlag) > offs.get(k, (-1, 0.0)):
            offs[k] = (off, leadlag)
    for (bar, part, iid, _), (off, leadlag) in offs.items():
        bars[bar][part].append((off, iid, 0.0, leadlag, "C0", True))
    for b in bars:
        for p in b:
            b[p] = tuple(sorted(b[p]))
    return bars, markers


def build_song(arr, sound: dict, volume: float = 0.45) -> str:
    """The .h2song text of a plan (Hydrogen 1.2 format)."""
    bars, markers = song_notes(arr, sound)
    song = ET.Element("song")
    for tag, val in (("version", "1.2.0-beta1"), ("bpm", markers[0][1]), ("volume", volume),
                     ("metronomeVolume", 0.5), ("name", f"realmusic h2 seed {arr.seed}"),
                     ("author", "bench/realmusic/hydrogen_source.py"),
                     ("notes", f"{GENERATOR_VERSION}; plan {json.dumps(arr.describe())}"),
                     ("license", "generated"), ("loopEnabled", False), ("patternModeMode", True),
                     ("playbackTrackFilename", ""), ("playbackTrackEnabled", False), ("playbackTrackVolume", 0),
                     ("action_mode", 0), ("isPatternEditorLocked", False),
                     ("isTimelineActivated", len(markers) > 1), ("mode", "song"),
                     ("pan_law_type", "RATIO_STRAIGHT_POLYGONAL"), ("pan_law_k_norm", 1.33333),
                     ("humanize_time", 0), ("humanize_velocity", 0), ("swing_factor", 0),
                     ("last_loaded_drumkit", str(DRUMKITS / sound["kit"])),
                     ("last_loaded_drumkit_name", sound["kit"])):
        _sub(song, tag, val)
    comp = _sub(_sub(song, "componentList"), "drumkitComponent")
    _sub(comp, "id", 0)
    _sub(comp, "name", "Main")
    _sub(comp, "volume", 1)
    ilist = _sub(song, "instrumentList")
    iid = 0
    for role in ROLES:
        if role in sound["instruments"]:
            _instrument_xml(ilist, iid, role, sound["instruments"][role], sound["kit"])
            iid += 1
    plist = _sub(song, "patternList")
    names: dict[tuple, str] = {}
    seq = _sub(song, "patternSequence")
    for b in bars:
        group = _sub(seq, "group")
        parts = [p for p in ("drums", "bass", "chords", "lead") if b[p]] or ["drums"]
        for p in parts:
            k = (p, b[p])
            if k not in names:
                names[k] = f"{p} {sum(1 for q, _ in names if q == p) + 1:02d}"
                pat = _sub(plist, "pattern")
                for tag, val in (("name", names[k]), ("info", ""), ("category", "realmusic"), ("size", H2_BAR),
                                 ("denominator", 4)):
                    _sub(pat, tag, val)
                nl = _sub(pat, "noteList")
                for pos, ins, vel, lead, key, note_off in b[p]:
                    n = _sub(nl, "note")
                    for tag, val in (("position", pos), ("leadlag", lead), ("velocity", vel), ("pan", 0),
                                     ("pitch", 0), ("key", key), ("length", -1), ("instrument", ins),
                                     ("note_off", note_off), ("probability", 1)):
                        _sub(n, tag, val)
            _sub(group, "patternID", names[k])
    # the patternList precedes the sequence in Hydrogen's files
    song.remove(seq)
    _sub(song, "virtualPatternList")
    song.append(seq)
    ladspa = _sub(song, "ladspa")
    for _ in range(4):
        fx = _sub(ladspa, "fx")
        for tag, val in (("name", "no plugin"), ("filename", "-"), ("enabled", False), ("volume", 0)):
            _sub(fx, tag, val)
    tl = _sub(song, "BPMTimeLine")
    if len(markers) > 1:
        for col, bpm in markers:
            m = _sub(tl, "newBPM")
            _sub(m, "BAR", col)
            _sub(m, "BPM", bpm)
    _sub(song, "timeLineTag")
    ET.indent(song, space=" ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(song, encoding="unicode") + "\n"


# ----------------------------------------------------------------------------------------------
# truth: the song read back
# ----------------------------------------------------------------------------------------------

def _bool(el, tag, default=False) -> bool:
    t = el.findtext(tag)
    return default if t is None else t.strip().lower() == "true"


def read_h2song(path) -> dict:
    """Song events of a .h2song in :func:`truth_derive.derive_events` form (48 ticks per beat)."""
    root = ET.parse(str(path)).getroot()
    song_bpm = float(root.findtext("bpm", "120"))
    markers = []
    if _bool(root, "isTimelineActivated"):
        for m in root.iterfind("BPMTimeLine/newBPM"):
            markers.append((int(m.findtext("BAR")), float(m.findtext("BPM"))))
        markers.sort()
    instruments = {}
    for inst in root.iterfind("instrumentList/instrument"):
        name = inst.findtext("name", "")
        label = name.split(":", 1)[0].strip().lower()
        if label not in LABEL_ROLE:
            raise ValueError(f"instrument {name!r}: no role")
        instruments[int(inst.findtext("id"))] = {"role": LABEL_ROLE[label], "muted": _bool(inst, "isMuted")}
    if root.find("virtualPatternList/pattern") is not None:
        raise ValueError("virtual patterns are not supported")
    patterns = {}
    for pat in root.iterfind("patternList/pattern"):
        notes = []
        for n in pat.iterfind("noteList/note"):
            if _bool(n, "note_off"):
                continue
            if float(n.findtext("probability", "1")) != 1.0:
                raise ValueError("note probability != 1 (random playback)")
            key = n.findtext("key", "C0")
            octave = int(re.search(r"-?\d+$", key).group())
            key_name = key[: len(key) - len(str(octave))].rstrip("-")
            notes.append((int(n.findtext("position")), int(n.findtext("instrument")),
                          12 * octave + KEYS.index(key_name) + round(float(n.findtext("pitch", "0")))))
        patterns[pat.findtext("name")] = {"size": int(pat.findtext("size")), "den": int(pat.findtext("denominator", "4")),
                                          "notes": notes}

    def bpm_at(col):
        b = song_bpm
        for c, v in markers:
            if c <= col:
                b = v
        return b

    tempos, sigs, events, tick = [], [], [], 0
    for col, group in enumerate(root.iterfind("patternSequence/group")):
        pats = [patterns[p.text] for p in group.iterfind("patternID")]
        length = max((p["size"] for p in pats), default=H2_BAR)
        den = pats[0]["den"] if pats else 4
        num = length * den // (4 * H2_TPB)
        if not sigs or sigs[-1][1:] != (num, den):
            sigs.append((tick, num, den))
        us = 60e6 / bpm_at(col)
        if not tempos or tempos[-1][1] != us:
            tempos.append((tick, us))
        for p in pats:
            for pos, iid, semis in p["notes"]:
                if pos >= p["size"] or instruments[iid]["muted"]:
                    continue
                _, ch, note, prog = ROLES[instruments[iid]["role"]]
                events.append((tick + pos, ch, note if note is not None else 60 + semis, prog))
        tick += length
    events.sort()
    if not tempos:
        tempos = [(0, 60e6 / song_bpm)]
    if not sigs:
        sigs = [(0, 4, 4)]
    return {"tpb": H2_TPB, "tempos": tempos, "sigs": sigs, "notes": events, "end": tick}


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------

def render_args(song: Path, wav: Path) -> list[str]:
    return ["h2cli", "-d", "alsa", "-s", str(song), "-o", str(wav), "-r", str(SR), "-b", "16"]


@lru_cache(maxsize=1)
def h2cli_version() -> str:
    with tempfile.TemporaryDirectory(prefix="h2home.") as home:
        p = subprocess.run(["h2cli", "--version"], check=False, capture_output=True, text=True,
                           env={**os.environ, "HOME": home, "JACK_NO_START_SERVER": "1"})
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    return f"h2cli {lines[-1]}" if lines else "h2cli ?"


_BENIGN = ("AlsaAudioDriver", "Not properly initialized yet", "Something went wrong while calculating the tick size", "ALSA",
           "alsaMidiDriver", "snd_", "Export Progress", "jack", "JACK", "Cannot connect", "JackShm")


def render(song: Path, wav: Path, min_frames: int = 0) -> tuple[list[str], int]:
    """Render ``song`` to ``wav`` (atomically).

    Returns h2cli's error lines that are not routine and the number of frames of digital
    silence appended: h2cli's DiskWriter stops at the 200th zero frame of its last buffer, up
    to one buffer (~23 ms) before the song end when the song ends in silence; such a render is
    padded with zeros to ``min_frames`` (the song end), a larger shortfall is an error.
    """
    import soundfile as sf

    with atomic_path(wav) as tmp, tempfile.TemporaryDirectory(prefix="h2home.") as home:
        env = {**os.environ, "HOME": home, "JACK_NO_START_SERVER": "1"}
        p = subprocess.run(render_args(song, tmp), check=False, capture_output=True, text=True, env=env, timeout=1800,
                           stdin=subprocess.DEVNULL)
        log = (p.stdout + "\n" + p.stderr).splitlines()
        if p.returncode != 0 or not tmp.is_file() or tmp.stat().st_size < 1000 or not any("DONE" in ln for ln in log):
            raise RuntimeError(f"h2cli render of {song} failed (rc {p.returncode}): {' | '.join(log[-8:])}")
        errors = [re.sub(r"\x1b\[[0-9;]*m", "", ln).strip() for ln in log if "(E)" in ln]
        errors = [e for e in errors if not any(b in e for b in _BENIGN)]
        if any(w in e.lower() for e in errors for w in ("sample", "instrument", "song", "pattern", "drumkit")):
            raise RuntimeError(f"h2cli could not load {song}: {errors[:5]}")
        info = sf.info(str(tmp))
        pad = max(0, min_frames - info.frames)
        if pad > 0.1 * SR:
            raise RuntimeError(f"h2cli render of {song} is {pad / SR:.2f} s shorter than the song")
        if pad:
            x, sr = sf.read(str(tmp), dtype="int16", always_2d=True)
            sf.write(str(tmp), np.concatenate([x, np.zeros((pad, x.shape[1]), np.int16)]), sr,
                     subtype=info.subtype, format="WAV")
    return errors, pad


def ensure_tools() -> None:
    if shutil.which("h2cli") and (DRUMKITS / "GMRockKit").is_dir() and (LMMS / "drums").is_dir():
        return
    sys.exit("need h2cli with its drumkits and LMMS's samples: run `sudo apt-get install -y "
             "--no-install-recommends hydrogen hydrogen-data lmms-common` (Debian/Ubuntu)")


# ----------------------------------------------------------------------------------------------
# one track
# ----------------------------------------------------------------------------------------------

def build_one(out: Path, idx: int, seed: int) -> dict:
    """Build (or skip, if up to date) track ``h2NNN``; returns its manifest entry."""
    import soundfile as sf

    out = Path(out)
    name = f"h2{idx:03d}"
    song, wav = out / f"{name}.h2song", out / f"{name}.wav"
    truth, bars = out / f"{name}.truth.json", out / f"{name}.bars.json"
    track_seed = seed * 100003 + SEED_OFFSET + idx
    a = cached_analysis(truth, (wav, bars, song), GENERATOR_VERSION, track_seed)
    if a is not None:
        return {"name": name, "skipped": True, **a["manifest"]}
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    arr = make_arrangement(track_seed)
    sound = choose_sound(arr)
    volume, render_s, renders = 0.45, 0.0, 0
    for _ in range(5):
        with atomic_open(song, "w", encoding="utf-8") as fh:
            fh.write(build_song(arr, sound, volume))
        m = read_h2song(song)                  # the truth comes from the file h2cli renders
        end_frames = math.ceil(tick_to_seconds(m["end"], m["tempos"], m["tpb"]) * SR)
        t1 = time.time()
        errors, pad = render(song, wav, end_frames)
        render_s += time.time() - t1
        renders += 1
        peak = _peak(wav)
        if 0.6 <= peak < 0.95 or (peak < 0.6 and renders > 1):
            break
        # the same song, quieter (or louder): Hydrogen's song volume scales the output linearly;
        # a clipped render (DiskWriter clamps at 1.0) is retried at 0.6 x the volume
        volume = round(volume * (0.6 if peak >= 0.999 else 0.8 / max(peak, 1e-3)), 4)
    else:
        raise RuntimeError(f"{name}: render still peaks at {peak:.3f} with song volume {volume}")
    info = sf.info(str(wav))
    dur = info.frames / info.samplerate
    d = derive_events(m, dur)
    if tick_to_seconds(m["end"], m["tempos"], m["tpb"]) > dur + 1e-3:
        raise RuntimeError(f"{name}: the render ({dur:.2f} s) is shorter than the song")
    check = kick_onset_check(wav, d["kick_beats"])
    entry = {"name": name, "seed": track_seed, "kind": arr.kind, "bpm": d["bpm"],
             "tempo_segments": len(d["tempo_segments"]), "duration_s": d["song_end_s"],
             "sections": [s["label"] for s in d["sections"]], "drops": len(d["drops"]),
             "jitter_ms": arr.jitter_ms, "onset_check": check, "plan": arr.describe()}
    cmd = " ".join(render_args(Path(song.name), Path(wav.name)))
    extra = {"generator_version": GENERATOR_VERSION, "seed": track_seed,
             "renderer": {"engine": h2cli_version(), "command": f"HOME=<temp> JACK_NO_START_SERVER=1 {cmd}",
                          "song_volume": volume, "peak": round(peak, 4), "renders": renders,
                          "render_s": round(render_s, 2), "padded_frames": pad, "errors": errors[:10]},
             "sound": sound, "humanise_jitter_ms": arr.jitter_ms,
             "humanise_applied": "per-note leadlag (+ later tick for late notes)" if arr.jitter_ms > 0 else "none",
             "tempo": "plan tempo (0.1 BPM); a tempo change is a Hydrogen Timeline marker at its bar",
             "onset_check": check, "manifest": entry}
    with atomic_path(truth) as tmp_truth, atomic_path(bars) as tmp_bars:
        write_truth_events(m, wav, tmp_truth, tmp_bars, source=song.name, how=HOW, extra=extra)
    entry["build_s"] = round(time.time() - t0, 2)
    entry["render_s"] = round(render_s, 2)
    return {"skipped": False, **entry}
