"""The built extension zips: manifest, wheels, vendored core and presets, one zip per platform.

Blender itself only validates here (``blender_ext.py validate``); the other Blender tests
install the linux-x64 zip.
"""

import ast
import json
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import build_addon  # tools/ (conftest puts it on sys.path)
from blender_site import build_zips, isolated_site

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ("linux-x64", "windows-x64", "macos-arm64", "macos-x64")
#: What a wheel's platform tag must say for each Blender platform (``any``: everywhere).
WHEEL_PLATFORM = {
    "linux-x64": r"manylinux(1|2010|2014|_2_\d+)_x86_64",
    "windows-x64": r"win_amd64",
    "macos-arm64": r"macosx_\d+_\d+_(arm64|universal2)",
    "macos-x64": r"macosx_\d+_\d+_(x86_64|intel|universal2)",
}


def _manifest(zf: zipfile.ZipFile) -> dict:
    return tomllib.loads(zf.read("blender_manifest.toml").decode())


def _dist(wheel: str) -> str:
    return re.sub(r"[-_.]+", "_", Path(wheel).name.split("-")[0]).lower()


@pytest.fixture(scope="module")
def platform_zips(tmp_path_factory) -> dict[str, Path]:
    """``make addon``'s build: every platform's zip (wheels cached in ``build/wheels/<platform>/``)."""
    tmp = tmp_path_factory.mktemp("platforms")
    zips = build_zips(tmp / "dist", tmp / "stage")
    return {z.name.split("-")[-1].removesuffix(".zip").replace("_", "-"): z for z in zips}


def test_one_zip_per_platform(platform_zips):
    assert sorted(platform_zips) == sorted(PLATFORMS)
    version = tomllib.loads((ROOT / "blender_addon" / "blender_manifest.toml").read_text())["version"]
    contents = {}
    for name, path in platform_zips.items():
        assert path.name == f"mainstage_vfx-{version}-{name.replace('-', '_')}.zip"
        with zipfile.ZipFile(path) as zf:
            contents[name] = {i.filename: i.CRC for i in zf.infolist()
                              if not i.filename.startswith("wheels/") and i.filename != "blender_manifest.toml"}
    # the same add-on, core and presets in every zip, byte for byte
    assert "core/genre/models/default.onnx" in contents["linux-x64"]
    assert all(c == contents["linux-x64"] for c in contents.values())


@pytest.mark.parametrize("name", PLATFORMS)
def test_platform_zip(platform_zips, name):
    with zipfile.ZipFile(platform_zips[name]) as zf:
        names = set(zf.namelist())
        m = _manifest(zf)
    # exactly this platform, exactly the wheels in the zip (also in what Blender generated)
    assert m["platforms"] == [name] and m["build"]["generated"]["platforms"] == [name]
    wheels = [w.removeprefix("./") for w in m["wheels"]]
    assert set(wheels) == {n for n in names if n.endswith(".whl")} and len(set(wheels)) == len(wheels)
    assert m["build"]["generated"]["wheels"] == m["wheels"]
    # one wheel of each bundled distribution (never numpy), each for CPython 3.11 on this platform
    dists = [_dist(w) for w in wheels]
    assert sorted(dists) == sorted(build_addon._norm(d) for d in build_addon.WHEEL_DISTS) and "numpy" not in dists
    assert "onnxruntime" in dists
    for w in wheels:
        python, abi, plat = Path(w).stem.split("-")[-3:]
        assert python in {"cp311", "py3", "py2.py3"} and abi in {"cp311", "abi3", "none"}, w
        assert plat == "any" or all(re.fullmatch(WHEEL_PLATFORM[name], p) for p in plat.split(".")), w
    ort = Path(next(w for w in wheels if _dist(w) == "onnxruntime")).stem
    assert ort.split("-")[-2] == "cp311" and ort.split("-")[-1] != "any", ort
    # Blender's own validator accepts the zip
    tool = build_addon.blender_ext_script()
    proc = subprocess.run([sys.executable, str(tool), "validate", str(platform_zips[name])],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "Success parsing TOML" in proc.stdout, proc.stdout + proc.stderr


def test_bundled_onnxruntimes_run_the_model(platform_zips, tmp_path):
    """Every onnxruntime release the zips bundle runs the bundled model like the development one.

    Releases are checked through their Linux wheel (same version, same operator set), in a
    process that sees only that onnxruntime and numpy, as Blender's Python would.
    """
    versions = {}  # onnxruntime version -> the platforms bundling it
    for name, path in platform_zips.items():
        with zipfile.ZipFile(path) as zf:
            ort = Path(next(w for w in _manifest(zf)["wheels"] if _dist(w) == "onnxruntime")).name
            versions.setdefault(ort.split("-")[1], []).append(name)
            if name == "linux-x64":
                linux_ort = tmp_path / ort
                linux_ort.write_bytes(zf.read(f"wheels/{ort}"))
                model = tmp_path / "default.onnx"
                model.write_bytes(zf.read("core/genre/models/default.onnx"))
    assert len(versions) >= 2, versions  # macos-x64 keeps the last onnxruntime with Intel-Mac wheels
    import onnxruntime

    x = np.random.default_rng(0).standard_normal((2, 1, 224, 64)).astype(np.float32)
    ref = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"]).run(None, {"mel": x})
    np.save(tmp_path / "x.npy", x)
    numpy_site = isolated_site(tmp_path / "numpy_site")
    script = ("import sys, json, numpy as np, onnxruntime as ort\n"
              "s = ort.InferenceSession(sys.argv[1], providers=['CPUExecutionProvider'])\n"
              "out = s.run(None, {'mel': np.load(sys.argv[2])})\n"
              "print(json.dumps([ort.__version__] + [o.tolist() for o in out]))\n")
    for version, names in sorted(versions.items()):
        if "linux-x64" in names:
            wheel = linux_ort
        else:  # the same release's Linux wheel, cached like the build's
            wheel, = build_addon.fetch_wheels(build_addon.BUILD_DIR / "wheels" / f"check-onnxruntime-{version}",
                                              [f"onnxruntime=={version}"], build_addon.PLATFORM_TAGS["linux-x64"])
        site = tmp_path / f"ort-{version}"
        zipfile.ZipFile(wheel).extractall(site)
        head = f"import sys; sys.path[:0] = {[str(site), str(numpy_site)]!r}\n"
        proc = subprocess.run([sys.executable, "-I", "-S", "-c", head + script, str(model), str(tmp_path / "x.npy")],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, f"onnxruntime {version} ({names}): {proc.stderr[-2000:]}"
        got_version, *outs = json.loads(proc.stdout)
        assert got_version == version and len(outs) == len(ref)
        for o, r in zip(outs, ref):
            np.testing.assert_allclose(np.asarray(o), r, rtol=1e-4, atol=1e-5, err_msg=f"onnxruntime {version}")


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
        m = _manifest(zf)
        assert "wheels" not in m
        # pure Python: the bare zip installs on every platform (analysis through an external Python)
        assert m["platforms"] == ["linux-x64", "windows-x64", "macos-arm64", "macos-x64"]
        assert "core/analysis/track.py" in names and "presets/mappings/default.json" in names
