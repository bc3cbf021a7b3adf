"""Manifests and Label Studio exports are untrusted (issue 15): weights finite, >= 0 and summing
to a positive value (huge ones keep their proportions), a track in one split only, paths inside
the manifest's folder unless --allow-outside-paths, Label Studio weights validated. Real files
and the real `mainstage dataset` commands."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.errors import InputFileError
from mainstage.core.genres import GENRES
from mainstage.training.datasets.manifest import read_manifest

CLI = [sys.executable, "-m", "mainstage.core.cli"]
SR = 22050
HEADER = "path," + ",".join(GENRES) + ",split,truth\n"


def tone(path: Path, freq: float = 330.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(SR // 2) / SR
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)
    return path


def row(path: str, weights=(1, 0, 0, 0, 0, 0, 0, 0), split: str = "", truth: str = "") -> str:
    return f"{path}," + ",".join(str(w) for w in weights) + f",{split},{truth}\n"


@pytest.fixture()
def data(tmp_path) -> Path:
    d = tmp_path / "data"
    tone(d / "audio" / "a.wav")
    tone(d / "audio" / "b.wav", 440.0)
    return d


def write(d: Path, *rows: str) -> Path:
    m = d / "manifest.csv"
    m.write_text(HEADER + "".join(rows))
    return m


def dataset(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, "dataset", *map(str, args)], capture_output=True, text=True, timeout=300)


def one_line(proc, *fragments):
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, proc.stdout, err)
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    for f in fragments:
        assert f in err, err


def test_huge_weights_keep_their_proportions(data):
    m = write(data, row("audio/a.wav", (1e308, 1e308, 0, 0, 0, 0, 0, 0)), row("audio/b.wav", (0, 0, 3e307, 1e307, 0, 0, 0, 0)))
    a, b = read_manifest(m)
    assert np.allclose(a.label[:2], 0.5) and np.isclose(a.label.sum(), 1.0)
    assert np.allclose(b.label[2:4], [0.75, 0.25])
    proc = dataset("check", m)
    assert proc.returncode == 0, proc.stderr
    assert f"{GENRES[0]} 0.250" in proc.stdout, proc.stdout  # mean label: not an all-zero row


@pytest.mark.parametrize("weights", [("1e309", 0), ("nan", 1), ("-1", 2), ("0", 0), ("inf", "inf")])
def test_bad_weights_are_refused(data, weights):
    m = write(data, row("audio/a.wav", (*weights, 0, 0, 0, 0, 0, 0)))
    one_line(dataset("check", m), str(m), "line 2", "finite")


def test_a_track_in_two_splits_is_an_error(data):
    m = write(data, row("audio/a.wav", split="train"), row("audio/b.wav", split="train"),
              row("./audio/../audio/a.wav", split="test"))
    one_line(dataset("check", m), str(m), "line 4", "two splits", "train on line 2", "test")
    with pytest.raises(InputFileError, match="two splits"):
        read_manifest(m)
    same = write(data, row("audio/a.wav", split="train"), row("audio/a.wav", split="train"))
    proc = dataset("check", same)  # listed twice in one split: reported, not an error
    assert proc.returncode == 0 and "listed twice" in proc.stdout, proc.stderr


@pytest.mark.parametrize("kind", ["absolute", "dotdot", "symlink", "truth-dotdot", "truth-absolute"])
def test_paths_outside_the_manifest_folder_are_refused(data, tmp_path, kind):
    outside = tone(tmp_path / "elsewhere" / "c.wav")
    os.symlink(outside, data / "audio" / "link.wav")
    rows = {
        "absolute": row(str(outside)),
        "dotdot": row("../elsewhere/c.wav"),
        "symlink": row("audio/link.wav"),
        "truth-dotdot": row("audio/a.wav", truth="../../../../../../../../../../etc/passwd"),
        "truth-absolute": row("audio/a.wav", truth="/etc/passwd"),
    }
    m = write(data, rows[kind])
    for args in (("check", m), ("check", "--probe", m)):
        one_line(dataset(*args), str(m), "line 2", "--allow-outside-paths")
    with pytest.raises(InputFileError, match="outside the manifest's folder|absolute path"):
        read_manifest(m)
    rows_ok = read_manifest(m, allow_outside=True)  # the user's explicit choice
    assert len(rows_ok) == 1
    if not kind.startswith("truth"):
        proc = dataset("check", "--probe", "--allow-outside-paths", m)
        assert proc.returncode == 0, proc.stderr


def test_train_offers_the_option():
    proc = subprocess.run([*CLI, "train", "--help"], capture_output=True, text=True, timeout=120)
    assert "--allow-outside-paths" in proc.stdout


def labelstudio_export(path: Path, weights: dict) -> Path:
    results = [{"from_name": g, "to_name": "audio", "type": "number", "value": {"number": w}}
               for g, w in weights.items()]
    task = {"id": 1, "file_upload": "1a2b3c4d-a.wav", "data": {"audio": "/data/upload/1/1a2b3c4d-a.wav"},
            "annotations": [{"id": 1, "result": results, "was_cancelled": False}]}
    task2 = dict(task, id=2, file_upload="5e6f7a8b-b.wav", data={"audio": "/data/upload/1/5e6f7a8b-b.wav"},
                 annotations=[{"id": 2, "result": [{"from_name": "Deep House", "to_name": "audio", "type": "number",
                                                    "value": {"number": 1}}], "was_cancelled": False}])
    path.write_text(json.dumps([task, task2]).replace('"@BIG@"', "1" + "0" * 400))
    return path


@pytest.mark.parametrize("weights", [
    {"Bass House": 1e308, "Deep House": 1e308},
    {"Bass House": "@BIG@"},  # a JSON integer too large for a float
])
def test_label_studio_huge_weights_are_reported_not_a_traceback(data, tmp_path, weights):
    export = labelstudio_export(tmp_path / "export.json", weights)
    report = tmp_path / "report.json"
    m = data / "ls.csv"
    proc = dataset("import-labelstudio", export, "--audio-dir", data / "audio", "-o", m, "--report", report)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    rep = json.loads(report.read_text())  # strict JSON: no Infinity
    assert rep["counts"]["unlabelled"] == 1 and rep["counts"]["rows"] == 1, rep["counts"]
    problems = json.dumps(rep["unlabelled"])
    assert "too large" in problems or "not a number" in problems, problems
    (only,) = read_manifest(m)
    assert only.path.name == "b.wav" and np.isclose(only.label[GENRES.index("Deep House")], 1.0)
