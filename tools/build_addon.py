"""Build the installable Blender extension zips of Mainstage VFX, one per platform.

    python tools/build_addon.py --out dist/                         # one zip per platform
    python tools/build_addon.py --out dist/ --platform windows-x64  # only that platform's zip
    python tools/build_addon.py --out dist/ --bare                  # no wheels (external-Python mode)

The platforms are those of ``blender_addon/blender_manifest.toml`` (linux-x64, windows-x64,
macos-arm64, macos-x64). Each zip, ``mainstage_vfx-<version>-<platform>.zip`` (``-`` in the
platform as ``_``, Blender's ``--split-platforms`` naming), declares exactly its platform and
is staged under ``build/addon/<platform>/`` from whole folders:

* ``blender_addon/`` (the add-on: ``ui/``, ``scene/``, ``show/`` and its top-level
  modules), without the command-line tooling (``headless/``) and the development-install
  alias (``_dev_core.py``);
* ``core/``: the whole Mainstage runtime, its schemas and the bundled genre model, in
  place of the checkout's ``blender_addon/core`` symlink;
* ``presets/``: the shipped looks and default mapping (validated here);
* ``wheels/``: that platform's wheels of the runtime libraries Blender does not ship
  (never numpy, which Blender bundles and shares between add-ons), for CPython 3.11 at the
  versions installed in the building environment (except :data:`PLATFORM_PINS`),
  downloaded once with ``pip download`` into ``build/wheels/<platform>/`` and listed in the
  manifest's ``wheels``.

The bare zip has no wheels and keeps the manifest's four platforms. Zips are made by
Blender's own extension builder (``blender_ext.py build``, shipped inside the bpy wheel)
when it is available, else written with :mod:`zipfile` in the same layout; each is then
checked with ``blender_ext.py validate`` when available.
"""
from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import platform
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
#: Blender 4.2-5.x bundle CPython 3.11 on every platform.
PYTHON_VERSION = "3.11"
ABI = "cp311"
#: Blender platform -> the wheel platform tags ``pip download`` accepts for it. pip widens a
#: macOS tag to that version and older (and to universal2), so the version there is the oldest
#: macOS the zip runs on; Linux: glibc >= 2.28 (the VFX reference platform).
PLATFORM_TAGS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    # onnxruntime >= 1.24 publishes Apple-silicon wheels for macOS 14 and newer only.
    "macos-arm64": ("macosx_14_0_arm64",),
    # onnxruntime 1.23.2, the last release with Intel-Mac wheels, needs macOS 13.
    "macos-x64": ("macosx_13_0_x86_64",),
}
#: Versions that differ from the building environment's on a platform, because no wheel of
#: that version exists there (the bundled model needs ONNX IR 10 / opset 18: 1.23 runs it).
PLATFORM_PINS = {"macos-x64": {"onnxruntime": "1.23.2"}}
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


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def host_platform() -> str:
    """This machine's platform in Blender's spelling (``linux-x64``, ``macos-arm64``, ...)."""
    system = {"darwin": "macos"}.get(platform.system().lower(), platform.system().lower())
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64"}.get(platform.machine().lower(),
                                                                       platform.machine().lower())
    return f"{system}-{machine}"


def wheel_requirements(platform_name: str) -> list[str]:
    """``dist==version`` for each bundled distribution on ``platform_name``.

    Pinned to the building environment, except where :data:`PLATFORM_PINS` says otherwise.
    """
    pins = PLATFORM_PINS.get(platform_name, {})
    reqs = []
    for dist in WHEEL_DISTS:
        try:
            version = pins.get(dist) or importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            reqs.append(dist)
        else:
            reqs.append(f"{dist}=={version}")
    return reqs


def fetch_wheels(cache: Path, reqs: list[str], tags: tuple[str, ...], offline: bool = False) -> list[Path]:
    """Wheels of ``reqs`` for the platform ``tags``, downloaded into ``cache`` once.

    The cache is re-used while requirements and tags match; concurrent builds (parallel
    test workers) share it under a file lock.

    Parameters
    ----------
    cache : Path
        One folder per platform (``build/wheels/<platform>/``).
    reqs : list of str
        ``dist==version`` (or bare names), one wheel each (no dependencies).
    tags : tuple of str
        ``pip download --platform`` values.
    offline : bool
        Use the cache only (:class:`BuildError` when it does not hold them).

    Returns
    -------
    list of Path
        One wheel per requirement, in order.
    """
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        try:
            import fcntl
            fcntl.flock(lock, fcntl.LOCK_EX)
        except ImportError:  # not POSIX: builds there are not run in parallel
            pass
        return _fetch_wheels_locked(cache, reqs, tags, offline)


