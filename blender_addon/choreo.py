"""Choreography planning: timeline + genre mapping + looks -> sparse keyframes per channel.

Pure numpy (no ``bpy``), so it is unit-tested without Blender and runs the same in the
extension and in the headless renderer. The result, a :class:`Plan`, holds one
:class:`Channel` per driven property of a role (``"lights.energy"``, ``"screens.color"``,
``"camera.shake"`` ...): integer frame numbers, values, and the Blender interpolation and
easing of each key. :mod:`.show` writes these with ``foreach_set``.

How a value is made (see ``docs/looks.md``):

* Every look gets a weight at every moment: in *blend* mode the summed genre probabilities
  of the genres mapped to it; in *dominant* mode the look of each section's dominant genre,
  crossfaded over ``crossfade_beats`` after the section boundary. The *gain* of a look is
  its weight times the mapping intensity of those genres.
* Base parameters (energies, focal length, haze ...) are the weight-blended look
  parameters; colours are blended in OKLab (:mod:`.color`).
* Each rule places an envelope (attack / hold / decay in beats, converted per event with
  the local beat length) at each of its events; a new event of the same rule restarts the
  envelope (retrigger, as a lighting desk does). Its amplitude is ``amount x gain`` of the
  look at the event. A property's value is ``base x (1 + sum of envelopes)`` (for camera
  shake and punch-in the look's ``shake_m`` / ``punch_in`` is the unit).
* Keys sit on the events' frames (the frame nearest the beat), one frame apart at least;
  an instant attack gets a key one frame before the event holding the previous value, so
  the jump happens exactly on the beat frame.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import color as C

#: Blender keyframe interpolation / easing enum values (``Keyframe.interpolation``).
INTERP = {"constant": 0, "linear": 1, "smooth": 2, "exponential": 8}
EASE_AUTO, EASE_IN, EASE_OUT = 0, 1, 2
#: Palette index offset per colour role, so screens, pulse objects and lasers differ.
ROLE_COLOR_OFFSET = {"screens": 0, "lights": 0, "pulse": 1, "lasers": 2}
#: Looks whose weight is below this at an event do not key that event (keeps keys sparse).
MIN_WEIGHT = 0.03
GOLDEN_ANGLE = 2.399963229728653
#: Largest orbit angle (radians) either side of the starting camera position.
ORBIT_LIMIT = np.radians(35.0)


@dataclass
class Channel:
    """Keyframes of one driven property: ``frames`` (n,), ``values`` (n,) or (n, k)."""

    frames: np.ndarray
    values: np.ndarray
    interp: np.ndarray
    easing: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


@dataclass
class Plan:
    """Everything :mod:`.show` writes: keyed channels and static (un-animated) parameters."""

    channels: dict[str, Channel]
    static: dict[str, dict] = field(default_factory=dict)
    fps: float = 24.0
    frame_start: int = 1
    look_ids: list[str] = field(default_factory=list)
    #: (n_bars,) bar frames and (n_bars, n_looks) weights, for summaries and tests.
    bar_frames: np.ndarray | None = None
    bar_weights: np.ndarray | None = None

    @property
    def n_keys(self) -> int:
        """Total number of keyframes over all channels and components."""
        return int(sum(len(c) * (c.values.shape[1] if c.values.ndim == 2 else 1) for c in self.channels.values()))


# --------------------------------------------------------------------------- the beat grid


class Grid:
    """The timeline's musical time: beats, bars, sections, drops, as seconds and frames."""

    def __init__(self, doc: dict, fps: float, frame_start: int = 1):
        self.fps = float(fps)
        self.frame_start = int(frame_start)
        self.duration = float(doc["track"]["duration_s"])
        beats = np.asarray(doc.get("beats") or [], dtype=np.float64)
        if len(beats) < 2:  # no grid: a nominal 120 BPM so envelopes still have a length
            beats = np.arange(0.0, max(self.duration, 1.0), 0.5)
        self.beats = beats
        self.idx = np.arange(len(beats), dtype=np.float64)
        self.period = float(np.median(np.diff(beats)))
        self.downbeats = np.asarray(doc.get("downbeats") or beats[::4], dtype=np.float64)
        self.phrases = np.asarray(doc.get("phrases") or self.downbeats[::8], dtype=np.float64)
        secs = doc.get("sections") or [{"label": "drop", "start_s": 0.0, "end_s": self.duration}]
        self.sec_start = np.array([s["start_s"] for s in secs], dtype=np.float64)
        self.sec_end = np.array([s["end_s"] for s in secs], dtype=np.float64)
        self.sec_label = np.array([s["label"] for s in secs])
        drops = doc.get("drops") or []
        if drops:
            self.drop_spans = np.array([[d["start_s"], d["end_s"]] for d in drops], dtype=np.float64)
        else:
            self.drop_spans = self.spans("drop")
        self.last_frame = self.frame(self.duration)

    def pos(self, t) -> np.ndarray:
        """Beat position (fractional beat index) of times ``t``, extrapolated at the ends."""
        t = np.asarray(t, dtype=np.float64)
        b = self.beats
        p = np.interp(t, b, self.idx)
        p = np.where(t < b[0], (t - b[0]) / self.period, p)
        return np.where(t > b[-1], self.idx[-1] + (t - b[-1]) / self.period, p)

    def time(self, p) -> np.ndarray:
        """Time (s) of beat positions ``p`` (inverse of :meth:`pos`)."""
        p = np.asarray(p, dtype=np.float64)
        b = self.beats
        t = np.interp(p, self.idx, b)
        t = np.where(p < 0, b[0] + p * self.period, t)
        return np.where(p > self.idx[-1], b[-1] + (p - self.idx[-1]) * self.period, t)

    def frame(self, t) -> np.ndarray:
        """Nearest whole frame of times ``t`` (the track starts at ``frame_start``)."""
        return np.rint(self.frame_start + np.asarray(t, dtype=np.float64) * self.fps).astype(np.int64)

    def beat_frames(self, t) -> np.ndarray:
        """Length of one beat, in frames, at times ``t``."""
        p = self.pos(t)
        return (self.time(p + 1.0) - self.time(p)) * self.fps

    def section_of(self, t) -> np.ndarray:
        """Index of the section containing each time (-1 for none)."""
        t = np.asarray(t, dtype=np.float64)
        i = np.searchsorted(self.sec_start, t, side="right") - 1
        ok = (i >= 0) & (t < self.sec_end[np.clip(i, 0, None)] + 1e-6)
        return np.where(ok, i, -1)

    def label_of(self, t) -> np.ndarray:
        """Section label at each time ("" outside every section)."""
        i = self.section_of(t)
        return np.where(i >= 0, self.sec_label[np.clip(i, 0, None)], "")

    def spans(self, label: str) -> np.ndarray:
        """(n, 2) start/end times of the sections with ``label``."""
        m = self.sec_label == label
        return np.stack([self.sec_start[m], self.sec_end[m]], axis=1) if m.any() else np.zeros((0, 2))

    def events(self, name: str) -> np.ndarray:
        """Times of an instant event (beat, offbeat, bar, phrase, drop_start, section_change)."""
        if name == "beat":
            return self.beats
        if name == "offbeat":
            return self.time(self.idx[:-1] + 0.5)
        if name == "bar":
            return self.downbeats
        if name == "phrase":
            return self.phrases
        if name == "drop_start":
            return self.drop_spans[:, 0] if len(self.drop_spans) else np.zeros(0)
        if name == "section_change":
            return self.sec_start[self.sec_start > 1e-3]
        raise ValueError(f"unknown event {name!r}")

    def span_events(self, name: str) -> np.ndarray:
        """(n, 2) spans of a span event (build, drop, breakdown)."""
        if name == "drop":
            return self.drop_spans if len(self.drop_spans) else self.spans("drop")
        return self.spans(name)


