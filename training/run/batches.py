"""Batches of clips: cutting clips of a batch to one length, and planning an epoch's batches."""
from __future__ import annotations

import numpy as np

from ...core.genre import features as F
from ..features.clips import ClipSet


def clip_lengths(features) -> np.ndarray:
    """Frames of every clip of a clip set's ``features`` (without computing lazy features)."""
    lengths = getattr(features, "lengths", None)
    if lengths is not None:
        return np.asarray(lengths, dtype=np.int64)
    return np.array([f.shape[-1] for f in features], dtype=np.int64)


def stack_clips(features, idx, min_frames: int, rng: np.random.Generator | None = None,
                rows: range | None = None, lengths: np.ndarray | None = None) -> np.ndarray:
    """Clips ``features[i] for i in idx`` cut to their shortest length, as one float32 array.

    The length is at least ``min_frames`` (shorter clips are padded with silence, 1.0).
    Each clip is cut at a random offset with ``rng``, else centred. Offsets are drawn
    for every clip of ``idx`` in order; only the clips at positions ``rows`` (default:
    all) are stacked, so that a process of a distributed run builds its share of a
    global batch exactly as a single process builds the whole batch.
    """
    lens = [int(x) for x in (lengths[idx] if lengths is not None else clip_lengths(features)[idx])]
    t = max(int(min(lens)), min_frames) if lens else min_frames
    offs = []
    for n in lens:
        extra = max(n - t, 0)
        offs.append(int(rng.integers(0, extra + 1)) if (rng is not None and extra) else extra // 2)
    rows = range(len(lens)) if rows is None else rows
    xs = []
    for k in rows:
        f = features[int(idx[k])]
        extra = f.shape[-1] - t
        if extra < 0:  # shorter than the model's minimum: pad with silence (1.0)
            f = np.concatenate([f, np.ones(f.shape[:-1] + (-extra,), dtype=f.dtype)], axis=-1)
        xs.append(f[..., offs[k]:offs[k] + t])
    if not xs:
        ch = features[int(idx[0])].shape[0] if len(idx) else 1
        return np.zeros((0, ch, F.N_MELS, t), dtype=np.float32)
    return np.stack(xs).astype(np.float32)


def iterate_batches(clips: ClipSet, batch_size: int, *, min_frames: int = 1):
    """Yield ``(x float32 (b, c, 224, t), idx)`` evaluation batches, in order of clip length.

    Clips of similar length are grouped, so little is cut when a batch's clips are cut
    to its shortest one (centred).
    """
    lengths = clip_lengths(clips.features)
    order = np.argsort(lengths, kind="stable")
    for b0 in range(0, len(clips), batch_size):
        idx = order[b0:b0 + batch_size]
        yield stack_clips(clips.features, idx, min_frames, lengths=lengths), idx


def plan_track_batches(clips: ClipSet, batch_size: int, bag_size: int, rng: np.random.Generator
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches made of per-track bags, for the track-level loss.

    A track's drop clips and its other clips form separate groups (each should match
    the track's label on its own, and the runtime summary looks at drops); each group is
    shuffled and cut into bags of at most ``bag_size`` clips. Bags are shuffled and
    packed into batches of about ``batch_size`` clips, so an epoch still sees every clip
    once. Returns ``[(idx, bag), ...]``: clip indices of each batch and, per clip, the
    number of its bag within the batch (0, 1, ...).
    """
    tracks = np.asarray(clips.track)
    in_drop = np.asarray(clips.in_drop, bool)
    bags = []
    for t in np.unique(tracks):
        for d in (True, False):
            members = rng.permutation(np.nonzero((tracks == t) & (in_drop == d))[0])
            bags += [members[k:k + bag_size] for k in range(0, members.size, bag_size)]
    out, batch, count = [], [], 0
    for k in rng.permutation(len(bags)):
        batch.append(bags[k])
        count += bags[k].size
        if count >= batch_size:
            out.append(batch)
            batch, count = [], 0
    if batch:
        out.append(batch)
    return [(np.concatenate(b), np.concatenate([np.full(x.size, j) for j, x in enumerate(b)])) for b in out]


def plan_epoch(clips: ClipSet, *, seed: int, epoch: int, batch_size: int, track_loss: float = 0.0,
               bag_size: int = 8) -> list[tuple[np.ndarray, np.ndarray | None]]:
    """An epoch's global batches: ``(clip indices, bag index per clip or None)``.

    A function of ``(seed, epoch)`` only: every rank and every resumed run plans the
    same. With a track-level loss (``track_loss > 0``) batches are made of track bags
    (:func:`plan_track_batches`), else of shuffled clips.
    """
    rng = np.random.default_rng([seed, epoch, 101])
    n = len(clips)
    if track_loss <= 0:
        order = rng.permutation(n)
        return [(order[b:b + batch_size], None) for b in range(0, n, batch_size)]
    return plan_track_batches(clips, batch_size, bag_size, rng)
