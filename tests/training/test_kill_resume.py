"""kill -9 during `synth`, `synth-dataset`, `analyze --jobs 2` and `dataset prepare --jobs 2`.

Real processes are killed with SIGKILL at the moment a file-system condition is seen
(a temporary file appears, a worker has started); the rerun must find nothing
corrupt, nothing left behind (no temporary files, no live worker) and finish the work.
Waits poll for a condition; no assertion is about how long anything takes.
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import genre_helpers  # noqa: E402

CMD = [sys.executable, "-m", "mainstage.core.cli"]
#: Any temporary of core.atomic, old naming (.<stem>.<random>.tmp<suffix>) or new.
TEMP = re.compile(r"^\..*\.tmp(\.[^.]*)?$")


def start(*args) -> subprocess.Popen:
    """Start the CLI with its output in files: a pipe would block the test on orphaned workers holding it."""
    import tempfile

    out, err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")
    proc = subprocess.Popen([*CMD, *map(str, args)], stdout=out, stderr=err, text=True)
    proc.out_file, proc.err_file = out, err
    return proc


def output(proc: subprocess.Popen) -> tuple[str, str]:
    proc.wait()
    texts = []
    for fh in (proc.out_file, proc.err_file):
        fh.seek(0)
        texts.append(fh.read())
    return texts[0], texts[1]


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*CMD, *map(str, args)], capture_output=True, text=True)


def wait_until(cond, proc: subprocess.Popen | None = None, limit_s: float = 300.0) -> bool:
    """Poll ``cond`` until true; False when ``proc`` exits first or after ``limit_s`` (a hang)."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return True
        if proc is not None and proc.poll() is not None:
            return bool(cond())
        time.sleep(0.002)
    return False


def temps(folder: Path) -> list[Path]:
    return sorted(p for p in Path(folder).rglob(".*") if TEMP.match(p.name))


def _stat(pid: int) -> tuple[str, int] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")


def descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        parent = todo.pop()
        for d in os.listdir("/proc"):
            if d.isdigit():
                st = _stat(int(d))
                if st is not None and st[1] == parent and int(d) not in found:
                    found.add(int(d))
                    todo.append(int(d))
    return found


def busy_workers(pid: int, n: int) -> set[int] | None:
    """The ``n`` pool workers of ``pid`` once each has imported numpy (is at work), else None."""
    workers = set()
    for c in descendants(pid):
        try:
            cmd = Path(f"/proc/{c}/cmdline").read_bytes()
            maps = Path(f"/proc/{c}/maps").read_text()
        except OSError:
            continue
        if b"spawn_main" in cmd and "numpy" in maps:
            workers.add(c)
    return workers if len(workers) >= n else None


