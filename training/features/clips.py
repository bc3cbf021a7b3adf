"""Training clips: where they are cut from a track, their features, and the clip set that holds them.

Clips follow the paper: a few random clips per drop section. Where a bar grid is
known (truth file), clips are exactly :data:`CLIP_BARS` bars starting on a downbeat,
the same windows the runtime analyses; otherwise :data:`FALLBACK_CLIP_S` seconds.
Each track's clips come from its own generator (:func:`clip_rng`), so they do not
depend on the manifest's order or the split.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...core.genre import features as F
from ...core.genres import GENRES

#: Clip length when no bar grid is known (4 bars at 128 BPM), seconds.
FALLBACK_CLIP_S = 7.5
CLIP_BARS = 4


@dataclass
class ClipSet:
    """Clips of a set of tracks: features (float16), labels and where they came from."""

    features: list[np.ndarray] = field(default_factory=list)  # each (channels, 224, frames) float16
    labels: list[np.ndarray] = field(default_factory=list)    # each (8,)
    track: list[int] = field(default_factory=list)            # manifest row index
    spans: list[tuple[float, float]] = field(default_factory=list)
    in_drop: list[bool] = field(default_factory=list)
    #: Per clip, whether its label describes that clip (a single-genre track, or the part
    #: mixture of a generated track: :mod:`.part_labels`) rather than only its track.
    #: Empty: derived from the labels (one-hot labels are exact).
    exact: list[bool] = field(default_factory=list)
    #: Per clip, its track's label where it differs from the clip's (part labels); empty: the same.
    track_labels: list[np.ndarray] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    def label_matrix(self) -> np.ndarray:
        """Labels of all clips, ``(n, 8)`` float32."""
        return np.asarray(self.labels, dtype=np.float32).reshape(-1, len(GENRES))

    def track_label_matrix(self) -> np.ndarray:
        """The label of each clip's track, ``(n, 8)`` float32."""
        if len(self.track_labels) != len(self.labels):
            return self.label_matrix()
        return np.asarray(self.track_labels, dtype=np.float32).reshape(-1, len(GENRES))

    def exact_mask(self) -> np.ndarray:
        """``(n,)`` bool: clips whose label describes the clip itself (see :attr:`exact`)."""
        if len(self.exact) == len(self.labels):
            return np.asarray(self.exact, dtype=bool)
        return self.label_matrix().max(axis=1) > 0.999 if len(self.labels) else np.zeros(0, bool)


def sample_clips(drops, duration: float, rng: np.random.Generator, *, per_drop: int = 4,
                 downbeats: np.ndarray | None = None, outside: int = 0) -> list[tuple[float, float, bool]]:
    """Clip spans ``(start_s, end_s, in_drop)`` sampled the paper's way.

    Parameters
    ----------
    drops : list of (start_s, end_s)
    duration : float
        Track length (s).
    per_drop : int
        Random clips per drop section (the paper: 4), drawn without replacement
        where the drop has enough bars.
    downbeats : array, optional
        Bar grid. Clips are then exactly 4 bars starting on a downbeat; else 7.5 s.
    outside : int
        Extra clips drawn from outside the drops (0 = the paper's drops-only data).
    """
    clips: list[tuple[float, float, bool]] = []
    if downbeats is not None and len(downbeats) > CLIP_BARS:
        db = np.asarray(downbeats, dtype=np.float64)
        starts, ends = db[:-CLIP_BARS], db[CLIP_BARS:]
        ok = ends <= duration + 1e-6
        starts, ends = starts[ok], ends[ok]
        in_drop = np.zeros(starts.size, dtype=bool)
        for s, e in drops:
            cand = np.nonzero((starts >= s - 0.05) & (ends <= e + 0.05))[0]
            in_drop[cand] = True
            if cand.size:
                pick = rng.choice(cand, size=min(per_drop, cand.size), replace=False)
                clips += [(float(starts[i]), float(ends[i]), True) for i in np.sort(pick)]
        rest = np.nonzero(~in_drop)[0]
        if outside and rest.size:
            pick = rng.choice(rest, size=min(outside, rest.size), replace=False)
            clips += [(float(starts[i]), float(ends[i]), False) for i in np.sort(pick)]
        return clips
    length = FALLBACK_CLIP_S
    for s, e in drops:
        if e - s < length:
            continue
        for t in np.sort(rng.uniform(s, e - length, size=per_drop)):
            clips.append((float(t), float(t) + length, True))
    if outside and duration > length:
        mask_ok = []
        for t in rng.uniform(0, duration - length, size=outside * 4):
            if all(t + length <= s or t >= e for s, e in drops):
                mask_ok.append(float(t))
            if len(mask_ok) == outside:
                break
        clips += [(t, t + length, False) for t in sorted(mask_ok)]
    return clips


def clip_frames(start_s: float, end_s: float) -> tuple[int, int]:
    """First frame and frame count of a clip on the 44.1 kHz / hop 512 frame grid."""
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    first = int(round(start_s * fps))
    return first, max(int(round((end_s - start_s) * fps)), 1)


def clip_features(y: np.ndarray, spans, chroma: bool = False) -> list[np.ndarray]:
    """Model input ``(channels, 224, frames)`` of each clip span, through the runtime's feature code.

    Parameters
    ----------
    y : mono audio at 44.1 kHz
    spans : list of ``(start_s, end_s, ...)``
    chroma : bool
        Add the two CQT/VQT chroma channels.
    """
    mel_db = F.track_mel_db(y)
    chroma_track = None
    if chroma:
        from ...core.genre.chroma import chroma_channels

        chroma_track = chroma_channels(y)
    out = []
    for s, e, *_ in spans:
        first, n = clip_frames(s, e)
        mel = F.window_features(mel_db, [first], n)[0]
        if chroma_track is None:
            out.append(mel[None])
        else:
            ch = np.zeros((2, F.N_MELS, n), dtype=np.float32)
            lo, hi = max(first, 0), min(first + n, chroma_track.shape[2])
            if hi > lo:
                ch[:, :, lo - first:hi - first] = chroma_track[:, :, lo:hi]
            out.append(np.concatenate([mel[None], ch], axis=0))
    return out


def track_seed(path: str | os.PathLike) -> int:
    """A track's part of its clip generator's seed: from its file name, so that clips do not
    depend on the manifest's order, its folder or the split."""
    digest = hashlib.sha1(str(Path(path).name).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def clip_rng(seed: int, path: str | os.PathLike, epoch: int | None = None) -> np.random.Generator:
    """Generator of a track's clips: ``(seed, track)`` for clips cut once (validation, test,
    ``resample=False``), ``(seed, track, epoch)`` for training clips re-sampled every epoch."""
    if epoch is None:
        return np.random.default_rng([seed, track_seed(path)])
    return np.random.default_rng([seed, track_seed(path), int(epoch) + 1])
