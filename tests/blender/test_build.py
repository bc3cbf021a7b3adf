"""The built extension zip: manifest, wheels, vendored core and presets (no Blender needed)."""

import ast
import re
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[2]


def _manifest(zf: zipfile.ZipFile) -> dict:
    return tomllib.loads(zf.read("blender_manifest.toml").decode())


def test_full_zip_layout(blender):
    with zipfile.ZipFile(blender.full_zip) as zf:
        names = set(zf.namelist())
        m = _manifest(zf)
        assert m["schema_version"] == "1.0.0" and m["type"] == "add-on" and m["id"] == "mainstage_vfx"
        assert m["blender_version_min"] == "4.2.0"
        assert m["platforms"] == ["linux-x64"] and m["build"]["generated"]["platforms"] == ["linux-x64"]
        assert set(m["permissions"]) == {"files"} and m["permissions"]["files"]
        # every listed wheel is in the zip, every wheel in the zip is listed
        wheels = {w.removeprefix("./") for w in m["wheels"]}
        assert wheels == {n for n in names if n.endswith(".whl")}
        dists = {re.sub(r"[-_.]+", "_", Path(w).name.split("-")[0]).lower() for w in wheels}
        assert {"onnxruntime", "soundfile", "soxr", "jsonschema", "rpds_py", "referencing", "cffi"} <= dists
        assert "numpy" not in dists
        for w in wheels:
            tags = Path(w).stem.split("-")[-3:]
            assert tags[0] in {"cp311", "py3", "py2.py3"}, w
            assert tags[2] == "any" or "x86_64" in tags[2], w
        # the add-on by role, without its command-line tooling; core copied whole; presets
        assert {"__init__.py", "jobs.py", "deps.py", "ui/panels.py", "scene/props.py", "scene/sync.py",
                "show/plan.py"} <= names
        assert not any(n.startswith("headless/") or n == "_dev_core.py" for n in names)
        core_files = {f"core/{p.relative_to(ROOT / 'core').as_posix()}" for p in (ROOT / "core").rglob("*")
                      if p.is_file() and "__pycache__" not in p.parts}
        assert core_files and core_files <= names, sorted(core_files - names)[:5]
        assert "core/genre/models/default.onnx" in names and "core/schemas/timeline.schema.json" in names
        looks = sorted(n for n in names if n.startswith("presets/looks/"))
        assert len(looks) == 8 and "presets/mappings/default.json" in names
        # the vendored core imports itself relatively only (it lives under the extension's package)
        for n in names:
            if n.startswith("core/") and n.endswith(".py"):
                tree = ast.parse(zf.read(n).decode())
                for node in ast.walk(tree):
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        assert not node.module.startswith("mainstage"), n
                    if isinstance(node, ast.Import):
                        assert not any(a.name.startswith("mainstage") for a in node.names), n


def test_bare_zip_has_no_wheels(blender):
    with zipfile.ZipFile(blender.bare_zip) as zf:
        names = zf.namelist()
        assert not any(n.endswith(".whl") for n in names)
        assert "wheels" not in _manifest(zf)
        assert "core/analysis/track.py" in names and "presets/mappings/default.json" in names
