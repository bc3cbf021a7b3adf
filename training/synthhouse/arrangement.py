"""Song structure: sections -> bars, which parts play in each bar, and mixture role blending.

The arrangement follows club-track conventions: intros and outros are DJ-friendly
(drums first, bass later), builds drop the kick half-way and rise with a riser and a
snare roll, drops carry every part the genre has, breakdowns are drumless.
"""
from __future__ import annotations

import numpy as np

from ...core.errors import MainstageError
from ...core.genres import GENRES
from ...core.timeline import SECTION_LABELS

DEFAULT_STRUCTURE = "intro:16,build:8,drop:16,breakdown:16,build:8,drop:16,outro:8"
#: Compact structure for training data: the classifier only looks at drops.
DATASET_STRUCTURE = "intro:4,build:4,drop:16,breakdown:4,build:4,drop:16,outro:4"
#: Structure of each track in a DJ-set mix (long intro/outro for the crossfades).
SET_STRUCTURE = "intro:16,build:8,drop:16,breakdown:8,build:8,drop:16,outro:16"

#: Bars per block in which one genre supplies a part (mixture blending granularity).
BLOCK_BARS = 4

#: Every part a bar can hold; ``tops``, ``vox`` and ``sfx`` come from :mod:`.randomise`.
ROLES = ("kick", "clap", "hats", "perc", "bass", "lead", "chords", "atmos", "fx", "tops", "vox", "sfx")


class SynthError(MainstageError, ValueError):
    """Bad SynthHouse parameters (structure, tempo, length)."""


def parse_structure(spec) -> list[tuple[str, int]]:
    """Parse ``"intro:16,build:8,drop:16"`` (or a list of pairs) into ``[(label, bars), ...]``.

    Raises
    ------
    SynthError
        On unknown labels, non-positive or non-integer bar counts, or an empty spec.
    """
    if isinstance(spec, (list, tuple)):
        items = [(str(a), b) for a, b in spec]
    else:
        items = []
        for part in str(spec).split(","):
            part = part.strip()
            if not part:
                continue
            label, sep, n = part.partition(":")
            if not sep:
                raise SynthError(f"bad structure item {part!r}: expected LABEL:BARS, e.g. drop:16")
            items.append((label.strip().lower(), n.strip()))
    if not items:
        raise SynthError("empty structure")
    out = []
    for label, n in items:
        if label not in SECTION_LABELS:
            raise SynthError(f"unknown section {label!r} in structure; expected one of {', '.join(SECTION_LABELS)}")
        if isinstance(n, (int, np.integer)) and not isinstance(n, bool):
            bars = int(n)
        elif isinstance(n, str) and n.strip().isdigit():
            bars = int(n.strip())
        else:
            raise SynthError(f"bar count of {label!r} must be a whole number, got {n!r}")
        if bars <= 0:
            raise SynthError(f"bar count of {label!r} must be positive, got {bars}")
        out.append((label, bars))
    return out


def format_structure(sections: list[tuple[str, int]]) -> str:
    """Inverse of :func:`parse_structure`."""
    return ",".join(f"{a}:{b}" for a, b in sections)


def scale_structure(sections: list[tuple[str, int]], n_bars: int) -> list[tuple[str, int]]:
    """Stretch or shrink a structure to ``n_bars`` bars, keeping proportions.

    Sections keep at least one bar (drops at least 4 where room allows); rounding
    leftovers go to the drops first, then to the longest sections.
    """
    n_bars = int(n_bars)
    if n_bars < len(sections):
        raise SynthError(f"{n_bars} bars is too short for a structure of {len(sections)} sections")
    total = sum(b for _, b in sections)
    raw = np.array([b * n_bars / total for _, b in sections])
    mins = np.array([4 if lab == "drop" and n_bars >= 4 * len(sections) else 1 for lab, _ in sections])
    bars = np.maximum(np.floor(raw).astype(int), mins)
    order = sorted(range(len(sections)), key=lambda i: (sections[i][0] != "drop", -(raw[i] - np.floor(raw[i])), -raw[i]))
    k = 0
    while bars.sum() < n_bars:
        bars[order[k % len(order)]] += 1
        k += 1
    k = 0
    shrink = sorted(range(len(sections)), key=lambda i: (sections[i][0] == "drop", -bars[i]))
    while bars.sum() > n_bars:
        i = shrink[k % len(shrink)]
        if bars[i] > 1:
            bars[i] -= 1
        k += 1
    return [(lab, int(b)) for (lab, _), b in zip(sections, bars)]


