"""Look presets and the genre mapping between JSON files and the .blend.

Every document is validated by ``core.presets`` (JSON Schema + code-string check) before
anything in the .blend changes; when Blender lacks ``jsonschema`` (the bare add-on) the
external interpreter validates instead. Conversion goes through the preset JSON format
in both directions, so what the UI edits is exactly what a file holds.
"""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from .. import deps
from ..core import atomic, timeline
from ..core.timeline import SECTION_LABELS
from ..core import presets as P
from . import props

GENRES = props.GENRES


def _prefs_python() -> str:
    from ..preferences import external_python
    return external_python()


def validate(kind: str, doc, source: str, known: list[str] | None = None) -> dict:
    """Validate a ``timeline``, ``preset`` or ``mapping`` document; returns the (normalised) doc.

    Raises
    ------
    ValueError
        (a ``MainstageError``) with a one-line message naming ``source`` and the field.
    deps.DependencyError
        When validation is impossible (no jsonschema in Blender, no external interpreter).
    """
    if deps.can_validate_in_process():
        if kind == "timeline":
            return timeline.validate_timeline(doc, source)
        if kind == "preset":
            return P.validate_preset(doc, source)
        return P.validate_mapping(doc, source, known)
    python = _prefs_python()
    if not python:
        raise deps.DependencyError(
            f"cannot validate {source}: {', '.join(deps.missing(deps.VALIDATION_MODULES))} missing in Blender "
            "and no external Python is set in the add-on preferences")
    if kind == "preset":
        P.check_no_code(doc, source)
    deps.validate_external(python, kind, doc, source, known)
    return _fill_rule_defaults(doc) if kind == "preset" else doc


def validate_many(items: list[tuple[str, dict, str, list[str] | None]]) -> list[dict]:
    """Validate several documents (one external run in the bare add-on); raises on the first invalid one."""
    if deps.can_validate_in_process() or len(items) <= 1:
        return [validate(kind, doc, source, known) for kind, doc, source, known in items]
    python = _prefs_python()
    if not python:
        return [validate(*items[0])]  # raises the "no external Python" DependencyError
    for kind, doc, source, _known in items:
        if kind == "preset":
            P.check_no_code(doc, source)
    for err in deps.validate_external_many(python, items):
        if err is not None:
            raise ValueError(err)
    return [_fill_rule_defaults(doc) if kind == "preset" else doc for kind, doc, _s, _k in items]


def _fill_rule_defaults(doc: dict) -> dict:
    for rule in doc.get("rules", []):
        for key, default in P.RULE_DEFAULTS.items():
            rule.setdefault(key, list(default) if isinstance(default, list) else default)
    return doc


def load_file(kind: str, path: str, known: list[str] | None = None) -> dict:
    """Read and validate a preset or mapping file (strict JSON, size-limited)."""
    doc = P.read_json_file(path)
    return validate(kind, doc, str(path), known)


def write_file(kind: str, doc: dict, path: str, known: list[str] | None = None) -> None:
    """Validate ``doc`` and write it to ``path`` atomically."""
    validate(kind, doc, str(path), known)
    atomic.write_json_atomic(path, doc, indent=2)


# --- look <-> property group ---

def _num(x: float) -> float:
    # Blender stores float32: round so 0.1 comes back as 0.1 and bounds stay in range.
    return float(f"{float(x):.6g}")


def _get_path(doc: dict, path: str):
    for part in path.split("."):
        doc = doc[part]
    return doc


def _set_path(doc: dict, path: str, value) -> None:
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def look_to_dict(look) -> dict:
    """The look as a preset document (not validated)."""
    doc: dict = {"schema": P.PRESET_SCHEMA_ID, "id": look.name, "name": look.label}
    if look.genre != "NONE":
        doc["genre"] = look.genre
    if look.description:
        doc["description"] = look.description
    doc["palettes"] = {}
    for name in P.PALETTES:
        pal = look.palettes.get(name)
        doc["palettes"][name] = [P.rgb_to_hex(c.color) for c in pal.colors] if pal else []
    doc["materials"] = {}
    for role in P.MATERIAL_ROLES:
        m = look.materials.get(role)
        if m is None:
            continue
        doc["materials"][role] = {
            "base_color": P.rgb_to_hex(m.base_color), "color_source": m.color_source,
            "emission_strength": _num(m.emission_strength), "roughness": _num(m.roughness), "metallic": _num(m.metallic),
        }
    for path, attr, kind, _label, _group in props.LOOK_FIELDS:
        value = getattr(look, attr)
        if kind == "float":
            value = _num(value)
        elif kind == "color":
            value = P.rgb_to_hex(value)
        elif kind == "set":
            value = [s for s in SECTION_LABELS if s in value]
        _set_path(doc, path, value)
    doc["rules"] = [rule_to_dict(r) for r in look.rules]
    order = ["schema", "id", "name", "genre", "description", "palettes", "palette_cycle", "materials",
             "lighting", "world", "camera", "rules"]
    return {k: doc[k] for k in order if k in doc}


