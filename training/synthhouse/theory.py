"""Keys, scales, chord progressions and note helpers for SynthHouse."""
from __future__ import annotations

import numpy as np

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

#: Scale intervals (semitones above the tonic).
SCALES: dict[str, tuple[int, ...]] = {
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "major": (0, 2, 4, 5, 7, 9, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}

#: Four-bar progressions as 0-based scale degrees of the chord roots, by scale family.
PROGRESSIONS: dict[str, tuple[tuple[int, int, int, int], ...]] = {
    "minor": (
        (0, 5, 2, 6),  # i - VI - III - VII (the festival staple)
        (0, 6, 5, 6),  # i - VII - VI - VII
        (5, 6, 0, 0),  # VI - VII - i - i
        (0, 3, 5, 6),  # i - iv - VI - VII
        (0, 5, 3, 6),  # i - VI - iv - VII
        (5, 2, 6, 0),  # VI - III - VII - i
        (0, 0, 5, 6),  # i - i - VI - VII
        (3, 5, 0, 6),  # iv - VI - i - VII
    ),
    "major": (
        (0, 4, 5, 3),  # I - V - vi - IV
        (5, 3, 0, 4),  # vi - IV - I - V
        (3, 4, 5, 5),  # IV - V - vi - vi
        (0, 3, 4, 3),  # I - IV - V - IV
    ),
    "dorian": (
        (0, 3, 0, 3),  # i7 - IV7 (the deep-house vamp)
        (0, 6, 3, 0),  # i - VII - IV - i
        (0, 1, 0, 3),  # i - ii - i - IV
        (0, 4, 3, 6),  # i - v - IV - VII
    ),
}
PROGRESSIONS["phrygian"] = ((0, 1, 0, 1), (0, 0, 1, 6), (0, 6, 1, 0))
PROGRESSIONS["harmonic_minor"] = ((0, 5, 3, 4), (0, 3, 4, 0), (0, 5, 6, 4))


def midi_to_hz(m) -> np.ndarray | float:
    """MIDI note number (may be fractional) to Hz (A4 = 69 = 440 Hz)."""
    return 440.0 * 2.0 ** ((np.asarray(m, dtype=np.float64) - 69.0) / 12.0)


def key_name(root_pc: int, scale: str) -> str:
    """``(9, "minor") -> "A minor"``."""
    return f"{NOTE_NAMES[root_pc % 12]} {scale.replace('_', ' ')}"


def scale_note(root_midi: int, scale: str, degree: int) -> int:
    """MIDI note of a (possibly negative or > 6) scale degree above ``root_midi``."""
    iv = SCALES[scale]
    octave, step = divmod(int(degree), len(iv))
    return int(root_midi + 12 * octave + iv[step])


def chord(root_midi: int, scale: str, degree: int, size: int = 3) -> list[int]:
    """Diatonic chord (stacked thirds) on ``degree``: 3 = triad, 4 = seventh, 5 = ninth."""
    return [scale_note(root_midi, scale, degree + 2 * i) for i in range(size)]


def voice_lead(notes: list[int], low: int, high: int) -> list[int]:
    """Fold chord notes into ``[low, high)`` (octave shifts), sorted, duplicates removed."""
    out = []
    for n in notes:
        while n < low:
            n += 12
        while n >= high:
            n -= 12
        out.append(n)
    return sorted(set(out))


def register(pc: int, low: int) -> int:
    """The MIDI note of pitch class ``pc`` in ``[low, low + 12)``."""
    return low + (pc - low) % 12
