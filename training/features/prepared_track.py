"""A prepared track of the feature cache: its stored log-mel (and chroma) frames, drops and bar grid.

An entry is ``<key>.mel.npy`` (float16 ``(224, stored frames)``), ``<key>.chroma.npy``
(with chroma) and ``<key>.json`` (drops, downbeats, duration, the stored frame
segments), written by :mod:`.prepare`; the arrays are opened memory-mapped.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...core.genre import features as F
from ...core import jsonfile

PREPARE_FORMAT = "mainstage.prepared-track/1"
#: Level of silence in the stored mel (dB): the ``amin`` floor.
FLOOR_DB = float(10.0 * np.log10(F.AMIN))


@dataclass
class PreparedTrack:
    """A prepared track: memory-mapped features plus its drops and grid.

    ``segments`` lists the stored frame ranges ``[first, stop)`` on the track's frame
    grid; ``mel[:, offsets[k]:offsets[k] + (stop - first)]`` holds segment ``k``.
    """

    key: str
    meta: dict
    mel: np.ndarray                  # (224, stored frames) float16, memory-mapped
    chroma: np.ndarray | None        # (2, 224, stored frames) float16 or None

    @property
    def drops(self) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in self.meta["drops"]]

    @property
    def downbeats(self) -> np.ndarray | None:
        db = self.meta.get("downbeats")
        return None if db is None else np.asarray(db, dtype=np.float64)

    @property
    def duration(self) -> float:
        return float(self.meta["duration_s"])

    @property
    def whole(self) -> bool:
        return bool(self.meta["whole"])

    def covers(self, first: int, n: int) -> bool:
        """Whether the frames ``[first, first + n)`` are stored (always true for whole tracks)."""
        if self.whole:
            return True
        return any(a <= first and first + n <= b for a, b in self.meta["segments"])

    def _slice(self, arr: np.ndarray, first: int, n: int, fill: float) -> np.ndarray:
        """Frames ``[first, first + n)`` of a stored array as float32, ``fill`` outside the track."""
        total = int(self.meta["n_frames"])
        out = np.full(arr.shape[:-1] + (n,), fill, dtype=np.float32)
        offset = 0
        for a, b in self.meta["segments"]:
            lo, hi = max(first, a), min(first + n, b, total)
            if hi > lo:
                out[..., lo - first:hi - first] = arr[..., offset + lo - a:offset + hi - a]
            offset += b - a
        return out

    def _offset(self, first: int, n: int) -> int | None:
        """Column of frame ``first`` in the stored array when ``[first, first + n)`` lies in one segment."""
        offset = 0
        for a, b in self.meta["segments"]:
            if a <= first and first + n <= b:
                return offset + first - a
            offset += b - a
        return None

    def clip_features(self, first: int, n: int) -> np.ndarray:
        """Features ``(channels, 224, n)`` float32 of the clip starting at frame ``first``.

        The mel channel is normalised to the clip's maximum exactly as the runtime does
        (``window_features``); frames beyond the track's ends are silence.
        """
        off = self._offset(first, n)
        if off is not None:  # inside one stored segment: the same arithmetic as window_features, fewer copies
            mel = self.mel[:, off:off + n].astype(np.float32)
            ref = mel.max()
            np.subtract(ref, mel, out=mel)
            mel *= np.float32(1.0 / F.TOP_DB)
            np.minimum(mel, np.float32(1.0), out=mel)
        else:
            mel = F.window_features(self._slice(self.mel, first, n, FLOOR_DB), [0], n)[0]
        if self.chroma is None:
            return mel[None]
        ch = self._slice(self.chroma, first, n, 0.0)
        return np.concatenate([mel[None], ch], axis=0)



def open_entry(folder: str | os.PathLike, key: str) -> PreparedTrack | None:
    """Open a stored entry (None when missing or incomplete)."""
    folder = Path(folder)
    meta_path = folder / f"{key}.json"
    if not meta_path.is_file():
        return None
    try:
        meta = jsonfile.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") != PREPARE_FORMAT:
            return None
        mel = np.load(folder / f"{key}.mel.npy", mmap_mode="r")
        chroma = np.load(folder / f"{key}.chroma.npy", mmap_mode="r") if meta.get("chroma") else None
    except (OSError, ValueError, KeyError):
        return None
    stored = sum(b - a for a, b in meta["segments"])
    if mel.shape != (F.N_MELS, stored) or (chroma is not None and chroma.shape != (2, F.N_MELS, stored)):
        return None
    return PreparedTrack(key=key, meta=meta, mel=mel, chroma=chroma)
