"""Ground truth of a rendered arrangement, derived by reading its MIDI file back with mido.

Nothing here looks at the generator's plan; every field comes from the file:

* tempo map: every ``set_tempo`` of every track (tick order; 120 BPM if none); ticks ->
  seconds by integrating the map. Tempo segments: one per constant-tempo stretch,
  ``bpm = 60e6 / tempo``; ``tempo.bpm`` is the bpm of the longest segment.
* beats: every ``ticks_per_beat * 4 / denominator`` ticks from tick 0 up to (excluding) the
  song end (last event tick); downbeats every ``numerator`` beats (time_signature; 4/4 if none).
* bars: a note-on counts in the bar containing ``tick + ticks_per_beat / 8`` (32nd-note
  tolerance for humanised early notes). Flags: kick (35/36 on channel index 9), drums (any
  channel 9), roll (>= 8 snare/clap 38/39/40 on channel 9), bass (channel whose program is
  32-39), other; full = kick and bass.
* sections: drop = maximal run of full bars whose preceding 4 bars are all not full (not in
  the first 4 bars); build = bars right before a drop while roll and not full; intro = bars
  before the first drop/build, outro = after the last drop, breakdown = the rest. No drop:
  one intro. The last section ends with the audio (its release tail is part of the outro);
  a drop ends at the song end at the latest. drops = the drop sections; phrases = every 8th
  downbeat.
"""
from __future__ import annotations

import bisect

#: Version of the derivation; truth files of another version are derived again (no re-render).
TRUTH_VERSION = 2
import json
from pathlib import Path

import mido


def cached_analysis(truth_path, files, generator_version: str, seed: int) -> dict | None:
    """The ``analysis`` of an up-to-date corpus track (truth and ``files`` present, same generator
    version and seed), else None: the track must be built."""
    if not (Path(truth_path).is_file() and all(Path(f).is_file() for f in files)):
        return None
    try:
        a = json.loads(Path(truth_path).read_text()).get("analysis", {})
    except (OSError, ValueError):
        return None
    ok = a.get("generator_version") == generator_version and a.get("seed") == seed and "manifest" in a
    return a if ok else None


def read_midi(path) -> dict:
    mid = mido.MidiFile(str(path))
    tempos, sigs, notes, end = [], [], [], 0
    for track in mid.tracks:
        tick, programs = 0, {}
        for msg in track:
            tick += msg.time
            end = max(end, tick)
            if msg.type == "set_tempo":
                tempos.append((tick, msg.tempo))
            elif msg.type == "time_signature":
                sigs.append((tick, msg.numerator, msg.denominator))
            elif msg.type == "program_change":
                programs[msg.channel] = msg.program
            elif msg.type == "note_on" and msg.velocity > 0:
                notes.append((tick, msg.channel, msg.note, programs.get(msg.channel, 0)))
    tempos.sort()
    if not tempos or tempos[0][0] > 0:
        tempos.insert(0, (0, 500000))
    tempos = sorted(dict(tempos).items())
    sigs.sort()
    if not sigs or sigs[0][0] > 0:
        sigs.insert(0, (0, 4, 4))
    return {"tpb": mid.ticks_per_beat, "tempos": tempos, "sigs": sigs, "notes": notes, "end": end}


def tick_to_seconds(tick, tempos, tpb) -> float:
    s, prev_t, prev_tempo = 0.0, 0, tempos[0][1]
    for t, tempo in tempos[1:]:
        if t >= tick:
            break
        s += (t - prev_t) * prev_tempo / 1e6 / tpb
        prev_t, prev_tempo = t, tempo
    return s + (tick - prev_t) * prev_tempo / 1e6 / tpb


def grid(m):
    beats, downs, tick, in_bar, si, sigs = [], [], 0, 0, 0, m["sigs"]
    while tick < m["end"]:
        while si + 1 < len(sigs) and sigs[si + 1][0] <= tick:
            si += 1
            in_bar = 0
        num, den = sigs[si][1], sigs[si][2]
        if in_bar % num == 0:
            downs.append(len(beats))
        beats.append(tick)
        tick += m["tpb"] * 4 // den
        in_bar += 1
    return beats, downs


def bar_activity(m, bar_ticks):
    bars = [{"kick": False, "drums": False, "roll": 0, "bass": False, "other": False} for _ in bar_ticks]
    tol = m["tpb"] // 8
    for tick, ch, note, prog in m["notes"]:
        i = bisect.bisect_right(bar_ticks, tick + tol) - 1
        if not 0 <= i < len(bars):
            continue
        b = bars[i]
        if ch == 9:
            b["drums"] = True
            b["kick"] |= note in (35, 36)
            b["roll"] += note in (38, 39, 40)
        elif 32 <= prog <= 39:
            b["bass"] = True
        else:
            b["other"] = True
    for b in bars:
        b["roll"] = b["roll"] >= 8
        b["full"] = b["kick"] and b["bass"]
    return bars


