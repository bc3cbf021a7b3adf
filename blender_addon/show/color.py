"""Colour conversions for blending looks: sRGB hex -> linear RGB <-> OKLab (numpy, no bpy).

Palettes are blended in OKLab (Björn Ottosson, 2020), a perceptual space in which equal
steps look equally different and mixing two hues does not pass through muddy grey as
naive RGB mixing does. Hand-written because it is twelve lines of published matrices and
no library in Blender's Python provides it (colour-science would be a 30 MB dependency).
"""
from __future__ import annotations

import numpy as np

_M1 = np.array([[0.4122214708, 0.5363325363, 0.0514459929],
                [0.2119034982, 0.6806995451, 0.1073969566],
                [0.0883024619, 0.2817188376, 0.6299787005]])
_M2 = np.array([[0.2104542553, 0.7936177850, -0.0040720468],
                [1.9779984951, -2.4285922050, 0.4505937099],
                [0.0259040371, 0.7827717662, -0.8086757660]])
_M1_INV = np.linalg.inv(_M1)
_M2_INV = np.linalg.inv(_M2)


def hex_to_srgb(colors) -> np.ndarray:
    """``"#RRGGBB"`` strings -> array (n, 3) of sRGB-encoded floats in [0, 1]."""
    return np.array([[int(c.lstrip("#")[i:i + 2], 16) / 255.0 for i in (0, 2, 4)] for c in colors],
                    dtype=np.float64).reshape(-1, 3)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded values -> linear light (Blender's scene-linear colours)."""
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def linear_to_oklab(rgb: np.ndarray) -> np.ndarray:
    """Linear RGB (..., 3) -> OKLab (..., 3)."""
    lms = np.asarray(rgb, dtype=np.float64) @ _M1.T
    return np.cbrt(lms) @ _M2.T


def oklab_to_linear(lab: np.ndarray) -> np.ndarray:
    """OKLab (..., 3) -> linear RGB (..., 3), clipped to [0, 1]."""
    lms = (np.asarray(lab, dtype=np.float64) @ _M2_INV.T) ** 3
    return np.clip(lms @ _M1_INV.T, 0.0, 1.0)


def hex_to_oklab(colors) -> np.ndarray:
    """``"#RRGGBB"`` strings -> OKLab array (n, 3)."""
    return linear_to_oklab(srgb_to_linear(hex_to_srgb(colors)))


def blend_oklab(labs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mix of colours in OKLab.

    Parameters
    ----------
    labs : array (..., k, 3)
        OKLab colours of the k looks.
    weights : array (..., k)
        Non-negative weights (normalised here).

    Returns
    -------
    array (..., 3) of linear RGB.
    """
    w = np.asarray(weights, dtype=np.float64)
    w = w / np.maximum(w.sum(axis=-1, keepdims=True), 1e-12)
    return oklab_to_linear((labs * w[..., None]).sum(axis=-2))
