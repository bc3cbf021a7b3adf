"""The grid's cells and the parsing of ``mainstage grid``'s list options."""
from __future__ import annotations

from dataclasses import dataclass

from ...core.errors import MainstageError
from ..datasets.manifest import SPLITS
from ..models import ARCHITECTURES, PAPER_BACKBONES

#: Label modes, in the order of the tables' columns.
LABELS = ("hard", "soft")
CHROMA = (False, True)


class GridError(MainstageError, ValueError):
    """Bad grid options (unknown model, label mode, ...)."""


@dataclass(frozen=True)
class Cell:
    """One grid cell: a model, a label mode and a chroma setting."""

    model: str
    labels: str
    chroma: bool

    @property
    def name(self) -> str:
        return f"{self.model}-{self.labels}-{'chroma' if self.chroma else 'nochroma'}"


def _items(spec: str, what: str) -> list[str]:
    items = [s.strip() for s in str(spec).split(",") if s.strip()]
    if not items:
        raise GridError(f"--{what}: empty list")
    return items


def parse_models(spec: str) -> list[str]:
    """``"paper"`` (the paper's four backbones), ``"default"`` or names, comma separated, in order."""
    out: list[str] = []
    for item in _items(spec, "models"):
        names = PAPER_BACKBONES if item == "paper" else (item,)
        for n in names:
            if n not in ARCHITECTURES:
                raise GridError(f"--models: unknown model {n!r}; expected paper or any of {', '.join(ARCHITECTURES)}")
            if n not in out:
                out.append(n)
    return out


def _pick(spec: str, what: str, words: dict, expected: str, fold=str) -> list:
    """The values ``words`` gives the items of a comma-separated list (looked up as ``fold(item)``),
    in order, duplicates dropped."""
    out = []
    for item in _items(spec, what):
        if fold(item) not in words:
            raise GridError(f"--{what}: {item!r} is not {expected}")
        if words[fold(item)] not in out:
            out.append(words[fold(item)])
    return out


def parse_labels(spec: str) -> list[str]:
    """``"hard,soft"`` -> label modes, in order, duplicates dropped."""
    return _pick(spec, "labels", {lab: lab for lab in LABELS}, "hard or soft")


def parse_chroma(spec: str) -> list[bool]:
    """``"yes,no"`` (or ``chroma``/``nochroma``, ``w``/``w/o``, any case) -> chroma settings, in order."""
    words = {"no": False, "yes": True, "nochroma": False, "chroma": True, "w/o": False, "w": True}
    return _pick(spec, "chroma", words, "yes or no", fold=str.lower)


def parse_per_model(spec, what: str, kind=int) -> int | float | dict | None:
    """``"3"`` -> 3 (every model); ``"resnet18:2,default:14"`` -> per-model dict (others: their default)."""
    if spec is None or isinstance(spec, (int, float, dict)):
        return spec
    text = str(spec).strip()
    try:
        if ":" not in text and "=" not in text:
            return kind(text)
        out = {}
        for item in _items(text, what):
            name, _, value = item.replace("=", ":").partition(":")
            if name.strip() not in ARCHITECTURES:
                raise GridError(f"--{what}: unknown model {name.strip()!r}")
            out[name.strip()] = kind(value)
        return out
    except ValueError:
        raise GridError(f"--{what}: {text!r} is neither a number nor MODEL:NUMBER,...") from None


def parse_tracks_per_genre(spec) -> dict[str, int]:
    """``"train=8,val=3"`` -> ``{"train": 8, "val": 3}`` (splits not named keep all tracks)."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        return dict(spec)
    out = {}
    for item in _items(spec, "tracks-per-genre"):
        split, _, value = item.partition("=")
        if split not in SPLITS or not value.strip().isdigit() or int(value) < 1:
            raise GridError(f"--tracks-per-genre: {item!r} is not SPLIT=N with SPLIT train/val/test and N >= 1")
        out[split] = int(value)
    return out


def cells_for(models, labels, chroma) -> list[Cell]:
    """All cells in table order: model, then chroma (with before without, as the paper), then labels."""
    return [Cell(m, lab, ch) for m in models for ch in sorted(chroma, reverse=True) for lab in labels]


def for_model(value, model: str):
    """A model's value of a :func:`parse_per_model` result (a number for all models, or a per-model dict)."""
    return value.get(model) if isinstance(value, dict) else value
