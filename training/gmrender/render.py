"""Render one GM track: plan -> MIDI stems -> fluidsynth -> aligned stems -> post -> truth."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..synthhouse.render import SynthResult
from ..synthhouse.truth import build_truth
from .fluid import render_midi
from .midi import PRE_ROLL_S, STEMS, bar_starts_s, build_midi
from .plan import plan_with_soundfont
from .post import (
    apply_master,
    ceiling,
    drive,
    level_sections,
    pump_gain,
    variant_filters,
)

MODEL_NAME = "GM render ground truth"
#: RMS (per channel, over the drops) of each stem before the genre's offsets.
STEM_RMS = {"drums": 0.26, "bass": 0.13, "music": 0.11}
#: Low-pass cut-offs (Hz) of part variants, as in SynthHouse.
BASS_FILTERS = {"filtered": 350.0}
MUSIC_FILTERS = {"filtered": 700.0, "soft": 1800.0}


@dataclass
class GMResult(SynthResult):
    """A GM render: :class:`SynthResult` plus its MIDI files (``full`` and the three stems)."""

    midi: dict = field(default_factory=dict, repr=False)
    timings: dict = field(default_factory=dict)


def _aligned(raw: np.ndarray, offset: int, total: int) -> np.ndarray:
    """Samples ``[offset, offset + total)`` of a render, zero-padded at the end."""
    out = np.zeros((total, 2), dtype=np.float32)
    seg = raw[offset:offset + total]
    out[:seg.shape[0]] = seg
    return out


def _weighted(params: dict, key: str) -> float:
    gm = params["gm"]["sounds"]
    return float(sum(w * gm[g]["post"][key] for g, w in params["genres"].items()))


def _rms(x: np.ndarray, spans) -> float:
    n = sum(b - a for a, b in spans)
    if n <= 0:
        return 0.0
    return float(np.sqrt(sum(float(np.einsum("ij,ij->", x[a:b], x[a:b], dtype=np.float64)) for a, b in spans) / (2 * n)))


def render_gm_track(genres="Progressive House", seed: int = 0, bpm: float | None = None, bars: int | None = None,
                    duration_s: float | None = None, structure=None, sr: int = 44100, soundfonts=None,
                    stems: bool = False) -> GMResult:
    """Render SynthHouse's arrangement of a genre (or mixture) through fluidsynth and a GM soundfont.

    Parameters are those of :func:`..synthhouse.render.render_track`, plus
    ``soundfonts`` (None: draw from the installed known soundfonts; or a path or list
    of paths). The result's truth has the SynthHouse layout; ``analysis.gm`` holds the
    GM rendition (soundfont, presets, kit, humanising, latency, master chain).

    Raises
    ------
    GMRenderError
        fluidsynth or the soundfont is missing, or a render failed (one line).
    SynthError, GenreError
        Bad genres, tempo or structure (as SynthHouse).
    """
    clock = time.perf_counter
    t0 = clock()
    params, sf_path = plan_with_soundfont(genres, seed, bpm, bars, duration_s, structure, sr, soundfonts)
    sr = int(params["sample_rate"])
    gm = params["gm"]
    bars_ = params["bars"]
    files = build_midi(params)
    t1 = clock()
    bounds = bar_starts_s(params)
    starts = np.round(bounds * sr).astype(np.int64)
    total = int(starts[-1])
    offset = int(round(PRE_ROLL_S * sr)) + int(gm["latency_samples"])
    reverb = gm["reverb"]
    # The bass stays dry (CC91 = 0) and only the music bus has chorus: fluidsynth runs its
    # reverb and chorus units whether or not a channel sends to them, so they are switched off.
    fx = {"drums": (reverb, False), "bass": (None, False), "music": (reverb, gm["chorus"])}
    buses = {name: _aligned(render_midi(files[name], sf_path, sr, *fx[name]), offset, total) for name in STEMS}
    t2 = clock()

    buses["bass"] = drive(variant_filters(buses["bass"], sr, starts, bars_, ("bass",), BASS_FILTERS),
                          _weighted(params, "bass_drive"))
    buses["music"] = drive(variant_filters(buses["music"], sr, starts, bars_, ("lead", "chords"), MUSIC_FILTERS),
                           _weighted(params, "music_drive"))
    drop_spans = [(int(starts[i]), int(starts[i + 1])) for i, b in enumerate(bars_) if b["section"] == "drop"]
    spans = drop_spans or [(0, total)]
    for name, x in buses.items():
        level = _rms(x, spans)
        if level > 1e-6:
            x *= np.float32(STEM_RMS[name] * 10 ** (_weighted(params, f"{name}_db") / 20.0) / level)
    glob = params["global"]
    pump = pump_gain(total, sr, starts, bars_, float(params["bpm"]), float(glob["pump"]), float(glob["pump_release"]))
    mix = buses["drums"] + (buses["bass"] + buses["music"]) * pump[:, None]
    level_sections(mix, sr, starts, bars_)
    fade = min(total, int(round(120.0 / float(bars_[-1].get("bpm", params["bpm"])) * sr)))
    mix[total - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    mix = apply_master(mix, sr, gm["master"])
    level_sections(mix, sr, starts, bars_, swell=False, attenuate_only=True)
    mix *= np.float32(ceiling(gm["master"]) / (float(np.max(np.abs(mix))) or 1.0))
    mix = np.ascontiguousarray(mix, dtype=np.float32)
    t3 = clock()

    bar_bpm = [float(b.get("bpm", params["bpm"])) for b in bars_]
    sections = [(b["section"], b["section_index"]) for b in bars_]
    probs = np.tile(np.asarray(params["weights"]), (len(bars_), 1))
    top = max(params["genres"], key=params["genres"].get)
    truth = build_truth(mix, sr, params, bounds, bar_bpm, sections, probs, params["bpm"],
                        file=f"gm_{top.lower().replace(' ', '_')}_{params['seed']}.wav")
    truth["model"]["name"] = MODEL_NAME
    timings = {"plan_midi_s": t1 - t0, "fluidsynth_s": t2 - t1, "post_s": t3 - t2, "total_s": clock() - t0}
    return GMResult(audio=mix, sr=sr, truth=truth, stems=buses if stems else None, midi=files,
                    timings={k: round(v, 3) for k, v in timings.items()})