def rule_to_dict(r) -> dict:
    """One rule as preset JSON."""
    amount = int(round(r.amount)) if r.prop == "palette_step" else _num(r.amount)
    return {
        "event": r.event, "role": r.role, "property": r.prop, "amount": amount, "mode": r.mode,
        "envelope": {"attack_beats": _num(r.attack_beats), "hold_beats": _num(r.hold_beats),
                     "decay_beats": _num(r.decay_beats), "curve": r.curve},
        "every": int(r.every), "sections": [s for s in SECTION_LABELS if s in r.sections],
    }


def look_from_dict(look, doc: dict, source: str) -> None:
    """Fill a look property group from a *validated* preset document."""
    look.name = doc["id"]
    look.label = doc["name"]
    look.description = doc.get("description", "")
    look.genre = doc.get("genre", "NONE")
    look.source = source
    look.palettes.clear()
    for name in P.PALETTES:
        pal = look.palettes.add()
        pal.name = name
        for hexcol in doc["palettes"][name]:
            pal.colors.add().color = P.hex_to_rgb(hexcol)
    look.materials.clear()
    for role in P.MATERIAL_ROLES:
        src = doc["materials"][role]
        m = look.materials.add()
        m.name = role
        m.base_color = P.hex_to_rgb(src["base_color"])
        m.color_source = src["color_source"]
        m.emission_strength = src["emission_strength"]
        m.roughness = src["roughness"]
        m.metallic = src["metallic"]
    for path, attr, kind, _label, _group in props.LOOK_FIELDS:
        value = _get_path(doc, path)
        if kind == "color":
            value = P.hex_to_rgb(value)
        elif kind == "set":
            value = set(value)
        setattr(look, attr, value)
    look.rules.clear()
    for src in doc["rules"]:
        r = look.rules.add()
        r.event = src["event"]
        r.role = src["role"]
        r.prop = src["property"]
        r.amount = src["amount"]
        r.mode = src.get("mode", "pulse")
        env = src["envelope"]
        r.attack_beats, r.hold_beats, r.decay_beats = env["attack_beats"], env["hold_beats"], env["decay_beats"]
        r.curve = env["curve"]
        r.every = src.get("every", 1)
        r.sections = set(src.get("sections", SECTION_LABELS))
    look.active_rule_index = 0


def unique_id(state, base: str) -> str:
    """A look id not used in the library yet, derived from ``base`` (max 48 chars)."""
    base = base[:44]
    if base not in state.looks:
        return base
    n = 2
    while f"{base}_{n}" in state.looks:
        n += 1
    return f"{base}_{n}"


def add_look(state, doc: dict, source: str, replace: bool = True):
    """Add a validated preset to the library (replacing a non-shipped look of the same id)."""
    existing = state.looks.get(doc["id"])
    if existing is not None and (not replace or (existing.source == "SHIPPED" and source != "SHIPPED")):
        doc = dict(doc, id=unique_id(state, doc["id"]))
        existing = None
    look = existing if existing is not None else state.looks.add()
    look_from_dict(look, doc, source)
    return look


# --- mapping ---

def mapping_to_dict(state) -> dict:
    """The scene's genre mapping as a mapping document (not validated)."""
    genres = {}
    for g in GENRES:
        slot = state.mapping.get(g)
        genres[g] = {"preset": slot.preset if slot else "", "intensity": _num(slot.intensity) if slot else 1.0}
    doc = {"schema": P.MAPPING_SCHEMA_ID, "name": state.mapping_name or "Mapping"}
    if state.mapping_description:
        doc["description"] = state.mapping_description
    doc.update({"mode": state.mapping_mode, "crossfade_beats": _num(state.crossfade_beats), "genres": genres})
    return doc


