"""Timelines are untrusted (issue 15): numbers in sane ranges, strings of bounded length, no
NaN even in documents built in memory, and a track.file that must be the analysed audio
inside the timeline's folder (render refuses anything else)."""
from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.hashing import sha256_file
from mainstage.core.timeline import TimelineError, new_timeline, save_timeline, validate_timeline

CLI = [sys.executable, "-m", "mainstage.core.cli"]
SR = 22050


def make_doc(file: str = "t.wav", sha: str = "0" * 64, duration: float = 4.0) -> dict:
    return new_timeline(file=file, duration_s=duration, sample_rate=SR, sha256=sha, bpm=120.0,
                        tempo_segments=[{"start_s": 0.0, "end_s": duration, "bpm": 120.0}],
                        beats=np.arange(int(duration * 2)) * 0.5, downbeats=np.arange(int(duration / 2)) * 2.0)


def validate_cli(tmp_path: Path, doc: dict) -> subprocess.CompletedProcess:
    path = tmp_path / "x.timeline.json"
    path.write_text(json.dumps(doc))
    return subprocess.run([*CLI, "validate", str(path)], capture_output=True, text=True, timeout=120)


BAD = {
    "bpm 1e308": (lambda d: d["tempo"].__setitem__("bpm", 1e308), "tempo.bpm"),
    "bpm 0.001": (lambda d: d["tempo"].__setitem__("bpm", 0.001), "tempo.bpm"),
    "segment bpm 1e308": (lambda d: d["tempo"]["segments"][0].__setitem__("bpm", 1e308), "tempo.segments[0].bpm"),
    "50 MB track.file": (lambda d: d["track"].__setitem__("file", "a" * 50_000_000), "track.file"),
    "duration 1e308": (lambda d: d["track"].__setitem__("duration_s", 1e308), "track.duration_s"),
    "sample rate 1e15": (lambda d: d["track"].__setitem__("sample_rate", 10**15), "track.sample_rate"),
    "huge warning": (lambda d: d["warnings"].append("w" * 100_000), "warnings[0]"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_out_of_range_values_are_invalid(tmp_path, case):
    doc = make_doc()
    edit, where = BAD[case]
    edit(doc)
    proc = validate_cli(tmp_path, doc)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 1 and out.startswith("INVALID") and where in out, out[:500]
    assert len(out.splitlines()) == 1 and len(out) < 600, out[:600]


def test_sane_values_stay_valid():
    for bpm in (60.0, 128.0, 174.0, 999.0):
        doc = make_doc()
        doc["tempo"]["bpm"] = bpm
        validate_timeline(doc)


@pytest.mark.parametrize("where", ["tempo.bpm", "track.duration_s", "genre_windows"])
def test_nan_in_a_document_built_in_memory_is_refused(where):
    """The add-on validates the timeline stored in a .blend after parsing it: NaN must not pass
    even though the schema's range checks compare false for NaN."""
    doc = make_doc()
    if where == "tempo.bpm":
        doc["tempo"]["bpm"] = float("nan")
    elif where == "track.duration_s":
        doc["track"]["duration_s"] = float("nan")
    else:
        doc["genre_windows"] = [{"start_s": 0.0, "end_s": 2.0, "probs": [float("nan")] * 8}]
        doc["genre_summary"] = [0.125] * 8
    with pytest.raises(TimelineError, match="finite"):
        validate_timeline(doc, "Text 'Scene.timeline.json'")


# --------------------------------------------------------------------------- track.file
@pytest.fixture()
def show(tmp_path):
    """A folder with a real track and its timeline (track.file relative, hash matching)."""
    d = tmp_path / "show"
    d.mkdir()
    t = np.arange(4 * SR) / SR
    sf.write(d / "t.wav", (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), SR)
    doc = make_doc("t.wav", sha256_file(d / "t.wav"))
    save_timeline(doc, d / "t.timeline.json")
    return d, doc


def check(doc, timeline, **kw):
    from mainstage.core.timeline import check_track_audio

    return check_track_audio(doc, timeline, **kw)


def test_good_track_file_resolves_in_the_timeline_folder(show):
    d, doc = show
    assert check(doc, d / "t.timeline.json") == (d / "t.wav").resolve()


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../etc/passwd", "link.wav"])
def test_track_file_outside_the_folder_is_refused(show, name):
    d, doc = show
    os.symlink("/etc/passwd", d / "link.wav")
    bad = copy.deepcopy(doc)
    bad["track"]["file"] = name
    with pytest.raises(TimelineError, match="absolute path|outside the timeline's folder") as err:
        check(bad, d / "t.timeline.json")
    assert str(d / "t.timeline.json") in str(err.value) and "--allow-outside-paths" in str(err.value)


def test_allow_outside_still_checks_the_hash(show, tmp_path):
    d, doc = show
    other = tmp_path / "elsewhere.wav"
    other.write_bytes((d / "t.wav").read_bytes())
    moved = copy.deepcopy(doc)
    moved["track"]["file"] = str(other)
    assert check(moved, d / "t.timeline.json", allow_outside=True) == other.resolve()
    moved["track"]["file"] = "/etc/passwd"
    with pytest.raises(TimelineError, match="not the analysed track"):
        check(moved, d / "t.timeline.json", allow_outside=True)


def test_wrong_or_undecodable_audio_is_refused(show):
    d, doc = show
    (d / "other.wav").write_bytes((d / "t.wav").read_bytes()[:-100])
    wrong = copy.deepcopy(doc)
    wrong["track"]["file"] = "other.wav"
    with pytest.raises(TimelineError, match="not the analysed track"):
        check(wrong, d / "t.timeline.json")
    (d / "notes.wav").write_text("not audio at all")
    junk = copy.deepcopy(doc)
    junk["track"].update(file="notes.wav", sha256=sha256_file(d / "notes.wav"))
    with pytest.raises(TimelineError, match="does not decode"):
        check(junk, d / "t.timeline.json")


def render(timeline: Path, out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "render", str(timeline), "-o", str(out), "--engine", "workbench",
                           "--resolution", "64x36", "--to", "0.5", "-q", *extra],
                          capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("name", ["/etc/passwd", "../" * 16 + "etc/passwd"])
def test_render_refuses_a_system_file_as_audio(show, name):
    d, doc = show
    bad = copy.deepcopy(doc)
    bad["track"]["file"] = name
    save_timeline(bad, d / "evil.timeline.json")
    proc = render(d / "evil.timeline.json", d / "evil.mp4")
    err = proc.stderr.strip()
    assert proc.returncode == 1 and len(err.splitlines()) == 1 and "Traceback" not in err, (proc.returncode, err)
    assert str(d / "evil.timeline.json") in err
    assert not (d / "evil.mp4").exists()


def test_render_refuses_audio_that_is_not_the_analysed_track(show):
    d, doc = show
    (d / "t.wav").write_bytes((d / "t.wav").read_bytes()[:-200])  # edited after the analysis
    proc = render(d / "t.timeline.json", d / "edited.mp4")
    assert proc.returncode == 1 and "not the analysed track" in proc.stderr, proc.stderr
    assert not (d / "edited.mp4").exists()


def test_analyze_writes_track_file_relative_to_the_timeline(tmp_path):
    music, out = tmp_path / "music", tmp_path / "music" / "timelines"
    music.mkdir()
    t = np.arange(6 * SR) / SR
    sf.write(music / "a.wav", (0.3 * np.sin(2 * np.pi * 110 * t)).astype(np.float32), SR)
    proc = subprocess.run([*CLI, "analyze", str(music / "a.wav"), "--out-dir", str(out), "--no-cache", "--no-genre",
                           "-q"], capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads((out / "a.timeline.json").read_text())
    assert doc["track"]["file"] == "../a.wav"
    with pytest.raises(TimelineError, match="outside the timeline's folder"):
        check(doc, out / "a.timeline.json")
    assert check(doc, out / "a.timeline.json", allow_outside=True) == (music / "a.wav").resolve()
    beside = subprocess.run([*CLI, "analyze", "music/a.wav", "--no-cache", "--no-genre", "-q"],
                            capture_output=True, text=True, timeout=300, cwd=str(tmp_path))
    assert beside.returncode == 0, beside.stderr
    doc = json.loads((music / "a.timeline.json").read_text())
    assert doc["track"]["file"] == "a.wav" and check(doc, music / "a.timeline.json") == (music / "a.wav").resolve()
