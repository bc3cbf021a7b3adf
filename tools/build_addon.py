"""Build the installable Blender extension zip of Mainstage VFX.

    python tools/build_addon.py --out dist/            # full zip, Linux x86-64 wheels
    python tools/build_addon.py --out dist/ --bare     # no wheels (external-Python mode)

The extension folder is staged under ``build/addon/`` from whole folders:

* ``blender_addon/`` (the add-on: ``ui/``, ``scene/``, ``show/`` and its top-level
  modules), without the command-line tooling (``headless/``) and the development-install
  alias (``_dev_core.py``);
* ``core/``: the whole Mainstage runtime, its schemas and the bundled genre model, in
  place of the checkout's ``blender_addon/core`` symlink;
* ``presets/``: the shipped looks and default mapping (validated here);
* ``wheels/``: the runtime libraries Blender does not ship (never numpy, which Blender
  bundles and shares between add-ons), downloaded once with ``pip download`` into
  ``build/wheels/`` for CPython 3.11 on manylinux x86-64, at the versions installed in
  the building environment, and listed in the manifest's ``wheels``.

The zip is made by Blender's own extension builder (``blender_ext.py build
--split-platforms``, shipped inside the bpy wheel) when it is available, else written
with :mod:`zipfile` in the same layout; then it is checked with ``blender_ext.py validate``
when available.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDON_SRC = ROOT / "blender_addon"
CORE_SRC = ROOT / "core"
PRESETS_SRC = ROOT / "presets"
BUILD_DIR = ROOT / "build"

#: Distributions bundled as wheels (import name in brackets when it differs). numpy is
#: deliberately absent: Blender ships it and all add-ons share one copy.
WHEEL_DISTS = (
    "onnxruntime", "soundfile", "cffi", "soxr", "jsonschema", "attrs", "referencing", "rpds-py",
    "jsonschema-specifications", "typing-extensions", "tqdm",
)
#: Blender 4.2-5.x on Linux: CPython 3.11, glibc >= 2.28 (the VFX reference platform).
PYTHON_VERSION = "3.11"
PLATFORM_TAGS = ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64")
BLENDER_PLATFORM = "linux-x64"
#: What of blender_addon/ is not part of the extension (relative paths).
ADDON_EXCLUDE = ("headless", "_dev_core.py", "core")
#: Never copied from any folder.
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


class BuildError(Exception):
    """The extension cannot be built (one-line message)."""


# --------------------------------------------------------------------------- folders


def stage_addon(dest: Path) -> None:
    """Copy the add-on folder without :data:`ADDON_EXCLUDE`."""
    def ignore(folder, names):
        skip = set(IGNORED(folder, names))
        if Path(folder) == ADDON_SRC:
            skip |= set(ADDON_EXCLUDE) | {"blender_manifest.toml"}
        return skip

    shutil.copytree(ADDON_SRC, dest, ignore=ignore, dirs_exist_ok=True)


def stage_core(dest: Path) -> None:
    """Copy the whole runtime (code, schemas, bundled model)."""
    shutil.copytree(CORE_SRC, dest, ignore=IGNORED)


def stage_presets(dest: Path) -> int:
    """Validate and copy the shipped presets; returns the number of looks."""
    sys.path.insert(0, str(ROOT))
    try:
        from core import presets as P  # the checkout's core, validated with its own schemas
    finally:
        sys.path.pop(0)
    looks = P.load_looks_dir(PRESETS_SRC / "looks")
    P.load_mapping(PRESETS_SRC / "mappings" / "default.json", known_presets=looks)
    for sub in ("looks", "mappings"):
        (dest / sub).mkdir(parents=True, exist_ok=True)
        for f in sorted((PRESETS_SRC / sub).glob("*.json")):
            shutil.copy2(f, dest / sub / f.name)
    return len(looks)


# --------------------------------------------------------------------------- wheels


def wheel_requirements() -> list[str]:
    """``dist==version`` for each bundled distribution, pinned to the building environment."""
    reqs = []
    for dist in WHEEL_DISTS:
        try:
            reqs.append(f"{dist}=={importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            reqs.append(dist)
    return reqs


def fetch_wheels(cache: Path, offline: bool = False) -> list[Path]:
    """Wheels for :data:`WHEEL_DISTS`, downloaded into ``cache`` once (re-used while the pins match).

    Concurrent builds (parallel test workers) share the cache under a file lock.
    """
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        try:
            import fcntl
            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: builds there are not run in parallel
            pass
        return _fetch_wheels_locked(cache, offline)


def _fetch_wheels_locked(cache: Path, offline: bool) -> list[Path]:
    reqs = wheel_requirements()
    index = cache / "wheels.json"
    if index.is_file():
        known = json.loads(index.read_text())
        files = [cache / f for f in known.get("files", [])]
        if known.get("requirements") == reqs and files and all(f.is_file() for f in files):
            return files
    if offline:
        raise BuildError(f"{cache}: no cached wheels for {reqs} and --offline was given")
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps",
           "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION,
           *[a for tag in PLATFORM_TAGS for a in ("--platform", tag)], "-d", str(cache), *reqs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise BuildError(f"pip download failed: {last}")
    files = []
    for req in reqs:
        name = re.split(r"[=<>]", req)[0]
        norm = re.sub(r"[-_.]+", "_", name).lower()
        version = req.split("==")[1] if "==" in req else None
        matches = sorted(f for f in cache.glob("*.whl")
                         if re.sub(r"[-_.]+", "_", f.name.split("-")[0]).lower() == norm
                         and (version is None or f.name.split("-")[1] == version))
        if not matches:
            raise BuildError(f"pip download produced no wheel for {req}")
        files.append(matches[-1])
    if any(f.name.lower().startswith("numpy-") for f in files):
        raise BuildError("numpy must not be bundled")
    index.write_text(json.dumps({"requirements": reqs, "files": [f.name for f in files]}, indent=1))
    return files


# --------------------------------------------------------------------------- manifest & zip


def _toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def write_manifest(dest: Path, wheels: list[str]) -> dict:
    """Copy the manifest, checking its version against core's and adding the wheels list."""
    text = (ADDON_SRC / "blender_manifest.toml").read_text(encoding="utf-8")
    manifest = tomllib.loads(text)
    core_version = re.search(r'__version__\s*=\s*"([^"]+)"', (CORE_SRC / "__init__.py").read_text()).group(1)
    if manifest["version"] != core_version:
        raise BuildError(f"blender_manifest.toml version {manifest['version']} != core version {core_version}")
    if wheels:
        if "wheels" in manifest:
            raise BuildError("blender_manifest.toml must not list wheels itself (the build adds them)")
        text = text.replace("\n[permissions]", f"\nwheels = {_toml_list(wheels)}\n\n[permissions]", 1)
    (dest / "blender_manifest.toml").write_text(text, encoding="utf-8")
    return tomllib.loads(text)