def _fetch_wheels_locked(cache: Path, reqs: list[str], tags: tuple[str, ...], offline: bool) -> list[Path]:
    index = cache / "wheels.json"
    key = {"requirements": reqs, "platforms": list(tags), "python": PYTHON_VERSION, "abi": ABI}
    if index.is_file():
        known = json.loads(index.read_text())
        files = [cache / f for f in known.get("files", [])]
        if {k: known.get(k) for k in key} == key and files and all(f.is_file() for f in files):
            return files
    if offline:
        raise BuildError(f"{cache}: no cached wheels for {' '.join(reqs)} ({tags[0]}) and --offline was given")
    # A fresh folder, so that exactly the wheels pip chose are taken (no stale ones of other tags).
    tmp = cache / ".download"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps",
           "--only-binary=:all:", "--implementation", "cp", "--python-version", PYTHON_VERSION, "--abi", ABI,
           *[a for tag in tags for a in ("--platform", tag)], "-d", str(tmp), *reqs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [ln for ln in proc.stderr.strip().splitlines() if ln.startswith("ERROR")] or ["pip failed"]
        raise BuildError(f"pip download for {tags[0]} failed: {errors[-1]}")
    got = {_norm(f.name.split("-")[0]): f for f in tmp.glob("*.whl")}
    files = []
    for req in reqs:
        name = _norm(re.split(r"[=<>]", req)[0])
        if name not in got:
            raise BuildError(f"pip download produced no {tags[0]} wheel for {req}")
        dest = cache / got[name].name
        got[name].replace(dest)
        files.append(dest)
    shutil.rmtree(tmp, ignore_errors=True)
    if any(f.name.lower().startswith("numpy-") for f in files):
        raise BuildError("numpy must not be bundled")
    _write_atomic(index, json.dumps({**key, "files": [f.name for f in files]}, indent=1))
    return files


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------- manifest & zip


def _toml_list(values) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def source_manifest() -> dict:
    """``blender_addon/blender_manifest.toml``, parsed."""
    return tomllib.loads((ADDON_SRC / "blender_manifest.toml").read_text(encoding="utf-8"))


def write_manifest(dest: Path, wheels: list[str], platform_name: str | None = None) -> dict:
    """Copy the manifest, checking its version against core's; returns the written manifest.

    Parameters
    ----------
    dest : Path
        The staged extension folder.
    wheels : list of str
        ``./wheels/NAME.whl`` paths, added as the manifest's ``wheels`` (none: no list).
    platform_name : str, optional
        The one platform the zip declares (default: keep the source's ``platforms``).
    """
    text = (ADDON_SRC / "blender_manifest.toml").read_text(encoding="utf-8")
    manifest = tomllib.loads(text)
    core_version = re.search(r'__version__\s*=\s*"([^"]+)"', (CORE_SRC / "__init__.py").read_text()).group(1)
    if manifest["version"] != core_version:
        raise BuildError(f"blender_manifest.toml version {manifest['version']} != core version {core_version}")
    if platform_name is not None:
        text, n = re.subn(r"(?m)^platforms\s*=\s*\[[^\]\n]*\][ \t]*$", f"platforms = {_toml_list([platform_name])}", text)
        if n != 1:
            raise BuildError("blender_manifest.toml must declare its platforms on one line")
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


def validate_zip(zip_path: Path, tool: Path) -> str:
    """Check a zip with ``blender_ext.py validate``; returns its output (:class:`BuildError` if rejected)."""
    proc = subprocess.run([sys.executable, str(tool), "validate", str(zip_path)], capture_output=True, text=True)
    out = (proc.stdout + proc.stderr).strip()
    if proc.returncode != 0:
        raise BuildError(f"blender_ext.py validate {zip_path.name}: {' '.join(out.splitlines()) or 'rejected'}")
    return out


def _zip_dir(src: Path, out: Path) -> None:
    tmp = out.with_name("." + out.name)
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.write(src / "blender_manifest.toml", "blender_manifest.toml")
        for f in sorted(src.rglob("*")):
            rel = f.relative_to(src).as_posix()
            if f.is_file() and rel != "blender_manifest.toml" and "__pycache__" not in rel:
                zf.write(f, rel, compress_type=zipfile.ZIP_STORED if f.suffix == ".whl" else None)
    tmp.replace(out)