def label_bars(bars):
    n, lab = len(bars), [""] * len(bars)
    full = [b["full"] for b in bars]
    i = 0
    while i < n:
        if full[i] and i >= 4 and not any(full[i - 4:i]):
            j = i
            while j < n and full[j]:
                lab[j] = "drop"
                j += 1
            k = i - 1
            while k >= 0 and bars[k]["roll"] and not full[k] and lab[k] == "":
                lab[k] = "build"
                k -= 1
            i = j
        else:
            i += 1
    marked = [i for i, v in enumerate(lab) if v]
    if not marked:
        return ["intro"] * n
    first, last = marked[0], [i for i, v in enumerate(lab) if v == "drop"][-1]
    return [v or ("intro" if i < first else "outro" if i > last else "breakdown") for i, v in enumerate(lab)]


def derive(mid_path, audio_duration_s):
    """Truth of a MIDI file rendered to ``audio_duration_s`` seconds of audio."""
    return derive_events(read_midi(mid_path), audio_duration_s)


def derive_events(m, audio_duration_s):
    """Truth from a song's events, whatever file they were read from.

    ``m`` is what :func:`read_midi` returns: ``tpb`` (ticks per beat), ``tempos``
    ([(tick, microseconds per beat)], sorted, first at tick 0), ``sigs`` ([(tick, numerator,
    denominator)], first at tick 0), ``notes`` ([(tick, channel, note, program)] in General
    MIDI roles: drums on channel 9 with GM percussion numbers, kick 35/36, snare/clap
    38/39/40; bass = a program 32-39; anything else = other) and ``end`` (song end tick).
    Other formats (LMMS, Hydrogen, tracker modules) map their instruments onto these roles.
    """
    tpb, tempos = m["tpb"], m["tempos"]

    def sec(t):
        return tick_to_seconds(t, tempos, tpb)
    beat_ticks, down_idx = grid(m)
    bar_ticks = [beat_ticks[i] for i in down_idx]
    song_end = min(sec(m["end"]), audio_duration_s)
    beats = [sec(t) for t in beat_ticks if sec(t) <= audio_duration_s]
    downbeats = [sec(t) for t in bar_ticks if sec(t) <= audio_duration_s]
    bars = bar_activity(m, bar_ticks)
    labels = label_bars(bars)
    sections = []
    for i, lab in enumerate(labels):
        start = sec(bar_ticks[i])
        if start >= song_end:
            break
        if sections and sections[-1]["label"] == lab:
            continue
        if sections:
            sections[-1]["end_s"] = start
        sections.append({"label": lab, "start_s": start, "end_s": audio_duration_s})
    drops = [{"start_s": s["start_s"], "end_s": min(s["end_s"], song_end)} for s in sections if s["label"] == "drop"]
    segs = []
    for i, (t, tempo) in enumerate(tempos):
        end_t = tempos[i + 1][0] if i + 1 < len(tempos) else m["end"]
        if end_t > t and sec(t) < song_end:
            segs.append({"start_s": sec(t), "end_s": min(sec(end_t), song_end), "bpm": 60e6 / tempo})
    main_bpm = max(segs, key=lambda s: s["end_s"] - s["start_s"])["bpm"] if segs else None
    beat_set = set(beat_ticks)
    kick_ticks = {round(t / tpb) * tpb for t, ch, note, _ in m["notes"] if ch == 9 and note in (35, 36)}
    kick_beats = [sec(t) for t in sorted(kick_ticks) if t in beat_set and sec(t) <= audio_duration_s]
    for i, b in enumerate(bars):
        b.update(index=i, start_s=sec(bar_ticks[i]), label=labels[i])
    return {"beats": beats, "downbeats": downbeats, "phrases": downbeats[::8], "sections": sections, "drops": drops,
            "tempo_segments": segs, "bpm": main_bpm, "bars": bars, "kick_beats": kick_beats, "song_end_s": song_end}


def write_truth(mid_path, wav_path, truth_path, bars_path, extra=None) -> dict:
    """Derive the truth of a rendered MIDI file and write its timeline and bars files."""
    return write_truth_events(read_midi(mid_path), wav_path, truth_path, bars_path,
                              source=Path(mid_path).name, how="bench/realmusic/truth_derive.py (from the MIDI file)",
                              extra=extra)


def write_truth_events(m, wav_path, truth_path, bars_path, source, how, extra=None) -> dict:
    """Write ``truth_path`` (a schema-checked timeline) and ``bars_path`` from song events ``m``.

    ``source`` names the project file the events were read from, ``how`` the derivation.
    """
    import soundfile as sf
    from mainstage.core.hashing import sha256_file
    from mainstage.core.timeline import new_timeline, save_timeline

    info = sf.info(str(wav_path))
    dur = info.frames / info.samplerate
    d = derive_events(m, dur)
    doc = new_timeline(
        file=Path(wav_path).name, duration_s=dur, sample_rate=info.samplerate, channels=info.channels,
        sha256=sha256_file(wav_path), bpm=d["bpm"], tempo_segments=d["tempo_segments"], beats=d["beats"],
        downbeats=d["downbeats"], phrases=d["phrases"], sections=d["sections"], drops=d["drops"],
        analysis={"truth": how, "source": source, **(extra or {})})
    save_timeline(doc, truth_path)
    Path(bars_path).write_text(json.dumps({"source": source, "bars": d["bars"]}, indent=1))
    return d
