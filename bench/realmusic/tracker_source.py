"""Tracker engine of the realmusic corpus: seeded plans as FastTracker 2 modules (.xm), rendered by openmpt123.

Built by ``python bench/realmusic/build_corpus.py --tracker N`` (with the other engines).
Resumable: a track whose truth carries the same ``generator_version`` and seed is
skipped. Needs ``openmpt123`` (Debian package ``openmpt123``, libopenmpt 0.6.9 tested) and the
LMMS sample folder ``/usr/share/lmms/samples`` (package ``lmms-common``; without it every sound is
synthesised, so the same seed gives other tracks: the samples used are listed in the truth's
``analysis.module.samples``).

Per track ``tmNNN`` (plan ``make_arrangement(seed * 100003 + 90000 + idx)`` from
``arrangements.py``): ``tmNNN.xm`` (the module, written here with ``struct``),
``tmNNN.wav`` (16-bit stereo 44.1 kHz), ``tmNNN.truth.json`` and ``tmNNN.bars.json``
(``truth_derive.write_truth_events``). Every file is written to a temporary name and renamed.

Render command (``RENDER_ARGS``, openmpt123 0.6.9 / libopenmpt 0.6.9+r18817)::

    openmpt123 --batch --quiet --no-progress --no-meters --samplerate 44100 --channels 2 \
        --no-float --dither 0 --filter 8 --ramping 1 --stereo 100 --repeat 0 --gain G \
        --force -o tmNNN.wav tmNNN.xm

``--filter 8``: 8-tap windowed-sinc interpolation; ``--ramping 1``: 1 ms volume ramps (no
clicks at note cuts, attacks kept sharp); ``--dither 0``: no dither noise, so a render is
bit-identical run to run (checked). Level: libopenmpt's XM mix is quiet and material-dependent,
so the module is rendered at ``G = 0``, its peak measured, and rendered again with the gain
(0.1 dB steps, typically +6 to +10 dB) that puts the peak at -3 dBFS (redone if above -1 dBFS).
The truth's ``analysis.renderer`` holds the version, the command with its gain, and the peak.
About 0.2-0.6 s per render pass on one core for 0.5-3 min of audio (1-2 s per track for both
passes); a whole track (samples, module, two renders, truth, onset check) takes 5-20 s.

Module layout (XM 1.04, linear frequency table, 12 channels, one sample per instrument,
16-bit delta-coded sample data): speed 6 ticks per row, 4 rows per beat, 16 rows per bar, 64-row
patterns (4 bars; identical patterns stored once and repeated in the order list). The module
BPM is an integer (the XM header field and ``Fxx`` take integers): the plan's BPM is rounded to
the nearest integer (32-255), and a planned tempo change is an ``Fxx`` (xx >= 0x20) on row 0 of
the section's first bar (control channel 12). Channels: 1 kick, 2 clap or snare on beats 2/4,
3 closed hat, 4 open hat, 5 snare roll, 6 crash, 7 bass, 8-10 chord voices (off-beat stabs or
a one-bar pad), 11 lead, 12 control. Note volume = plan velocity scaled by a per-part,
per-seed level (volume column). Swing: the plan's swing (a fraction of a 16th) becomes a note
delay ``EDx`` of ``round(swing * 6)`` ticks on odd 16th hats (0.08 -> none, 0.15 -> ED1); the
delay is read back into the truth, so it stays exact. Humanisation (the plan's Gaussian
``jitter_ms``) is NOT applied: a tick (~20 ms) is far coarser than the 2-4 ms jitter, so every
note is on its tick (``jitter_ms`` is 0 in the manifest; the plan's value is in ``plan``).

Timing as libopenmpt renders an XM (``TempoMode::Classic``, ``CSoundFile::GetTickDuration``):
a tick lasts ``floor(44100 * 5 / (2 * BPM))`` samples (integer division, no error
accumulation), so a beat is ``4 * speed * floor(110250 / BPM)`` samples and the effective BPM is
slightly above the integer BPM (124 -> 889 samples per tick -> 124.016 BPM; ignoring that
would drift ~40 ms over 5 minutes). A tempo set by ``Fxx`` applies from the first tick of its
row; playback starts at sample 0 with row 0; the song ends after the last row of the last
order, and openmpt123 then writes 4410 more frames (100 ms, the last notes' decay); the
events' song end (``end``) is the last row's end, the audio duration the rendered frames. ``calibrate()`` checks this by
rendering a click module (a click every beat, an ``Fxx`` tempo change half-way) and locating
every click: ``python bench/realmusic/tracker_source.py`` (all clicks within 0
samples of the tempo map; exit status 1 if any is more than 1 sample off).

Truth (``read_xm`` + ``xm_events``, from the .xm file read back, never from the plan): header
speed/BPM, order list, every pattern row; ``Fxx`` updates speed (< 0x20) or BPM, a tempo entry
at that row; notes 1-96 (with the channel's last instrument when the cell has none, skipped
when the volume column is 0), delayed by ``EDx`` ticks. Tick unit: 1/6 row (24 per beat; one
tracker tick at speed 6). Tempo map: microseconds per beat = ``4 * speed *
floor(110250 / BPM) / 44100 * 1e6`` (a float: the exact sample-quantised tick). Instruments
map to General-MIDI roles by the first word of their name: ``kick`` -> channel 9 note 36,
``snare`` -> 9/38, ``clap`` -> 9/39, ``hat`` -> 9/42, ``ohat`` -> 9/46, ``crash`` -> 9/49,
``bass`` -> channel 0 program 32, anything else (``chord``, ``pad``, ``lead``) -> channel 1
program 0. Effects that move the playback position (Bxx, Dxx, E6x, EEx) and F00 are refused
by the reader (never written). Song end = the last row's end. Then
``truth_derive.write_truth_events`` (beats every 24 units, downbeats every 4 beats, sections from
bar activity, as for the MIDI engine). Audio duration = the rendered frames.

Samples (mono, 16-bit in the module, each trimmed to its attack so a note starts at its row):
per seed, each drum is either a synthesised sound (kick = pitch-swept sine with a click, clap =
noise bursts, snare = tone + noise, hats and crash = filtered noise with metallic partials) or
one of the LMMS samples in ``LMMS_DRUMS`` (``/usr/share/lmms/samples/drums/``; LMMS, GPL-2+ per
``/usr/share/doc/lmms-common/copyright``, "Files: *"). Bass (round/pulse/saw/square by the
plan's program, filter sweep and decay per seed), chords (electric-piano stabs or detuned-saw
pads) and lead (saw/square) are always synthesised here (additive, band-limited, tuned by the
sample's relative note and finetune). Nothing else is read: not the reserved acceptance
sources (LMMS demos/shorties, Hydrogen demo songs, the packages tecnoballz-data, gl-117-data,
heroes-sound-tracks, ri-li-data, nexuiz-music, redeclipse-data).
The mix is made so that the < 150 Hz kick onset check (``build_corpus.kick_onset_check``) sees
the kick: kicks last at most 0.3 s; only LMMS kicks whose low-frequency attack starts within
5 ms of the sample start are used; the bass (level 0.30-0.45 of the kick) is keyed off 1 1/3
rows after each 8th starts (``K02`` on the next row, then a 2-tick envelope release), so it
is silent under the next kick, like a side-chained house bass. Tested kick-onset medians:
0.9-2.4 ms (9 tracks).

Limits: integer module BPM (the plan's BPM rounded; the truth carries the exact rendered
BPM, e.g. 131.1 -> 131 -> 131.094); no humanisation; swing quantised to ticks; 4/4 only;
tempo changes only at bar starts; one-shot samples (no loops), pads 4 s long, so a pad fades
before the end of its bar only below ~60 BPM; the song stops dead at its last row (100 ms of
decay after it); instrument roles are read from instrument names, so the reader is meant for
modules written here, not arbitrary .xm files (it refuses position jumps, pattern breaks,
loops, pattern delays and F00).
"""
from __future__ import annotations

