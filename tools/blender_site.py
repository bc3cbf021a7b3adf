"""Running the built extension the way a user's Blender does, from a plain Python with the bpy wheel.

* :func:`build_zips` builds the extension with ``tools/build_addon.py`` in a subprocess
  (so the build sees the checkout, not the caller's imports) and returns the zips' paths;
  :func:`build_zip` builds only this machine's platform (or the bare zip);
* :func:`isolated_site` makes a folder with links to bpy and numpy only, what Blender's
  bundled Python provides, so that a ``python -I -S`` process with it on ``sys.path``
  uses the zip's wheels and vendored core, never the development install.

Used by the Blender tests and the in-Blender benchmarks.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

from build_addon import host_platform  # tools/, beside this module

ROOT = Path(__file__).resolve().parent.parent


def build_zips(out: Path, stage: Path, *extra: str, python: str = sys.executable) -> list[Path]:
    """Build extension zips into ``out`` (staging in ``stage``); ``extra``: e.g. ``"--platform", "macos-x64"``.

    Without ``--platform`` or ``--bare``, one zip per platform; returns them in build order.
    """
    proc = subprocess.run([python, str(ROOT / "tools" / "build_addon.py"), "--out", str(out), "--stage", str(stage),
                           *extra], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"extension build failed: {proc.stderr.strip()}")
    return [Path(line.split(" (")[0].strip()) for line in proc.stdout.splitlines() if line.endswith("files)")]


def build_zip(out: Path, stage: Path, *extra: str, python: str = sys.executable) -> Path:
    """The zip for this machine's platform (the bare zip with ``"--bare"``), built into ``out``."""
    if "--bare" not in extra and "--platform" not in extra:
        extra = ("--platform", host_platform(), *extra)
    return build_zips(out, stage, *extra, python=python)[0]


def isolated_site(dest: Path) -> Path:
    """A folder with links to bpy and numpy only (what Blender itself provides)."""
    spec = importlib.util.find_spec("bpy")
    site = Path(list(spec.submodule_search_locations)[0]).parent
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("bpy", "numpy", "numpy.libs"):
        if (site / name).exists() and not (dest / name).exists():
            (dest / name).symlink_to(site / name)
    return dest
