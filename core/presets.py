"""Look presets and genre mappings: JSON data files, validated, never executed.

A *look preset* (schema ``mainstage.preset/1``, ``schemas/preset.schema.json``) describes
one visual look: colour palettes, material, lighting, world and camera parameters and the
keyframe rules that make the scene react to musical events. A *genre mapping* (schema
``mainstage.mapping/1``, ``schemas/mapping.schema.json``) assigns a look and an intensity
to each of the eight genres. Both formats are documented in ``docs/blender.md``.

Validation is strict, because preset files are shared between users: unknown keys,
wrong types, out-of-range numbers, duplicate keys, NaN/Infinity and strings that look like
code are rejected with a one-line message naming the file and the field. Nothing in a
preset is ever evaluated.

The shipped presets live in ``presets/`` beside this package's folder (the repository
root in a checkout, the extension root in the Blender add-on), see :func:`presets_dir`.
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from . import schemas
from .atomic import write_json_atomic
from .errors import InputFileError
from .jsonfile import read_json
from .genres import GENRES

PRESET_SCHEMA_ID = "mainstage.preset/1"
MAPPING_SCHEMA_ID = "mainstage.mapping/1"
#: Preset and mapping files are small; anything larger is refused before parsing.
MAX_FILE_BYTES = 1 << 20

#: Strings that read like program code (Python, shell, JS, template injection). The schema
#: already confines every string to a pattern or an enum; this check names the problem.
_CODE_RE = re.compile(
    r"__\w+__|\bimport\s+\w+|\bfrom\s+\w+\s+import\b|\b(?:exec|eval|compile|getattr|setattr|open|system|popen)\s*\("
    r"|\blambda\b|\bsubprocess\b|\bos\.\w|\bsys\.\w|\bbpy\.\w|<\s*script|\$\{|\$\(|`|\bdef\s+\w+\s*\(|\bclass\s+\w+\s*[:(]",
    re.IGNORECASE,
)


class PresetError(InputFileError):
    """A preset or mapping is invalid. ``str(err)`` is one line: ``"<file>: <field>: <problem>"``."""


def preset_schema() -> dict:
    """The JSON Schema of a look preset (a dict)."""
    return schemas.schema("preset")


def mapping_schema() -> dict:
    """The JSON Schema of a genre mapping (a dict)."""
    return schemas.schema("mapping")


# --- vocabulary, read from the schema so that the UI and validation share one definition ---

def _rule_def() -> dict:
    return preset_schema()["$defs"]["rule"]


#: Musical events a rule can react to.
EVENTS: tuple[str, ...] = tuple(_rule_def()["properties"]["event"]["enum"])
#: Events that are spans (a start and an end) rather than instants.
SPAN_EVENTS: tuple[str, ...] = ("build", "drop", "breakdown")
#: Scene roles a rule can drive.
ROLES: tuple[str, ...] = tuple(_rule_def()["properties"]["role"]["enum"])
#: Every animatable property name (which ones apply depends on the role).
PROPERTIES: tuple[str, ...] = tuple(_rule_def()["properties"]["property"]["enum"])
#: Rule modes and envelope curves.
RULE_MODES: tuple[str, ...] = tuple(_rule_def()["properties"]["mode"]["enum"])
CURVES: tuple[str, ...] = tuple(preset_schema()["$defs"]["envelope"]["properties"]["curve"]["enum"])
#: Role -> the properties a rule may drive on it.
ROLE_PROPERTIES: dict[str, tuple[str, ...]] = {
    c["if"]["properties"]["role"]["const"]: tuple(c["then"]["properties"]["property"]["enum"])
    for c in _rule_def()["allOf"] if "role" in c["if"]["properties"]
}
#: Palette names and material roles (section labels: :data:`.timeline.SECTION_LABELS`).
PALETTES: tuple[str, ...] = tuple(preset_schema()["properties"]["palettes"]["required"])
MATERIAL_ROLES: tuple[str, ...] = tuple(preset_schema()["properties"]["materials"]["required"])
PALETTE_CYCLES: tuple[str, ...] = tuple(preset_schema()["properties"]["palette_cycle"]["properties"]["every"]["enum"])
MAPPING_MODES: tuple[str, ...] = tuple(mapping_schema()["properties"]["mode"]["enum"])
#: Defaults of optional rule fields (filled in by :func:`validate_preset`).
RULE_DEFAULTS: dict[str, Any] = {k: v["default"] for k, v in _rule_def()["properties"].items()
                                 if isinstance(v, dict) and "default" in v}


def field_range(kind: str, path: str) -> tuple[float | None, float | None]:
    """Numeric bounds of a field of the preset or mapping schema.

    Parameters
    ----------
    kind : {"preset", "mapping"}
    path : str
        Dotted path through object properties, with ``$defs`` names allowed as the first
        element, e.g. ``"lighting.energy_w"``, ``"material.roughness"``, ``"slot.intensity"``.

    Returns
    -------
    (minimum, maximum), either ``None`` when unbounded.
    """
    schema = preset_schema() if kind == "preset" else mapping_schema()
    parts = path.split(".")
    node = schema["$defs"][parts[0]] if parts[0] in schema.get("$defs", {}) else schema["properties"][parts[0]]
    for part in parts[1:]:
        node = _deref(schema, node)["properties"][part]
    node = _deref(schema, node)
    return node.get("minimum"), node.get("maximum")


def _deref(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


# --- parsing and checking ---

def read_json_file(path: str | Path) -> Any:
    """Read a preset/mapping file as JSON (size-limited, strict). Raises :class:`PresetError`."""
    return read_json(path, PresetError, what="a preset", max_bytes=MAX_FILE_BYTES)


def _walk_strings(obj: Any, path: tuple = ()) -> Iterator[tuple[tuple, str]]:
    if isinstance(obj, str):
        yield path, obj
    elif isinstance(obj, Mapping):
        for k, v in obj.items():
            yield path + (k,), str(k)
            yield from _walk_strings(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _walk_strings(v, path + (i,))


def check_no_code(doc: Any, source: str) -> None:
    """Reject any key or string value that looks like program code.

    Raises
    ------
    PresetError
        Naming the field and the offending fragment.
    """
    for path, s in _walk_strings(doc):
        m = _CODE_RE.search(s)
        if m:
            raise PresetError(source, f"{schemas.json_path(path)}: looks like code ({m.group(0)!r}); presets are data only")


def _schema_check(kind: str, doc: Any, source: str) -> None:
    err = schemas.best_error(kind, doc)
    if err is None:
        return
    path = list(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set(err.schema.get("properties", {}))
        extra = sorted(k for k in err.instance if k not in allowed)
        if extra:
            raise PresetError(source, f"{schemas.json_path(path + [extra[0]])}: unknown key (allowed: {', '.join(sorted(allowed))})")
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        raise PresetError(source, f"{schemas.json_path(path + missing[:1])}: required field is missing")
    if err.validator == "pattern":
        hint = _PATTERN_HINTS.get(err.validator_value, f"text matching {err.validator_value}")
        raise PresetError(source, f"{schemas.json_path(path)}: {err.instance!r} is not allowed here (expected {hint})")
    raise PresetError(source, f"{schemas.json_path(path)}: {err.message}")


def _pattern_hints() -> dict[str, str]:
    d = preset_schema()["$defs"]
    return {
        d["color"]["pattern"]: "an sRGB colour like #1A2B3C",
        d["slug"]["pattern"]: "an id of lowercase letters, digits and _, starting with a letter, at most 48 characters",
        d["label"]["pattern"]: "a name of letters, digits, spaces and simple punctuation",
        d["text"]["pattern"]: "plain text without < > { } ` $ \\ | or control characters",
    }


_PATTERN_HINTS = _pattern_hints()


def _check_header(doc: Any, expected: str, what: str, source: str) -> None:
    if not isinstance(doc, dict):
        raise PresetError(source, f"a {what} must be a JSON object, got {type(doc).__name__}")
    version = doc.get("schema")
    if version != expected:
        raise PresetError(source, f"schema: unsupported version {version!r} (expected {expected!r})")


def validate_preset(doc: Any, source: str = "<preset>") -> dict:
    """Check a look preset; return a deep copy with optional rule fields filled in.

    Parameters
    ----------
    doc : object
        The parsed JSON document.
    source : str
        Name used in error messages (usually the file path).

    Raises
    ------
    PresetError
        On the first problem, naming ``source`` and the field.
    """
    _check_header(doc, PRESET_SCHEMA_ID, "look preset", source)
    check_no_code(doc, source)
    _schema_check("preset", doc, source)
    out = copy.deepcopy(doc)
    for rule in out["rules"]:
        for key, default in RULE_DEFAULTS.items():
            rule.setdefault(key, copy.deepcopy(default))
    return out


def validate_mapping(doc: Any, source: str = "<mapping>", known_presets: Iterable[str] | None = None) -> dict:
    """Check a genre mapping; return a deep copy.

    Parameters
    ----------
    doc : object
        The parsed JSON document.
    source : str
        Name used in error messages.
    known_presets : iterable of str, optional
        Look ids that exist; when given, every genre must name one of them.

    Raises
    ------
    PresetError
        On the first problem, naming ``source`` and the field.
    """
    _check_header(doc, MAPPING_SCHEMA_ID, "genre mapping", source)
    check_no_code(doc, source)
    _schema_check("mapping", doc, source)
    if known_presets is not None:
        known = set(known_presets)
        for genre in GENRES:
            pid = doc["genres"][genre]["preset"]
            if pid not in known:
                raise PresetError(source, f"genres.{genre}.preset: unknown look {pid!r} (known: {', '.join(sorted(known))})")
    return copy.deepcopy(doc)


def load_preset(path: str | Path) -> dict:
    """Read and validate a look preset file (see :func:`validate_preset`)."""
    return validate_preset(read_json_file(path), str(path))


def load_mapping(path: str | Path, known_presets: Iterable[str] | None = None) -> dict:
    """Read and validate a genre mapping file (see :func:`validate_mapping`)."""
    return validate_mapping(read_json_file(path), str(path), known_presets)


def save_preset(doc: dict, path: str | Path) -> None:
    """Validate a look preset and write it to ``path`` atomically."""
    write_json_atomic(path, validate_preset(doc, str(path)), indent=2)


# --- shipped presets ---

#: Where the shipped presets sit, beside this package: ``<repo>/presets`` in a checkout (core
#: is ``<repo>/core``) and ``<extension>/presets`` in the Blender extension (``<extension>/core``).
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "presets"


def presets_dir() -> Path | None:
    """Folder of the shipped presets (``looks/`` and ``mappings/``), or None when absent."""
    return SHIPPED_DIR if (SHIPPED_DIR / "looks").is_dir() else None


def load_looks_dir(folder: str | Path) -> dict[str, dict]:
    """Load every ``*.json`` look in ``folder``; returns ``{id: preset}`` sorted by file name.

    Raises
    ------
    PresetError
        For the first invalid file, or when two files declare the same id.
    """
    looks: dict[str, dict] = {}
    origin: dict[str, str] = {}
    for f in sorted(Path(folder).glob("*.json")):
        doc = load_preset(f)
        if doc["id"] in looks:
            raise PresetError(str(f), f"id: {doc['id']!r} is already used by {origin[doc['id']]}")
        looks[doc["id"]] = doc
        origin[doc["id"]] = f.name
    return looks


def shipped_looks() -> dict[str, dict]:
    """The shipped look presets, ``{id: preset}``. Raises :class:`PresetError` when missing."""
    d = presets_dir()
    if d is None:
        raise PresetError(str(SHIPPED_DIR), "shipped presets folder not found")
    return load_looks_dir(d / "looks")


def shipped_mapping() -> dict:
    """The shipped default genre mapping, checked against the shipped looks."""
    d = presets_dir()
    if d is None:
        raise PresetError(str(SHIPPED_DIR), "shipped presets folder not found")
    return load_mapping(d / "mappings" / "default.json", known_presets=shipped_looks())


# --- colours ---

def hex_to_rgb(value: str) -> tuple[float, float, float]:
    """``"#RRGGBB"`` (sRGB) -> ``(r, g, b)`` floats in [0, 1], still sRGB-encoded."""
    v = value.lstrip("#")
    return tuple(int(v[i:i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]


def rgb_to_hex(rgb: Iterable[float]) -> str:
    """sRGB floats in [0, 1] -> ``"#RRGGBB"`` (clamped, rounded)."""
    return "#" + "".join(f"{min(255, max(0, round(float(c) * 255))):02X}" for c in list(rgb)[:3])