# --------------------------------------------------------------------------- look weights


class Weights:
    """Per-look weight and gain over time, sampled at bars and interpolated.

    Parameters
    ----------
    grid : Grid
    doc : dict
        The timeline.
    mapping : dict
        A validated genre mapping.
    genres : sequence of str
        Genre order of the timeline's probability vectors.
    genre_at : callable
        ``genre_at(doc, times) -> (n, 8)`` (``core.timeline.genre_at``).
    """

    def __init__(self, grid: Grid, doc: dict, mapping: dict, genres, genre_at):
        self.look_ids = sorted({mapping["genres"][g]["preset"] for g in genres})
        col = {lid: i for i, lid in enumerate(self.look_ids)}
        g2l = np.array([col[mapping["genres"][g]["preset"]] for g in genres])
        inten = np.array([float(mapping["genres"][g]["intensity"]) for g in genres])
        L = len(self.look_ids)
        t = np.unique(np.concatenate([[0.0], grid.downbeats, [grid.duration]]))
        if doc.get("genre_windows"):
            probs = np.asarray(genre_at(doc, t), dtype=np.float64).reshape(len(t), len(genres))
        else:
            summary = doc.get("genre_summary") or [1.0 / len(genres)] * len(genres)
            probs = np.tile(np.asarray(summary, dtype=np.float64), (len(t), 1))
        if mapping["mode"] == "dominant":
            probs = self._dominant(grid, doc, probs, t, float(mapping["crossfade_beats"]), genres, genre_at)
        onehot = np.zeros((len(genres), L))
        onehot[np.arange(len(genres)), g2l] = 1.0
        self.t = t
        self.w = probs @ onehot                       # (n, L) weights, rows sum to 1
        self.g = (probs * inten[None, :]) @ onehot    # (n, L) gains (weight x intensity)

    @staticmethod
    def _dominant(grid, doc, probs, t, crossfade_beats, genres, genre_at):
        n_sec = len(grid.sec_start)
        dom = np.zeros(n_sec, dtype=int)
        for i in range(n_sec):  # mean distribution over the section, sampled twice per bar
            s, e = grid.sec_start[i], grid.sec_end[i]
            ts = np.linspace(s, e, max(2, int((e - s) / grid.period / 2)), endpoint=False)
            if doc.get("genre_windows"):
                dom[i] = int(np.argmax(np.asarray(genre_at(doc, ts)).reshape(len(ts), -1).mean(axis=0)))
            else:
                dom[i] = int(np.argmax(probs.mean(axis=0)))
        si = np.clip(grid.section_of(t), 0, None)
        si = np.where(grid.section_of(t) < 0, np.searchsorted(grid.sec_start, t, side="right") - 1, si)
        si = np.clip(si, 0, n_sec - 1)
        cur = dom[si]
        prev = dom[np.clip(si - 1, 0, None)]
        if crossfade_beats > 0:
            frac = np.clip((grid.pos(t) - grid.pos(grid.sec_start[si])) / crossfade_beats, 0.0, 1.0)
        else:
            frac = np.ones(len(t))
        frac = np.where(si == 0, 1.0, frac)
        out = np.zeros_like(probs)
        out[np.arange(len(t)), cur] += frac
        out[np.arange(len(t)), prev] += 1.0 - frac
        return out

    def at(self, times) -> tuple[np.ndarray, np.ndarray]:
        """(weights, gains), each (n, L), at ``times`` (s)."""
        times = np.asarray(times, dtype=np.float64)
        w = np.stack([np.interp(times, self.t, self.w[:, j]) for j in range(self.w.shape[1])], axis=1)
        g = np.stack([np.interp(times, self.t, self.g[:, j]) for j in range(self.g.shape[1])], axis=1)
        return w, g


