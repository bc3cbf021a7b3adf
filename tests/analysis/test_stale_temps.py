"""`mainstage analyze` removes the temporary files a killed run left (kill -9 mid-write), beside
its outputs and in the analysis cache; other processes' and the old naming's are left alone."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile as sf

from mainstage.core.timeline import load_timeline

CMD = [sys.executable, "-m", "mainstage.core.cli"]
#: Any temporary of core.atomic (``.<stem>.<pid>.<random>.tmp<suffix>``, or the old naming without the pid).
TEMP = re.compile(r"^\..*\.tmp(\.[^.]*)?$")
#: A writer of a large JSON document through the project's atomic writer (what analyze and the cache use).
WRITER = """
import sys
from mainstage.core.analysis.cache import AnalysisCache
from mainstage.core.atomic import write_json_atomic
doc = {"beats": [i * 0.4688 for i in range(6_000_000)]}
if sys.argv[1] == "cache":
    AnalysisCache(sys.argv[2]).put("ab" + "0" * 62, doc)
else:
    write_json_atomic(sys.argv[2], doc)
"""


def temps(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob(".*") if TEMP.match(p.name))


def killed_mid_write(kind: str, target: Path, watch: Path) -> Path:
    """Start a large atomic write and SIGKILL it once its temporary holds data; returns the temporary."""
    watch.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(target)])
    try:
        end = time.monotonic() + 120
        while time.monotonic() < end and proc.poll() is None:
            found = [p for p in temps(watch) if f".{proc.pid}." in p.name and p.stat().st_size > 0]
            if found:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return found[0]
            time.sleep(0.002)
        raise AssertionError(f"the writer finished (exit {proc.poll()}) before it could be killed")
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_analyze_removes_stale_temps_of_killed_writers(tmp_path):
    rng = np.random.default_rng(3)
    wav = tmp_path / "x.wav"
    sf.write(wav, (0.2 * rng.standard_normal(22050 * 6)).astype(np.float32), 22050)
    out_dir, cache = tmp_path / "out", tmp_path / "cache"
    out = out_dir / "x.timeline.json"

    stale_out = killed_mid_write("out", out, out_dir)
    stale_cache = killed_mid_write("cache", cache, cache)
    assert stale_out.parent == out_dir and stale_cache.parent == cache / "analysis" / "ab"
    # left alone: a live process's temporary (this test's pid), the old naming without a pid,
    # and a temporary of another file in the output folder
    live = out_dir / f".x.timeline.{os.getpid()}.abcdEFGH.tmp.json"
    old = out_dir / ".x.timeline.abcdEFGH.tmp.json"
    other = out_dir / f".y.timeline.{stale_out.name.split('.')[3]}.abcdEFGH.tmp.json"
    for p in (live, old, other):
        p.write_text("{}")

    proc = subprocess.run([*CMD, "analyze", str(wav), "-o", str(out), "--no-genre", "-q"], capture_output=True,
                          text=True, env={**os.environ, "MAINSTAGE_CACHE_DIR": str(cache)}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert load_timeline(out)["track"]["file"] == "../x.wav"
    assert not stale_out.exists() and not stale_cache.exists()
    assert temps(out_dir) == sorted([live, old, other]) and temps(cache) == []