def _largest_remainder(weights: np.ndarray, n: int) -> np.ndarray:
    raw = weights * n
    counts = np.floor(raw).astype(int)
    rem = raw - counts
    for i in np.argsort(-rem, kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    return counts


def assign_sources(blocks: list[tuple[int, bool]], weights: np.ndarray, rng: np.random.Generator) -> dict[int, str]:
    """Pick the genre that supplies one part in each block, in proportion to ``weights``.

    ``blocks`` lists ``(block_id, is_drop)``. Drop blocks and the other blocks are
    allocated separately (largest-remainder counts, then a random order), so the
    drops, which the classifier sees, carry the mixture shares as exactly as the
    block count allows.
    """
    out: dict[int, str] = {}
    for is_drop in (True, False):
        ids = [b for b, d in blocks if d == is_drop]
        if not ids:
            continue
        counts = _largest_remainder(weights, len(ids))
        seq = np.repeat(np.arange(len(GENRES)), counts)
        seq = seq[rng.permutation(len(seq))]
        for b, g in zip(ids, seq):
            out[b] = GENRES[int(g)]
    return out


def _section_parts(label: str, pos: int, n: int) -> dict[str, str]:
    """Which parts play (and in which variant) at bar ``pos`` of an ``n``-bar section."""
    half = max(1, n // 2)
    parts: dict[str, str] = {}
    if label == "intro":
        parts.update(kick="main", hats="main")
        if pos >= n // 4:
            parts["clap"] = "main"
        if pos >= half:
            parts.update(perc="main", bass="filtered")
        if n >= 8 and pos >= n - n // 4:
            parts["chords"] = "filtered"
    elif label == "build":
        parts.update(hats="main", lead=f"sweep{pos}/{n}", chords=f"sweep{pos}/{n}", atmos="main")
        # The kick drops out half-way through the last bar before the drop.
        parts["kick"] = "main" if pos < n - 1 or n == 1 else "half"
        if pos == 0:
            parts["fx"] = f"build{n}"
    elif label == "drop":
        parts.update(kick="main", clap="fill" if pos % 8 == 7 else "main", hats="main", perc="main", bass="main",
                     lead="main", chords="main")
        if pos == 0:
            parts["fx"] = "crash"
    elif label == "breakdown":
        parts.update(chords="pad", atmos="main")
        if pos >= (n // 2 if n >= 8 else 0):
            parts["lead"] = "soft"
        if pos == 0:
            parts["fx"] = "down"
    elif label == "outro":
        parts.update(kick="main", hats="main")
        if pos < n - max(1, n // 4):
            parts["clap"] = "main"
        if pos < half:
            parts.update(perc="main", bass="filtered")
    return parts


def plan_bars(sections: list[tuple[str, int]], sounds: dict[str, dict], weights: np.ndarray,
              rng: np.random.Generator) -> list[dict]:
    """Per-bar arrangement: section, position, playing parts and the genre behind each part.

    Returns one dict per bar: ``section``, ``section_index``, ``pos``, ``n`` (section
    length), ``roles`` (part -> variant) and ``sources`` (blended part -> genre).
    Parts whose source genre lacks that instrument are left out of the bar, so a
    70/30 mixture of a lead genre and a lead-less genre has a lead in ~70 % of bars.
    """
    bars: list[dict] = []
    blocks: list[tuple[int, bool]] = []
    block_of_bar: list[int] = []
    for si, (label, n) in enumerate(sections):
        for pos in range(n):
            if pos % BLOCK_BARS == 0:
                blocks.append((len(blocks), label == "drop"))
            block_of_bar.append(len(blocks) - 1)
            bars.append({"section": label, "section_index": si, "pos": pos, "n": n})
    from .profiles import BLENDED_ROLES

    sources = {role: assign_sources(blocks, weights, rng) for role in BLENDED_ROLES}
    present = {g for g, w in zip(GENRES, weights) if w > 0}
    any_chords = any(sounds[g]["chords"] for g in present)
    for i, bar in enumerate(bars):
        parts = _section_parts(bar["section"], bar["pos"], bar["n"])
        roles, src = {}, {}
        for role, variant in parts.items():
            if role in BLENDED_ROLES:
                g = sources[role][block_of_bar[i]]
                if not sounds[g].get(role):
                    if role in ("lead", "chords", "bass", "perc"):
                        continue
                src[role] = g
            if role == "atmos" and any_chords and bar["section"] != "breakdown":
                continue
            roles[role] = variant
        bar["roles"] = roles
        bar["sources"] = src
        bar["block"] = block_of_bar[i]
    return bars