# --------------------------------------------------------------------------- envelopes


@dataclass
class RuleKeys:
    """The keys of one rule's envelopes: frames (strictly increasing), values, curve."""

    frames: np.ndarray
    values: np.ndarray
    curve: str
    peak: float

    def evaluate(self, frames: np.ndarray) -> np.ndarray:
        """Value at ``frames`` (step-wise for constant curves, else linear between keys)."""
        if len(self.frames) == 0:
            return np.zeros(len(frames))
        if self.curve == "constant":
            i = np.searchsorted(self.frames, frames, side="right") - 1
            return np.where(i >= 0, self.values[np.clip(i, 0, None)], 0.0)
        return np.interp(frames, self.frames, self.values, left=0.0, right=self.values[-1])


def _monotone(offsets: np.ndarray) -> np.ndarray:
    """Make each row of integer frame offsets strictly increasing (>= 1 frame apart)."""
    out = offsets.copy()
    for j in range(1, out.shape[1]):
        out[:, j] = np.maximum(out[:, j], out[:, j - 1] + 1)
    return out


def pulse_keys(grid: Grid, times: np.ndarray, amps: np.ndarray, env: dict) -> RuleKeys:
    """Envelopes at instant events, retriggered: each event cuts the previous envelope.

    Parameters
    ----------
    grid : Grid
    times : (n,) event times in seconds, increasing.
    amps : (n,) peak amplitude of each event.
    env : dict
        ``attack_beats``, ``hold_beats``, ``decay_beats``, ``curve``.
    """
    curve = env["curve"]
    if len(times) == 0:
        return RuleKeys(np.zeros(0, np.int64), np.zeros(0), curve, 0.0)
    a, h, d = float(env["attack_beats"]), float(env["hold_beats"]), float(env["decay_beats"])
    if a > 0:
        beats, vals = [0.0, a, a + h, a + h + d], [0.0, 1.0, 1.0, 0.0]
    else:
        beats, vals = [0.0, h, h + d], [1.0, 1.0, 0.0]
    if h == 0:  # drop the duplicate hold point
        keep = [i for i in range(len(beats)) if not (i > 0 and beats[i] == beats[i - 1])]
        beats, vals = [beats[i] for i in keep], [vals[i] for i in keep]
    if vals[-1] != 0.0 or len(beats) == 1:
        beats, vals = beats + [beats[-1]], vals + [0.0]
    frames0 = grid.frame(times)
    bf = grid.beat_frames(times)
    offs = _monotone(np.rint(np.asarray(beats)[None, :] * bf[:, None]).astype(np.int64))
    F = frames0[:, None] + offs                      # (n, m)
    V = amps[:, None] * np.asarray(vals)[None, :]    # (n, m)
    nxt = np.append(frames0[1:], np.iinfo(np.int64).max // 4)
    # retrigger: keys at or after the next event's frame (or its pre-key) are cut
    limit = nxt - (1 if a == 0 else 0)
    keep = F < limit[:, None]
    keep[:, 0] = True
    rows_f, rows_v = [F[keep]], [V[keep]]
    if a == 0:
        # pre-key one frame before each event (after the first), holding what the previous
        # envelope had decayed to, so the rise happens within the event's own frame
        pre_f = frames0[1:] - 1
        prev_last = np.where(keep, F, -1).max(axis=1)[:-1]
        ok = pre_f > prev_last
        # residual of envelope k-1 at pre_f (linear between its keys; 0 once it ended)
        res = np.zeros(len(pre_f))
        Fp, Vp = F[:-1], V[:-1]
        x = pre_f.astype(np.float64)
        for j in range(F.shape[1] - 1):
            seg = (x >= Fp[:, j]) & (x < Fp[:, j + 1])
            if curve == "constant":
                val = Vp[:, j]
            else:
                frac = (x - Fp[:, j]) / np.maximum(Fp[:, j + 1] - Fp[:, j], 1)
                val = Vp[:, j] + frac * (Vp[:, j + 1] - Vp[:, j])
            res = np.where(seg, val, res)
        rows_f.append(pre_f[ok])
        rows_v.append(res[ok])
    f = np.concatenate(rows_f)
    v = np.concatenate(rows_v)
    order = np.argsort(f, kind="stable")
    f, v = f[order], v[order]
    f, first = np.unique(f, return_index=True)
    return RuleKeys(f, v[first], curve, float(np.max(np.abs(amps))) if len(amps) else 0.0)


def span_keys(grid: Grid, spans: np.ndarray, amps: np.ndarray, env: dict, mode: str) -> RuleKeys:
    """Envelopes over spans: ``span`` (attack, hold to the end, decay) or ``ramp`` (rise to the end)."""
    curve = env["curve"]
    if len(spans) == 0:
        return RuleKeys(np.zeros(0, np.int64), np.zeros(0), curve, 0.0)
    a, d = float(env["attack_beats"]), float(env["decay_beats"])
    s, e = grid.frame(spans[:, 0]), grid.frame(spans[:, 1])
    bf = grid.beat_frames(spans[:, 0])
    if mode == "ramp":
        cols = [s, np.maximum(e, s + 1), np.maximum(e, s + 1) + np.maximum(1, np.rint(d * bf)).astype(np.int64)]
        vals = [0.0, 1.0, 0.0]
    else:
        s1 = s + np.rint(a * bf).astype(np.int64)
        cols = [s, s1, e, e + np.rint(d * bf).astype(np.int64)]
        vals = [0.0, 1.0, 1.0, 0.0]
        if a == 0:
            cols, vals = [s - 1, s, e, cols[3]], [0.0, 1.0, 1.0, 0.0]
    F = _monotone(np.stack(cols, axis=1))
    V = amps[:, None] * np.asarray(vals)[None, :]
    f, v = F.ravel(), V.ravel()
    order = np.argsort(f, kind="stable")
    f, v = f[order], v[order]
    f, first = np.unique(f, return_index=True)
    return RuleKeys(f, v[first], curve, float(np.max(np.abs(amps))))


# --------------------------------------------------------------------------- planning


def _rule_events(grid: Grid, rule: dict) -> tuple[np.ndarray, np.ndarray | None]:
    """(instant times, None) or (span starts, spans) of a rule, filtered by its sections and ``every``."""
    if rule["event"] in ("build", "drop", "breakdown"):
        spans = grid.span_events(rule["event"])
        lab = grid.label_of(spans[:, 0] + 1e-3) if len(spans) else np.zeros(0, dtype=str)
        spans = spans[np.isin(lab, rule.get("sections") or []) | (lab == "")]
        spans = spans[::int(rule.get("every", 1))]
        return spans[:, 0], spans
    t = grid.events(rule["event"])
    if len(t):
        lab = grid.label_of(t)
        t = t[np.isin(lab, rule.get("sections") or []) | (lab == "")]
    return t[::int(rule.get("every", 1))], None


def _strobe_rule(look: dict) -> dict | None:
    s = look["lighting"]["strobe"]
    if s["energy_scale"] <= 0 or not s["sections"]:
        return None
    return {"event": "_strobe", "role": "lights", "property": "energy", "amount": float(s["energy_scale"]),
            "mode": "pulse", "every": 1, "sections": list(s["sections"]),
            "envelope": {"attack_beats": 0, "hold_beats": s["rate_beats"] * s["duty"], "decay_beats": 0,
                         "curve": "constant"}, "_rate": float(s["rate_beats"])}


def _strobe_times(grid: Grid, rule: dict) -> np.ndarray:
    rate = rule["_rate"]
    p = np.arange(0.0, grid.idx[-1] + 1e-9, rate)
    t = grid.time(p)
    return t[np.isin(grid.label_of(t), rule["sections"])]


_UNIT = {"shake": ("camera", "shake_m"), "punch_in": ("camera", "punch_in")}


def _rule_list(looks: list[dict]) -> list[tuple[int, dict]]:
    out = []
    for j, look in enumerate(looks):
        for r in look["rules"]:
            out.append((j, r))
        s = _strobe_rule(look)
        if s is not None:
            out.append((j, s))
    return out


def _modulation(grid: Grid, weights: Weights, looks: list[dict], role: str, prop: str,
                rules: list[tuple[int, dict]]) -> list[RuleKeys]:
    """The envelope keys of every rule driving ``role.prop`` (amplitudes include the look's gain)."""
    out = []
    for j, r in rules:
        if r["role"] != role or r["property"] != prop:
            continue
        env = dict(r["envelope"])
        unit = 1.0
        if prop in _UNIT:
            unit = float(looks[j][_UNIT[prop][0]][_UNIT[prop][1]])
            if prop == "shake" and env["decay_beats"] == 0:
                env["decay_beats"] = looks[j]["camera"]["shake_decay_beats"]
            if prop == "punch_in" and env["hold_beats"] == 0:
                env["hold_beats"] = looks[j]["camera"]["punch_in_beats"]
        if r["event"] == "_strobe":
            times, spans = _strobe_times(grid, r), None
        else:
            times, spans = _rule_events(grid, r)
        if len(times) == 0:
            continue
        w, g = weights.at(times)
        amps = float(r["amount"]) * unit * g[:, j]
        live = w[:, j] >= MIN_WEIGHT
        if not live.any():
            continue
        mode = r.get("mode", "pulse")
        if spans is not None and mode in ("span", "ramp"):
            out.append(span_keys(grid, spans[live], amps[live], env, mode))
        else:  # instants, or a pulse on a span event (fires at the span start)
            out.append(pulse_keys(grid, times[live], amps[live], env))
    return out


def _combine(grid: Grid, keys: list[RuleKeys], extra_frames: np.ndarray):
    """Union of key frames and the summed modulation there; per-key interpolation."""
    parts = [k.frames for k in keys if len(k.frames)] + [extra_frames]
    U = np.unique(np.concatenate(parts).astype(np.int64))
    M = np.zeros(len(U))
    interp = np.full(len(U), INTERP["linear"], dtype=np.int64)
    for k in sorted(keys, key=lambda k: k.peak):  # the strongest rule's curve wins a shared key
        if len(k.frames) == 0:
            continue
        M += k.evaluate(U)
        interp[np.isin(U, k.frames)] = INTERP[k.curve]
    return U, M, interp


def _easing(values: np.ndarray, interp: np.ndarray) -> np.ndarray:
    """Exponential keys ease in when rising, out when falling (a natural attack/decay)."""
    v = values if values.ndim == 1 else values.mean(axis=1)
    rising = np.append(np.diff(v) > 0, False)
    return np.where(interp == INTERP["exponential"], np.where(rising, EASE_IN, EASE_OUT), EASE_AUTO).astype(np.int64)


def _thin(frames, values, interp):
    """Drop keys equal to both neighbours (they change nothing)."""
    if len(frames) < 3:
        return frames, values, interp
    v = values if values.ndim == 2 else values[:, None]
    same = np.all(v[1:-1] == v[:-2], axis=1) & np.all(v[1:-1] == v[2:], axis=1)
    keep = np.ones(len(frames), dtype=bool)
    keep[1:-1] = ~same
    return frames[keep], values[keep], interp[keep]


def make_channel(frames, values, interp) -> Channel:
    """A :class:`Channel` from keys (equal neighbours dropped, easing derived from the values)."""
    frames, values, interp = _thin(frames, values, interp)
    return Channel(frames.astype(np.int64), values.astype(np.float64), interp.astype(np.int64),
                   _easing(values, interp))


def _frames_to_time(grid: Grid, frames: np.ndarray) -> np.ndarray:
    return (np.asarray(frames, dtype=np.float64) - grid.frame_start) / grid.fps


def _scalar(grid, weights, looks, rules, role, prop, base_fn, lo=0.0, hi=np.inf, bar_frames=None) -> Channel:
    keys = _modulation(grid, weights, looks, role, prop, rules)
    U, M, interp = _combine(grid, keys, bar_frames)
    w, _ = weights.at(_frames_to_time(grid, U))
    base = w @ np.array([base_fn(look) for look in looks], dtype=np.float64)
    return make_channel(U, np.clip(base * (1.0 + M), lo, hi), interp)


def _additive(grid, weights, looks, rules, role, prop, base_fn, bar_frames) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    keys = _modulation(grid, weights, looks, role, prop, rules)
    U, M, interp = _combine(grid, keys, bar_frames)
    w, _ = weights.at(_frames_to_time(grid, U))
    base = w @ np.array([base_fn(look) for look in looks], dtype=np.float64)
    return U, base, M, interp


# --- colours


def _palette_steps(grid: Grid, look: dict, role: str) -> tuple[np.ndarray, np.ndarray]:
    """(times, sizes) at which the look's active colour for ``role`` advances."""
    every = look["palette_cycle"]["every"]
    base = {"beat": grid.beats, "bar": grid.downbeats, "phrase": grid.phrases,
            "section": grid.sec_start[grid.sec_start > 1e-3], "never": np.zeros(0)}[every]
    times, sizes = [base], [np.ones(len(base))]
    for r in look["rules"]:
        if r["property"] == "palette_step" and r["role"] == role:
            t, spans = _rule_events(grid, r)
            times.append(t)
            sizes.append(np.full(len(t), float(r["amount"])))
    t = np.concatenate(times)
    s = np.concatenate(sizes)
    order = np.argsort(t, kind="stable")
    return t[order], s[order]


class _LookColour:
    """The active colour (OKLab) of one look and role over time."""

    def __init__(self, grid: Grid, look: dict, role: str):
        self.grid = grid
        src = look["lighting"]["color_source"] if role == "lights" else look["materials"][role]["color_source"]
        self.fixed = None
        if role == "lights" and src == "white":
            self.fixed = C.hex_to_oklab(["#FFFFFF"])[0]
        elif role != "lights" and src == "base":
            self.fixed = C.hex_to_oklab([look["materials"][role]["base_color"]])[0]
        self.pal = {k: C.hex_to_oklab(v) for k, v in look["palettes"].items()}
        self.offset = ROLE_COLOR_OFFSET[role]
        st, sz = _palette_steps(grid, look, role)
        self.step_t = st
        self.step_cum = np.cumsum(sz)
        # section changes also change the colour (another palette): they crossfade too
        self.change_t = np.unique(np.concatenate([st, grid.sec_start[grid.sec_start > 1e-3]]))
        self.blend_s = float(look["palette_cycle"]["blend_beats"]) * grid.period

    def _colour_at(self, t: np.ndarray) -> np.ndarray:
        if self.fixed is not None:
            return np.tile(self.fixed, (len(t), 1))
        i = np.searchsorted(self.step_t, t, side="right") - 1
        idx = np.where(i >= 0, self.step_cum[np.clip(i, 0, None)], 0.0).astype(np.int64) + self.offset
        lab = self.grid.label_of(t)
        out = np.empty((len(t), 3))
        for name, pal in self.pal.items():
            m = (lab == name) if name != "main" else ~np.isin(lab, ["build", "drop", "breakdown"])
            if m.any():
                out[m] = pal[idx[m] % len(pal)]
        return out

    def at(self, t: np.ndarray) -> np.ndarray:
        """OKLab colour at times ``t``, crossfading ``blend_beats`` after each change."""
        t = np.asarray(t, dtype=np.float64)
        cur = self._colour_at(t)
        if self.fixed is not None or self.blend_s <= 0 or len(self.change_t) == 0:
            return cur
        i = np.searchsorted(self.change_t, t, side="right") - 1
        c = self.change_t[np.clip(i, 0, None)]
        frac = np.clip((t - c) / self.blend_s, 0.0, 1.0)
        fading = (i >= 0) & (frac < 1.0)
        if not fading.any():
            return cur
        before = self._colour_at(np.maximum(c[fading] - 1e-4, 0.0))
        out = cur.copy()
        out[fading] = before + frac[fading, None] * (cur[fading] - before)
        return out

    def key_times(self, grid: Grid) -> np.ndarray:
        if self.fixed is not None:
            return np.zeros(0)
        c = self.change_t
        if self.blend_s > 0:
            return np.concatenate([c, c + self.blend_s])
        return np.concatenate([c, c - 1.0 / grid.fps])


def _colour_channel(grid, weights, looks, role, bar_frames) -> Channel:
    lc = [_LookColour(grid, look, role) for look in looks]
    wb = weights.w
    live = wb.max(axis=0) >= MIN_WEIGHT
    times = [kt for j, c in enumerate(lc) if live[j] for kt in [c.key_times(grid)]]
    F = np.unique(np.concatenate([grid.frame(np.concatenate(times)) if times else np.zeros(0, np.int64),
                                  bar_frames]).astype(np.int64))
    F = F[(F >= grid.frame_start - 1) & (F <= grid.last_frame + 1)]
    t = _frames_to_time(grid, F)
    w, _ = weights.at(t)
    labs = np.stack([c.at(t) if live[j] else np.zeros((len(t), 3)) for j, c in enumerate(lc)], axis=1)
    rgb = C.blend_oklab(labs, np.where(live[None, :], w, 0.0))
    return make_channel(F, rgb, np.full(len(F), INTERP["linear"]))


def _const_colour_channel(grid, weights, looks, hex_fn, bar_frames) -> Channel:
    t = _frames_to_time(grid, bar_frames)
    w, _ = weights.at(t)
    labs = np.stack([np.tile(C.hex_to_oklab([hex_fn(look)])[0], (len(t), 1)) for look in looks], axis=1)
    return make_channel(bar_frames.copy(), C.blend_oklab(labs, w), np.full(len(t), INTERP["linear"]))


# --- the plan


def plan_show(doc: dict, mapping: dict, looks: dict[str, dict], fps: float, frame_start: int = 1,
              genres=None, genre_at=None) -> Plan:
    """Plan every keyframe of a show.

    Parameters
    ----------
    doc : dict
        A validated timeline.
    mapping : dict
        A validated genre mapping (``mode`` blend or dominant, intensities).
    looks : dict
        ``{id: validated look preset}``; must hold every look the mapping names.
    fps : float
        Effective frame rate (``render.fps / render.fps_base``).
    frame_start : int
        Frame at which the track starts.
    genres, genre_at : optional
        Genre order and ``genre_at(doc, times)``; default to ``core.genres.GENRES`` and
        ``core.timeline.genre_at``.

    Returns
    -------
    Plan
    """
    if genres is None or genre_at is None:
        from . import _core
        genres = genres or _core.module("genres").GENRES
        genre_at = genre_at or _core.module("timeline").genre_at
    missing = sorted({mapping["genres"][g]["preset"] for g in genres} - set(looks))
    if missing:
        raise ValueError(f"mapping names looks that are not loaded: {', '.join(missing)}")
    grid = Grid(doc, fps, frame_start)
    weights = Weights(grid, doc, mapping, genres, genre_at)
    L = [looks[i] for i in weights.look_ids]
    rules = _rule_list(L)
    bars = np.unique(np.concatenate([[grid.frame_start], grid.frame(grid.downbeats), [grid.last_frame]]))
    ch: dict[str, Channel] = {}

    ch["lights.energy"] = _scalar(grid, weights, L, rules, "lights", "energy",
                                  lambda l: l["lighting"]["energy_w"], bar_frames=bars)
    ch["lights.spot_size"] = _scalar(grid, weights, L, rules, "lights", "spot_size",
                                     lambda l: np.radians(l["lighting"]["spot_size_deg"]),
                                     lo=np.radians(1.0), hi=np.pi, bar_frames=bars)
    for role in ("screens", "pulse", "lasers"):
        ch[f"{role}.emission_strength"] = _scalar(grid, weights, L, rules, role, "emission_strength",
                                                  lambda l, r=role: l["materials"][r]["emission_strength"],
                                                  bar_frames=bars)
    ch["pulse.scale"] = _scalar(grid, weights, L, rules, "pulse", "scale", lambda l: 1.0, lo=0.05, bar_frames=bars)
    ch["lasers.spread"] = _scalar(grid, weights, L, rules, "lasers", "spread", lambda l: 1.0, bar_frames=bars)
    for role in ("lights", "screens", "pulse", "lasers"):
        ch[f"{role}.color"] = _colour_channel(grid, weights, L, role, bars)
    ch["world.strength"] = _scalar(grid, weights, L, rules, "world", "strength", lambda l: l["world"]["strength"],
                                   hi=50.0, bar_frames=bars)
    ch["world.haze_density"] = _scalar(grid, weights, L, rules, "world", "haze_density",
                                       lambda l: l["world"]["haze_density"], hi=1.0, bar_frames=bars)
    ch["world.color"] = _const_colour_channel(grid, weights, L, lambda l: l["world"]["color"], bars)
    ch["world.haze_color"] = _const_colour_channel(grid, weights, L, lambda l: l["world"]["haze_color"], bars)

    # camera: focal length with punch-ins, shake offsets, orbit angle
    U, base, M, interp = _additive(grid, weights, L, rules, "camera", "punch_in", lambda l: l["camera"]["focal_mm"], bars)
    ch["camera.lens"] = make_channel(U, np.clip(base * (1.0 + M), 8.0, 600.0), interp)
    U, _, M, interp = _additive(grid, weights, L, rules, "camera", "shake", lambda l: 0.0, bars)
    ang = U * GOLDEN_ANGLE  # a fresh direction on every key frame: jitter, not a sway
    ch["camera.shake"] = make_channel(U, np.stack([M * np.cos(ang), np.zeros(len(U)), M * np.sin(ang) * 0.6], axis=1),
                                  interp)
    keys = _modulation(grid, weights, L, "camera", "orbit_speed", rules)
    tb = _frames_to_time(grid, bars)
    wb, _ = weights.at(tb)
    speed = wb @ np.array([np.radians(l["camera"]["orbit_deg_per_bar"]) for l in L])
    speed = speed * (1.0 + sum((k.evaluate(bars) for k in keys), np.zeros(len(bars))))
    bar_len = np.append(np.diff(bars), np.diff(bars)[-1:] if len(bars) > 1 else [1.0])
    bar_frames_nominal = 4.0 * grid.period * grid.fps
    travel = np.concatenate([[0.0], np.cumsum(speed[:-1] * bar_len[:-1] / bar_frames_nominal)])
    # the orbit swings to and fro within +-ORBIT_LIMIT: the camera never ends up behind the wall
    angle = ORBIT_LIMIT * np.sin(travel / ORBIT_LIMIT)
    ch["camera.orbit"] = make_channel(bars.copy(), angle, np.full(len(bars), INTERP["linear"]))

    # un-animated material parameters: blended by the track-average look weights
    wmean = weights.w.mean(axis=0)
    static = {}
    for role in ("screens", "pulse", "lasers", "floor"):
        m = [l["materials"][role] for l in L]
        static[role] = {
            "base_color": tuple(C.blend_oklab(np.stack([C.hex_to_oklab([x["base_color"]])[0] for x in m])[None],
                                              wmean[None])[0]),
            "roughness": float(wmean @ np.array([x["roughness"] for x in m])),
            "metallic": float(wmean @ np.array([x["metallic"] for x in m])),
            "emission_strength": float(wmean @ np.array([x["emission_strength"] for x in m])),
        }
    return Plan(ch, static, float(fps), int(frame_start), list(weights.look_ids),
                bars, weights.at(_frames_to_time(grid, bars))[0])
