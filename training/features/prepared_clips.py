"""Clip sets cut from prepared tracks (:mod:`.prepare`): spans planned up front, features cut on demand.

Training clips are re-sampled every epoch with :func:`~.clips.clip_rng` ``(seed,
track, epoch)``; validation and test clips are cut once with ``(seed, track)``.
"""
from __future__ import annotations

import numpy as np

from .clips import ClipSet, clip_frames, clip_rng, sample_clips
from .part_labels import clip_part_label
from ..datasets.manifest import TrackRow


class LazyFeatures:
    """Features of a clip set cut from prepared tracks on demand (float16 ``(c, 224, n)``).

    Behaves as a read-only list; ``lengths`` gives every clip's frame count without
    computing anything, so batches can be planned first and only the clips a process
    needs are cut (from memory-mapped arrays).
    """

    def __init__(self):
        self._src: list[tuple] = []   # (PreparedTrack, first frame, frames)
        self.lengths: list[int] = []

    def append_clip(self, track, first: int, n: int) -> None:
        """Add the clip of ``n`` frames from frame ``first`` of a prepared track."""
        self._src.append((track, int(first), int(n)))
        self.lengths.append(int(n))

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        track, first, n = self._src[int(i)]
        return track.clip_features(first, n).astype(np.float16)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def prepared_clip_spans(row: TrackRow, track, *, seed: int, epoch: int | None = None, per_drop: int = 4,
                        outside: int = 0) -> list[tuple[float, float, bool]]:
    """Clip spans of a prepared track: :func:`~.clips.sample_clips` with :func:`~.clips.clip_rng`.

    Clips not covered by the stored frames (long tracks keep only drops + margins) are
    left out.
    """
    rng = clip_rng(seed, row.path, epoch)
    spans = sample_clips(track.drops, track.duration, rng, per_drop=per_drop, downbeats=track.downbeats,
                         outside=outside)
    return [(s, e, d) for s, e, d in spans if track.covers(*clip_frames(s, e))]


def prepared_clipset(rows: list[TrackRow], tracks, indices, *, seed: int = 0, epoch: int | None = None,
                     per_drop: int = 4, outside: int = 0, parts: dict | None = None) -> ClipSet:
    """Clips of ``rows[i] for i in indices`` from prepared tracks (features cut lazily).

    Parameters
    ----------
    tracks : list
        :class:`~.prepared_track.PreparedTrack` (or None for a track that failed) per row.
    epoch : int, optional
        None: clips cut once with the seed (validation, test, ``resample=False``);
        else the clips of that training epoch.
    parts : dict, optional
        Row index -> per-bar part mixture (:func:`.part_labels.bar_part_labels`): those
        rows' clips are labelled with their parts (:func:`.part_labels.clip_part_label`).
    """
    out = ClipSet()
    feats = LazyFeatures()
    out.features = feats  # type: ignore[assignment]
    for i in indices:
        t = tracks[i]
        if t is None:
            continue
        for s, e, d in prepared_clip_spans(rows[i], t, seed=seed, epoch=epoch, per_drop=per_drop, outside=outside):
            first, n = clip_frames(s, e)
            feats.append_clip(t, first, n)
            track_label = rows[i].label.astype(np.float32)
            label = clip_part_label(parts[i], s, e, track_label) if parts and i in parts else None
            out.labels.append(track_label if label is None else label)
            out.track_labels.append(track_label)
            out.exact.append(label is not None or bool(track_label.max() > 0.999))
            out.track.append(int(i))
            out.spans.append((s, e))
            out.in_drop.append(bool(d))
    return out
