"""Relative drive: the show as a modulation of the user's own values, not a replacement.

A user's light keeps its power, color and cone, a user's camera its lens, a user's world
its background strength; the looks move them (see ``docs/looks.md``, *Relative mode*):

* **Levels** (light energy, world strength): the user's value x planned / reference, the
  reference being the planned base's median over the show (:attr:`.plan.Plan.reference`),
  so the show's typical level is the user's and the looks' louder and quieter moments
  scale it.
* **Shapes** (focal length, spot size): the user's value x planned / the planned base at
  that moment (:attr:`.plan.Plan.base`): the reactions only (punch-ins), the user's
  framing and cone stay.
* **Colors**: the user's color tinted toward the planned one in OKLab by ``amount``,
  keeping the user's lightness.
"""
from __future__ import annotations

import numpy as np

from . import color as C

#: Default tint of a user's colors toward the palette.
TINT = 0.35


def level(user: float, values: np.ndarray, reference: float) -> np.ndarray:
    """The user's level scaled like the planned one: ``user x values / reference``."""
    if reference <= 0:
        return np.full(len(values), float(user))
    return float(user) * np.asarray(values, dtype=np.float64) / reference


def shape(user: float, values: np.ndarray, base: np.ndarray, lo: float = 0.0, hi: float = np.inf) -> np.ndarray:
    """The user's value times the reactions only: ``user x values / base``, clipped to [lo, hi]."""
    b = np.asarray(base, dtype=np.float64)
    f = np.where(b > 0, np.asarray(values, dtype=np.float64) / np.where(b > 0, b, 1.0), 1.0)
    return np.clip(float(user) * f, lo, hi)


def tint(user_rgb, rgb: np.ndarray, amount: float) -> np.ndarray:
    """The user's color moved toward the planned colors by ``amount`` (OKLab, user's lightness kept).

    Parameters
    ----------
    user_rgb : (3,) linear RGB
        The user's own color.
    rgb : (n, 3) linear RGB
        The planned colors.
    amount : float
        0 keeps the user's color, 1 takes the planned hue and chroma at the user's lightness.

    Returns
    -------
    (n, 3) linear RGB
    """
    u = C.linear_to_oklab(np.clip(np.asarray(user_rgb, dtype=np.float64)[:3], 0.0, None))
    p = C.linear_to_oklab(np.clip(np.asarray(rgb, dtype=np.float64), 0.0, None))
    a = float(np.clip(amount, 0.0, 1.0))
    lab = np.empty_like(p)
    lab[:, 0] = u[0]
    lab[:, 1:] = (1.0 - a) * u[1:] + a * p[:, 1:]
    return C.oklab_to_linear(lab)
