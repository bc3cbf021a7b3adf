"""Generation parameters of one track: everything the renderer needs, as plain JSON data.

:func:`plan_track` is cheap (no audio). Its result is stored verbatim as the truth
file's ``analysis`` and hashed into ``model.sha256``, and :mod:`.engine` renders
audio from it alone, so equal plans give identical audio.
"""
from __future__ import annotations

import hashlib
import json
import math
from typing import Mapping, Sequence

import numpy as np

from ...core.genres import GENRES, N_GENRES, GenreError, canonical_genre, parse_genre_mix
from .arrangement import (DEFAULT_STRUCTURE, SynthError, format_structure, parse_structure, plan_bars,
                          scale_structure)
from .profiles import TRAITS, sample_genre_sound
from .randomise import randomise_plan, require_system_packages
from .seeds import check_seed, derive_rng  # noqa: F401  (re-exported: the plan's public helpers)
from .theory import NOTE_NAMES, PROGRESSIONS, key_name

#: Bumped whenever the same parameters would render different audio.
SYNTH_VERSION = "3"  # 2: domain randomisation (samples, tops, vox, fx, stereo, mix, master); 3: a build's margin below its drop also holds in the mono sum
SAMPLE_RATE = 44100
MIN_BPM, MAX_BPM = 60.0, 200.0
#: Longest track (bars); the engine holds a few full-length float32 buses in memory.
MAX_BARS = 640


def genre_weights(genres) -> np.ndarray:
    """Normalise a genre specification to an 8-vector in GENRES order.

    Accepts a genre name, a mix string (``"Progressive House:0.7,Future House:0.3"``),
    a ``{genre: weight}`` mapping or an array-like of 8 weights.

    Raises
    ------
    GenreError
        For unknown genres, negative or non-finite weights, or weights summing to 0.
    """
    if isinstance(genres, str):
        return parse_genre_mix(genres)
    if isinstance(genres, Mapping):
        w = np.zeros(N_GENRES)
        for name, value in genres.items():
            w[GENRES.index(canonical_genre(name))] += float(value)
    else:
        w = np.asarray(genres, dtype=np.float64).reshape(-1)
        if w.shape != (N_GENRES,):
            raise GenreError(f"genre weights must have {N_GENRES} entries (GENRES order), got {w.size}")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise GenreError("genre weights must be finite and >= 0")
    if w.sum() <= 0:
        raise GenreError("genre weights sum to zero")
    return w / w.sum()


def _blend_numeric(dicts: Sequence[dict], weights: Sequence[float]) -> dict:
    keys = dicts[0].keys()
    return {k: float(round(sum(w * d[k] for d, w in zip(dicts, weights)), 4)) for k in keys}


