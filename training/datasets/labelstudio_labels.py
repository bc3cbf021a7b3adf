"""Soft genre labels from Label Studio annotations.

Each annotation's ``number`` results are a soft label over the eight genres
(``Techno`` is Tech House). Rules:

- cancelled annotations (``was_cancelled``) are skipped; Label Studio's model
  ``predictions`` and ``drafts`` are never used as labels;
- ``number`` results whose ``from_name`` is a genre (any accepted spelling) give that
  genre's weight; ``choices`` results naming genres give each chosen genre weight 1;
  other results (comments, unknown names) are ignored and counted in the report;
- an annotation whose weights do not sum to 1 is renormalised (and reported); one
  with a negative or non-finite weight is invalid, one with no positive weight is
  empty; a task without any usable annotation is *unlabelled* and left out;
- several usable annotations of one task are averaged (only the ``ground_truth``
  ones when the task has any).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ...core.genres import GENRES, GenreError, canonical_genre

#: Weights whose sum differs from 1 by more than this are reported as renormalised.
SUM_TOLERANCE = 1e-6


@dataclass
class AnnotationLabel:
    """What one annotation says: its label (None when unusable) and why."""

    label: np.ndarray | None
    raw_sum: float = 0.0
    problem: str | None = None
    unknown: list[str] = field(default_factory=list)


def annotation_label(annotation: dict) -> AnnotationLabel:
    """The soft label of one annotation (before renormalisation: ``raw_sum`` tells the sum).

    ``number`` results named after a genre give its weight; ``choices`` results naming
    genres give each chosen genre weight 1. A weight that is not a finite number >= 0
    makes the annotation invalid.
    """
    w = np.zeros(len(GENRES), dtype=np.float64)
    unknown: list[str] = []
    found = False
    for r in annotation.get("result") or []:
        value = r.get("value")
        if not isinstance(value, dict):
            continue
        name = r.get("from_name")
        if "number" in value:
            if not isinstance(name, str):
                continue
            try:
                g = GENRES.index(canonical_genre(name))
            except GenreError:
                unknown.append(name)
                continue
            x = value["number"]
            weight = _weight(x)
            if weight is None:
                shown = repr(x) if len(repr(x)) <= 40 else repr(x)[:40] + "..."
                return AnnotationLabel(None, problem=f"weight of {name!r} is {shown}, not a number >= 0",
                                       unknown=unknown)
            w[g] += weight
            found = True
        elif "choices" in value and isinstance(value["choices"], list):
            for choice in value["choices"]:
                if not isinstance(choice, str):
                    continue
                try:
                    w[GENRES.index(canonical_genre(choice))] += 1.0
                    found = True
                except GenreError:
                    unknown.append(choice)
    total = float(w.sum())
    if not math.isfinite(total):
        return AnnotationLabel(None, problem="genre weights too large (their sum is not finite)", unknown=unknown)
    if not found:
        return AnnotationLabel(None, problem="no genre weights", unknown=unknown)
    if total <= 0:
        return AnnotationLabel(None, raw_sum=total, problem="all genre weights are 0", unknown=unknown)
    return AnnotationLabel(w / total, raw_sum=total, unknown=unknown)


def _weight(x) -> float | None:
    """``x`` as a finite float >= 0, or None (JSON integers can be too large for a float)."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    try:
        v = float(x)
    except OverflowError:
        return None
    return v if math.isfinite(v) and v >= 0 else None


@dataclass
class TaskLabel:
    """The label of one task, combined from its usable annotations."""

    label: np.ndarray | None
    annotations: int = 0
    used: int = 0
    cancelled: int = 0
    renormalised: list[float] = field(default_factory=list)  # raw sums of used annotations != 1
    problems: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    ground_truth: bool = False


def task_label(task: dict) -> TaskLabel:
    """Combine a task's annotations into one soft label (see the module docstring)."""
    anns = task.get("annotations")
    if anns is None:
        anns = task.get("completions")
    anns = anns or []
    out = TaskLabel(None, annotations=len(anns))
    usable: list[tuple[AnnotationLabel, bool]] = []
    for ann in anns:
        if ann.get("was_cancelled") is True:
            out.cancelled += 1
            continue
        lab = annotation_label(ann)
        out.unknown += lab.unknown
        if lab.label is None:
            out.problems.append(lab.problem or "unusable")
            continue
        usable.append((lab, ann.get("ground_truth") is True))
    if any(gt for _, gt in usable):
        usable = [(lab, gt) for lab, gt in usable if gt]
        out.ground_truth = True
    if not usable:
        return out
    out.used = len(usable)
    out.renormalised = [lab.raw_sum for lab, _ in usable if abs(lab.raw_sum - 1.0) > SUM_TOLERANCE]
    mean = np.mean([lab.label for lab, _ in usable], axis=0)
    out.label = mean / mean.sum()
    return out


def unlabelled_reason(t: TaskLabel, task: dict) -> str:
    """Why a task has no label (for the import report): no, only cancelled or only unusable annotations."""
    if t.annotations == 0:
        n_pred = len(task.get("predictions") or [])
        return "no annotations" + (f" ({n_pred} model predictions are not used as labels)" if n_pred else "")
    if t.cancelled == t.annotations:
        return f"all {t.annotations} annotations cancelled"
    return "; ".join(dict.fromkeys(t.problems)) or "no usable annotation"
