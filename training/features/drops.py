"""Drop sections and bar grid of a training track: from the paper's detector or from its truth file."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.analysis import drops as drops_mod
from ...core.analysis.onsets import LOUD_HOP, LOUD_SR
from ...core.audio import resample
from ...core.errors import InputFileError, MainstageError
from ...core import jsonfile
from .clips import CLIP_BARS
from ..run.config import DROP_SOURCES
from ..datasets.manifest import TrackRow


def load_truth(path: Path) -> dict:
    """Read a truth timeline (SynthHouse) without the full validation cost."""
    try:
        return jsonfile.loads(Path(path).read_text(encoding="utf-8"))  # untrusted: depth-limited, strict
    except (OSError, ValueError) as exc:
        raise InputFileError(str(path), f"cannot read truth timeline ({exc.__class__.__name__}: {exc})") from None


def resolve_drop_source(drops: str) -> str:
    """The drop source a setting means: ``auto`` is the detector (``detect``).

    Raises
    ------
    MainstageError
        ``drops`` is not one of :data:`~.config.DROP_SOURCES`.
    """
    if drops not in DROP_SOURCES:
        raise MainstageError(f"drop source must be auto, detect or truth, got {drops!r}")
    return "detect" if drops == "auto" else drops


def detect_drops(y: np.ndarray, sr: int) -> list[tuple[float, float]]:
    """Drop sections by the paper's loudness rule, from the analysis module (``core.analysis.drops``).

    The rule works on per-hop sums of squares of the 22.05 kHz signal.
    """
    z = resample(np.asarray(y, dtype=np.float32), sr, LOUD_SR).astype(np.float64)
    n = z.size // LOUD_HOP
    blocks = z[:n * LOUD_HOP].reshape(n, LOUD_HOP)
    sumsq = np.einsum("ij,ij->i", blocks, blocks)
    if z.size > n * LOUD_HOP:
        rest = z[n * LOUD_HOP:]
        sumsq = np.append(sumsq, np.dot(rest, rest))
    return [(float(a), float(b)) for a, b in drops_mod.detect_drops(sumsq)]


def track_drops(row: TrackRow, y: np.ndarray, sr: int, source: str = "auto", truth: dict | None = None
                ) -> list[tuple[float, float]]:
    """Drop sections of a track.

    Parameters
    ----------
    source : {"auto", "detect", "truth"}
        ``detect`` (and ``auto``): the paper's rule-based detector; ``truth``: the
        truth file's drops (``truth``, or read from the row's truth file).
    """
    if resolve_drop_source(source) == "detect":
        return detect_drops(y, sr)
    if truth is None:
        if row.truth is None:
            raise InputFileError(str(row.path), "no truth file in the manifest for --drops truth")
        truth = load_truth(row.truth)
    return [(float(d["start_s"]), float(d["end_s"])) for d in truth.get("drops", [])]


def bar_grid(truth: dict | None) -> np.ndarray | None:
    """Downbeat times from a truth timeline (None when unknown or too short for one clip)."""
    if not truth:
        return None
    db = np.asarray(truth.get("downbeats", []), dtype=np.float64)
    return db if db.size >= CLIP_BARS + 1 else None