import math
import random
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from mainstage.core.atomic import atomic_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from arrangements import GENERATOR_VERSION as PLAN_VERSION
from arrangements import MINOR, make_arrangement
from build_corpus import kick_onset_check
from truth_derive import cached_analysis, derive_events, write_truth_events

GENERATOR_VERSION = f"{PLAN_VERSION}+tracker-1"
SEED_OFFSET = 90000
SR = 44100
SPEED = 6
ROWS_PER_BEAT = 4
ROWS_PER_BAR = 16
PATTERN_ROWS = 64
UNITS_PER_ROW = 6                      # truth tick unit: 1/6 row = one tracker tick at speed 6
TPB = UNITS_PER_ROW * ROWS_PER_BEAT    # 24 truth ticks per beat
XM_NOTE_OFF = 97
EFF_KEYOFF = 0x14                      # Kxx: key-off at tick xx of the row
BASS_OFF_TICK = 2                      # bass key-off 1 1/3 rows after an 8th starts; 2-tick release
MIDI_TO_XM = -11                       # XM note 49 (C-4) = MIDI 60
LMMS = Path("/usr/share/lmms/samples")
LMMS_DRUMS = {
    # kicks whose < 150 Hz attack starts within 5 ms of the sample's first transient (bassdrum02/04,
    # kick01, kick_hard01, kick_soft02 put their low body 8-40 ms later and would bias the onset check)
    "kick": ["bassdrum01", "bassdrum03", "kick02", "kick03", "kick_distorted01", "kick_hiphop01", "kick_soft01"],
    "clap": ["clap01", "clap02", "clap03", "clap04"],
    "snare": ["snare01", "snare03", "snare04", "snare05", "snare06", "snare_hiphop01", "snare_short01"],
    "hat": ["hihat_closed01", "hihat_closed02", "hihat_closed03", "hihat_closed04"],
    "ohat": ["hihat_opened01", "hihat_opened02", "hihat_opened03"],
    "crash": ["crash01", "crash02"],
}
KICK_MAX_S = 0.3                       # kicks end (80 ms fade) before the next beat's onset window
TARGET_PEAK = 10 ** (-3.0 / 20)        # -3 dBFS
PEAK_LIMIT = 10 ** (-1.0 / 20)         # -1 dBFS: a render above it is redone quieter
RENDER_ARGS = ["--batch", "--quiet", "--no-progress", "--no-meters", "--samplerate", str(SR), "--channels", "2",
               "--no-float", "--dither", "0", "--filter", "8", "--ramping", "1", "--stereo", "100", "--repeat", "0"]

# channels (0-based)
CH_KICK, CH_CLAP, CH_HAT, CH_OHAT, CH_ROLL, CH_CRASH, CH_BASS = range(7)
CH_CHORDS = (7, 8, 9)
CH_LEAD, CH_CTRL = 10, 11
N_CHANNELS = 12

#: instrument-name role (first word) -> (channel, GM note or None = the note's own pitch, program)
ROLE_GM = {"kick": (9, 36, 0), "snare": (9, 38, 0), "clap": (9, 39, 0), "hat": (9, 42, 0), "ohat": (9, 46, 0),
           "crash": (9, 49, 0), "bass": (0, None, 32)}
OTHER_GM = (1, None, 0)


# ----------------------------------------------------------------------------------------------
# XM file format (FastTracker 2 v2.04 "XM 1.04"; see the "xm.txt" format description by Mr.H of
# Triton with the Sahara Surfers / ccr corrections, as used by libxmp and OpenMPT). Little endian.
# Header: "Extended Module: ", name[20], 0x1A, tracker[20], version u16 (0x0104), header size u32
# (276, counted from its own offset), song length, restart, channels, patterns, instruments,
# flags (bit 0 = linear frequencies), default speed (ticks/row), default BPM (all u16), orders[256].
# Pattern: header length u32 (9), packing type u8 (0), rows u16, packed size u16, packed cells.
# Packed cell: a byte with bit 7 set whose bits 0-4 flag which of note, instrument, volume
# column, effect, parameter follow (0x80 alone = empty).
# Instrument: size u32 (263), name[22], type u8, samples u16, sample header size u32 (40),
# keymap[96], volume envelope 12 x (x, y) u16, panning envelope 12 x (x, y) u16, point counts,
# sustain/loop points (3 + 3 u8), envelope types (bit 0 on, bit 1 sustain, bit 2 loop), vibrato
# type/sweep/depth/rate, fadeout u16, reserved (22 bytes up to 263). Sample header: length,
# loop start, loop length (u32, in bytes), volume u8 (0-64), finetune s8 (1/128 semitone), type
# u8 (bits 0-1 loop, bit 4 16-bit), panning u8, relative note s8, reserved u8, name[22]; then the
# sample data, each value the difference to the previous one (16-bit: s16 deltas).
# ----------------------------------------------------------------------------------------------

