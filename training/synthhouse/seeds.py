"""Seeds and the independent random streams drawn from them (shared by the planner and its randomiser)."""
from __future__ import annotations

import zlib

import numpy as np

from .arrangement import SynthError


def derive_rng(seed: int, *tags) -> np.random.Generator:
    """Independent random stream for one purpose (``tags``) of one seed.

    Separate streams keep choices stable: e.g. a genre's sound design depends only
    on (seed, genre), so a mixture reuses the sounds of its pure-genre siblings.
    """
    s = int(seed)
    entropy = [s & 0xFFFFFFFF, (s >> 32) & 0xFFFFFFFF] + [zlib.crc32(str(t).encode("utf-8")) for t in tags]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def check_seed(seed) -> int:
    """Seeds are integers in [0, 2**63)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2 ** 63:
        raise SynthError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)
