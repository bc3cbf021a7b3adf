"""Keyframes of one driven property, with Blender's interpolation and easing codes per key."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Blender keyframe interpolation enum values (``Keyframe.interpolation``), by curve name.
INTERP = {"constant": 0, "linear": 1, "smooth": 2, "exponential": 8}
#: Blender keyframe easing enum values (``Keyframe.easing``).
EASE_AUTO, EASE_IN, EASE_OUT = 0, 1, 2


@dataclass
class Channel:
    """Keyframes of one driven property.

    ``frames`` (n,) int64, ``values`` (n,) or (n, k) float64 (k components, such as RGB),
    and per key ``interp`` (:data:`INTERP` values) and ``easing`` (``EASE_*``), int64.
    """

    frames: np.ndarray
    values: np.ndarray
    interp: np.ndarray
    easing: np.ndarray

    def __len__(self) -> int:
        return len(self.frames)


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
    """A :class:`Channel` from keys (equal neighbours dropped, easing derived from the values).

    Parameters
    ----------
    frames : (n,) int, increasing.
    values : (n,) or (n, k) float.
    interp : (n,) :data:`INTERP` values.

    Returns
    -------
    Channel
    """
    frames, values, interp = _thin(frames, values, interp)
    return Channel(frames.astype(np.int64), values.astype(np.float64), interp.astype(np.int64),
                   _easing(values, interp))