def blender_ext_script() -> Path | None:
    """Blender's extension command line (``bl_pkg/cli/blender_ext.py``) from the bpy wheel, if installed."""
    spec = importlib.util.find_spec("bpy")  # locates the package without importing Blender
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        for f in sorted(Path(loc).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")):
            return f
    return None


def _zip_dir(src: Path, out: Path) -> None:
    tmp = out.with_name("." + out.name)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.write(src / "blender_manifest.toml", "blender_manifest.toml")
        for f in sorted(src.rglob("*")):
            rel = f.relative_to(src).as_posix()
            if f.is_file() and rel != "blender_manifest.toml" and "__pycache__" not in rel:
                zf.write(f, rel, compress_type=zipfile.ZIP_STORED if f.suffix == ".whl" else None)
    tmp.replace(out)


def build(out_dir: Path, bare: bool = False, offline: bool = False, use_blender: bool = True,
          stage_dir: Path | None = None) -> Path:
    """Stage the extension (in ``stage_dir``, default ``build/addon/``) and zip it; returns the zip's path."""
    stage_root = (stage_dir or BUILD_DIR / "addon") / ("bare" if bare else "full")
    manifest_src = tomllib.loads((ADDON_SRC / "blender_manifest.toml").read_text(encoding="utf-8"))
    stage = stage_root / manifest_src["id"]
    if stage_root.exists():
        shutil.rmtree(stage_root)
    stage.mkdir(parents=True)
    stage_addon(stage)
    stage_core(stage / "core")
    stage_presets(stage / "presets")
    wheel_names = []
    if not bare:
        (stage / "wheels").mkdir()
        for whl in fetch_wheels(BUILD_DIR / "wheels", offline=offline):
            shutil.copy2(whl, stage / "wheels" / whl.name)
            wheel_names.append(f"./wheels/{whl.name}")
    manifest = write_manifest(stage, wheel_names)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "bare" if bare else BLENDER_PLATFORM.replace("-", "_")
    out = out_dir / f"{manifest['id']}-{manifest['version']}-{suffix}.zip"
    tool = blender_ext_script() if use_blender else None
    if tool is not None:
        args = [sys.executable, str(tool), "build", "--source-dir", str(stage)]
        if bare:
            args += ["--output-filepath", str(out)]
        else:
            args += ["--output-dir", str(out_dir), "--split-platforms"]
        proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode != 0 or not out.is_file():
            raise BuildError(f"blender_ext.py build failed: {(proc.stdout + proc.stderr).strip().splitlines()[-1:]}")
        proc = subprocess.run([sys.executable, str(tool), "validate", str(out)], capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"blender_ext.py validate {out}: {(proc.stdout + proc.stderr).strip()}")
    else:
        _zip_dir(stage, out)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Mainstage VFX Blender extension zip.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--bare", action="store_true",
                        help="no wheels: the add-on then needs an external Python for analysis")
    parser.add_argument("--offline", action="store_true", help="use cached wheels only (build/wheels/)")
    parser.add_argument("--stage", type=Path, default=None, help="staging folder (default: build/addon/)")
    parser.add_argument("--no-blender-tool", action="store_true",
                        help="zip with Python's zipfile instead of Blender's extension builder")
    args = parser.parse_args(argv)
    try:
        out = build(args.out, bare=args.bare, offline=args.offline, use_blender=not args.no_blender_tool,
                    stage_dir=args.stage)
    except (BuildError, OSError, ValueError) as exc:
        print(f"build_addon.py: error: {exc}", file=sys.stderr)
        return 1
    with zipfile.ZipFile(out) as zf:
        n = len(zf.namelist())
    print(f"{out} ({out.stat().st_size / 1e6:.1f} MB, {n} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