def _fixed(text: str, n: int) -> bytes:
    return text.encode("ascii", "replace")[:n].ljust(n, b"\0")


def _pack_cell(cell) -> bytes:
    if cell is None:
        return b"\x80"
    note, ins, vol, eff, par = cell
    mask, out = 0x80, []
    for bit, v in enumerate((note, ins, vol, eff, par)):
        if v:
            mask |= 1 << bit
            out.append(v)
    if eff == 0 and par:
        raise ValueError("effect 0 with a parameter (arpeggio) is never written")
    return bytes([mask, *out])


def write_xm(path, *, name: str, tracker: str, n_channels: int, speed: int, bpm: int, orders: list[int],
             patterns: list[list[list]], instruments: list[dict]) -> None:
    """Write an XM 1.04 module. ``patterns[p][row][ch]`` = None or (note, ins, vol, eff, par)."""
    if not 32 <= bpm <= 255 or not 1 <= speed < 32:
        raise ValueError(f"bpm {bpm} / speed {speed} out of range")
    out = bytearray()
    out += b"Extended Module: " + _fixed(name, 20) + b"\x1a" + _fixed(tracker, 20).replace(b"\0", b" ")
    out += struct.pack("<HIHHHHHHHH", 0x0104, 276, len(orders), 0, n_channels, len(patterns), len(instruments),
                       1, speed, bpm)
    out += bytes(orders).ljust(256, b"\0")
    for pat in patterns:
        data = b"".join(_pack_cell(c) for row in pat for c in row)
        out += struct.pack("<IBHH", 9, 0, len(pat), len(data)) + data
    for ins in instruments:
        pcm = np.asarray(ins["pcm"], dtype=np.int16)
        env, sustain = ins.get("envelope") or ([], 0)   # [(tick, volume 0-64)], sustain point index
        hdr = bytearray(struct.pack("<I", 263) + _fixed(ins["name"], 22) + struct.pack("<BHI", 0, 1, 40))
        hdr += bytes(96)                        # every note -> sample 0
        pts = list(env)[:12]
        hdr += b"".join(struct.pack("<HH", x, y) for x, y in pts).ljust(48, b"\0")
        hdr += bytes(48)                        # panning envelope (off)
        hdr += struct.pack("<BBBBBBBBBBBBBBH", len(pts), 0, sustain, 0, 0, 0, 0, 0,
                           (1 | 2) if pts else 0, 0, 0, 0, 0, 0, ins.get("fadeout", 0))
        hdr += bytes(263 - len(hdr))
        out += hdr
        out += struct.pack("<IIIBbBBbB", 2 * pcm.size, 0, 0, ins.get("volume", 64), ins.get("finetune", 0), 0x10,
                           ins.get("panning", 128), ins.get("relnote", 0), 0) + _fixed(ins.get("sample_name", ""), 22)
        deltas = np.diff(pcm.astype(np.int32), prepend=0).astype(np.int64) & 0xFFFF
        out += deltas.astype("<u2").tobytes()
    Path(path).write_bytes(bytes(out))


def read_xm(path) -> dict:
    """Parse an XM module: header, order list, unpacked patterns, instrument names and sample sizes."""
    b = Path(path).read_bytes()
    if b[:17] != b"Extended Module: " or b[37] != 0x1A:
        raise ValueError(f"{path}: not an XM module")
    version, hsize = struct.unpack_from("<HI", b, 58)
    if version != 0x0104:
        raise ValueError(f"{path}: XM version {version:#x} (only 0x0104 is read)")
    songlen, restart, nch, npat, nins, flags, speed, bpm = struct.unpack_from("<8H", b, 64)
    orders = list(b[80:80 + songlen])
    pos = 60 + hsize
    patterns = []
    for _ in range(npat):
        plen, _pack, rows, psize = struct.unpack_from("<IBHH", b, pos)
        data, pos, k = b[pos + plen:pos + plen + psize], pos + plen + psize, 0
        grid = [[None] * nch for _ in range(rows)]
        if psize:
            for r in range(rows):
                for c in range(nch):
                    first = data[k]
                    if first & 0x80:
                        k += 1
                        vals = []
                        for bit in range(5):
                            if first & (1 << bit):
                                vals.append(data[k])
                                k += 1
                            else:
                                vals.append(0)
                    else:
                        vals, k = list(data[k:k + 5]), k + 5
                    grid[r][c] = tuple(vals) if any(vals) else None
        patterns.append(grid)
    instruments = []
    for _ in range(nins):
        isize, = struct.unpack_from("<I", b, pos)
        name = b[pos + 4:pos + 26].split(b"\0")[0].decode("ascii", "replace").strip()
        nsmp, = struct.unpack_from("<H", b, pos + 27)
        shsize = struct.unpack_from("<I", b, pos + 29)[0] if nsmp else 40
        pos += isize
        lengths = []
        for _s in range(nsmp):
            lengths.append(struct.unpack_from("<I", b, pos)[0])
            pos += shsize
        pos += sum(lengths)
        instruments.append({"name": name, "samples": nsmp, "sample_bytes": lengths})
    return {"name": b[17:37].split(b"\0")[0].decode("ascii", "replace").strip(), "channels": nch,
            "speed": speed, "bpm": bpm, "flags": flags, "restart": restart, "orders": orders,
            "patterns": patterns, "instruments": instruments}


