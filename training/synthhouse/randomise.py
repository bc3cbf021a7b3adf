"""Domain randomisation of a SynthHouse plan (new keys only; the genre's sound design is untouched).

:func:`randomise_plan` runs at the end of :func:`.plan.plan_track` and adds, each from
its own seeded stream (so a draw never shifts another one, and a mixture shares the
per-genre draws of its pure-genre siblings):

* ``samples``: real drum one-shots (:mod:`.samples`) replacing the synthetic kick, crash,
  snare roll and, per genre, clap/snare, hats, percussion and tops, in ~60 % of tracks;
* ``sound[g]["tops"]``: extra percussion layers (shakers, tambourine, congas, rims,
  ghost snares and hats, ride) with a per-track busyness;
* ``sound[g]["vox"]``: vocal content (:mod:`.vocals`);
* ``fx``: the transition effects design (:mod:`.sfx`);
* ``stereo``: widening of parts and the ping-pong delay (:mod:`.stereo`);
* ``mix``: per-role level offsets and the reverb send / decay scale;
* ``master``: the mastering chain (:mod:`.mastering`);
* the roles ``tops``, ``vox`` and ``sfx`` in the bars where they play (``bars[i]["roles"]``,
  with the source genre of ``tops`` / ``vox`` in ``bars[i]["sources"]``);
* ``notes``: fallbacks taken (a sample package or espeak-ng missing).

Trait meanings: recorded acoustic drum samples make a track more organic than its
genre's draw; ``samples["organicity_shift"]`` (0-1, +0.25 per acoustic drum role) and
``samples["acoustic_roles"]`` record it.
"""
from __future__ import annotations

import numpy as np

from ...core.genres import GENRES
from . import mastering, patterns, samples, sfx, stereo, vocals
from .arrangement import assign_sources
from .seeds import derive_rng

#: Probability that a track uses recorded drums at all, and then that each drum role does.
SAMPLE_TRACK_PROB = 0.6
SAMPLE_ROLE_PROB = 0.85
#: Probability that a genre's tracks have tops, and the weights of the layer kinds.
TOPS_PROB = {"Progressive House": 0.7, "Future House": 0.7, "Bass House": 0.65, "Tech House": 0.95,
             "Deep House": 0.9, "Bigroom": 0.4, "Future Rave": 0.55, "Slap House": 0.7}
TOPS_KINDS = {
    "Progressive House": {"shaker16": 3, "tamb": 2, "ride": 2, "hat16": 2, "conga": 1, "ghost_snare": 1},
    "Future House": {"shaker16": 2, "rim": 2, "hat16": 2, "ghost_snare": 2, "tamb": 1},
    "Bass House": {"shaker16": 2, "rim": 2, "hat16": 2, "ghost_snare": 2, "conga": 1},
    "Tech House": {"shaker16": 3, "conga": 3, "rim": 3, "hat16": 2, "tamb": 2, "ghost_snare": 2, "ride": 1},
    "Deep House": {"shaker16": 3, "conga": 3, "tamb": 2, "rim": 2, "ride": 1, "ghost_snare": 1},
    "Bigroom": {"tamb": 2, "ghost_snare": 1, "ride": 1},
    "Future Rave": {"shaker16": 2, "hat16": 2, "ghost_snare": 2, "tamb": 1},
    "Slap House": {"shaker16": 3, "tamb": 2, "hat16": 2, "ghost_snare": 1, "rim": 1},
}
#: Level offset (dB) of each tops kind: syncopated hand percussion stands out, 16th-note
#: beds (shakers, ghost hats) sit underneath.
TOPS_GAIN_DB = {"shaker16": -3.0, "hat16": -3.0, "tamb": 0.0, "conga": 3.0, "rim": 3.0, "ghost_snare": 0.0, "ride": -2.0}
#: Sample pool of each tops kind (None: the genre's own clap / hat is played softly).
TOPS_POOL = {"shaker16": "shaker", "tamb": "shaker", "conga": "conga", "rim": "rim", "ride": "ride",
             "ghost_snare": None, "hat16": None}
