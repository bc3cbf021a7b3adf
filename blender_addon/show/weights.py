"""Look weights: how much of each look is playing at each moment, and its gain.

In *blend* mode a look's weight is the summed genre probability of the genres mapped to
it; in *dominant* mode it is the look of each section's dominant genre, crossfaded over
``crossfade_beats`` after the section boundary. A look's *gain* is its weight times the
mapping intensity of those genres.
"""
from __future__ import annotations

import numpy as np

from .grid import Grid

#: Looks whose weight is below this at an event do not key that event (keeps keys sparse).
MIN_WEIGHT = 0.03


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

    def look_at(self, times, j: int) -> tuple[np.ndarray, np.ndarray]:
        """(weight, gain), each (n,), of look ``j`` at ``times`` (s)."""
        times = np.asarray(times, dtype=np.float64)
        return np.interp(times, self.t, self.w[:, j]), np.interp(times, self.t, self.g[:, j])
