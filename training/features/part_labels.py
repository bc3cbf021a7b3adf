"""Clip labels from the parts a generator played (SynthHouse and its GM renders).

A SynthHouse mixture takes each part (lead, chords, bass, clap, hats, perc, tops) of each
4-bar block from one of its genres, in proportion to the track's weights
(``synthhouse.arrangement.assign_sources``), and records the choice per bar
(``analysis.bars[i].sources`` of the truth timeline). A clip of such a track therefore
does not sound like the track's mixture: a block whose parts all come from the minor
genre sounds like that genre. Labelled with the track's mixture, every clip of a
mixture carries a label its audio does not support, and the model learns to name the
dominant genre from track-wide cues instead. With part labels a clip's label is the
share of its parts per genre (over the clip's bars), blended with the track's mixture
for what every bar shares (the kick, swing, pump and reverb are blended by weight).
Over a track's drops the part shares equal the track's weights up to rounding, so the
runtime's summary (a mean over the drop windows) still estimates the track's label.
"""
from __future__ import annotations

import numpy as np

from ...core.genres import GENRES, GenreError, canonical_genre

#: Share of a clip's label taken from its parts; the rest is the track's mixture.
PART_SHARE = 0.8
#: Tolerance (s) when matching bar starts to a clip span.
_EDGE_S = 0.05


def bar_part_labels(truth: dict) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-bar part mixture of a generated track.

    Parameters
    ----------
    truth : dict
        A truth timeline with ``downbeats`` and ``analysis.bars[i].sources``
        (part -> genre), as SynthHouse writes.

    Returns
    -------
    (bar_starts, shares) or None
        ``bar_starts`` (n,) seconds and ``shares`` (n, 8), each row the share of that
        bar's parts per genre (NaN for a bar without sourced parts); None when the
        truth does not record parts (not generated, another generator, bar counts
        that do not match, unknown genre names).
    """
    analysis = truth.get("analysis") if isinstance(truth, dict) else None
    bars = analysis.get("bars") if isinstance(analysis, dict) else None
    downbeats = truth.get("downbeats") if isinstance(truth, dict) else None
    if not isinstance(bars, list) or not isinstance(downbeats, list) or not bars or len(bars) != len(downbeats):
        return None
    shares = np.full((len(bars), len(GENRES)), np.nan)
    for i, bar in enumerate(bars):
        sources = bar.get("sources") if isinstance(bar, dict) else None
        if not isinstance(sources, dict):
            return None
        counts = np.zeros(len(GENRES))
        for genre in sources.values():
            try:
                counts[GENRES.index(canonical_genre(str(genre)))] += 1.0
            except (GenreError, ValueError):
                return None
        if counts.sum() > 0:
            shares[i] = counts / counts.sum()
    starts = np.asarray(downbeats, dtype=np.float64)
    if not np.all(np.isfinite(starts)):
        return None
    return starts, shares


def clip_part_label(parts: tuple[np.ndarray, np.ndarray], start_s: float, end_s: float, track_label,
                    share: float = PART_SHARE) -> np.ndarray | None:
    """The label of the clip ``[start_s, end_s)``: its bars' mean part mixture blended with the track's.

    Returns None when none of the clip's bars has sourced parts (the caller keeps the
    track's label).
    """
    starts, shares = parts
    sel = (starts >= start_s - _EDGE_S) & (starts < end_s - _EDGE_S) & ~np.isnan(shares[:, 0])
    if not sel.any():
        return None
    label = np.asarray(track_label, dtype=np.float64)
    out = share * shares[sel].mean(axis=0) + (1.0 - share) * label / label.sum()
    return (out / out.sum()).astype(np.float32)
