"""Colour channels: each look's active palette colour per role over time, blended in OKLab.

A look's colour for a role is fixed (white lights, a material's base colour) or cycles
through the palette of the current section (``main``, ``build``, ``drop``, ``breakdown``),
advancing on the look's ``palette_cycle`` and its ``palette_step`` rules and crossfading
``blend_beats`` after each change. The looks' colours are mixed by their weights in OKLab
(:mod:`.color`).
"""
from __future__ import annotations

import numpy as np

from . import color as C
from .channel import INTERP, Channel, make_channel
from .grid import Grid
from .rules import rule_events
from .weights import MIN_WEIGHT, Weights

#: Palette index offset per colour role, so screens, pulse objects and lasers differ.
ROLE_COLOR_OFFSET = {"screens": 0, "lights": 0, "pulse": 1, "lasers": 2}


def _palette_steps(grid: Grid, look: dict, role: str) -> tuple[np.ndarray, np.ndarray]:
    """(times, sizes) at which the look's active colour for ``role`` advances."""
    every = look["palette_cycle"]["every"]
    base = {"beat": grid.beats, "bar": grid.downbeats, "phrase": grid.phrases,
            "section": grid.sec_start[grid.sec_start > 1e-3], "never": np.zeros(0)}[every]
    times, sizes = [base], [np.ones(len(base))]
    for r in look["rules"]:
        if r["property"] == "palette_step" and r["role"] == role:
            t, _ = rule_events(grid, r)
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

    def key_times(self) -> np.ndarray:
        """Times (s) that need a key: each change and the end of its crossfade (or the frame before a cut)."""
        if self.fixed is not None:
            return np.zeros(0)
        c = self.change_t
        if self.blend_s > 0:
            return np.concatenate([c, c + self.blend_s])
        return np.concatenate([c, c - 1.0 / self.grid.fps])


def colour_channel(grid: Grid, weights: Weights, looks: list[dict], role: str, bar_frames: np.ndarray,
                   shift=None) -> Channel:
    """The blended colour of ``role`` (lights, screens, pulse, lasers), keyed at its changes.

    Parameters
    ----------
    grid, weights, looks
        As for :func:`.rules.modulation`.
    role : str
    bar_frames : (m,) int
        Frames keyed in any case (bar frames), so the look blend is followed between changes.
    shift : callable, optional
        ``t -> (n, 3)`` OKLab offset added to the blended colour at times ``t`` (:mod:`.traits`).

    Returns
    -------
    Channel
        Linear RGB values (n, 3); looks below :data:`.weights.MIN_WEIGHT` all along are left out.
    """
    lc = [_LookColour(grid, look, role) for look in looks]
    wb = weights.w
    live = wb.max(axis=0) >= MIN_WEIGHT
    times = [kt for j, c in enumerate(lc) if live[j] for kt in [c.key_times()]]
    F = np.unique(np.concatenate([grid.frame(np.concatenate(times)) if times else np.zeros(0, np.int64),
                                  bar_frames]).astype(np.int64))
    F = F[(F >= grid.frame_start - 1) & (F <= grid.last_frame + 1)]
    t = grid.frame_time(F)
    w, _ = weights.at(t)
    labs = np.stack([c.at(t) if live[j] else np.zeros((len(t), 3)) for j, c in enumerate(lc)], axis=1)
    if shift is not None:  # the same offset on every look's colour shifts their blend by it
        labs = labs + shift(t)[:, None, :]
    rgb = C.blend_oklab(labs, np.where(live[None, :], w, 0.0))
    return make_channel(F, rgb, np.full(len(F), INTERP["linear"]))


def const_colour_channel(grid: Grid, weights: Weights, looks: list[dict], hex_fn, bar_frames: np.ndarray) -> Channel:
    """A colour each look holds fixed (``hex_fn(look) -> "#RRGGBB"``), blended by weight at ``bar_frames``.

    Returns
    -------
    Channel
        Linear RGB values (m, 3), one key per bar frame.
    """
    t = grid.frame_time(bar_frames)
    w, _ = weights.at(t)
    labs = np.stack([np.tile(C.hex_to_oklab([hex_fn(look)])[0], (len(t), 1)) for look in looks], axis=1)
    return make_channel(bar_frames.copy(), C.blend_oklab(labs, w), np.full(len(t), INTERP["linear"]))
