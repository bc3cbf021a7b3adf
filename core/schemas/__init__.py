"""The JSON Schemas of the project's file formats, and the one way they are checked.

``timeline``, ``preset``, ``mapping`` and ``genre_model`` name the files
``<name>.schema.json`` beside this module. Every reader of untrusted JSON validates
through :func:`validator` and reports the best-matching error at :func:`json_path`.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    """The JSON Schema ``<name>.schema.json`` (a dict; do not modify it)."""
    text = resources.files(__package__).joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def validator(name: str):
    """A checked ``jsonschema`` validator of the schema ``name`` (the draft its ``$schema`` names)."""
    import jsonschema

    doc = schema(name)
    cls = jsonschema.validators.validator_for(doc)
    cls.check_schema(doc)
    return cls(doc)


def best_error(name: str, doc: Any):
    """The most relevant validation error of ``doc`` against schema ``name``, or None when valid."""
    import jsonschema

    errors = list(validator(name).iter_errors(doc))
    return jsonschema.exceptions.best_match(errors) if errors else None


def json_path(path: Iterable) -> str:
    """``["sections", 3, "label"]`` -> ``"sections[3].label"`` (``"(document)"`` for the root)."""
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(document)"