def samples_per_tick(bpm: int, sr: int = SR) -> int:
    """libopenmpt's tick length for an XM (classic tempo mode): floor(sr * 5 / (2 * bpm)) samples."""
    return (sr * 5) // (2 * bpm)


def us_per_beat(bpm: int, speed: int, sr: int = SR) -> float:
    return ROWS_PER_BEAT * speed * samples_per_tick(bpm, sr) / sr * 1e6


def xm_events(xm: dict, sr: int = SR) -> dict:
    """Song events of a parsed module in the form ``truth_derive.derive_events`` takes.

    Walks the order list row by row as the player does; tick unit = 1/6 row (TPB = 24 per
    4-row beat). Instruments map to GM roles by the first word of their name (``ROLE_GM``).
    """
    roles = []
    for ins in xm["instruments"]:
        word = (ins["name"].split() or [""])[0].lower()
        audible = ins["samples"] > 0 and sum(ins["sample_bytes"]) > 0
        roles.append((ROLE_GM.get(word, OTHER_GM), audible))
    speed, bpm = xm["speed"], xm["bpm"]
    tempos = [(0, us_per_beat(bpm, speed, sr))]
    notes, unit, cur_ins = [], 0, [0] * xm["channels"]
    for order in xm["orders"]:
        if order >= len(xm["patterns"]):
            raise ValueError(f"order entry {order} names no pattern")
        for row in xm["patterns"][order]:
            changed = False
            for cell in row:
                if cell is None:
                    continue
                eff, par = cell[3], cell[4]
                if eff == 0xF:
                    if par == 0:
                        raise ValueError("F00 (stop) is not supported")
                    if par < 0x20:
                        speed = par
                    else:
                        bpm = par
                    changed = True
                elif eff in (0xB, 0xD) or (eff == 0xE and par >> 4 in (0x6, 0xE)):
                    raise ValueError(f"effect {eff:X}{par:02X} moves the playback position: not supported")
            if changed:
                if tempos[-1][0] == unit:
                    tempos[-1] = (unit, us_per_beat(bpm, speed, sr))
                else:
                    tempos.append((unit, us_per_beat(bpm, speed, sr)))
            for ch, cell in enumerate(row):
                if cell is None:
                    continue
                note, ins, vol, eff, par = cell
                if ins:
                    cur_ins[ch] = ins
                if not 1 <= note <= 96 or not 1 <= cur_ins[ch] <= len(roles) or vol == 0x10:
                    continue
                delay = par & 0xF if eff == 0xE and par >> 4 == 0xD else 0
                if delay >= speed:
                    continue                      # FT2: a delay past the row never plays
                (gm_ch, gm_note, prog), audible = roles[cur_ins[ch] - 1]
                if not audible:
                    continue
                t = unit + round(delay * UNITS_PER_ROW / speed)
                notes.append((t, gm_ch, gm_note if gm_note is not None else note - MIDI_TO_XM, prog))
            unit += UNITS_PER_ROW
    notes.sort()
    return {"tpb": TPB, "tempos": tempos, "sigs": [(0, 4, 4)], "notes": notes, "end": unit}


# ----------------------------------------------------------------------------------------------
# Samples
# ----------------------------------------------------------------------------------------------

def _lowpass(x: np.ndarray, fc: float, order: int = 2) -> np.ndarray:
    f = np.fft.rfftfreq(x.size, 1.0 / SR)
    return np.fft.irfft(np.fft.rfft(x) / np.sqrt(1 + (f / fc) ** (2 * order)), n=x.size)


def _highpass(x: np.ndarray, fc: float, order: int = 2) -> np.ndarray:
    f = np.fft.rfftfreq(x.size, 1.0 / SR)
    f[0] = 1e-9
    return np.fft.irfft(np.fft.rfft(x) / np.sqrt(1 + (fc / f) ** (2 * order)), n=x.size)


def _t(seconds: float) -> np.ndarray:
    return np.arange(int(seconds * SR)) / SR


def _fade_out(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    n = min(x.size, int(ms * SR / 1000))
    x = x.copy()
    x[x.size - n:] *= np.linspace(1, 0, n)
    return x


def _norm(x: np.ndarray, peak: float = 0.97) -> np.ndarray:
    m = float(np.max(np.abs(x))) or 1.0
    return x / m * peak


def synth_kick(r: random.Random) -> np.ndarray:
    t = _t(KICK_MAX_S)
    f_end, f_start, tau_f = r.uniform(44, 58), r.uniform(110, 220), r.uniform(0.02, 0.05)
    freq = f_end + (f_start - f_end) * np.exp(-t / tau_f)
    phase = 2 * np.pi * np.cumsum(freq) / SR
    x = np.sin(phase) * np.exp(-t / r.uniform(0.05, 0.12))
    click = np.random.default_rng(r.randrange(2 ** 31)).standard_normal(t.size) * np.exp(-t / 0.002)
    x = x + r.uniform(0.05, 0.3) * _highpass(click, 1500)
    drive = r.uniform(1.0, 3.0)
    return _fade_out(np.tanh(drive * x) / np.tanh(drive), 80)


def synth_clap(r: random.Random) -> np.ndarray:
    t = _t(r.uniform(0.2, 0.35))
    rng = np.random.default_rng(r.randrange(2 ** 31))
    noise = rng.standard_normal(t.size)
    env = np.zeros_like(t)
    gap = r.uniform(0.007, 0.012)
    for k in range(3):
        tk = t - k * gap
        env += np.where(tk >= 0, np.exp(-np.clip(tk, 0, None) / 0.004), 0) * (tk < gap)
    tail_t = t - 3 * gap
    env += np.where(tail_t >= 0, np.exp(-np.clip(tail_t, 0, None) / r.uniform(0.05, 0.12)), 0)
    x = _highpass(_lowpass(noise * env, r.uniform(2500, 5000)), r.uniform(700, 1200))
    return _fade_out(x)


def synth_snare(r: random.Random) -> np.ndarray:
    t = _t(r.uniform(0.2, 0.3))
    rng = np.random.default_rng(r.randrange(2 ** 31))
    f0 = r.uniform(170, 240)
    tone = np.sin(2 * np.pi * f0 * t) * np.exp(-t / r.uniform(0.03, 0.07))
    noise = _highpass(rng.standard_normal(t.size), r.uniform(1500, 3000)) * np.exp(-t / r.uniform(0.06, 0.14))
    return _fade_out(r.uniform(0.4, 0.9) * tone + _norm(noise, 1.0))


def synth_hat(r: random.Random, open_: bool) -> np.ndarray:
    t = _t(0.5 if open_ else 0.12)
    rng = np.random.default_rng(r.randrange(2 ** 31))
    metal = sum(np.sign(np.sin(2 * np.pi * f * t)) for f in (205.3, 304.4, 369.6, 522.7, 540.0, 800.0))
    x = r.uniform(0.2, 0.6) * metal / 6 + rng.standard_normal(t.size)
    x = _highpass(x, r.uniform(6000, 9000), order=3)
    tau = r.uniform(0.18, 0.3) if open_ else r.uniform(0.015, 0.04)
    return _fade_out(x * np.exp(-t / tau))


def synth_crash(r: random.Random) -> np.ndarray:
    t = _t(2.0)
    rng = np.random.default_rng(r.randrange(2 ** 31))
    x = _highpass(rng.standard_normal(t.size), r.uniform(3000, 5000)) * np.exp(-t / r.uniform(0.5, 0.9))
    return _fade_out(x, 200)


def _additive(f0: float, seconds: float, amps, detune_cents=(0.0,), fmax: float = 8000.0,
              phase_seed: int = 0) -> np.ndarray:
    """Band-limited tone: harmonics k (amplitude amps(k)) up to fmax, summed over detuned copies."""
    t = _t(seconds)
    x = np.zeros_like(t)
    rng = np.random.default_rng(phase_seed)
    for cents in detune_cents:
        f = f0 * 2 ** (cents / 1200)
        for k in range(1, int(fmax / f) + 1):
            a = amps(k, k * f)
            if a:
                x += a * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 2 * np.pi))
    return x / len(detune_cents)


