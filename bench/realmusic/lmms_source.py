"""LMMS engine of the realmusic corpus: the seeded plans as LMMS projects, rendered by LMMS itself.

Built by ``python bench/realmusic/build_corpus.py --lmms N`` (with the other engines).
Tracks ``lm000`` .. ``lm{N-1}``, one render at a time. ``build_one(out, idx, seed)`` and ``ensure_tools()`` are what
``build_corpus.py`` calls. Resumable: a track whose truth file carries the same
``generator_version`` and seed is skipped (an older ``truth_version`` is derived again from the
.mmp, without rendering). Needs ``lmms`` 1.2.x (Debian package ``lmms``, with its sample set in
``/usr/share/lmms/samples``).

Engine
------
Track ``lmNNN`` (``idx`` = NNN) plays the plan ``make_arrangement(seed * 100003 + 50000 + idx)``
(``arrangements.py``; the offset keeps the plans apart from the fluidsynth tracks ``rmNNN``). The
notes are those of ``arrangements._events`` (the same parts the MIDI files get), moved from 480
to LMMS's 48 ticks per beat (192 per bar in 4/4; every plan tick is a multiple of 10 except the
hat swing, which becomes ``round(swing * 12)`` ticks: 0, 1 or 2). ``lmNNN.mmp`` is a plain
(uncompressed) LMMS 1.2 song: one instrument track per part in the song editor, one melody
pattern per section in which the part plays (``pos`` = the section start), 4/4. It is rendered
with LMMS's own engine::

    QT_QPA_PLATFORM=offscreen lmms [--allowroot] render lmNNN.mmp --format wav --samplerate 44100 \\
        --interpolation sincfastest --oversampling 1 --output <tmp>.wav

(``--allowroot`` only when running as root; 16-bit stereo 44.1 kHz; written to a temporary name
in DIR, then renamed). LMMS renders one bar past the song's last bar (release tails); the truth
ends at the song end, the timeline's duration is the audio's.

Instruments (drawn per track from ``random.Random(track_seed * 6151 + 17)``; the choices are
recorded in ``analysis.sound`` of the truth; samples are LMMS's own, ``/usr/share/lmms/samples``):

* kick: the Kicker plugin (60 %: start 120-190 Hz, end 38-55 Hz, decay 260-480 ms, distortion,
  click, noise, slopes drawn) or an AudioFileProcessor sample, ``drums/kick_hiphop01.ogg`` or
  ``drums/kick_distorted01.ogg`` (+-1 semitone). Both get a volume envelope (hold 70-240 ms,
  then decay; note 30 ticks = 0.62 beat, 32 ms release), so a kick has died away before the next
  beat. The other kick samples of ``drums/`` are not used: their < 150 Hz body builds late or
  swells twice (kick01, kick_hard01, bassdrum04 and kick_soft01 read 23-92 ms late in the onset
  check below even alone; kick_long01 has a fifth of its energy below 150 Hz and read 87 ms late
  in a mix; with bassdrum01/03, kick03 or kick_hardcore01 the analyser put the beat on the
  off-beat); kick04.ogg is not readable. Four on the floor wherever the plan has a kick.
* clap (odd plan seeds, as the MIDI's GM 39; clap01-04) or snare (even, GM 38; snare01/02/04/05/
  06, snare_hiphop01, snare_acoustic01) on beats 2 and 4; the build's snare roll on its own track
  (another snare); closed hats (hihat_closed01-05), open hats (hihat_opened01-03), crash
  (crash01/02): AudioFileProcessor, with tuning (-2..+2 semitones), pan and level drawn.
* bass: TripleOscillator (saw, square or moog-saw, detuned, plus a sine sub an octave down and a
  quiet saw; low-pass 300-900 Hz, resonance 0.5-2.5, a decaying cutoff envelope, decay/sustain
  drawn) or LB302 (saw or square; cutoff, resonance, envelope modulation, decay, distortion, 12/24
  dB drawn), half each. Every bass note ends 12 ticks (a 16th) before the next beat, a
  sidechain-like gap that leaves the beat to the kick.
* chords: off-beat stabs for plans with a piano program (0-5): TripleOscillator square/saw with an
  octave-up triangle/square, short decay, low-pass 1.5-4 kHz; or a sustained pad (programs
  88-95): detuned saws plus a triangle/saw/sine, slow attack, long release, low-pass 1.2-3 kHz.
* lead: TripleOscillator, a drawn waveform pair (square, saw, triangle, sine, moog-saw; second
  oscillator at 0 or +-12 semitones), plucky envelope, low-pass 2.5-7 kHz.
* levels: each sample's ``amp`` normalises it (claps/snares, hats, crash: by the energy of the
  part that plays; kick samples: by the steepest rise of their < 150 Hz envelope, to match the
  Kicker's), each synth has a nominal track volume measured on LMMS renders; then every track
  volume is drawn within +-1.5 dB (kick), +-2 dB (bass) or +-2.5 dB (the rest). Drop loudness
  before the master: kick about -18 dBFS RMS, bass -22, clap/snare -27, hats -30, chords -25,
  lead -27. Master volume 60 %; a render peaking at >= 0.97 is rendered again with a lower
  master (``analysis.renderer.mastervol``, ``peak``). No effects (reverb, delay, compression).

Ground truth (``read_mmp``: the .mmp file read back with ElementTree, never the plan)
------------------------------------------------------------------------------------------
* tempo: the ``bpm`` of ``<head>`` (attribute, or ``<bpm id= value=>`` element when automated);
  LMMS's tempo is an integer BPM, so plan tempi are rounded (123.4 -> 123) and the file holds
  integers. A tempo change of the plan is rendered: an automation track holds a discrete
  (``prog="0"``) automation pattern on the tempo model (``<object id=>`` = the bpm id) with a
  point at tick 0, one at the change and one at the song end; the tempo map is every point of
  every automation pattern linked to the tempo id (pattern ``pos`` + point ``pos``), a step
  function. Other progressions (linear ramps) are refused (ValueError).
* time signature: ``timesig_numerator`` / ``timesig_denominator`` of ``<head>``; 48 ticks per beat
  (``tpb`` = 48 in :func:`truth_derive.derive_events`).
* notes: every ``<note>`` of every unmuted pattern of every unmuted instrument track, at
  pattern ``pos`` + note ``pos`` (notes with ``vol`` 0 are silent and dropped). Song end = the
  end of the last pattern, with LMMS's own pattern length (the longest note end rounded up to a
  whole bar, at least one bar; automation patterns: the last point rounded up to a bar).
* roles (GM, as ``derive_events`` wants): instrument ``kicker`` -> channel 9 note 36;
  ``audiofileprocessor`` -> by the sample's file name: kick/bassdrum 36, snare 38, clap 39, rim
  37, hihat_closed 42, hihat_foot 44, hihat_opened 46, crash 49, ride 51, tom 45, shaker 70,
  any other ``drums/`` sample 75, a ``basses/`` sample -> bass; any other instrument -> a
  melodic channel, program 32 (bass) if the track name contains "bass", else program 0.
  Then :func:`truth_derive.write_truth_events` (beats, downbeats, bar activity, sections,
  drops, exactly as for the MIDI files). Unsupported project content (beat/bassline tracks,
  sample tracks) raises instead of being ignored.

Humanised plans (``jitter_ms`` 2 or 4): LMMS note positions are whole ticks (60000 / (bpm * 48)
ms: 10 ms at 125 BPM), so each note-on is shifted by ``round(j / tick_ms)`` whole ticks, ``j`` the
MIDI writer's clipped Gaussian (sd ``jitter_ms``, +-2.5 sd, the same RNG and note order). A 2 ms
jitter seldom reaches half a tick (about 2 % of the notes move, rms of the applied shifts about
1.3 ms); a 4 ms one moves 15-25 % of the notes by one tick (rms about 4.5 ms). The applied shifts
(notes, shifted, rms_ms) are in ``analysis.humanise_applied``. A note is not moved before the
start of its section's pattern (LMMS would not play it) and notes are cut at their section's
end. The tempo map is untouched, so the truth stays on the grid (``analysis.humanise_jitter_ms``
= the plan's sd).

Grid check: ``build_corpus.kick_onset_check`` (median |kick onset - truth beat|, flagged > 20 ms).
LMMS has no constant latency: it starts a note on the first frame of its tick (a test project of
sample kicks had its broadband onsets within 0.02 ms of the grid, before and after a 125 -> 131
BPM tempo automation), so the truth is not corrected. The medians (about 0.3-8 ms, Kicker about
1.5-2 ms) are the time the kicks' low band takes to rise, not an offset.

Cross-check (not part of the build): the bar activity and section labels read from the .mmp
equal those read from the MIDI file ``write_midi`` makes of the same plan, bar by bar.

Limits: integer tempi (a track's BPM is its plan's rounded, up to 0.5 BPM off; the truth has the
rendered one); whole-tick humanisation; a tempo change only at a section start, as a step; no
effects; a small kick sample set (two samples; the Kicker supplies the variety). Rendering
takes about 1-7 s per track on one core (faster than real time by 20-100x); the onset check and
hashing add a few seconds.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
from mainstage.core.atomic import atomic_open, atomic_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
import truth_derive
from arrangements import (
    BASS_CH,
    CHAT,
    CHORD_CH,
    CLAP,
    CRASH,
    DRUM_CH,
    KICK,
    LEAD_CH,
    OHAT,
    SNARE,
    TPB,
    _events,
    make_arrangement,
)
from arrangements import GENERATOR_VERSION as PLAN_VERSION
from build_corpus import kick_onset_check
from onset_check import peak as _peak
from truth_derive import cached_analysis, derive_events, tick_to_seconds, write_truth_events

GENERATOR_VERSION = f"{PLAN_VERSION}+lmms-1"
#: version of the truth derivation (``truth_derive``): a truth of another version is derived
#: again from the .mmp, without rendering again
TRUTH_VERSION = getattr(truth_derive, "TRUTH_VERSION", 1)
SEED_OFFSET = 50000
LMMS_TPB = 48                     # ticks per quarter note (LMMS: 192 per 4/4 bar)
LMMS_BAR = 4 * LMMS_TPB
SCALE = TPB // LMMS_TPB           # plan ticks per LMMS tick (10)
SAMPLES = Path("/usr/share/lmms/samples")
BASENOTE = 57                     # LMMS key of A4; a sample plays unpitched at the base note
MASTERVOL = 60                    # LMMS master volume (%); lowered and re-rendered if a render clips
BASS_GAP = 12                     # ticks of silence the bass leaves before each beat (for the kick)
PEAK_MAX = 0.97                   # a render peaking at or above this is redone quieter
HOW = "bench/realmusic/lmms_source.py (from the LMMS project file)"

KICK_SAMPLES = ["drums/kick_distorted01.ogg", "drums/kick_hiphop01.ogg"]
CLAP_SAMPLES = ["drums/clap01.ogg", "drums/clap02.ogg", "drums/clap03.ogg", "drums/clap04.ogg"]
SNARE_SAMPLES = ["drums/snare01.ogg", "drums/snare02.ogg", "drums/snare04.ogg", "drums/snare05.ogg",
                 "drums/snare06.ogg", "drums/snare_hiphop01.ogg", "drums/snare_acoustic01.ogg"]
CHAT_SAMPLES = [f"drums/hihat_closed0{i}.ogg" for i in range(1, 6)]
OHAT_SAMPLES = [f"drums/hihat_opened0{i}.ogg" for i in range(1, 4)]
CRASH_SAMPLES = ["drums/crash01.ogg", "drums/crash02.ogg"]

#: sample file-name keyword -> GM percussion note (first match wins; the order matters)
SAMPLE_ROLES = [("hihat_closed", 42), ("hihat_foot", 44), ("hihat_opened", 46), ("bassdrum", 36), ("kick", 36),
                ("snare_rim", 37), ("rim", 37), ("sidestick", 37), ("snare", 38), ("clap", 39), ("crash", 49),
                ("ride", 51), ("tom", 45), ("shaker", 70)]
#: plan drum note -> (part, note length in LMMS ticks); snares are claps or, in a roll section, the roll
DRUM_PARTS = {KICK: ("kick", 30), CLAP: ("clap", 24), CHAT: ("hat", 8), OHAT: ("openhat", 24), CRASH: ("crash", 144)}


# ----------------------------------------------------------------------------------------------
# sound design (per-track draws)
# ----------------------------------------------------------------------------------------------

@cache
def _sample_mono(src: str) -> tuple[np.ndarray, int]:
    import soundfile as sf
    x, sr = sf.read(str(SAMPLES / src), dtype="float64", always_2d=True)
    return x.mean(axis=1), sr


def _sample_energy_db(src: str, seconds: float) -> float:
    """Energy (dB re full scale, mono mix) of the first ``seconds`` of an LMMS sample."""
    m, sr = _sample_mono(src)
    m = m[: int(seconds * sr)]
    return float(10 * np.log10(np.sum(m ** 2) / sr + 1e-12))


def _low_attack(src: str) -> float:
    """Steepest rise of a sample's < 150 Hz envelope (RMS in 4 ms windows, rise over 3 ms, as in
    ``build_corpus.kick_onset_check``) in its first 150 ms: the punch of a kick."""
    m, sr = _sample_mono(src)
    m = np.concatenate([np.zeros(2048), m[: int(0.3 * sr)], np.zeros(2048)])
    spec = np.fft.rfft(m)
    spec[np.fft.rfftfreq(m.size, 1.0 / sr) > 150.0] = 0
    low = np.fft.irfft(spec, n=m.size)
    hop, win = sr // 1000, int(0.004 * sr)
    c = np.concatenate([[0.0], np.cumsum(low ** 2)])
    st = np.arange(0, m.size - win, hop)
    env = np.sqrt(np.maximum(c[st + win] - c[st], 0.0) / win)
    return float((env[3:] - env[:-3])[: 150 + 2048 // hop].max())


#: per drum part: (seconds of the sample that play, target energy in dB): a sample's AudioFileProcessor
#: ``amp`` is set so that this much of it has the target energy (levels then differ by the drawn volume)
SAMPLE_NORM = {"clap": (0.24, -24.7), "roll": (0.12, -28.0), "hat": (0.08, -30.0), "openhat": (0.24, -26.5),
               "crash": (1.4, -22.5)}
#: kick samples are levelled by their low-band attack instead: that of the Kicker kicks (measured on renders)
KICK_ATTACK = 0.33


def _amp(part: str, src: str) -> int:
    if part == "kick":
        gain = KICK_ATTACK / _low_attack(src)
    else:
        seconds, target = SAMPLE_NORM[part]
        gain = 10 ** ((target - _sample_energy_db(src, seconds)) / 20)
    return int(min(400, max(10, round(100 * gain))))


def choose_sound(arr) -> dict:
    """Kit, synth settings and levels of one track (deterministic in the plan's seed).

    Levels: every part has a nominal volume that puts it at a fixed drop loudness (kick about
    -18 dBFS RMS, bass -22, clap -27, hats -30, chords -25/-26, lead -27 before the master), as
    measured on LMMS renders of these instruments; a drawn offset of a few dB varies the mix.
    """
    r = random.Random(arr.seed * 6151 + 17)

    def u(a, b, nd=3):
        return round(r.uniform(a, b), nd)

    def vol(nominal, spread_db):
        return round(nominal * 10 ** (r.uniform(-spread_db, spread_db) / 20))
    s: dict = {}
    if r.random() < 0.6:
        s["kick"] = {"engine": "kicker", "startfreq": u(120, 190, 1), "endfreq": u(38, 55, 1), "decay": u(260, 480, 0),
                     "dist": u(0.2, 1.2), "distend": u(0.1, 0.8), "env": u(0.12, 0.3), "slope": u(0.05, 0.3),
                     "click": u(0.2, 0.5), "noise": u(0.0, 0.06), "gain": 1.0, "vol": vol(108, 1.5), "tune": 0}
    else:
        src = r.choice(KICK_SAMPLES)
        s["kick"] = {"engine": "sample", "src": src, "amp": _amp("kick", src), "tune": r.choice([-1, 0, 0, 1]),
                     "vol": vol(100, 1.5)}
    s["kick"]["hold"] = u(0.12, 0.22)
    clap_src = r.choice(CLAP_SAMPLES if arr.seed % 2 else SNARE_SAMPLES)
    roll_src = r.choice([x for x in SNARE_SAMPLES if x != clap_src])
    for part, src, tune, pan in (
            ("clap", clap_src, r.choice([-2, -1, 0, 0, 1]), r.choice([0, 0, -8, 8])),
            ("roll", roll_src, r.choice([0, 1, 2]), 0),
            ("hat", r.choice(CHAT_SAMPLES), r.choice([-1, 0, 0, 1, 2]), r.choice([-20, -10, 10, 20])),
            ("openhat", r.choice(OHAT_SAMPLES), r.choice([0, 0, 1]), r.choice([-15, 15])),
            ("crash", r.choice(CRASH_SAMPLES), 0, r.choice([-25, 25]))):
        s[part] = {"src": src, "amp": _amp(part, src), "tune": tune, "pan": pan, "vol": vol(100, 2.5)}
    if r.random() < 0.5:
        s["bass"] = {"engine": "tripleoscillator", "wave": r.choice([2, 3, 4]), "detune": u(0, 12, 0),
                     "cut": u(300, 900, 0), "res": u(0.5, 2.5, 2), "env_cut": u(0.05, 0.25), "dec": u(0.15, 0.35),
                     "sus": u(0.3, 0.7), "vol": vol(63, 2.0)}
    else:
        s["bass"] = {"engine": "lb302", "shape": r.choice([0, 0, 2]), "vcf_cut": u(0.1, 0.45), "vcf_res": u(0.3, 0.85),
                     "vcf_mod": u(0.2, 0.7), "vcf_dec": u(0.1, 0.4), "dist": u(0.0, 0.3), "db24": r.choice([0, 1]),
                     "vol": vol(25, 2.0)}
    if arr.chord_program <= 5:
        s["chords"] = {"style": "stab", "waves": [r.choice([3, 2]), r.choice([1, 3])], "detune": u(4, 15, 0),
                       "dec": u(0.18, 0.3), "sus": u(0.0, 0.25), "rel": u(0.08, 0.2), "cut": u(1500, 4000, 0),
                       "res": u(0.3, 1.2, 2), "vol": vol(69, 2.5)}
    else:
        s["chords"] = {"style": "pad", "waves": [2, r.choice([1, 2, 0])], "detune": u(8, 25, 0), "att": u(0.2, 0.35),
                       "rel": u(0.3, 0.45), "cut": u(1200, 3000, 0), "res": u(0.3, 1.0, 2), "vol": vol(47, 2.5)}
    s["lead"] = {"waves": [r.choice([3, 2, 1, 0, 4]), r.choice([0, 1, 3])], "coarse2": r.choice([0, 12, -12]),
                 "dec": u(0.25, 0.45), "sus": u(0.2, 0.5), "rel": u(0.1, 0.2), "cut": u(2500, 7000, 0),
                 "vol": vol(48, 2.5), "pan": r.choice([-10, 0, 10])}
    return s


# ----------------------------------------------------------------------------------------------
# XML builders
# ----------------------------------------------------------------------------------------------

def _el(tag, parent=None, **attrs) -> ET.Element:
    a = {k: (str(int(v)) if isinstance(v, bool) else str(v)) for k, v in attrs.items()}
    return ET.SubElement(parent, tag, a) if parent is not None else ET.Element(tag, a)


def _env(parent, tag, amt=0.0, att=0.0, hold=0.0, dec=0.5, sus=0.5, rel=0.1):
    _el(tag, parent, pdel=0, att=att, hold=hold, dec=dec, sustain=sus, rel=rel, amt=amt, lshp=0, lpdel=0, latt=0,
        lspd=0.1, lamt=0, x100=0, ctlenvamt=0, userwavefile="")


def _eldata(parent, *, fwet=0, ftype=0, fcut=14000, fres=0.5, vol=None, cut=None):
    e = _el("eldata", parent, fwet=fwet, ftype=ftype, fcut=fcut, fres=fres)
    _env(e, "elvol", **(vol or {}))
    _env(e, "elcut", **(cut or {}))
    _env(e, "elres")


def _instrument_track(container, name, vol, pan, build_instrument, *, eldata=None) -> ET.Element:
    tr = _el("track", container, type=0, name=name, muted=0, solo=0)
    it = _el("instrumenttrack", tr, vol=vol, pan=pan, fxch=0, pitch=0, basenote=BASENOTE, usemasterpitch=1,
             pitchrange=1)
    inst = _el("instrument", it)
    build_instrument(inst)
    _eldata(it, **(eldata or {}))
    _el("chordcreator", it, chord=0, chordrange=1, **{"chord-enabled": 0})
    _el("arpeggiator", it, arp=0, arprange=1, arptime=100, arpgate=100, arpdir=0, arpmode=0, **{"arp-enabled": 0})
    _el("midiport", it, inputchannel=0, outputchannel=1, inputcontroller=0, outputcontroller=0, fixedinputvelocity=-1,
        fixedoutputvelocity=-1, fixedoutputnote=-1, outputprogram=1, basevelocity=63, readable=0, writable=0)
    _el("fxchain", it, numofeffects=0, enabled=0)
    return tr


def _afp(src, amp=100):
    def build(inst):
        inst.set("name", "audiofileprocessor")
        _el("audiofileprocessor", inst, src=src, amp=amp, interp=1, reversed=0, looped=0, stutter=0, sframe=0,
            lframe=0, eframe=1)
    return build


def _kicker(p):
    def build(inst):
        inst.set("name", "kicker")
        _el("kicker", inst, startfreq=p["startfreq"], endfreq=p["endfreq"], decay=p["decay"], dist=p["dist"],
            distend=p["distend"], gain=p["gain"], env=p["env"], noise=p["noise"], click=p["click"], slope=p["slope"],
            startnote=0, endnote=0, version=1)
    return build


def _triple(oscs):
    """``oscs``: three dicts (wave, vol, coarse, finel, finer, pan); osc i mixes into the next."""
    def build(inst):
        inst.set("name", "tripleoscillator")
        a = {}
        for i, o in enumerate(oscs):
            a.update({f"wavetype{i}": o.get("wave", 0), f"vol{i}": o.get("vol", 33), f"coarse{i}": o.get("coarse", 0),
                      f"finel{i}": o.get("finel", 0), f"finer{i}": o.get("finer", 0), f"pan{i}": o.get("pan", 0),
                      f"phoffset{i}": 0, f"stphdetun{i}": o.get("stph", 0), f"userwavefile{i}": ""})
        a.update(modalgo1=2, modalgo2=2, modalgo3=2)
        _el("tripleoscillator", inst, **a)
    return build


def _lb302(p):
    def build(inst):
        inst.set("name", "lb302")
        _el("lb302", inst, vcf_cut=p["vcf_cut"], vcf_res=p["vcf_res"], vcf_mod=p["vcf_mod"], vcf_dec=p["vcf_dec"],
            dist=p["dist"], shape=p["shape"], db24=p["db24"], slide=0, slide_dec=0.6, dead=0)
    return build


def _pattern(track, name, pos, notes) -> None:
    """A melody pattern at ``pos``; ``notes`` = [(pos in pattern, len, key, vol)]; ``len`` as LMMS computes it."""
    p = _el("pattern", track, type=1, name=name, pos=pos, len=_melody_len([(q, n) for q, n, _, _ in notes]), muted=0,
            steps=16)
    for q, n, key, vol in sorted(notes):
        _el("note", p, pos=q, len=n, key=key, vol=vol, pan=0)


def _melody_len(pos_len) -> int:
    """LMMS 1.2 ``Pattern::updateLength`` of a melody pattern: longest note end, up to a whole bar (>= 1 bar)."""
    end = max([LMMS_BAR] + [q + n for q, n in pos_len if n > 0])
    return -(-end // LMMS_BAR) * LMMS_BAR


# ----------------------------------------------------------------------------------------------
# project
# ----------------------------------------------------------------------------------------------

def _tempo_plan(arr):
    """[(LMMS tick, integer bpm)] from the plan (a tempo change at a section start)."""
    pts, bar0 = [(0, round(arr.bpm))], 0
    for sec in arr.sections:
        if sec.bpm and bar0 > 0 and round(sec.bpm) != pts[-1][1]:
            pts.append((bar0 * LMMS_BAR, round(sec.bpm)))
        bar0 += sec.bars
    return pts


def build_project(arr, sound, mastervol=MASTERVOL) -> tuple[str, dict]:
    """The LMMS project (XML text) of plan ``arr`` with ``sound``; and what humanisation did."""
    _, notes = _events(arr)
    sec_start, bar0 = [], 0
    for sec in arr.sections:
        sec_start.append(bar0 * LMMS_BAR)
        bar0 += sec.bars
    song_end = bar0 * LMMS_BAR
    bounds = sec_start + [song_end]
    tempo_pts = _tempo_plan(arr)

    def section_of(t):
        return max(i for i, s in enumerate(sec_start) if s <= t)

    def tick_ms(t):
        return 60000.0 / ([b for p, b in tempo_pts if p <= t][-1] * LMMS_TPB)

    jit = random.Random(arr.seed * 104729 + 3)      # the MIDI writer's humanisation RNG and note order
    parts: dict[str, dict[int, list]] = {}
    shifts = []
    for ch in (DRUM_CH, BASS_CH, CHORD_CH, LEAD_CH):
        for t, dur, note, vel in notes[ch]:
            j = max(-2.5, min(2.5, jit.gauss(0.0, 1.0))) * arr.jitter_ms if arr.jitter_ms > 0 else 0.0
            t_l = round(t / SCALE)
            k = section_of(t_l)
            if ch == DRUM_CH:
                if note == SNARE:
                    part, n = ("roll", max(6, 2 * round(dur / SCALE))) if arr.sections[k].roll else ("clap", 24)
                else:
                    part, n = DRUM_PARTS[note]
                key = BASENOTE + sound[part]["tune"]
            else:
                part = {BASS_CH: "bass", CHORD_CH: "chords", LEAD_CH: "lead"}[ch]
                n, key = max(1, round(dur / SCALE)), note - 12      # LMMS key = MIDI note - 12
            shift = round(j / tick_ms(t_l)) if j else 0
            pos = max(bounds[k], t_l + shift)
            if part == "bass":   # a sidechain-like gap: the bass ends BASS_GAP ticks before the next beat
                n = max(6, min(n, (pos // LMMS_TPB + 1) * LMMS_TPB - BASS_GAP - pos))
            if arr.jitter_ms > 0:
                shifts.append((pos - t_l) * tick_ms(t_l))
            n = max(1, min(n, bounds[k + 1] - pos))
            parts.setdefault(part, {}).setdefault(k, []).append((pos - bounds[k], n, key, max(1, round(vel * 100 / 127))))

    root = _el("lmms-project", version="1.0", creator="LMMS", creatorversion="1.2.2", type="song")
    head = _el("head", root, timesig_numerator=4, timesig_denominator=4, mastervol=mastervol, masterpitch=0)
    tempo_id = 7_000_000 + arr.seed % 1_000_000
    if len(tempo_pts) > 1:
        _el("bpm", head, id=tempo_id, value=tempo_pts[0][1], scale_type="linear")
    else:
        head.set("bpm", str(tempo_pts[0][1]))
    song = _el("song", root)
    tc = _el("trackcontainer", song, type="song")
    s = sound
    order = [("kick", "Kick"), ("clap", "Clap" if arr.seed % 2 else "Snare"), ("roll", "Snare roll"), ("hat", "Hat closed"),
             ("openhat", "Hat open"), ("crash", "Crash"), ("bass", "Bass"),
             ("chords", "Pad" if s["chords"]["style"] == "pad" else "Chords"), ("lead", "Lead")]
    for part, title in order:
        if part not in parts:
            continue
        p = s[part]
        if part == "kick":   # a decaying volume envelope: the tail is gone well before the next beat
            builder = _kicker(p) if p["engine"] == "kicker" else _afp(p["src"], p["amp"])
            tr = _instrument_track(tc, title, p["vol"], 0, builder, eldata={
                "vol": {"amt": 1, "att": 0.0, "hold": p["hold"], "dec": 0.3, "sus": 0.0, "rel": 0.08}})
        elif part in ("clap", "roll", "hat", "openhat", "crash"):
            tr = _instrument_track(tc, title, p["vol"], p["pan"], _afp(p["src"], p["amp"]))
        elif part == "bass":
            if p["engine"] == "lb302":
                tr = _instrument_track(tc, title, p["vol"], 0, _lb302(p))
            else:
                oscs = [{"wave": p["wave"], "vol": 45, "finel": -p["detune"], "finer": p["detune"]},
                        {"wave": 0, "vol": 40, "coarse": -12}, {"wave": 2, "vol": 15, "finel": p["detune"]}]
                tr = _instrument_track(tc, title, p["vol"], 0, _triple(oscs), eldata={
                    "fwet": 1, "ftype": 0, "fcut": p["cut"], "fres": p["res"],
                    "vol": {"amt": 1, "att": 0.0, "hold": 0.0, "dec": p["dec"], "sus": p["sus"], "rel": 0.08},
                    "cut": {"amt": p["env_cut"], "att": 0.0, "hold": 0.0, "dec": 0.2, "sus": 0.0, "rel": 0.1}})
        elif part == "chords":
            w = p["waves"]
            oscs = [{"wave": w[0], "vol": 30, "finel": -p["detune"], "finer": p["detune"], "stph": 30},
                    {"wave": w[1], "vol": 25, "coarse": 12 if p["style"] == "stab" else 0, "finel": p["detune"]},
                    {"wave": 2, "vol": 20, "finer": -p["detune"]}]
            env = ({"amt": 1, "att": 0.0, "hold": 0.0, "dec": p["dec"], "sus": p["sus"], "rel": p["rel"]}
                   if p["style"] == "stab" else
                   {"amt": 1, "att": p["att"], "hold": 0.4, "dec": 0.4, "sus": 0.8, "rel": p["rel"]})
            tr = _instrument_track(tc, title, p["vol"], 0, _triple(oscs), eldata={
                "fwet": 1, "ftype": 0, "fcut": p["cut"], "fres": p["res"], "vol": env})
        else:  # lead
            w = p["waves"]
            oscs = [{"wave": w[0], "vol": 40, "finel": -5, "finer": 5}, {"wave": w[1], "vol": 30, "coarse": p["coarse2"]},
                    {"wave": 0, "vol": 0}]
            tr = _instrument_track(tc, title, p["vol"], p["pan"], _triple(oscs), eldata={
                "fwet": 1, "ftype": 0, "fcut": p["cut"], "fres": 0.7,
                "vol": {"amt": 1, "att": 0.02, "hold": 0.0, "dec": p["dec"], "sus": p["sus"], "rel": p["rel"]}})
        for k in sorted(parts[part]):
            _pattern(tr, f"{arr.sections[k].label} {k}", bounds[k], parts[part][k])
    if len(tempo_pts) > 1:
        at = _el("track", tc, type=5, name="Tempo automation", muted=0, solo=0)
        _el("automationtrack", at)
        pts = tempo_pts + [(song_end, tempo_pts[-1][1])]
        ap = _el("automationpattern", at, name="Tempo", pos=0, len=-(-song_end // LMMS_BAR) * LMMS_BAR, prog=0, tens=1,
                 mute=0)
        for t, b in pts:
            _el("time", ap, pos=t, value=b)
        _el("object", ap, id=tempo_id)
    _el("timeline", song, lp0pos=0, lp1pos=LMMS_BAR, lpstate=0)
    ET.indent(root, "  ")
    text = '<?xml version="1.0"?>\n<!DOCTYPE lmms-project>\n' + ET.tostring(root, encoding="unicode") + "\n"
    sh = np.asarray(shifts, dtype=float)
    human = {"notes": int(sh.size), "shifted": int(np.count_nonzero(sh)),
             "rms_ms": round(float(np.sqrt(np.mean(sh ** 2))), 2) if sh.size else 0.0,
             "tempo_points": [[t, b] for t, b in tempo_pts]}
    return text, human


# ----------------------------------------------------------------------------------------------
# reading a project back (the truth's only source)
# ----------------------------------------------------------------------------------------------

def _sample_role(src: str) -> tuple[int, int, int] | None:
    """(channel, note, program) of an AudioFileProcessor sample, from its file name."""
    low = src.replace("\\", "/").lower()
    name = low.rsplit("/", 1)[-1]
    if "basses/" in low or low.startswith("basses"):
        return None
    for key, note in SAMPLE_ROLES:
        if key in name:
            return 9, note, 0
    return 9, 75, 0


def _track_role(track: ET.Element, melodic_index: int) -> tuple[int, int | None, int]:
    """(channel, fixed GM note or None for the played key, program) of an instrument track."""
    inst = track.find("instrumenttrack/instrument")
    kind = inst.get("name", "") if inst is not None else ""
    if kind == "kicker":
        return 9, 36, 0
    if kind == "audiofileprocessor":
        afp = inst.find("audiofileprocessor")
        role = _sample_role(afp.get("src", "") if afp is not None else "")
        if role is not None:
            return role
        return 0, None, 32
    is_bass = "bass" in track.get("name", "").lower()
    ch = 0 if is_bass else 1 + melodic_index % 8   # never channel 9
    return ch, None, 32 if is_bass else 0


def _model_value(el: ET.Element, name: str, default: float) -> tuple[float, int | None]:
    """An LMMS model saved either as an attribute or as ``<name id= value=>`` (when automated)."""
    child = el.find(name)
    if child is not None:
        return float(child.get("value", default)), int(child.get("id")) if child.get("id") else None
    return float(el.get(name, default)), None


def read_mmp(path) -> dict:
    """Song events of an LMMS project in the form :func:`truth_derive.derive_events` reads."""
    root = ET.parse(str(path)).getroot()
    if root.tag not in ("lmms-project", "multimedia-project") or root.get("type", "song") != "song":
        raise ValueError(f"{path}: not an LMMS song project")
    head = root.find("head")
    bpm, tempo_id = _model_value(head, "bpm", 140)
    num = int(_model_value(head, "timesig_numerator", 4)[0])
    den = int(_model_value(head, "timesig_denominator", 4)[0])
    tc = root.find("song/trackcontainer")
    tracks = list(tc.findall("track")) + list(root.findall("song/track"))   # song-level global automation too
    notes, tempo_pts, end, melodic = [], [], 0, 0
    for tr in tracks:
        ttype = int(tr.get("type", "0"))
        if tr.get("muted", "0") == "1":
            continue
        if ttype == 0:
            ch, fixed, prog = _track_role(tr, melodic)
            if ch != 9:
                melodic += 1
            for pat in tr.findall("pattern"):
                pos = int(pat.get("pos", "0"))
                ns = [(int(n.get("pos")), int(n.get("len")), int(n.get("key", BASENOTE)), int(float(n.get("vol", 100))))
                      for n in pat.findall("note")]
                if ns and all(n <= 0 for _, n, _, _ in ns):
                    raise ValueError(f"{path}: beat patterns (step notes) are not supported")
                if ns:
                    end = max(end, pos + _melody_len([(q, n) for q, n, _, _ in ns]))
                if pat.get("muted", "0") == "1":
                    continue
                for q, _, key, vol in ns:
                    if vol > 0:
                        notes.append((pos + q, ch, fixed if fixed is not None else key + 12, prog))
        elif ttype in (5, 6):
            for ap in tr.findall("automationpattern"):
                ids = {int(o.get("id")) for o in ap.findall("object")}
                pts = [(int(t.get("pos")), float(t.get("value"))) for t in ap.findall("time")]
                if tempo_id is None or tempo_id not in ids or not pts:
                    continue
                if ap.get("prog", "0") != "0":
                    raise ValueError(f"{path}: only discrete tempo automation (prog=0) is supported")
                pos = int(ap.get("pos", "0"))
                tempo_pts += [(pos + t, v) for t, v in pts]
                end = max(end, pos + -(-max(t for t, _ in pts) // LMMS_BAR) * LMMS_BAR)
        else:
            raise ValueError(f"{path}: track type {ttype} ({tr.get('name')}) is not supported")
    tempos = {0: 60e6 / round(bpm)}                  # LMMS tempo is an integer BPM
    for t, v in sorted(tempo_pts):
        tempos[t] = 60e6 / round(v)
    tempos = sorted(tempos.items())
    dedup = [tempos[0]] + [tp for prev, tp in pairwise(tempos) if tp[1] != prev[1]]
    return {"tpb": LMMS_TPB, "tempos": dedup, "sigs": [(0, num, den)], "notes": notes, "end": end}


# ----------------------------------------------------------------------------------------------
# rendering
# ----------------------------------------------------------------------------------------------

def _lmms_base() -> list[str]:
    return ["lmms"] + (["--allowroot"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])


@lru_cache(maxsize=1)
def lmms_version() -> str:
    p = subprocess.run(_lmms_base() + ["--version"], check=False, capture_output=True, text=True, env=_env_vars())
    out = p.stdout + "\n" + p.stderr
    return next((ln.strip() for ln in out.splitlines() if ln.startswith("LMMS")), "LMMS ?")


def _env_vars() -> dict:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen"}


def render_args(mmp: Path, wav: Path) -> list[str]:
    return _lmms_base() + ["render", str(mmp), "--format", "wav", "--samplerate", "44100",
                           "--interpolation", "sincfastest", "--oversampling", "1", "--output", str(wav)]


def render(mmp: Path, wav: Path) -> None:
    with atomic_path(wav) as tmp:
        p = subprocess.run(render_args(mmp, tmp), check=False, capture_output=True, text=True, env=_env_vars(), timeout=1800)
        if p.returncode != 0 or not tmp.is_file() or tmp.stat().st_size < 1000:
            raise RuntimeError(f"lmms render of {mmp} failed (rc {p.returncode}): {p.stdout[-500:]} {p.stderr[-500:]}")


def ensure_tools() -> None:
    if shutil.which("lmms") and (SAMPLES / "drums").is_dir():
        return
    sys.exit("need lmms 1.2.x and its samples (/usr/share/lmms/samples): run "
             "`sudo apt-get install -y --no-install-recommends lmms` (Debian/Ubuntu)")


# ----------------------------------------------------------------------------------------------
# one track
# ----------------------------------------------------------------------------------------------

def _write_truth(m: dict, mmp: Path, wav: Path, truth: Path, bars: Path, extra: dict) -> dict:
    """Derive the truth of song events ``m`` (read from ``mmp``) rendered as ``wav``, check its grid
    against the audio and write the truth and bars files (atomically); returns the manifest entry
    (``extra["manifest"]`` completed from the derived truth)."""
    import soundfile as sf

    info = sf.info(str(wav))
    dur = info.frames / info.samplerate
    if tick_to_seconds(m["end"], m["tempos"], m["tpb"]) > dur + 1e-3:
        raise RuntimeError(f"{wav.name}: the render ({dur:.2f} s) is shorter than the song")
    d = derive_events(m, dur)
    check = kick_onset_check(wav, d["kick_beats"])
    old = extra["manifest"]
    entry = {"name": old["name"], "seed": old["seed"], "kind": old["kind"], "bpm": d["bpm"],
             "tempo_segments": len(d["tempo_segments"]), "duration_s": d["song_end_s"],
             "sections": [s["label"] for s in d["sections"]], "drops": len(d["drops"]),
             "jitter_ms": old["jitter_ms"], "onset_check": check, "plan": old["plan"], "render_s": old.get("render_s")}
    with atomic_path(truth) as tmp_truth, atomic_path(bars) as tmp_bars:
        write_truth_events(m, wav, tmp_truth, tmp_bars, source=mmp.name, how=HOW,
                           extra={**extra, "onset_check": check, "manifest": entry})
    return entry


def build_one(out: Path, idx: int, seed: int) -> dict:
    """Build (or skip, if up to date) track ``lmNNN``; returns its manifest entry.

    Skipped when its truth file carries this ``generator_version`` and seed (a truth of an older
    ``truth_version`` is derived again from the .mmp first, without rendering again).
    """
    out = Path(out)
    name = f"lm{idx:03d}"
    mmp, wav = out / f"{name}.mmp", out / f"{name}.wav"
    truth, bars = out / f"{name}.truth.json", out / f"{name}.bars.json"
    track_seed = seed * 100003 + SEED_OFFSET + idx
    a = cached_analysis(truth, (wav, bars, mmp), GENERATOR_VERSION, track_seed)
    if a is not None:
        if a.get("truth_version") != TRUTH_VERSION:     # same audio, newer derivation
            a["manifest"] = _write_truth(read_mmp(mmp), mmp, wav, truth, bars, {**a, "truth_version": TRUTH_VERSION})
        return {"name": name, "skipped": True, **a["manifest"]}
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    arr = make_arrangement(track_seed)
    sound = choose_sound(arr)
    mastervol, render_s = MASTERVOL, 0.0
    for _ in range(4):
        text, human = build_project(arr, sound, mastervol)
        with atomic_open(mmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        t1 = time.time()
        render(mmp, wav)
        render_s += time.time() - t1
        peak = _peak(wav)
        if peak < PEAK_MAX:
            break
        # too hot (or clipped at 1.0): the same project with a quieter master
        mastervol = int(mastervol * min(0.8, 0.9 / peak))
    else:
        raise RuntimeError(f"{name}: render still clips at mastervol {mastervol}")
    cmd = " ".join(render_args(Path(mmp.name), Path(wav.name)))
    extra = {"generator_version": GENERATOR_VERSION, "truth_version": TRUTH_VERSION, "seed": track_seed,
             "renderer": {"engine": lmms_version(), "command": f"QT_QPA_PLATFORM=offscreen {cmd}",
                          "mastervol": mastervol, "peak": round(peak, 4), "render_s": round(render_s, 2)},
             "sound": sound, "humanise_jitter_ms": arr.jitter_ms, "humanise_applied": human,
             "tempo": "plan tempi rounded to integer BPM; a tempo change is an LMMS tempo automation",
             "manifest": {"name": name, "seed": track_seed, "kind": arr.kind, "jitter_ms": arr.jitter_ms,
                          "plan": arr.describe(), "render_s": round(render_s, 2)}}
    entry = _write_truth(read_mmp(mmp), mmp, wav, truth, bars, extra)   # the truth comes from the file LMMS rendered
    entry["build_s"] = round(time.time() - t0, 2)
    return {"skipped": False, **entry}