def mapping_from_dict(state, doc: dict) -> None:
    """Set the scene's mapping from a *validated* mapping document."""
    state.mapping.clear()
    for g in GENRES:
        slot = state.mapping.add()
        slot.name = g
        slot.preset = doc["genres"][g]["preset"]
        slot.intensity = doc["genres"][g]["intensity"]
    state.mapping_name = doc["name"]
    state.mapping_description = doc.get("description", "")
    state.mapping_mode = doc["mode"]
    state.crossfade_beats = doc["crossfade_beats"]


# --- folders ---

def user_looks_dir(create: bool = False) -> Path:
    """Folder of the user's saved looks (the extension's user directory)."""
    from ..preferences import ADDON_ID
    try:
        return Path(bpy.utils.extension_path_user(ADDON_ID, path="looks", create=create))
    except ValueError:  # not installed as an extension (legacy add-on / development)
        p = Path(bpy.utils.user_resource("CONFIG", path=os.path.join("mainstage_vfx", "looks"), create=create))
        return p


def shipped_docs() -> tuple[dict[str, dict], dict]:
    """Shipped looks and default mapping, validated (raises on the first bad file)."""
    d = P.presets_dir()
    if d is None:
        raise P.PresetError(str(P.SHIPPED_DIR), "shipped presets folder not found")
    files = sorted((d / "looks").glob("*.json"))
    raw = [P.read_json_file(f) for f in files]
    ids = [doc.get("id") if isinstance(doc, dict) else None for doc in raw]
    mapping_file = d / "mappings" / "default.json"
    items = [("preset", doc, str(f), None) for doc, f in zip(raw, files)]
    items.append(("mapping", P.read_json_file(mapping_file), str(mapping_file), [i for i in ids if i]))
    docs = validate_many(items)
    return {doc["id"]: doc for doc in docs[:-1]}, docs[-1]


def user_docs() -> tuple[dict[str, dict], list[str]]:
    """Valid user looks ``{id: doc}`` and one-line problems of the invalid ones (skipped)."""
    folder = user_looks_dir(create=False)
    looks, problems = {}, []
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        return looks, problems
    if not deps.can_validate_in_process() and len(files) > 1 and _prefs_python():
        items = []
        for f in files:
            try:
                doc = P.read_json_file(f)
                P.check_no_code(doc, str(f))
            except ValueError as exc:
                problems.append(str(exc))
                continue
            items.append(("preset", doc, str(f), None))
        errors = deps.validate_external_many(_prefs_python(), items)
        for (kind, doc, source, _k), err in zip(items, errors):
            if err is None:
                looks[doc["id"]] = _fill_rule_defaults(doc)
            else:
                problems.append(err)
        return looks, problems
    for f in files:
        try:
            doc = load_file("preset", str(f))
        except (ValueError, deps.DependencyError) as exc:
            problems.append(str(exc))
            continue
        looks[doc["id"]] = doc
    return looks, problems


def reset_to_defaults(state, mapping: bool = True) -> list[str]:
    """Reload the shipped looks (and user looks) into the library; reset the mapping.

    Looks made in this .blend (duplicates, imports) stay. Everything is read and validated
    before the library changes. Returns problems with skipped user files.
    """
    shipped, default_mapping = shipped_docs()
    users, problems = user_docs()
    for i in reversed(range(len(state.looks))):
        if state.looks[i].source in {"SHIPPED", "USER"}:
            state.looks.remove(i)
    for doc in shipped.values():
        add_look(state, doc, "SHIPPED")
    for doc in users.values():
        if doc["id"] in shipped:
            problems.append(f"user look {doc['id']!r} has the id of a shipped look; loaded as a copy")
        add_look(state, doc, "USER", replace=False)
    if mapping or len(state.mapping) != len(GENRES):
        mapping_from_dict(state, default_mapping)
    state.active_look_index = min(state.active_look_index, max(0, len(state.looks) - 1))
    return problems


def ensure_library(state) -> list[str]:
    """Fill an empty library and mapping with the defaults (first use in a .blend)."""
    if len(state.looks) and len(state.mapping) == len(GENRES):
        return []
    return reset_to_defaults(state, mapping=len(state.mapping) != len(GENRES))


def save_user_look(look) -> Path:
    """Validate the look and save it as ``<user dir>/looks/<id>.json``; it becomes a USER look."""
    doc = look_to_dict(look)
    path = user_looks_dir(create=True) / f"{doc['id']}.json"
    write_file("preset", doc, str(path))
    look.source = "USER"
    return path