def _wave(kind: str, cutoff: float):
    def amps(k, fk):
        lp = 1 / math.sqrt(1 + (fk / cutoff) ** 4)
        if kind == "saw":
            return lp / k
        if kind == "square":
            return lp / k if k % 2 else 0.0
        if kind == "pulse":                      # 25 % pulse
            return lp * abs(math.sin(math.pi * k * 0.25)) / k
        return lp * (1.0 if k == 1 else 0.3 / k ** 2)  # "round": sine with a little overtone
    return amps


def _midi_hz(n: float) -> float:
    return 440.0 * 2 ** ((n - 69) / 12)


def _tuning(midi_ref: float) -> tuple[int, int]:
    """(relative note, finetune) so that XM note (m + MIDI_TO_XM) plays MIDI pitch m of a sample at SR
    whose recorded pitch is ``midi_ref``: C-4 (XM 49) plays 8363 Hz in linear mode."""
    t = 12 * math.log2(SR / 8363) + 60 - midi_ref
    rel = round(t)
    return rel, max(-128, min(127, round((t - rel) * 128)))


def synth_bass(r: random.Random, program: int, ref: int) -> np.ndarray:
    kind = ["round", "round", "pulse", "round", "saw", "saw", "square", "saw"][program - 32]
    seconds = 1.0
    bright = _additive(_midi_hz(ref), seconds, _wave(kind, r.uniform(1500, 3000)), phase_seed=r.randrange(999))
    dark = _additive(_midi_hz(ref), seconds, _wave(kind, r.uniform(250, 600)), phase_seed=r.randrange(999))
    t = _t(seconds)
    mix = np.exp(-t / r.uniform(0.04, 0.12))
    x = bright * mix + dark * (1 - mix)
    env = np.minimum(t / 0.002, 1) * (0.6 + 0.4 * np.exp(-t / r.uniform(0.1, 0.3)))
    return _fade_out(x * env, 30)


def synth_stab(r: random.Random, ref: int) -> np.ndarray:
    seconds = 0.7
    t = _t(seconds)
    f0 = _midi_hz(ref)
    x = np.zeros_like(t)
    bright = r.uniform(0.8, 1.6)
    for k in range(1, 9):
        x += (1 / k ** (2.2 - bright)) * np.sin(2 * np.pi * k * f0 * t) * np.exp(-t * k * r.uniform(3, 6))
    env = np.minimum(t / 0.003, 1) * np.exp(-t / r.uniform(0.15, 0.35))
    return _fade_out(x * env, 30)


def synth_pad(r: random.Random, ref: int) -> np.ndarray:
    seconds = 4.0
    d = r.uniform(6, 15)
    x = _additive(_midi_hz(ref), seconds, _wave("saw", r.uniform(1200, 3000)), detune_cents=(-d, 0.0, d),
                  fmax=10000.0, phase_seed=r.randrange(999))
    t = _t(seconds)
    env = np.minimum(t / r.uniform(0.03, 0.15), 1)
    return _fade_out(x * env, 200)


def synth_lead(r: random.Random, program: int, ref: int) -> np.ndarray:
    kind = "square" if program % 2 else "saw"
    seconds = 0.6
    x = _additive(_midi_hz(ref), seconds, _wave(kind, r.uniform(2000, 5000)), detune_cents=(0.0, r.uniform(4, 10)),
                  phase_seed=r.randrange(999))
    t = _t(seconds)
    env = np.minimum(t / 0.003, 1) * np.exp(-t / r.uniform(0.2, 0.5))
    return _fade_out(x * env, 30)


