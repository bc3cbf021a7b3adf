"""Running the ``fluidsynth`` command: render a MIDI file to float samples, measure its latency.

Render command (one per stem)::

    fluidsynth -ni -q -O float -T wav -r 44100 -g GAIN -R 1 -C 0|1
               -o synth.reverb.room-size=.. -o synth.reverb.damp=.. -o synth.reverb.width=..
               -o synth.reverb.level=.. -o synth.cpu-cores=1 -o synth.polyphony=256
               -F OUT.wav SOUNDFONT FILE.mid

Float output never clips, so the gain is only a level. An SF3 soundfont is played from
a decoded SF2 copy in the cache (:func:`.soundfonts.playable`). fluidsynth 2.3 starts every
event at the next 64-sample block after one block of latency (0.1-2.9 ms late at
44.1 kHz), and a kit's kick sample may itself start a little after its note-on. Both
are measured once per (soundfont, kit, kick note) by :func:`kick_latency`, a short
calibration render of isolated kicks, and the renders are shifted by that lag.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import mido
import numpy as np

from .soundfonts import GMRenderError, check_soundfont, fluidsynth_binary, playable

GAIN = 0.5


def fluidsynth_command(midi: str, wav: str, soundfont: str, sr: int, reverb: dict | None, chorus: bool) -> list[str]:
    """The argument list of one render (see the module docstring)."""
    cmd = [fluidsynth_binary(), "-ni", "-q", "-O", "float", "-T", "wav", "-r", str(int(sr)), "-g", f"{GAIN:g}",
           "-R", "1" if reverb else "0", "-C", "1" if chorus else "0",
           "-o", "synth.cpu-cores=1", "-o", "synth.polyphony=256"]
    if reverb:
        for k in ("room-size", "damp", "width", "level"):
            cmd += ["-o", f"synth.reverb.{k}={reverb[k.replace('-', '_')]:g}"]
    if soundfont.endswith(".sf3"):  # not decoded (see soundfonts.playable): decode only the samples used
        cmd += ["-o", "synth.dynamic-sample-loading=1"]
    return cmd + ["-F", wav, soundfont, midi]


def render_midi(mf: mido.MidiFile, soundfont: str, sr: int = 44100, reverb: dict | None = None,
                chorus: bool = False) -> np.ndarray:
    """Render a MIDI file with fluidsynth; float32 ``(n, 2)`` exactly as written (no alignment)."""
    import soundfile as sf

    sfp = playable(str(check_soundfont(soundfont)))
    with tempfile.TemporaryDirectory(prefix="gmrender-") as tmp:
        mid, wav = os.path.join(tmp, "in.mid"), os.path.join(tmp, "out.wav")
        mf.save(mid)
        cmd = fluidsynth_command(mid, wav, sfp, sr, reverb, chorus)
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0 or not Path(wav).is_file():
            msg = (proc.stderr or proc.stdout or "").strip().splitlines()
            raise GMRenderError(f"{sfp}: fluidsynth failed (exit {proc.returncode}): {msg[-1] if msg else 'no output'}")
        x, rate = sf.read(wav, dtype="float32", always_2d=True)
    if rate != sr:
        raise GMRenderError(f"{sfp}: fluidsynth wrote {rate} Hz, asked for {sr} Hz")
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    return np.ascontiguousarray(x[:, :2])


#: Calibration: isolated kicks 1.5 beats apart at 120 BPM, nudged by 0-10 ticks so that
#: their start times fall on every phase of fluidsynth's 64-sample blocks.
_CAL_HITS = 24
_CAL_BPM = 120.0


def _calibration_midi(kit: int, note: int) -> tuple[mido.MidiFile, list[float]]:
    from .midi import PRE_ROLL_S, PRE_ROLL_TEMPO, TPB, tempo_us

    mf = mido.MidiFile(type=1, ticks_per_beat=TPB)
    tempo = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=PRE_ROLL_TEMPO, time=0),
                            mido.MetaMessage("set_tempo", tempo=tempo_us(_CAL_BPM), time=TPB)])
    mf.tracks.append(tempo)
    tr = mido.MidiTrack([mido.Message("program_change", channel=9, program=kit, time=0)])
    times, last = [], 0
    sec_per_tick = tempo_us(_CAL_BPM) / 1e6 / TPB
    for k in range(_CAL_HITS):
        tick = TPB + k * (3 * TPB // 2) + (5 * k) % 11
        tr.append(mido.Message("note_on", channel=9, note=note, velocity=110, time=tick - last))
        tr.append(mido.Message("note_off", channel=9, note=note, velocity=0, time=TPB // 4))
        last = tick + TPB // 4
        times.append(PRE_ROLL_S + (tick - TPB) * sec_per_tick)
    tr.append(mido.MetaMessage("end_of_track", time=TPB))
    mf.tracks.append(tr)
    return mf, times


@lru_cache(maxsize=64)
def kick_latency(soundfont: str, kit: int, note: int, sr: int = 44100) -> int:
    """Median delay (samples) from a kick's note-on time to its audible onset in a fluidsynth render.

    The onset of each calibration hit is the first sample, at or after its note-on
    time, whose magnitude reaches 10 % of the hit's peak.
    """
    mf, times = _calibration_midi(kit, note)
    x = np.abs(render_midi(mf, soundfont, sr)).max(axis=1)
    lags = []
    for t in times:
        n0 = int(round(t * sr))
        seg = x[n0:n0 + int(0.05 * sr)]
        if seg.size == 0 or seg.max() <= 0:
            continue
        lags.append(int(np.argmax(seg >= 0.1 * seg.max())))
    if not lags:
        raise GMRenderError(f"{soundfont}: kit {kit} note {note} is silent; cannot measure the render latency")
    return int(np.median(lags))
