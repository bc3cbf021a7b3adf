"""Resuming: a run killed with SIGKILL mid-epoch and resumed ends exactly where an uninterrupted run ends."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import genre_helpers as _genre_helpers  # noqa: E402


def _cmd(manifest: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "mainstage.core.cli", "train", "--data", str(manifest), "--out", str(out),
            "--epochs", "3", "--width", "4", "--drops", "truth", "--batch-size", "2", "--threads", "1", "-q",
            "--checkpoint-every", "2", "--gain-db", "3", "--mixup", "0.4", "--seed", "4", *extra]


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(k, None)
    return env


def test_sigkill_mid_epoch_then_resume_equals_an_uninterrupted_run(tmp_path):
    manifest = _genre_helpers().write_dataset(tmp_path / "data", genres=(0, 3, 5), per_genre=4, bars=16)
    full, cut = tmp_path / "full", tmp_path / "cut"
    res = subprocess.run(_cmd(manifest, full), env=_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]

    proc = subprocess.Popen(_cmd(manifest, cut), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while not (cut / "last.pt").exists():  # the first mid-epoch checkpoint (after 2 steps)
            assert proc.poll() is None, f"training ended before it could be killed: {proc.stderr.read()[-2000:]}"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    ck = torch.load(cut / "last.pt", weights_only=True)
    assert ck["next"]["step"] > 0 or ck["next"]["epoch"] > 0
    assert not (cut / "test_metrics.json").exists()

    res = subprocess.run(_cmd(manifest, cut, "--resume", "auto"), env=_env(), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resuming from" in res.stdout

    a = torch.load(full / "best.pt", weights_only=True)
    b = torch.load(cut / "best.pt", weights_only=True)
    assert a["best_epoch"] == b["best_epoch"]
    for k, v in a["state_dict"].items():
        torch.testing.assert_close(b["state_dict"][k], v, atol=1e-6, rtol=0, msg=k)
    ha = json.loads((full / "history.json").read_text())
    hb = json.loads((cut / "history.json").read_text())
    assert [h["epoch"] for h in hb] == [0, 1, 2]
    np.testing.assert_allclose([h["train_loss"] for h in hb], [h["train_loss"] for h in ha], rtol=0, atol=1e-6)
    np.testing.assert_allclose([h["val"]["loss"] for h in hb], [h["val"]["loss"] for h in ha], rtol=0, atol=1e-6)
    ta = json.loads((full / "test_metrics.json").read_text())
    tb = json.loads((cut / "test_metrics.json").read_text())
    assert ta["test"]["accuracy"] == tb["test"]["accuracy"]
    assert abs(ta["test"]["kl"] - tb["test"]["kl"]) < 1e-6
    pa, pb = np.load(full / "test_predictions.npz"), np.load(cut / "test_predictions.npz")
    np.testing.assert_allclose(pb["probs"], pa["probs"], atol=1e-6)
    assert set(pa.files) >= {"probs", "labels", "track", "in_drop", "paths"}
    assert pa["probs"].shape == pa["labels"].shape == (len(pa["track"]), 8)
    assert pa["paths"].shape == pa["track"].shape == pa["in_drop"].shape
    lines = (cut / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [0, 1, 2]  # no duplicate rows after the resume
    assert (cut / "metrics.csv").read_text().splitlines()[0].startswith("epoch,lr,train_loss,val_loss")


def test_resume_values(tmp_path):
    from mainstage.core.errors import InputFileError
    from mainstage.training.run.checkpoint import resolve_resume

    assert resolve_resume(None, tmp_path) is None
    assert resolve_resume("auto", tmp_path) is None  # nothing to resume: start afresh
    (tmp_path / "last.pt").write_bytes(b"x")
    assert resolve_resume("auto", tmp_path) == tmp_path / "last.pt"
    assert resolve_resume(str(tmp_path), tmp_path / "other") == tmp_path / "last.pt"
    with pytest.raises(InputFileError, match="no last.pt"):
        resolve_resume(str(tmp_path / "other"), tmp_path) if (tmp_path / "other").mkdir() is None else None
    with pytest.raises(InputFileError, match="no such checkpoint"):
        resolve_resume(str(tmp_path / "missing.pt"), tmp_path)


def test_early_stopping_and_metrics_logs(tmp_path, monkeypatch):
    from mainstage.training.run import train as T
    from mainstage.training.run.config import TrainConfig

    manifest = _genre_helpers().write_dataset(tmp_path / "data", genres=(0, 3), per_genre=3, bars=16)
    scores = iter([1.0, 0.5, 0.7, 0.6, 0.4, 0.3])
    monkeypatch.setattr(T.Trainer, "score", lambda self, val: next(scores))
    cfg = TrainConfig(data=str(manifest), out=str(tmp_path / "run"), epochs=6, batch_size=4, drops="truth",
                      threads=1, progress=False, model_kwargs={"width": 4}, patience=2, schedule="cosine",
                      warmup_steps=2)
    lines = []
    res = T.train(cfg, log=lines.append)
    # best at epoch 2 (0.5), then 0.7 and 0.6 are worse: stop after epoch 4
    assert res["epochs_run"] == 4 and res["early_stopped"] and res["best_epoch"] == 1
    assert any("early stop" in x for x in lines)
    last = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert last["bad_epochs"] == 2 and last["next"] == {"epoch": 4, "step": 0}
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].split(",")[:3] == ["epoch", "lr", "train_loss"]
    lrs = [json.loads(x)["lr"] for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert lrs[0] < lrs[1]  # warm-up, then cosine decay
    assert (tmp_path / "data" / ".mainstage-cache" / "splits.json").is_file()  # shared next to the manifest
