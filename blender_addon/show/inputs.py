"""Music values for any scene: the timeline as sparse keyed channels of plain numbers.

Pure numpy (no ``bpy``). :func:`plan_music_values` turns a validated timeline into one
:class:`.channel.Channel` per scene value of the shared contract (``msvfx_beat_pulse``,
``msvfx_beat_phase``, ``msvfx_bar_phase``, ``msvfx_phrase_phase``, ``msvfx_energy``,
``msvfx_section``, ``msvfx_drop``, ``msvfx_build``, ``msvfx_genre_<slug>``,
``msvfx_trait_<name>``, ``msvfx_confidence``); :mod:`..scene.inputs` writes them as animated
scene custom properties. Keys sit on whole frames (events on their nearest frame, like the
show's keys), so every value is exact on every frame:

* **pulses** (``beat_pulse``): 1 on the beat's frame, an exponential ease-out to 0 on the frame
  before the next beat (half the level one frame after the beat at 24 fps, about 0.03 mid-beat).
* **ramps** (the phases, ``build``): 0 on the event's frame, a linear key up to the frame before
  the next event, which holds (CONSTANT) until the next event restarts at 0, so the value
  never runs backwards between frames (F-curves merge two keys on one frame, so the wrap
  cannot be a vertical step).
* **steps** (``section``, ``drop``, traits): CONSTANT keys where the value changes.
* **blends** (``energy``, genres, ``confidence``): linear keys at bar starts.
"""
from __future__ import annotations

import re

import numpy as np

from ..core.genres import GENRES, SLUGS
from .channel import INTERP, Channel, make_channel
from .grid import Grid

PREFIX = "msvfx_"
#: Section labels, in the order of ``msvfx_section``'s index ("other": no section).
SECTIONS = ("intro", "build", "drop", "breakdown", "outro", "other")
#: ``msvfx_energy`` by section label when the timeline has no bar traits (builds ramp between the pair).
SECTION_ENERGY = {"intro": 0.35, "build": (0.4, 0.85), "drop": 1.0, "breakdown": 0.3, "outro": 0.35, "other": 0.5}

#: Values every bake makes: name -> (description, UI maximum).
BASE_VALUES = {
    "beat_pulse": ("1 on each beat, decaying to 0 before the next (Mainstage)", 1.0),
    "beat_phase": ("Position within the beat, 0 on the beat rising to 1 (Mainstage)", 1.0),
    "bar_phase": ("Position within the bar, 0 on the downbeat rising to 1 (Mainstage)", 1.0),
    "phrase_phase": ("Position within the phrase, 0 at its first downbeat rising to 1 (Mainstage)", 1.0),
    "energy": ("Loudness of the bar, 0 quiet to 1 as loud as the drops (Mainstage)", 1.0),
    "section": ("Section index: 0 intro, 1 build, 2 drop, 3 breakdown, 4 outro, 5 other (Mainstage)", 5.0),
    "drop": ("1 inside a drop, 0 elsewhere (Mainstage)", 1.0),
    "build": ("Progress through a build, 0 at its start rising to 1 at the drop, 0 elsewhere (Mainstage)", 1.0),
    "confidence": ("How far to trust the genre values, 0 to 1 (Mainstage)", 1.0),
}


def genre_value(genre: str) -> str:
    """Scene property name of a genre's weight (``msvfx_genre_bass_house``)."""
    return f"{PREFIX}genre_{SLUGS[genre]}"


def trait_value(trait: str) -> str:
    """Scene property name of a bar trait (``msvfx_trait_kick``): lower case, other characters as ``_``."""
    return f"{PREFIX}trait_{re.sub(r'[^a-z0-9]+', '_', trait.lower()).strip('_')}"


def value_info(name: str) -> tuple[str, float]:
    """(one-line description, UI maximum) of a scene value name made by :func:`plan_music_values`."""
    short = name[len(PREFIX):]
    if short in BASE_VALUES:
        return BASE_VALUES[short]
    if short.startswith("genre_"):
        genre = next((g for g in GENRES if SLUGS[g] == short[6:]), short[6:])
        return f"Weight of {genre} in the music now, the 8 genres summing to 1 (Mainstage)", 1.0
    if short.startswith("trait_"):
        return f"Bar trait {short[6:]} of the bar playing, 0 to 1 (Mainstage)", 1.0
    return "Music value (Mainstage)", 1.0


def _unique_keys(frames, values, interp):
    """Sort keys by frame, keeping the last key given for each frame."""
    frames = np.asarray(frames, dtype=np.int64)
    order = np.argsort(frames, kind="stable")
    f, v, i = frames[order], np.asarray(values, dtype=np.float64)[order], np.asarray(interp)[order]
    last = np.append(f[1:] != f[:-1], True)
    return f[last], v[last], i[last]


