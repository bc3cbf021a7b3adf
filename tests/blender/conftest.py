"""Real-Blender tests: each scenario runs in a fresh ``bpy`` process with the built extension.

The extension is built once per test session (``tools/build_addon.py``; wheels are
cached under ``build/wheels/``) and installed into a clean Blender user folder with the
extension install operator. Scenario processes see only bpy and numpy from the venv
(like Blender's bundled Python), so the bundled wheels and the vendored core are what
the add-on really uses.
"""
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))
from blender_site import build_zip, isolated_site  # noqa: E402

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
PYTHON = sys.executable  # the venv Python: also the "external interpreter" with mainstage-vfx installed


@dataclass
class Blender:
    full_zip: Path
    bare_zip: Path
    site: Path
    tmp: Path

    def run(self, scenario: str, home: Path, timeout: float = 300, **env) -> dict:
        """Run ``scenarios/<scenario>`` in a clean bpy process; return its RESULT dict."""
        home.mkdir(parents=True, exist_ok=True)
        full_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "BLENDER_USER_RESOURCES": str(home / "blender"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "MSVFX_SITE": str(self.site),
            "MSVFX_FULL_ZIP": str(self.full_zip),
            "MSVFX_BARE_ZIP": str(self.bare_zip),
            "MSVFX_PYTHON": PYTHON,
            "MSVFX_ROOT": str(ROOT),
            **{k: str(v) for k, v in env.items()},
        }
        proc = subprocess.run([PYTHON, "-I", "-S", str(SCENARIOS / scenario)], capture_output=True, text=True,
                              timeout=timeout, env=full_env, cwd=str(home))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"scenario {scenario} failed (exit {proc.returncode}):\n{out[-6000:]}"
        lines = [l for l in proc.stdout.splitlines() if l.startswith("RESULT ")]
        assert lines, f"scenario {scenario} returned no result:\n{out[-4000:]}"
        return json.loads(lines[-1][len("RESULT "):])


@pytest.fixture(scope="session")
def blender(tmp_path_factory) -> Blender:
    tmp = tmp_path_factory.mktemp("blender")
    full = build_zip(tmp / "dist", tmp / "stage")
    bare = build_zip(tmp / "dist", tmp / "stage", "--bare")
    return Blender(full, bare, isolated_site(tmp / "site"), tmp)


@pytest.fixture(scope="session")
def synth_track(tmp_path_factory) -> Path:
    """A 48-bar SynthHouse Bass House track (~90 s) with its truth file beside it."""
    from mainstage.training.synthhouse import render_track, write_track

    d = tmp_path_factory.mktemp("synth")
    path = d / "bass_house.wav"
    write_track(render_track("Bass House", seed=11, bars=48), path)
    return path


def write_click_set(work: Path, sr: int = 22050) -> tuple[dict, Path, Path]:
    """The synthetic DJ set's timeline with a click track as its audio, written into ``work``.

    Returns the timeline document, its path (``set.timeline.json``) and the audio's (``set.wav``).
    """
    import soundfile as sf

    from mainstage.core.hashing import sha256_file
    from mainstage.core.timeline import save_timeline
    from mainstage.training.synthhouse.timelines import click_track, synthetic_set

    doc = synthetic_set()
    audio = work / "set.wav"
    sf.write(audio, click_track(doc, sr), sr)
    doc["track"].update(file="set.wav", sha256=sha256_file(audio), sample_rate=sr)
    tl = work / "set.timeline.json"
    save_timeline(doc, tl)
    return doc, tl, audio


@pytest.fixture(scope="session")
def click_set():
    """:func:`write_click_set`, for the scenarios that play the synthetic set."""
    return write_click_set
