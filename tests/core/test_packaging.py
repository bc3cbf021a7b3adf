"""Packaging checks: every package folder is installed, core stays free of bpy/torch (librosa only for chroma)."""
import ast
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_package_folder_is_listed():
    mapping = PYPROJECT["tool"]["setuptools"]["package-dir"]
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    for pkg, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            name = ".".join([pkg, *rel.parts]) if rel.parts else pkg
            assert name in listed, f"{init.parent} is not listed in pyproject.toml packages"


def _imports(path: Path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name.split(".")[0], node.lineno
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno


def test_core_has_no_heavy_or_blender_imports():
    forbidden = {"bpy", "torch", "torchvision", "librosa", "scipy", "sklearn", "matplotlib"}
    # librosa is the optional dependency of models trained with chroma, imported on use only
    allowed = {("core/genre/chroma.py", "librosa")}
    offenders = [f"{p.relative_to(ROOT)}:{line} imports {mod}"
                 for p in (ROOT / "core").rglob("*.py") for mod, line in _imports(p)
                 if mod in forbidden and (p.relative_to(ROOT).as_posix(), mod) not in allowed]
    assert not offenders, offenders


def test_core_uses_relative_imports_only():
    offenders = [f"{p.relative_to(ROOT)}:{line}" for p in (ROOT / "core").rglob("*.py")
                 for mod, line in _imports(p) if mod == "mainstage"]
    assert not offenders, f"core must import itself relatively (it is vendored into the Blender extension): {offenders}"


def test_cli_help_imports_nothing_heavy():
    code = ("import sys, mainstage.core.cli as c; c.build_parser(); "
            "heavy = [m for m in ('torch', 'bpy', 'librosa', 'onnxruntime') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_commands_are_registered_by_their_packages():
    """core's CLI finds every subcommand through the entry points; each module is in its own package."""
    eps = PYPROJECT["project"]["entry-points"]["mainstage.commands"]
    owners = {name: target.split(".")[1] for name, target in eps.items()}
    assert {n for n, o in owners.items() if o == "core"} == {"analyze", "validate"}
    assert {"render", "preview"} == {n for n, o in owners.items() if o == "blender_addon"}
    from mainstage.core import cli

    assert set(cli.commands()) == set(eps)
    assert all(cli.command_module(n) is not None for n in eps)