def build(out_dir: Path, platforms: list[str] | None = None, bare: bool = False, offline: bool = False,
          use_blender: bool = True, stage_dir: Path | None = None) -> list[Path]:
    """Stage and zip the extension; returns the zips' paths.

    Parameters
    ----------
    out_dir : Path
        Where the zips go.
    platforms : list of str, optional
        Blender platforms to build a zip for (default: all those of the source manifest).
    bare : bool
        Build the one zip without wheels instead (all platforms, external-Python mode).
    offline : bool
        Use cached wheels only (``build/wheels/<platform>/``).
    use_blender : bool
        Zip with Blender's extension builder and validate with it when the bpy wheel is installed.
    stage_dir : Path, optional
        Staging folder (default ``build/addon/``); one subfolder per zip.
    """
    declared = source_manifest().get("platforms") or []
    if bare:
        return [_build_one(out_dir, None, offline, use_blender, stage_dir)]
    platforms = list(platforms or declared)
    if not platforms:
        raise BuildError("blender_manifest.toml declares no platforms to build wheels for")
    for name in platforms:
        if name not in declared:
            raise BuildError(f"platform {name} is not declared in blender_manifest.toml ({', '.join(declared)})")
        if name not in PLATFORM_TAGS:
            raise BuildError(f"platform {name}: no wheel tags known (tools/build_addon.py PLATFORM_TAGS)")
    return [_build_one(out_dir, name, offline, use_blender, stage_dir) for name in platforms]


def _build_one(out_dir: Path, platform_name: str | None, offline: bool, use_blender: bool,
               stage_dir: Path | None) -> Path:
    """One zip: for ``platform_name`` with its wheels, or the bare one (``None``)."""
    stage_root = (stage_dir or BUILD_DIR / "addon") / (platform_name or "bare")
    stage = stage_root / source_manifest()["id"]
    if stage_root.exists():
        shutil.rmtree(stage_root)
    stage.mkdir(parents=True)
    stage_addon(stage)
    stage_core(stage / "core")
    stage_presets(stage / "presets")
    wheel_names = []
    if platform_name is not None:
        (stage / "wheels").mkdir()
        wheels = fetch_wheels(BUILD_DIR / "wheels" / platform_name, wheel_requirements(platform_name),
                              PLATFORM_TAGS[platform_name], offline=offline)
        for whl in wheels:
            shutil.copy2(whl, stage / "wheels" / whl.name)
            wheel_names.append(f"./wheels/{whl.name}")
    manifest = write_manifest(stage, wheel_names, platform_name)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = platform_name.replace("-", "_") if platform_name else "bare"
    out = out_dir / f"{manifest['id']}-{manifest['version']}-{suffix}.zip"
    tool = blender_ext_script() if use_blender else None
    if tool is None:
        _zip_dir(stage, out)
        return out
    args = [sys.executable, str(tool), "build", "--source-dir", str(stage)]
    if platform_name is None:
        args += ["--output-filepath", str(out)]
    else:  # one declared platform: Blender names the zip <id>-<version>-<platform> and records it
        args += ["--output-dir", str(out_dir), "--split-platforms"]
    proc = subprocess.run(args, capture_output=True, text=True)
    if proc.returncode != 0 or not out.is_file():
        last = ((proc.stdout + proc.stderr).strip().splitlines() or ["no output"])[-1]
        raise BuildError(f"blender_ext.py build {out.name} failed: {last}")
    validate_zip(out, tool)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the Mainstage VFX Blender extension zips.")
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--platform", action="append", choices=sorted(PLATFORM_TAGS), dest="platforms",
                        help="build only this platform's zip (repeatable; default: every declared platform)")
    parser.add_argument("--bare", action="store_true",
                        help="one zip without wheels: the add-on then needs an external Python for analysis")
    parser.add_argument("--offline", action="store_true", help="use cached wheels only (build/wheels/)")
    parser.add_argument("--stage", type=Path, default=None, help="staging folder (default: build/addon/)")
    parser.add_argument("--no-blender-tool", action="store_true",
                        help="zip with Python's zipfile instead of Blender's extension builder")
    args = parser.parse_args(argv)
    if args.bare and args.platforms:
        parser.error("--bare builds one zip for all platforms; drop --platform")
    try:
        zips = build(args.out, platforms=args.platforms, bare=args.bare, offline=args.offline,
                     use_blender=not args.no_blender_tool, stage_dir=args.stage)
    except (BuildError, OSError, ValueError) as exc:
        print(f"build_addon.py: error: {exc}", file=sys.stderr)
        return 1
    for out in zips:
        with zipfile.ZipFile(out) as zf:
            n = len(zf.namelist())
        print(f"{out} ({out.stat().st_size / 1e6:.1f} MB, {n} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
