"""Malicious and broken checkpoints through the real `train --weights`, `train --resume` and
`export` commands (issue 15): one line naming the file, nothing unpickled (the payload's marker
file is never created), and never PyTorch's advice to load with weights_only=False."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import genre_helpers  # noqa: E402

CLI = [sys.executable, "-m", "mainstage.core.cli"]


class Payload:
    """Unpickling this calls ``open(marker, "w")``: the marker file appears if the pickle ever runs."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """A tiny real training manifest (2 genres x 5 toy tracks with truth files: every split gets one)."""
    return genre_helpers().write_dataset(tmp_path_factory.mktemp("ckpt_data"), genres=(0, 1), per_genre=5, bars=20)


def evil_checkpoint(path: Path, marker: Path) -> Path:
    torch.save({"format": "mainstage.genre-checkpoint/1", "state_dict": {"w": Payload(marker)},
                "model_config": {}, "genres": [], "features": {}}, path)
    return path


def run(*args, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=600, env=env, cwd=str(cwd))


def refused(proc: subprocess.CompletedProcess, path: Path, marker: Path, fragment: str) -> None:
    out = (proc.stdout + proc.stderr).strip()
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, out[-3000:])
    assert "Traceback" not in out and "weights_only" not in out and "Unpickling" not in out, out[-3000:]
    assert len(err.splitlines()) == 1 and str(path) in err and fragment in err, err
    assert not marker.exists(), "the pickle's payload ran"


TRAIN = ("--epochs", "1", "--batch-size", "2", "--threads", "1", "--drops", "truth", "-q")


def test_train_weights_refuses_a_malicious_pickle(toy, tmp_path):
    marker = tmp_path / "PWNED"
    evil = evil_checkpoint(tmp_path / "evil.pth", marker)
    proc = run("train", "--data", toy, "--out", tmp_path / "run", "--model", "resnet18", "--weights", evil, *TRAIN,
               cwd=tmp_path)
    refused(proc, evil, marker, "not a plain-tensor checkpoint: refused to unpickle objects")


def test_train_resume_refuses_a_malicious_pickle(toy, tmp_path):
    marker = tmp_path / "PWNED"
    evil = evil_checkpoint(tmp_path / "last.pt", marker)
    proc = run("train", "--data", toy, "--out", tmp_path / "run", "--width", "4", "--resume", evil, *TRAIN, cwd=tmp_path)
    refused(proc, evil, marker, "not a plain-tensor checkpoint: refused to unpickle objects")


def test_export_refuses_a_malicious_pickle(tmp_path):
    marker = tmp_path / "PWNED"
    evil = evil_checkpoint(tmp_path / "best.pt", marker)
    proc = run("export", "--checkpoint", evil, "--onnx", tmp_path / "m.onnx", cwd=tmp_path)
    refused(proc, evil, marker, "not a plain-tensor checkpoint: refused to unpickle objects")
    assert not (tmp_path / "m.onnx").exists() and not (tmp_path / "m.json").exists()


@pytest.mark.parametrize("content", [b"", b"not a checkpoint at all", b"PK\x03\x04truncated zip"])
def test_export_of_a_corrupt_file_is_one_line(tmp_path, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    proc = run("export", "--checkpoint", bad, "--onnx", tmp_path / "m.onnx", cwd=tmp_path)
    out = (proc.stdout + proc.stderr).strip()
    assert proc.returncode == 1 and "Traceback" not in out and "weights_only" not in out, out[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1 and str(bad) in proc.stderr, proc.stderr