def load_lmms(name: str, max_s: float = 2.0, fade_ms: float = 30.0) -> np.ndarray | None:
    """An LMMS drum sample, mono at SR, trimmed to its attack, at most ``max_s`` long; None if unreadable."""
    import soundfile as sf

    path = LMMS / "drums" / f"{name}.ogg"
    try:
        x, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception:  # noqa: BLE001 - some LMMS files are malformed: fall back to synthesis
        return None
    x = x.mean(axis=1).astype(np.float64)
    if sr != SR:
        import soxr
        x = soxr.resample(x, sr, SR)
    a = np.abs(x)
    if x.size == 0 or a.max() <= 0:
        return None
    start = max(int(np.argmax(a >= 0.02 * a.max())) - 2, 0)
    x = x[start:start + int(max_s * SR)]
    return _fade_out(x, fade_ms if x.size > SR // 10 else 3)


def _pcm(x: np.ndarray, peak: float = 0.97) -> np.ndarray:
    return np.round(_norm(x, peak) * 32767).astype(np.int16)


def make_instruments(arr, r: random.Random) -> tuple[list[dict], dict]:
    """The module's instruments (1-based order = list order) and a record of the choices."""
    chosen = {}
    ins = []

    def drum(role, synth, **kw):
        src = None
        if LMMS.is_dir() and r.random() < 0.5:
            pick = r.choice(LMMS_DRUMS[role])
            x = load_lmms(pick, max_s=KICK_MAX_S if role == "kick" else 2.0, fade_ms=80 if role == "kick" else 30)
            if x is not None:
                src = f"lmms:{pick}"
        if src is None:
            x, src = synth(r), "synth"
        chosen[role] = src
        ins.append({"name": f"{role} {src}", "sample_name": src, "pcm": _pcm(x), **kw})

    rel, fine = _tuning(60)
    common = {"relnote": rel, "finetune": fine}
    backbeat = "clap" if arr.seed % 2 else "snare"
    drum("kick", synth_kick, volume=64, **common)
    drum(backbeat, synth_clap if backbeat == "clap" else synth_snare, panning=r.randint(112, 144), **common)
    drum("hat", lambda q: synth_hat(q, False), panning=r.randint(150, 180), **common)
    drum("ohat", lambda q: synth_hat(q, True), panning=r.randint(80, 110), **common)
    drum("snare", synth_snare, panning=r.randint(118, 138), **common)      # the roll
    drum("crash", synth_crash, panning=r.randint(100, 156), **common)
    ref_b = 42
    rel_b, fine_b = _tuning(ref_b)
    ins.append({"name": f"bass synth p{arr.bass_program}", "sample_name": "synth", "relnote": rel_b, "finetune": fine_b,
                "pcm": _pcm(synth_bass(r, arr.bass_program, ref_b)),
                "envelope": ([(0, 64), (1, 64), (3, 0)], 1), "fadeout": 4096})
    ref_c = 66
    rel_c, fine_c = _tuning(ref_c)
    if arr.chord_program <= 5:
        pcm, kind = _pcm(synth_stab(r, ref_c)), "stab"
    else:
        pcm, kind = _pcm(synth_pad(r, ref_c)), "pad"
    for k in range(3):
        ins.append({"name": f"chord {kind} {k + 1}", "sample_name": "synth", "relnote": rel_c, "finetune": fine_c,
                    "pcm": pcm, "panning": 128 + (k - 1) * r.randint(20, 50),
                    "envelope": ([(0, 64), (1, 64)], 1), "fadeout": 2048 if kind == "pad" else 4096})
    ref_l = 84
    rel_l, fine_l = _tuning(ref_l)
    ins.append({"name": f"lead synth p{arr.lead_program}", "sample_name": "synth", "relnote": rel_l,
                "finetune": fine_l, "pcm": _pcm(synth_lead(r, arr.lead_program, ref_l)),
                "panning": r.randint(100, 156), "envelope": ([(0, 64), (1, 64)], 1), "fadeout": 4096})
    chosen.update(bass=f"synth p{arr.bass_program}", chords=kind, lead=f"synth p{arr.lead_program}")
    return ins, chosen


# instrument numbers (1-based), in make_instruments' order
I_KICK, I_BACK, I_HAT, I_OHAT, I_ROLL, I_CRASH, I_BASS = range(1, 8)
I_CHORDS = (8, 9, 10)
I_LEAD = 11


# ----------------------------------------------------------------------------------------------
# Plan -> pattern rows
# ----------------------------------------------------------------------------------------------

def module_bpm(bpm: float) -> int:
    """The plan's BPM rounded half up to an integer module BPM (32-255)."""
    return max(32, min(255, math.floor(bpm + 0.5)))


def song_rows(arr, r: random.Random) -> tuple[list[list], dict]:
    """Every row of the song: rows[i][ch] = None or [note, ins, vol, eff, par]."""
    n_rows = arr.bars * ROWS_PER_BAR
    rows = [[None] * N_CHANNELS for _ in range(n_rows)]
    level = {"kick": 1.0, "back": r.uniform(0.65, 0.9), "hat": r.uniform(0.6, 0.9), "ohat": r.uniform(0.5, 0.75),
             "roll": r.uniform(0.5, 0.75), "crash": r.uniform(0.35, 0.55), "bass": r.uniform(0.3, 0.45),
             "chord": r.uniform(0.3, 0.45), "lead": r.uniform(0.3, 0.5)}

    def vol(part, vel):
        return 0x10 + max(1, min(64, round(64 * vel / 127 * level[part])))

    def put(row, ch, note_midi, ins, part, vel, eff=0, par=0):
        if rows[row][ch] is not None:
            raise AssertionError(f"cell {row}/{ch} written twice")
        rows[row][ch] = [note_midi + MIDI_TO_XM, ins, vol(part, vel), eff, par]

    def off(row, ch, tick=0):
        """Key-off on ``row`` (note 97), or at ``tick`` of it (effect Kxx), unless the cell is taken."""
        if row < n_rows and rows[row][ch] is None:
            rows[row][ch] = [XM_NOTE_OFF, 0, 0, 0, 0] if tick == 0 else [0, 0, 0, EFF_KEYOFF, tick]

    # the motif is drawn exactly as arrangements._events draws it (same RNG stream)
    mr = random.Random(arr.seed * 7919 + 1)
    motif = [mr.choice([0, 2, 4, 7, 9, 11, 14]) for _ in range(8)]
    motif_rests = [mr.random() < 0.3 for _ in range(8)]
    swing_ticks = max(0, min(SPEED - 1, round(arr.swing * SPEED)))
    drum_note = 60
    offs = []                     # key-offs, written after every note so they never displace one
    bar0 = 0
    for sec in arr.sections:
        if sec.bpm:
            rows[bar0 * ROWS_PER_BAR][CH_CTRL] = [0, 0, 0, 0xF, module_bpm(sec.bpm)]
        for b in range(sec.bars):
            r0 = (bar0 + b) * ROWS_PER_BAR
            deg = arr.progression[(bar0 + b) % len(arr.progression)]
            chord_root = arr.root + MINOR[deg]
            if sec.crash and b == 0:
                put(r0, CH_CRASH, drum_note, I_CRASH, "crash", 100)
            for beat in range(4):
                rb = r0 + beat * ROWS_PER_BEAT
                if sec.kick:
                    put(rb, CH_KICK, drum_note, I_KICK, "kick", 120)
                if sec.clap and beat in (1, 3):
                    put(rb, CH_CLAP, drum_note, I_BACK, "back", 100)
                if sec.hats:
                    if arr.hat_style == "offbeat" or arr.minimal:
                        if arr.open_hats and sec.label == "drop":
                            put(rb + 2, CH_OHAT, drum_note, I_OHAT, "ohat", 80)
                        else:
                            put(rb + 2, CH_HAT, drum_note, I_HAT, "hat", 80)
                    else:
                        for k in range(4):
                            sw = swing_ticks if k % 2 else 0
                            put(rb + k, CH_HAT, drum_note, I_HAT, "hat", 90 if k == 2 else 60,
                                *((0xE, 0xD0 | sw) if sw else (0, 0)))
            if sec.roll:
                step = 1 if b >= sec.bars // 2 else 2
                for k in range(0, ROWS_PER_BAR, step):
                    vel = int(50 + 70 * ((b * ROWS_PER_BAR + k) / (sec.bars * ROWS_PER_BAR)))
                    put(r0 + k, CH_ROLL, drum_note, I_ROLL, "roll", min(vel, 127))
            if sec.bass == "sparse":
                put(r0, CH_BASS, 36 + chord_root % 12, I_BASS, "bass", 100)
                offs.append((r0 + ROWS_PER_BEAT - 1, CH_BASS, BASS_OFF_TICK))
            elif sec.bass == "full":
                for k in range(8):
                    if arr.bass_style == "offbeat" and k % 2 == 0:
                        continue
                    put(r0 + 2 * k, CH_BASS, 36 + chord_root % 12 + (12 if k == 7 else 0), I_BASS, "bass", 105)
                    offs.append((r0 + 2 * k + 1, CH_BASS, BASS_OFF_TICK))
            if sec.chords:
                tones = [chord_root, chord_root + (3 if deg in (0, 3, 4) else 4), chord_root + 7]
                tones = [60 + (t % 12) for t in tones]
                for v, (ch, note) in enumerate(zip(CH_CHORDS, tones)):
                    if arr.chord_program <= 5:
                        for beat in range(4):
                            put(r0 + beat * ROWS_PER_BEAT + 2, ch, note, I_CHORDS[v], "chord", 85)
                            offs.append((r0 + beat * ROWS_PER_BEAT + 4, ch))
                    else:
                        put(r0, ch, note, I_CHORDS[v], "chord", 70)
                        offs.append((r0 + ROWS_PER_BAR, ch))
            if sec.lead:
                for k in range(8):
                    if not motif_rests[k]:
                        put(r0 + 2 * k, CH_LEAD, 72 + (arr.root + motif[k]) % 24, I_LEAD, "lead", 90)
                        offs.append((r0 + 2 * k + 2, CH_LEAD))
        bar0 += sec.bars
    for row, ch, *tick in offs:
        off(row, ch, *tick)
    return rows, {"levels": {k: round(v, 3) for k, v in level.items()}, "swing_ticks": swing_ticks}


def build_module(arr, path: Path, title: str) -> dict:
    """Write the module of plan ``arr``; returns what was chosen (samples, levels, patterns)."""
    r = random.Random(arr.seed * 7919 + 11)
    instruments, chosen = make_instruments(arr, r)
    rows, info = song_rows(arr, r)
    patterns, index, orders = [], {}, []
    for p0 in range(0, len(rows), PATTERN_ROWS):
        pat = [[tuple(c) if c else None for c in row] for row in rows[p0:p0 + PATTERN_ROWS]]
        key = repr(pat)
        if key not in index:
            index[key] = len(patterns)
            patterns.append(pat)
        orders.append(index[key])
    if len(patterns) > 256 or len(orders) > 256:
        raise ValueError("song too long for one XM order list")
    bpm = module_bpm(arr.bpm)
    with atomic_path(path) as tmp:
        write_xm(tmp, name=title, tracker="mainstage tracker", n_channels=N_CHANNELS, speed=SPEED, bpm=bpm,
                 orders=orders, patterns=patterns, instruments=instruments)
    return {"module_bpm": bpm, "samples": chosen, "patterns": len(patterns), "orders": len(orders), **info}


# ----------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------

def openmpt_version() -> str:
    out = subprocess.run(["openmpt123", "--short-version"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def render(xm: Path, wav: Path) -> dict:
    """Render ``xm`` to ``wav`` with openmpt123, atomically, peaking at about -3 dBFS.

    libopenmpt's XM mix is quiet and its level depends on the material, so the module is
    rendered once at 0 dB, the peak measured, and rendered again with the gain (0.1 dB steps)
    that brings the peak to ``TARGET_PEAK``; deterministic for a given module.
    """
    import soundfile as sf

    gain, peak, cmd = 0.0, 0.0, []
    for attempt in range(4):
        with atomic_path(wav) as tmp:
            cmd = ["openmpt123", *RENDER_ARGS, "--gain", f"{gain:.1f}", "--force", "-o", str(tmp), str(xm)]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            x, _ = sf.read(str(tmp), dtype="float32")
            peak = float(np.max(np.abs(x))) if x.size else 0.0
        if peak <= 0:
            raise RuntimeError(f"{xm}: silent render")
        if attempt > 0 and peak <= PEAK_LIMIT:
            break
        # a clipped first pass (peak ~1.0) underestimates the excess: the loop then steps again
        gain = round(gain + 20 * math.log10(TARGET_PEAK / peak), 1)
    else:
        raise RuntimeError(f"{xm}: peak {peak:.3f} above {PEAK_LIMIT:.3f} after {attempt + 1} renders")
    shown = ["OUT.wav" if c == str(tmp) else "IN.xm" if c == str(xm) else c for c in cmd]
    return {"gain_db": gain, "peak": round(peak, 4), "renders": attempt + 1, "command": " ".join(shown)}


def ensure_tools() -> None:
    if not shutil.which("openmpt123"):
        sys.exit("need openmpt123: run `sudo apt-get install -y --no-install-recommends openmpt123` (Debian/Ubuntu)")


# ----------------------------------------------------------------------------------------------
# Corpus
# ----------------------------------------------------------------------------------------------

def build_one(out: Path, idx: int, seed: int) -> dict:
    """Build track ``tmNNN``: module, render, truth (from the module read back), onset check."""
    import soundfile as sf

    name = f"tm{idx:03d}"
    xm, wav = out / f"{name}.xm", out / f"{name}.wav"
    truth, bars = out / f"{name}.truth.json", out / f"{name}.bars.json"
    track_seed = seed * 100003 + SEED_OFFSET + idx
    a = cached_analysis(truth, (wav, bars, xm), GENERATOR_VERSION, track_seed)
    if a is not None:
        return {"name": name, "skipped": True, **a["manifest"]}
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    arr = make_arrangement(track_seed)
    info = build_module(arr, xm, f"{name} seed {track_seed}")
    t_render = time.time()
    rend = render(xm, wav)
    render_s = time.time() - t_render
    m = xm_events(read_xm(xm))
    how = "bench/realmusic/tracker_source.py (from the XM module read back: header, orders, rows, Fxx, EDx)"
    info_wav = sf.info(str(wav))
    d = derive_events(m, info_wav.frames / info_wav.samplerate)   # what write_truth_events will write
    check = kick_onset_check(wav, d["kick_beats"])
    entry = {"name": name, "seed": track_seed, "kind": arr.kind, "bpm": d["bpm"],
             "tempo_segments": len(d["tempo_segments"]), "duration_s": d["song_end_s"],
             "sections": [s["label"] for s in d["sections"]], "drops": len(d["drops"]),
             "jitter_ms": 0.0, "onset_check": check, "plan": arr.describe()}
    renderer = {"program": f"openmpt123 {openmpt_version()}", **rend}
    with atomic_path(truth) as tt, atomic_path(bars) as tb:
        d = write_truth_events(m, wav, tt, tb, source=xm.name, how=how, extra={
            "generator_version": GENERATOR_VERSION, "seed": track_seed, "engine": "tracker (XM, openmpt123)",
            "renderer": renderer, "module": info, "humanise_jitter_ms": 0.0, "plan_jitter_ms": arr.jitter_ms,
            "onset_check": check, "manifest": entry})
    entry["build_s"] = round(time.time() - t0, 2)
    entry["render_s"] = round(render_s, 2)
    return {"skipped": False, **entry}


# ----------------------------------------------------------------------------------------------
# Calibration: where libopenmpt puts rows in time
# ----------------------------------------------------------------------------------------------

def calibrate(work: Path, bpm: int = 122, bpm2: int = 127, beats: int = 64) -> dict:
    """Render a click module (a click every beat, ``Fxx`` tempo change half-way) and compare the
    clicks' sample positions with ``xm_events``' tempo map. Returns the max error in samples."""
    import soundfile as sf
    from truth_derive import tick_to_seconds

    work.mkdir(parents=True, exist_ok=True)
    click = np.zeros(64, dtype=np.int16)
    click[0] = 30000
    rows = beats * ROWS_PER_BEAT
    grid = [[None] * 2 for _ in range(rows)]
    for b in range(beats):
        grid[b * ROWS_PER_BEAT][0] = (49, 1, 0x50, 0, 0)
    grid[(beats // 2) * ROWS_PER_BEAT][1] = (0, 0, 0, 0xF, bpm2)
    pats = [grid[i:i + PATTERN_ROWS] for i in range(0, rows, PATTERN_ROWS)]
    rel, fine = _tuning(60)
    xm, wav = work / "calibrate.xm", work / "calibrate.wav"
    write_xm(xm, name="calibrate", tracker="mainstage tracker", n_channels=2, speed=SPEED, bpm=bpm,
             orders=list(range(len(pats))), patterns=pats,
             instruments=[{"name": "kick click", "pcm": click, "relnote": rel, "finetune": fine}])
    cmd = ["openmpt123", *RENDER_ARGS, "--ramping", "0", "--filter", "1", "--gain", "0", "--force", "-o", str(wav),
           str(xm)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    a = np.abs(x.mean(axis=1))
    found = np.flatnonzero((a > 0.05) & (np.concatenate([[0], a[:-1]]) <= 0.05))
    m = xm_events(read_xm(xm))
    pred = [tick_to_seconds(t, m["tempos"], m["tpb"]) * sr for t, *_ in m["notes"]]
    end = tick_to_seconds(m["end"], m["tempos"], m["tpb"]) * sr
    err = [float(f - p) for f, p in zip(found, pred)]
    naive = [tick_to_seconds(t, [(0, 60e6 / bpm), (m["tempos"][-1][0], 60e6 / bpm2)], m["tpb"]) * sr - f
             for (t, *_), f in zip(m["notes"], found)]
    return {"clicks": int(found.size), "expected": len(pred), "max_abs_err_samples": max(map(abs, err)),
            "frames": int(x.shape[0]), "predicted_frames": end, "tempos": m["tempos"],
            "naive_bpm_drift_ms_at_end": round(naive[-1] / sr * 1000, 2)}


if __name__ == "__main__":  # the timing self-check: ``python bench/realmusic/tracker_source.py``
    import json
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        res = calibrate(Path(work))
    print(json.dumps(res))
    sys.exit(0 if res["clicks"] == res["expected"] and res["max_abs_err_samples"] <= 1 else 1)