@pytest.fixture
def reaper():
    """Processes a test started; any still alive at the end are killed (by pid) so nothing leaks."""
    pids: set[int] = set()
    yield pids
    for pid in pids:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def kill9(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_pair(audio: Path, truth: Path) -> None:
    doc = json.loads(truth.read_text())
    assert doc["track"]["file"] == audio.name and doc["track"]["sha256"] == sha(audio)


def clicks(path: Path, seconds: float, bpm: float = 126.0, sr: int = 44100) -> Path:
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    for t in np.arange(0, seconds, 60.0 / bpm):
        i = int(t * sr)
        y[i:i + 300] += np.hanning(300).astype(np.float32) * 0.8
    sf.write(str(path), y, sr)
    return path


SYNTH = ("synth", "--genre", "Bass House", "--duration", "300")


def test_synth_killed_while_writing_audio_leaves_nothing_after_rerun(tmp_path):
    out = tmp_path / "a.wav"
    proc = start(*SYNTH, "-o", out)
    caught = wait_until(lambda: bool(temps(tmp_path)), proc)
    kill9(proc)
    assert caught, "synth ended before its temporary audio file was seen"
    assert not out.exists() and not (tmp_path / "a.truth.json").exists()
    r = run(*SYNTH, "-o", out)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.truth.json", "a.wav"]  # the hidden temp is gone
    assert_pair(out, tmp_path / "a.truth.json")


def test_synth_killed_when_audio_appears_never_leaves_audio_without_truth(tmp_path):
    out, truth = tmp_path / "a.wav", tmp_path / "a.truth.json"
    proc = start(*SYNTH, "-o", out)
    caught = wait_until(out.exists, proc)
    kill9(proc)
    assert caught, "synth ended before its audio file was seen"
    assert truth.exists(), "audio without its truth file"
    assert_pair(out, truth)
    # replacing a pair: killed while the new audio is written, the old pair stays consistent
    proc = start(*SYNTH, "--seed", "1", "-o", out)
    caught = wait_until(lambda: bool(temps(tmp_path)), proc)
    kill9(proc)
    assert caught
    if out.exists():
        assert_pair(out, truth)
    r = run(*SYNTH, "--seed", "1", "-o", out)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.truth.json", "a.wav"]
    assert_pair(out, truth)


def test_synth_dataset_killed_resumes_and_leaves_nothing(tmp_path, reaper):
    d = tmp_path / "ds"
    args = ("synth-dataset", "--tracks-per-genre", "1", "-o", d)  # jobs 1: the parent itself is killed mid-write
    proc = start(*args)
    reaper.add(proc.pid)
    caught = wait_until(lambda: (d / "audio").is_dir() and bool(temps(d)), proc)
    workers = descendants(proc.pid)
    reaper.update(workers)
    kill9(proc)
    assert caught, "synth-dataset ended before a temporary file was seen"
    assert wait_until(lambda: not any(alive(p) for p in workers), limit_s=120), "workers outlived their parent"
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert re.search(r"8 tracks: \d+ rendered, \d+ already complete", r.stdout), r.stdout
    assert temps(d) == []
    with open(d / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8
    for row in rows:
        assert_pair(d / row["path"], d / row["truth"])
    assert sorted(p.name for p in (d / "audio").iterdir()) == sorted(Path(r["path"]).name for r in rows)


def test_analyze_jobs_workers_die_with_killed_parent(tmp_path, reaper):
    tracks = [clicks(tmp_path / f"t{i}.wav", 240.0, bpm=120.0 + 2 * i) for i in range(3)]
    out = tmp_path / "out"
    args = ("analyze", *tracks, "--no-genre", "--no-cache", "--jobs", "2", "--out-dir", out)
    proc = start(*args)
    reaper.add(proc.pid)
    assert wait_until(lambda: busy_workers(proc.pid, 2) is not None, proc), output(proc)
    family = descendants(proc.pid)  # the two workers and multiprocessing's resource tracker
    reaper.update(family)
    assert len(family) >= 2
    kill9(proc)
    gone = wait_until(lambda: not any(alive(p) for p in family), limit_s=60)
    assert gone, f"still running after their parent was killed: {sorted(p for p in family if alive(p))}"
    r = run(*args)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [f"t{i}.timeline.json" for i in range(3)]
    for i in range(3):
        assert json.loads((out / f"t{i}.timeline.json").read_text())["tempo"]["bpm"] is not None


def test_analyze_jobs_sigterm_stops_workers(tmp_path, reaper):
    tracks = [clicks(tmp_path / f"t{i}.wav", 240.0) for i in range(3)]
    proc = start("analyze", *tracks, "--no-genre", "--no-cache", "--jobs", "2", "--out-dir", tmp_path / "out")
    reaper.add(proc.pid)
    assert wait_until(lambda: busy_workers(proc.pid, 2) is not None, proc)
    family = descendants(proc.pid)
    reaper.update(family)
    proc.send_signal(signal.SIGTERM)
    _, err = output(proc)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err, (proc.returncode, err)
    assert wait_until(lambda: not any(alive(p) for p in family), limit_s=60)


def test_dataset_prepare_killed_resumes_and_leaves_nothing(tmp_path, reaper):
    manifest = genre_helpers().write_dataset(tmp_path / "data", genres=(0, 3), per_genre=3, bars=48)
    cache = tmp_path / "cache"
    args = ("dataset", "prepare", manifest, "--cache-dir", cache, "--jobs", "2", "--chroma", "-q")
    proc = start(*args)
    reaper.add(proc.pid)
    assert wait_until(lambda: busy_workers(proc.pid, 2) is not None, proc), output(proc)
    caught = wait_until(lambda: bool(temps(cache)), proc)  # a worker is writing an entry
    family = descendants(proc.pid)
    reaper.update(family)
    kill9(proc)
    assert caught, "prepare ended before a temporary file was seen"
    assert wait_until(lambda: not any(alive(p) for p in family), limit_s=60), "workers outlived their parent"
    r = run(*args)
    assert r.returncode == 0, r.stderr
    m = re.search(r"6 tracks: (\d+) computed, (\d+) already cached, 0 failed", r.stdout)
    assert m and int(m[1]) >= 1, r.stdout
    assert temps(cache) == []
    r = run(*args)
    assert "0 computed, 6 already cached, 0 failed" in r.stdout, r.stdout