def canonical_json(obj) -> str:
    """Deterministic JSON text (sorted keys, no spaces) used for hashing parameters."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False)


def params_sha256(params: dict) -> str:
    """SHA-256 of the canonical JSON of generation parameters."""
    return hashlib.sha256(canonical_json(params).encode("utf-8")).hexdigest()


def plan_track(genres="Progressive House", seed: int = 0, bpm: float | None = None, bars: int | None = None,
               duration_s: float | None = None, structure=None, sr: int = SAMPLE_RATE,
               bar_bpms: Sequence[float] | None = None, sample_packages: Sequence[str] | None = None,
               require_samples: bool = False) -> dict:
    """Draw all generation parameters of one track (no audio).

    Parameters
    ----------
    genres : str, mapping or array-like
        Genre or soft mixture (see :func:`genre_weights`).
    seed : int
        Random seed; the same arguments always give the same plan.
    bpm : float, optional
        Tempo; default drawn from the (weight-blended) genre tempo ranges.
    bars, duration_s : optional
        Stretch the structure to this many bars / about this many seconds.
    structure : str or list, optional
        ``"intro:16,build:8,..."``; default :data:`DEFAULT_STRUCTURE`.
    bar_bpms : sequence, optional
        Per-bar tempo override (DJ-set crossfades); length must equal the bar count.
    sample_packages : sequence of str, optional
        The drum-sample packages the track may use (default: all of
        :data:`.samples.PACKAGE_NAMES`); a role drawn from another package falls back to
        its synthetic drum, noted in ``notes``. ``()`` gives an all-synthetic kit.
    require_samples : bool
        Raise :class:`SynthError` (one line, naming the package) when one of the
        allowed sample packages or ``espeak-ng`` is not installed, instead of falling back
        (:func:`.randomise.require_system_packages`; for dataset builds).

    Returns
    -------
    dict
        JSON-ready parameters (see docs/synthhouse.md).
    """
    seed = check_seed(seed)
    w = genre_weights(genres)
    if require_samples:
        require_system_packages(sample_packages)
    if int(sr) != sr or sr < 8000:
        raise SynthError(f"sample rate must be an integer >= 8000, got {sr!r}")
    sr = int(sr)
    present = [g for g, x in zip(GENRES, w) if x > 0]
    sounds = {g: sample_genre_sound(g, derive_rng(seed, "sound", g)) for g in present}
    wp = np.array([w[GENRES.index(g)] for g in present])
    dominant = present[int(np.argmax(wp))]
    mix_tag = ",".join(f"{x:.6g}" for x in w)
    rng = derive_rng(seed, "track", mix_tag)

    if bpm is None:
        lo = float(sum(x * TRAITS[g].bpm[0] for g, x in zip(present, wp)))
        hi = float(sum(x * TRAITS[g].bpm[1] for g, x in zip(present, wp)))
        lo_i, hi_i = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
        bpm_rng = derive_rng(seed, "bpm", mix_tag)  # own stream: an explicit tempo changes nothing else
        bpm = float(bpm_rng.integers(lo_i, hi_i + 1)) if hi_i >= lo_i else float(round((lo + hi) / 2))
    else:
        bpm = float(bpm)
        if not (math.isfinite(bpm) and MIN_BPM <= bpm <= MAX_BPM):
            raise SynthError(f"bpm must be between {MIN_BPM:g} and {MAX_BPM:g}, got {bpm:g}")

    sections = parse_structure(structure if structure is not None else DEFAULT_STRUCTURE)
    if bars is not None and duration_s is not None:
        raise SynthError("give either bars or duration, not both")
    if duration_s is not None:
        duration_s = float(duration_s)
        if not (math.isfinite(duration_s) and duration_s > 0):
            raise SynthError(f"duration must be a positive number of seconds, got {duration_s:g}")
        bars = max(len(sections), int(round(duration_s / (240.0 / bpm))))
    if bars is not None:
        if isinstance(bars, bool) or int(bars) != bars or bars <= 0:
            raise SynthError(f"bars must be a positive whole number, got {bars!r}")
        sections = scale_structure(sections, int(bars))
    n_bars = sum(b for _, b in sections)
    if n_bars > MAX_BARS:
        raise SynthError(f"{n_bars} bars is too long (at most {MAX_BARS}, about 20 minutes)")

    key_pc = int(rng.integers(12))
    scale = sounds[dominant]["scale"]
    progs = PROGRESSIONS[scale]
    progression = [int(x) for x in progs[int(rng.integers(len(progs)))]]

    bar_list = plan_bars(sections, sounds, w, derive_rng(seed, "arrangement"))
    if bar_bpms is not None:
        bar_bpms = [float(b) for b in bar_bpms]
        if len(bar_bpms) != n_bars:
            raise SynthError(f"bar_bpms has {len(bar_bpms)} entries for {n_bars} bars")
        for b, t in zip(bar_list, bar_bpms):
            b["bpm"] = t

    fx_rng = derive_rng(seed, "fx")
    glob = {
        "kick": _blend_numeric([sounds[g]["kick"] for g in present], wp),
        "swing": float(round(sum(x * sounds[g]["traits"]["swing"] for g, x in zip(present, wp)), 4)),
        "pump": float(round(sum(x * sounds[g]["pump"] for g, x in zip(present, wp)), 4)),
        "pump_release": float(round(sum(x * (0.35 + 0.1 * sounds[g]["traits"]["groove"]) for g, x in zip(present, wp)), 4)),
        "master_drive": float(round(sum(x * sounds[g]["master_drive"] for g, x in zip(present, wp)), 4)),
        "reverb": {
            "rt60": float(round(sum(x * sounds[g]["reverb"]["rt60"] for g, x in zip(present, wp)), 4)),
            "damping": float(round(fx_rng.uniform(0.3, 0.7), 3)),
            "predelay": float(round(fx_rng.uniform(0.01, 0.04), 4)),
            "low_cut": float(round(sum(x * (400.0 if g == "Deep House" else 180.0) for g, x in zip(present, wp)), 1)),
        },
        "riser": {"f_lo": float(round(fx_rng.uniform(250, 600), 1)), "f_hi": float(round(fx_rng.uniform(6000, 12000), 1)),
                  "curve": float(round(fx_rng.uniform(1.5, 3.0), 3)),
                  "pitch": float(round(fx_rng.uniform(0.2, 0.5), 3)) if fx_rng.random() < 0.5 else 0.0,
                  "midi": int(fx_rng.integers(45, 57))},
        "atmos": {"noise_hz": float(round(fx_rng.uniform(800, 3000), 1)), "noise": float(round(fx_rng.uniform(0.2, 0.6), 3))},
        "snare_roll": dict(sounds[dominant]["clap"], type="snare"),
    }
    params = {
        "generator": "SynthHouse",
        "synth_version": SYNTH_VERSION,
        "seed": seed,
        "sample_rate": sr,
        "genres": {g: float(round(float(x), 6)) for g, x in zip(present, wp)},
        "weights": [float(x) for x in w],
        "dominant": dominant,
        "bpm": bpm,
        "structure": format_structure(sections),
        "n_bars": n_bars,
        "key": key_name(key_pc, scale),
        "key_pc": key_pc,
        "key_root": NOTE_NAMES[key_pc],
        "scale": scale,
        "progression": progression,
        "global": glob,
        "sound": sounds,
        "bars": bar_list,
    }
    randomise_plan(params, seed, mix_tag, sample_packages)
    return params


def bar_times(params: dict) -> np.ndarray:
    """Start time (s) of every bar plus the end of the last one, shape (n_bars + 1,)."""
    bpms = np.array([b.get("bpm", params["bpm"]) for b in params["bars"]], dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(240.0 / bpms)])