def _const(frame: int, value: float) -> Channel:
    return make_channel(np.array([frame]), np.array([float(value)]), np.array([INTERP["linear"]]))


def _ramps(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keys of 0 -> 1 ramps over frame spans ``[starts[k], ends[k])`` (sorted, not overlapping).

    The value is ``(f - start) / (end - start)`` on every whole frame of a span and 0 from its
    end frame until the next span starts.
    """
    S, E = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    ok = E > S
    S, E = S[ok], E[ok]
    pre = E - 1
    has_pre = pre > S
    tail = ~np.isin(E, S)
    frames = np.concatenate([S, pre[has_pre], E[tail]])
    values = np.concatenate([np.zeros(len(S)), ((pre - S) / (E - S))[has_pre], np.zeros(int(tail.sum()))])
    interp = np.concatenate([np.full(len(S), INTERP["linear"]), np.full(int(has_pre.sum()), INTERP["constant"]),
                             np.full(int(tail.sum()), INTERP["constant"])])
    order = np.argsort(frames, kind="stable")
    return frames[order], values[order], interp[order]


def _steps(frames, values) -> Channel:
    """CONSTANT keys: ``values[k]`` from ``frames[k]`` on (the later of two keys on one frame wins)."""
    f, v, i = _unique_keys(frames, values, np.full(len(frames), INTERP["constant"]))
    return make_channel(f, v, i)


def _clock_frames(grid: Grid, times: np.ndarray) -> np.ndarray:
    """Frames of a musical clock's events, continued at its median spacing to past the track end."""
    t = np.unique(np.asarray(times, dtype=np.float64))
    if len(t) == 0:
        return np.zeros(0, dtype=np.int64)
    step = float(np.median(np.diff(t))) if len(t) > 1 else grid.period * 4
    n_more = int(np.floor(max(0.0, grid.duration - t[-1]) / step)) + 1
    t = np.concatenate([t, t[-1] + step * np.arange(1, n_more + 1)])
    return np.unique(grid.frame(t))


def phase_channel(grid: Grid, times) -> Channel:
    """0..1 sawtooth per interval between successive events at ``times`` (s)."""
    F = _clock_frames(grid, times)
    if len(F) < 2:
        return _const(grid.frame_start, 0.0)
    return make_channel(*_ramps(F[:-1], F[1:]))


def pulse_channel(grid: Grid, times) -> Channel:
    """1 on each event's frame, easing out exponentially to 0 on the frame before the next."""
    B = np.unique(grid.frame(np.asarray(times, dtype=np.float64)))
    if len(B) == 0:
        return _const(grid.frame_start, 0.0)
    gap = int(np.median(np.diff(B))) if len(B) > 1 else round(grid.period * grid.fps)
    nxt = np.append(B[1:], B[-1] + max(gap, 1))
    pre = nxt - 1
    has_pre = pre > B
    lead = B[:1] - 1
    frames = np.concatenate([lead, B, pre[has_pre]])
    values = np.concatenate([[0.0], np.ones(len(B)), np.zeros(int(has_pre.sum()))])
    interp = np.concatenate([[INTERP["linear"]], np.full(len(B), INTERP["exponential"]),
                             np.full(int(has_pre.sum()), INTERP["linear"])])
    order = np.argsort(frames, kind="stable")
    return make_channel(frames[order], values[order], interp[order])  # falling exponential keys ease out


def _bar_times(grid: Grid) -> np.ndarray:
    return np.unique(np.concatenate([[0.0], grid.downbeats, [grid.duration]]))


def _linear(grid: Grid, times: np.ndarray, values: np.ndarray) -> Channel:
    f, v, i = _unique_keys(grid.frame(times), values, np.full(len(times), INTERP["linear"]))
    return make_channel(f, v, i)


def _sections(doc: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    secs = doc.get("sections") or []
    return (np.array([s["start_s"] for s in secs], dtype=np.float64),
            np.array([s["end_s"] for s in secs], dtype=np.float64),
            np.array([SECTIONS.index(s["label"]) if s["label"] in SECTIONS else len(SECTIONS) - 1 for s in secs],
                     dtype=np.int64))


def _section_index(doc: dict, t: np.ndarray, closed: bool = False) -> np.ndarray:
    """Index into :data:`SECTIONS` of the section at each time (``other`` outside every section).

    A section holds ``[start, end)``, or ``[start, end]`` with ``closed``.
    """
    s, e, idx = _sections(doc)
    if len(s) == 0:
        return np.full(len(t), len(SECTIONS) - 1)
    i = np.searchsorted(s, t, side="right") - 1
    end = e[np.clip(i, 0, None)]
    inside = (i >= 0) & ((t <= end) if closed else (t < end))
    return np.where(inside, idx[np.clip(i, 0, None)], len(SECTIONS) - 1)


def section_channel(grid: Grid, doc: dict) -> Channel:
    """Index of the playing section (:data:`SECTIONS`), stepping at section starts and ends."""
    s, e, _ = _sections(doc)
    t = np.unique(np.concatenate([[0.0], s, e]))
    t = t[t <= grid.duration]
    return _steps(grid.frame(t), _section_index(doc, t).astype(np.float64))


def _spans(doc: dict, label: str) -> np.ndarray:
    s, e, idx = _sections(doc)
    m = idx == SECTIONS.index(label)
    return np.stack([s[m], e[m]], axis=1) if m.any() else np.zeros((0, 2))


def drop_channel(grid: Grid, doc: dict) -> Channel:
    """1 inside the timeline's drops (its drop sections when it lists no drops), 0 elsewhere."""
    drops = doc.get("drops") or []
    spans = np.array([[d["start_s"], d["end_s"]] for d in drops]) if drops else _spans(doc, "drop")
    if len(spans) == 0:
        return _const(grid.frame_start, 0.0)
    t = np.concatenate([[0.0], spans[:, 0], spans[:, 1]])
    v = np.concatenate([[0.0], np.ones(len(spans)), np.zeros(len(spans))])
    order = np.argsort(t, kind="stable")
    t, v = t[order], v[order]
    # a drop starting where the previous one ends stays 1: starts win over ends at one time
    keep = np.ones(len(t), dtype=bool)
    keep[:-1] = ~((t[:-1] == t[1:]) & (v[:-1] == 1.0))
    return _steps(grid.frame(t[keep]), v[keep])


def build_channel(grid: Grid, doc: dict) -> Channel:
    """Progress 0 -> 1 through each build section, 0 elsewhere."""
    spans = _spans(doc, "build")
    if len(spans) == 0:
        return _const(grid.frame_start, 0.0)
    return make_channel(*_ramps(grid.frame(spans[:, 0]), grid.frame(spans[:, 1])))


def _traits(doc: dict) -> tuple[list[str], np.ndarray]:
    bt = doc.get("bar_traits") or {}
    names = list(bt.get("names") or [])
    vals = np.asarray(bt.get("values") or [], dtype=np.float64).reshape(-1, len(names)) if names else np.zeros((0, 0))
    return names, vals


def energy_channel(grid: Grid, doc: dict) -> Channel:
    """The ``energy`` bar trait at bar starts (linear); by section (:data:`SECTION_ENERGY`) without traits."""
    names, vals = _traits(doc)
    if "energy" in names and len(vals) == len(grid.downbeats) and len(vals):
        t = np.asarray(grid.downbeats, dtype=np.float64)
        return _linear(grid, t, vals[:, names.index("energy")])
    t = _bar_times(grid)
    idx = _section_index(doc, t, closed=True)
    s, end, _ = _sections(doc)
    if len(s):
        i = np.clip(np.searchsorted(s, t, side="right") - 1, 0, None)
        frac = np.clip((t - s[i]) / np.maximum(end[i] - s[i], 1e-9), 0.0, 1.0)  # progress through the section
    else:
        frac = np.zeros(len(t))
    level = np.zeros(len(t))
    for k, label in enumerate(SECTIONS):
        e = SECTION_ENERGY[label]
        lv = e[0] + (e[1] - e[0]) * frac if isinstance(e, tuple) else e
        level = np.where(idx == k, lv, level)
    return _linear(grid, t, level)


def trait_channels(grid: Grid, doc: dict) -> dict[str, Channel]:
    """One CONSTANT-step channel per bar trait: the bar's value over the whole bar."""
    names, vals = _traits(doc)
    if not names or len(vals) != len(grid.downbeats) or not len(vals):
        return {}
    frames = grid.frame(grid.downbeats)
    return {trait_value(n): _steps(frames, vals[:, k]) for k, n in enumerate(names)}


def _window_confidence(doc: dict, t: np.ndarray) -> np.ndarray | None:
    wins = doc.get("genre_windows") or []
    if not wins or any("confidence" not in w for w in wins):
        return None
    s = np.array([w["start_s"] for w in wins])
    e = np.array([w["end_s"] for w in wins])
    c = np.array([w["confidence"] for w in wins], dtype=np.float64)
    cover = (t[:, None] >= s[None, :]) & (t[:, None] < e[None, :])
    n = cover.sum(axis=1)
    return np.where(n > 0, (cover.astype(np.float64) @ c) / np.maximum(n, 1), np.nan)


def genre_channels(grid: Grid, doc: dict, genre_at) -> dict[str, Channel]:
    """Weight of each genre at bar starts (the mean of the windows covering it), summing to 1."""
    t = _bar_times(grid)
    if doc.get("genre_windows"):
        probs = np.asarray(genre_at(doc, t), dtype=np.float64).reshape(len(t), len(GENRES))
    else:
        summary = doc.get("genre_summary") or [1.0 / len(GENRES)] * len(GENRES)
        probs = np.tile(np.asarray(summary, dtype=np.float64), (len(t), 1))
    probs = probs / np.maximum(probs.sum(axis=1, keepdims=True), 1e-12)
    return {genre_value(g): _linear(grid, t, probs[:, k]) for k, g in enumerate(GENRES)}


def confidence_channel(grid: Grid, doc: dict) -> Channel:
    """Window confidence at bar starts; else the track's ``genre_confidence``; else 1 with genres, 0 without."""
    t = _bar_times(grid)
    track = (doc.get("genre_confidence") or {}).get("confidence")
    if track is None:
        track = 1.0 if (doc.get("genre_windows") or doc.get("genre_summary")) else 0.0
    c = _window_confidence(doc, t)
    if c is None:
        return _const(grid.frame_start, float(track))
    return _linear(grid, t, np.where(np.isnan(c), float(track), c))


def plan_music_values(doc: dict, fps: float, frame_start: int = 1) -> dict[str, Channel]:
    """Every scene music value of a timeline as a sparse keyed channel.

    Parameters
    ----------
    doc : dict
        A validated timeline (schema 1 or 2).
    fps : float
        Scene frame rate (``render.fps / render.fps_base``).
    frame_start : int
        Frame of the track's start.

    Returns
    -------
    dict
        ``{scene property name: Channel}``, the base values (:data:`BASE_VALUES`), one per genre
        (:func:`genre_value`) and one per bar trait (:func:`trait_value`), in that order.
    """
    from ..core.timeline import genre_at

    grid = Grid(doc, fps, frame_start)
    beats = np.asarray(doc.get("beats") or [], dtype=np.float64)
    if len(beats) >= 2:  # bars and phrases of the timeline, or the grid's every 4 beats / 8 bars
        downbeats, phrases = grid.downbeats, grid.phrases
    else:  # no beat grid (silence, speech): no clock at all, rather than the grid's nominal 120 BPM
        downbeats = phrases = np.zeros(0)
    out = {
        "msvfx_beat_pulse": pulse_channel(grid, beats),
        "msvfx_beat_phase": phase_channel(grid, beats),
        "msvfx_bar_phase": phase_channel(grid, downbeats),
        "msvfx_phrase_phase": phase_channel(grid, phrases),
        "msvfx_energy": energy_channel(grid, doc),
        "msvfx_section": section_channel(grid, doc),
        "msvfx_drop": drop_channel(grid, doc),
        "msvfx_build": build_channel(grid, doc),
        "msvfx_confidence": confidence_channel(grid, doc),
    }
    out.update(genre_channels(grid, doc, genre_at))
    out.update(trait_channels(grid, doc))
    return out


def evaluate(ch: Channel, frames) -> np.ndarray:
    """Value of a channel at whole ``frames``, as Blender evaluates these keys (for tests and summaries).

    Supports the interpolations this module writes: CONSTANT, LINEAR and EXPONENTIAL ease-out
    (Blender's ``1 - 2^(-10 x)`` scaled to end exactly at the next key);
    before the first key and after the last the value holds.
    """
    f = np.asarray(frames, dtype=np.float64)
    k = np.clip(np.searchsorted(ch.frames, f, side="right") - 1, 0, len(ch) - 1)
    v0 = ch.values[k]
    if len(ch) == 1:
        return v0.astype(np.float64)
    k1 = np.clip(k + 1, 0, len(ch) - 1)
    span = np.maximum(ch.frames[k1] - ch.frames[k], 1)
    x = np.clip((f - ch.frames[k]) / span, 0.0, 1.0)
    x = np.where(f < ch.frames[0], 0.0, x)
    dv = ch.values[k1] - v0
    ip = ch.interp[k]
    lin = v0 + dv * x
    expo = v0 + dv * (1.0 - np.power(2.0, -10.0 * x)) / (1.0 - 2.0 ** -10)  # Blender's, scaled to reach 1
    return np.where(ip == INTERP["constant"], v0, np.where(ip == INTERP["exponential"], expo, lin))