#: Range (+- dB) of the per-track level offset of each role (the kick's: -0.5 to +1.5).
LEVEL_JITTER_DB = {"kick": 1.5, "clap": 2.5, "hats": 3.0, "perc": 3.0, "tops": 3.0, "bass": 1.5, "lead": 2.0,
                   "chords": 1.5, "atmos": 2.0, "vox": 2.0, "fx": 3.0, "sfx": 3.0}


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def _pick(rng: np.random.Generator, weights: dict) -> str:
    names = sorted(weights)
    p = np.array([weights[k] for k in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


# ---------------------------------------------------------------------------
# Per-genre draws
# ---------------------------------------------------------------------------

def _tops_synth(kind: str, rng: np.random.Generator) -> dict:
    """Parameters of the synthetic instrument of a tops layer (used without a sample)."""
    if kind == "shaker16":
        return {"lo": _r(rng.uniform(3500, 7000), 0), "hi": _r(rng.uniform(9000, 14000), 0), "attack": _r(rng.uniform(0.002, 0.01), 4)}
    if kind == "tamb":
        return {"base_hz": _r(rng.uniform(500, 900), 1), "metal": _r(rng.uniform(0.5, 0.85)), "decay": _r(rng.uniform(0.05, 0.12)),
                "open_decay": _r(rng.uniform(0.1, 0.22)), "lo": _r(rng.uniform(4500, 8000), 0)}
    if kind == "conga":
        return {"kind": "conga", "tone_hz": _r(rng.uniform(170, 450), 1), "decay": _r(rng.uniform(0.05, 0.14)), "pan": 0.0}
    if kind == "rim":
        return {"kind": "rim", "tone_hz": _r(rng.uniform(1100, 2600), 1), "decay": 0.05, "pan": 0.0}
    if kind == "ride":
        return {"base_hz": _r(rng.uniform(420, 680), 1)}
    return {}


def draw_tops(genre: str, traits: dict, rng: np.random.Generator) -> dict | None:
    """Extra percussion of one genre: 1-3 layers (2-3 in Tech House), or None."""
    present = rng.random() < TOPS_PROB[genre]
    busy = float(np.clip(rng.uniform(0.0, 1.0) + 0.1 * (traits["fragmentation"] - 3.0), 0.0, 1.0))
    n = int(rng.integers(2, 4)) if genre == "Tech House" else int(rng.choice([1, 1, 2, 2, 3]))
    kinds: list[str] = []
    layers = []
    for _ in range(n):
        weights = {k: w for k, w in TOPS_KINDS[genre].items() if k not in kinds}
        if not weights:
            break
        kind = _pick(rng, weights)
        kinds.append(kind)
        layers.append({"kind": kind, "pattern": patterns.tops_pattern(rng, kind, traits["fragmentation"], busy),
                       "gain_db": _r(rng.uniform(-9.0, -1.0) + 4.0 * busy + TOPS_GAIN_DB[kind], 2),
                       "pan": _r(rng.uniform(-0.6, 0.6)),
                       "synth": _tops_synth(kind, rng)})
    return {"busy": _r(busy), "layers": layers} if present and layers else None


def _vox(genre: str, sound: dict, rng: np.random.Generator) -> dict | None:
    from .profiles import _lead_voice

    voice = _lead_voice(rng, "vocal", sound["traits"])
    melodic = patterns.melodic_line(rng, sound["traits"]["fragmentation"], 2, "vocal")
    return vocals.draw_vox(genre, sound["traits"], rng, voice, melodic)


# ---------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------

def _p_acoustic(organicity: float, kick: bool = False) -> float:
    if kick:
        return float(np.clip(0.03 + 0.05 * (organicity - 1.0), 0.0, 0.2))
    return float(np.clip(0.1 + 0.15 * (organicity - 1.0), 0.05, 0.6))


def _choose(rng, pool: str, acoustic_p: float, allowed, notes: list, label: str) -> dict | None:
    on = rng.random() < SAMPLE_ROLE_PROB
    acoustic = rng.random() < acoustic_p
    choice, note = samples.choose(rng, pool, acoustic, allowed)  # always drawn: fixed stream use
    if not on:
        return None
    if note:
        notes.append(f"{label}: {note}")
    return choice


def _kick_mode(choice: dict, kick: dict, weights: dict, rng: np.random.Generator) -> dict:
    """Replace the synthetic kick (retuned and shaped to the plan's kick) or layer on top of it.

    Bigroom's pitched kick is its bass: there the sample only adds its attack (layer). A
    sample is used whole only when it can be retuned within +-5 semitones to the plan's
    body pitch and its body is long enough for the plan's decay.
    """
    target_len = kick["hold"] + 0.658 * kick["decay"]  # where the synthetic body is 20 dB down
    ratio = kick["pitch_hz"] / max(choice["pitch_hz"], 1.0)
    u, xover, top_tune = rng.random(), rng.uniform(110.0, 220.0), rng.uniform(0.92, 1.1)
    ok = (0.75 <= ratio <= 1.33 and choice["low_length_s"] / ratio >= 0.8 * target_len
          and weights.get("Bigroom", 0.0) == 0.0)
    if ok and u < 0.7:
        return dict(choice, mode="replace", tune=_r(ratio, 4), length_s=_r(target_len, 4))
    return dict(choice, mode="layer", tune=_r(top_tune, 4), crossover_hz=_r(xover, 1))


def draw_samples(params: dict, seed: int, mix_tag: str, allowed) -> dict:
    """Which drum roles use recorded one-shots, and which ones (see :mod:`.samples`)."""

    notes: list[str] = []
    rng = derive_rng(seed, "samples", mix_tag)
    used = bool(rng.random() < SAMPLE_TRACK_PROB)
    genres = params["genres"]
    org = float(sum(w * params["sound"][g]["traits"]["organicity"] for g, w in genres.items()))
    out = {"version": samples.BANK_VERSION, "used": used, "kick": None, "crash": None, "snare_roll": None, "genres": {}}
    acoustic_roles: list[str] = []
    if used:
        k = _choose(rng, "kick", _p_acoustic(org, kick=True), allowed, notes, "kick")
        out["kick"] = _kick_mode(k, params["global"]["kick"], genres, rng) if k else None
        out["crash"] = _choose(rng, "crash", 0.0, allowed, notes, "crash")
        out["snare_roll"] = _choose(rng, "snare", _p_acoustic(org), allowed, notes, "snare roll")
        if out["kick"] and out["kick"]["acoustic"]:
            acoustic_roles.append("kick")
        for g in genres:
            snd = params["sound"][g]
            grng = derive_rng(seed, "samples", g)
            pa = _p_acoustic(snd["traits"]["organicity"])
            gs = {"clap": _choose(grng, "snare" if snd["clap"]["type"] == "snare" else "clap", pa, allowed, notes,
                                  f"{g} clap"),
                  "hat": _choose(grng, "hat", pa, allowed, notes, f"{g} hat"),
                  "open_hat": _choose(grng, "open_hat", pa, allowed, notes, f"{g} open hat")}
            perc = snd["perc"]
            pool = None
            if perc:
                pool = {"shaker": "shaker", "ride": "ride", "rim": "rim"}.get(perc["style"]) or (
                    "conga" if perc.get("kind") == "conga" else "rim")
            gs["perc"] = _choose(grng, pool, pa, allowed, notes, f"{g} perc") if pool else None
            tops = snd.get("tops")
            gs["tops"] = [(_choose(grng, TOPS_POOL[layer["kind"]], pa, allowed, notes, f"{g} tops {layer['kind']}")
                           if TOPS_POOL[layer["kind"]] else None) for layer in tops["layers"]] if tops else []
            out["genres"][g] = gs
            for role in ("clap", "hat", "perc"):
                if gs[role] and gs[role]["acoustic"] and role not in acoustic_roles:
                    acoustic_roles.append(role)
            if any(c and c["acoustic"] for c in gs["tops"]) and "tops" not in acoustic_roles:
                acoustic_roles.append("tops")
    out["acoustic_roles"] = acoustic_roles
    out["organicity_shift"] = _r(min(1.0, 0.25 * len(acoustic_roles)), 2)
    out["notes"] = notes
    return out


# ---------------------------------------------------------------------------
# Bars
# ---------------------------------------------------------------------------

def add_layers(bars: list[dict], sounds: dict, weights: np.ndarray, rng: np.random.Generator) -> None:
    """Add the ``tops`` and ``vox`` roles to the bars where they play (in place).

    Tops play in drops, the second half of intros, the first half of outros and, in some
    tracks, the first half of builds and (sparse) in breakdowns. Vox parts play in drops
    and, in some tracks, breakdowns (filtered) and intros; phrase styles only every
    ``every`` bars. In mixtures both come from one genre per 4-bar block, like the other
    blended parts.
    """
    blocks, seen = [], set()
    for b in bars:
        if b["block"] not in seen:
            seen.add(b["block"])
            blocks.append((b["block"], b["section"] == "drop"))
    src = {role: assign_sources(blocks, weights, rng) for role in ("tops", "vox")}
    flags = rng.random(5)
    tops_intro, tops_build, tops_break = flags[0] < 0.8, flags[1] < 0.5, flags[2] < 0.2
    vox_break, vox_intro = flags[3] < 0.6, flags[4] < 0.3
    for b in bars:
        lab, pos, n = b["section"], b["pos"], b["n"]
        g = src["tops"][b["block"]]
        if sounds[g].get("tops"):
            v = None
            if lab == "drop" or (lab == "intro" and tops_intro and pos >= n // 2) or (lab == "outro" and pos < n // 2) \
                    or (lab == "build" and tops_build and pos < n // 2):
                v = "main"
            elif lab == "breakdown" and tops_break:
                v = "sparse"
            if v:
                b["roles"]["tops"] = v
                b["sources"]["tops"] = g
        g = src["vox"][b["block"]]
        vox = sounds[g].get("vox")
        if vox:
            phrase = vox["style"] in ("phrase", "spoken", "formant")
            due = pos % vox["every"] == 0
            v = None
            if lab == "drop" and due:
                v = "main"
            elif lab == "breakdown" and vox_break and phrase and due:
                v = "soft"
            elif lab == "intro" and vox_intro and pos >= n // 2 and due:
                v = "main"
            if v:
                b["roles"]["vox"] = v
                b["sources"]["vox"] = g


def require_system_packages(sample_packages=None) -> None:
    """Raise a one-line :class:`SynthError` naming the first missing Debian package of the
    randomisation (the drum-sample packages, then ``espeak-ng``). For reproducible datasets:
    without them a plan falls back to synthetic drums / formant vocals and differs."""
    from .arrangement import SynthError

    samples.require_packages(samples.PACKAGE_NAMES if sample_packages is None else tuple(sample_packages))
    if not vocals.espeak_available():
        raise SynthError(f"{vocals.espeak_program() or 'espeak-ng'} not found (Debian package 'espeak-ng'); "
                         "install it (apt-get install espeak-ng, or .ci/install-system-deps)")


def randomise_plan(params: dict, seed: int, mix_tag: str, sample_packages=None) -> None:
    """Add every randomised key to ``params`` (in place; see the module docstring)."""

    allowed = samples.PACKAGE_NAMES if sample_packages is None else tuple(sample_packages)
    notes: list[str] = []
    espeak = vocals.espeak_available()
    for g, snd in params["sound"].items():
        snd["tops"] = draw_tops(g, snd["traits"], derive_rng(seed, "tops", g))
        vox = _vox(g, snd, derive_rng(seed, "vox", g))
        if vox and vox["engine"] == "espeak" and not espeak:
            vox["engine"] = "formant"
            notes.append(f"{g} vox: espeak-ng not installed, formant synthesis")
        snd["vox"] = vox
    params["samples"] = draw_samples(params, seed, mix_tag, allowed)
    notes += params["samples"]["notes"]
    fx = sfx.random_fx(derive_rng(seed, "fx-variety"))
    params["fx"] = fx
    params["stereo"] = stereo.random_stereo(derive_rng(seed, "stereo", mix_tag))
    mrng = derive_rng(seed, "mix", mix_tag)
    # The kick stays the loudest transient (it is what the beat is heard from): its offset
    # only leans up. Reverb varies more towards drier: the wet genres are already at the top.
    params["mix"] = {"levels_db": {k: _r(mrng.uniform(-a if k != "kick" else -0.5, a), 2) for k, a in LEVEL_JITTER_DB.items()},
                     "reverb_send_db": _r(mrng.uniform(-3.0, 1.5), 2), "reverb_rt60_scale": _r(mrng.uniform(0.8, 1.15), 3),
                     "perc_hp_hz": _r(mrng.uniform(150.0, 350.0), 1), "build_hp_hz": _r(mrng.uniform(200.0, 500.0), 1)}
    dist = float(sum(w * params["sound"][g]["traits"]["distortion"] for g, w in params["genres"].items()))
    params["master"] = mastering.random_chain(derive_rng(seed, "mastering", mix_tag), distortion=dist)
    w = np.asarray(params["weights"], dtype=np.float64)
    add_layers(params["bars"], params["sound"], w, derive_rng(seed, "layers"))
    sfx.place_sfx(params["bars"], fx, derive_rng(seed, "sfx"))
    params["notes"] = notes


__all__ = ["randomise_plan", "require_system_packages", "draw_samples", "draw_tops", "add_layers", "GENRES"]
