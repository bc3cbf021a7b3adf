"""The eight mainstage house sub-genres, in the one order used everywhere.

The order is the paper's (and its reference code's); Label Studio exports of the
paper's dataset call Tech House "Techno".
"""
from __future__ import annotations

import numpy as np

from .errors import MainstageError

GENRES: tuple[str, ...] = (
    "Progressive House",
    "Future House",
    "Bass House",
    "Tech House",
    "Deep House",
    "Bigroom",
    "Future Rave",
    "Slap House",
)
N_GENRES = len(GENRES)

#: Alternative spellings met in the wild, mapped to the canonical name.
ALIASES: dict[str, str] = {
    "techno": "Tech House",
    "big room": "Bigroom",
    "bigroom house": "Bigroom",
    "big room house": "Bigroom",
}

#: Short machine-friendly ids (file names, CLI shortcuts).
SLUGS: dict[str, str] = {g: g.lower().replace(" ", "_") for g in GENRES}


class GenreError(MainstageError, ValueError):
    """A genre name or genre specification could not be understood."""


def canonical_genre(name: str) -> str:
    """Return the canonical spelling of a genre name.

    Accepts the canonical name in any case, a slug (``bass_house``) or a known
    alias (``Techno``).

    Raises
    ------
    GenreError
        If the name is not one of the eight genres.
    """
    key = " ".join(name.strip().replace("_", " ").replace("-", " ").split()).lower()
    for g in GENRES:
        if g.lower() == key:
            return g
    if key in ALIASES:
        return ALIASES[key]
    raise GenreError(f"unknown genre {name!r}; expected one of: {', '.join(GENRES)}")


def genre_index(name: str) -> int:
    """Index of a genre (any accepted spelling) in :data:`GENRES`."""
    return GENRES.index(canonical_genre(name))


def parse_genre_mix(spec: str) -> np.ndarray:
    """Parse ``"Progressive House:0.7,Future House:0.3"`` into an 8-vector.

    A genre without a weight counts 1; weights are normalised to sum to 1.

    Returns
    -------
    np.ndarray, shape (8,)
        Weights in :data:`GENRES` order, summing to 1.
    """
    w = np.zeros(N_GENRES, dtype=np.float64)
    parts = [p for p in spec.split(",") if p.strip()]
    if not parts:
        raise GenreError("empty genre specification")
    for part in parts:
        name, sep, weight = part.rpartition(":")
        if not sep:
            name, weight = part, "1"
        try:
            value = float(weight)
        except ValueError:
            raise GenreError(f"bad weight {weight!r} for genre {name.strip()!r}") from None
        if not np.isfinite(value) or value < 0:
            raise GenreError(f"weight for {name.strip()!r} must be a finite number >= 0, got {weight!r}")
        w[genre_index(name)] += value
    total = w.sum()
    if total <= 0:
        raise GenreError(f"genre weights in {spec!r} sum to zero")
    return w / total


def format_genre_mix(weights, threshold: float = 1e-6) -> str:
    """Inverse of :func:`parse_genre_mix` (drops near-zero weights)."""
    return ",".join(f"{g}:{w:.4g}" for g, w in zip(GENRES, weights) if w > threshold)


def sharpen(weights) -> np.ndarray:
    """One-hot label of the largest weight; ties go to the later genre (the paper's rule).

    Parameters
    ----------
    weights : array_like, shape (..., 8)

    Returns
    -------
    np.ndarray, same shape, one-hot float32
    """
    w = np.asarray(weights, dtype=np.float64)
    # argmax returns the first maximum; flip to make ties go to the later genre.
    idx = w.shape[-1] - 1 - np.argmax(w[..., ::-1], axis=-1)
    out = np.zeros(w.shape, dtype=np.float32)
    np.put_along_axis(out, idx[..., None], 1.0, axis=-1)
    return out
