"""Generation parameters of one GM track: SynthHouse's arrangement plus the GM rendition.

:func:`plan_gm_track` takes SynthHouse's plan (:func:`..synthhouse.plan.plan_track`:
tempo, key, scale, progression, per-bar parts and sections, patterns) and adds a
``gm`` block: the soundfont, per genre the drum kit, drum notes and GM presets per
part (:mod:`.programs`), humanising, mix sends, fluidsynth's reverb, the measured
render latency and the master chain. The whole dict becomes the truth's ``analysis``
and is hashed into ``model.sha256``, so a dataset can tell whether a track on disk
is still what the parameters would render.
"""
from __future__ import annotations

import os

import numpy as np

from ..synthhouse.plan import derive_rng, plan_track
from .post import random_master
from .programs import draw_gm_sound
from .soundfonts import fluidsynth_version, soundfont_pool, soundfont_presets

#: Bumped whenever the same parameters would render different audio.
GM_VERSION = "1"
GENERATOR = "Mainstage GM render (SynthHouse arrangement, fluidsynth)"


#: Plan keys that describe SynthHouse's own rendering (its drum samples, stereo, mix and
#: master draws, transition-effect design), not the arrangement: a GM track drops them.
SYNTH_ONLY_KEYS = ("samples", "stereo", "mix", "master", "fx", "notes")
#: Parts without a GM rendition (sung or spoken vocals, sound effects): left out of the bars.
NOT_RENDERED_ROLES = ("vox", "sfx")


def _drop_synth_only(params: dict) -> None:
    for k in SYNTH_ONLY_KEYS:
        params.pop(k, None)
    for snd in params["sound"].values():
        snd.pop("vox", None)
    for bar in params["bars"]:
        for r in NOT_RENDERED_ROLES:
            bar["roles"].pop(r, None)
            bar["sources"].pop(r, None)


def _pick_soundfont(seed: int, soundfonts) -> tuple[str, str]:
    pool = soundfont_pool(soundfonts)
    w = np.array([p[2] for p in pool], dtype=np.float64)
    i = int(derive_rng(seed, "gm-soundfont").choice(len(pool), p=w / w.sum()))
    return pool[i][0], pool[i][1]


def plan_gm_track(genres="Progressive House", seed: int = 0, bpm: float | None = None, bars: int | None = None,
                  duration_s: float | None = None, structure=None, sr: int = 44100, soundfonts=None) -> dict:
    """All parameters of one GM track (no audio except a cached latency calibration).

    Parameters are those of :func:`..synthhouse.plan.plan_track`, plus ``soundfonts``:
    None (draw from the installed known soundfonts), a path, or a list of paths.

    Raises
    ------
    GMRenderError
        fluidsynth or a soundfont is missing (one line naming it).
    """
    return plan_with_soundfont(genres, seed, bpm, bars, duration_s, structure, sr, soundfonts)[0]


def plan_with_soundfont(genres, seed, bpm=None, bars=None, duration_s=None, structure=None, sr: int = 44100,
                        soundfonts=None) -> tuple[dict, str]:
    """:func:`plan_gm_track` and the path of the soundfont it drew."""
    from .fluid import kick_latency

    params = plan_track(genres, seed, bpm, bars, duration_s, structure, sr)
    _drop_synth_only(params)
    name, path = _pick_soundfont(params["seed"], soundfonts)
    presets = soundfont_presets(path)
    sounds = {g: draw_gm_sound(g, params["sound"][g], derive_rng(params["seed"], "gm-sound", g), presets)
              for g in params["genres"]}
    dom = sounds[params["dominant"]]
    rng = derive_rng(params["seed"], "gm-mix")
    org = float(np.mean([params["sound"][g]["traits"]["organicity"] for g in params["genres"]]))
    deep = params["genres"].get("Deep House", 0.0)
    reverb = {"room_size": float(round(min(0.95, 0.25 + 0.12 * (org - 1) + 0.25 * deep + rng.uniform(0, 0.15)), 3)),
              "damp": float(round(rng.uniform(0.2, 0.6), 3)),
              "width": float(round(rng.uniform(0.6, 1.0), 3)),
              "level": float(round(rng.uniform(0.5, 0.9), 3))}
    distortion = float(sum(w * params["sound"][g]["traits"]["distortion"] for g, w in params["genres"].items()))
    master = random_master(derive_rng(params["seed"], "gm-master"), distortion)
    params["generator"] = GENERATOR
    params["gm"] = {
        "version": GM_VERSION,
        "engine": "fluidsynth",
        "fluidsynth": fluidsynth_version(),
        "soundfont": name,
        "soundfont_file": os.path.basename(path),
        "soundfont_bytes": int(os.path.getsize(path)),
        "reverb": reverb,
        "chorus": bool(rng.random() < 0.6),
        "chorus_send": float(round(dom["chorus"], 3)),
        "latency_samples": kick_latency(path, dom["kit"], dom["kick_notes"][0], int(params["sample_rate"])),
        "sounds": sounds,
        "master": master,
    }
    return params, path
