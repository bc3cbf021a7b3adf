"""`mainstage grid`: a tiny real grid (default model, 1 epoch) on toy tracks.

Checks that table2.md holds the cells' own numbers in the paper's layout, that a second
run skips finished cells, that an interrupted cell resumes from last.pt, and that a
failing cell (a corrupt weights file) is reported without stopping the others.
"""
from __future__ import annotations

import csv
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core import cli
from mainstage.core.genres import GENRES
from mainstage.training.grid import run as G
from mainstage.training.grid import cells as GO

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import SR, toy_track  # noqa: E402



@pytest.fixture(scope="module")
def toy_manifest(tmp_path_factory) -> Path:
    """3 genres x 3 tracks (one per split and genre), 12 bars (~23 s) each, with truth files."""
    root = tmp_path_factory.mktemp("grid-data")
    (root / "audio").mkdir()
    (root / "truth").mkdir()
    rows = []
    for g in (0, 2, 5):
        for i in range(3):
            name = f"g{g}_{i}"
            y, downbeats, drop = toy_track(g, 124.0 + 2 * i, seed=10 * g + i)
            drops = [drop]
            sf.write(root / "audio" / f"{name}.wav", y, SR, subtype="PCM_16")
            (root / "truth" / f"{name}.truth.json").write_text(json.dumps(
                {"downbeats": downbeats.tolist(), "drops": [{"start_s": a, "end_s": b} for a, b in drops]}))
            label = np.eye(len(GENRES))[g]
            rows.append([f"audio/{name}.wav", *[f"{v:g}" for v in label], ("train", "val", "test")[i],
                         f"truth/{name}.truth.json"])
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", *GENRES, "split", "truth"])
        w.writerows(rows)
    return root / "manifest.csv"


def _grid_args(manifest, out, *extra):
    return ["grid", "--data", str(manifest), "--out", str(out), "--models", "default", "--labels", "hard,soft",
            "--chroma", "no", "--epochs", "1", "--batch-size", "8", "--width", "8", "--clips-per-drop", "3",
            "--drops", "truth", "--device", "cpu", "--threads", "1", "-q", *extra]


def _table_row(text: str, heading: str, row: str) -> list[str]:
    section = text.split(heading, 1)[1]
    line = next(ln for ln in section.splitlines() if ln.startswith(f"| {row} |"))
    return [c.strip() for c in line.strip().strip("|").split("|")][1:]


@pytest.fixture(scope="module")
def finished_grid(toy_manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("grid")
    assert cli.main(_grid_args(toy_manifest, out)) == 0
    return out


def test_grid_tables_hold_the_cells_numbers(finished_grid):
    out = finished_grid
    text = (out / "table2.md").read_text(encoding="utf-8")
    summary = json.loads((out / "grid.json").read_text(encoding="utf-8"))
    assert [c["cell"] for c in summary["cells"]] == ["default-hard-nochroma", "default-soft-nochroma"]
    assert summary["failed"] == []
    for level, heading in (("clip", "### Clip level"), ("track", "### Track level")):
        # The paper's layout: chroma info / label setup rows, then Precision, Recall, F1 x (w/o) x (hard, soft).
        assert _table_row(text, heading, "chroma info") == ["w/o"] * 6
        assert _table_row(text, heading, "label setup") == ["hard", "soft"] * 3
        row = _table_row(text, heading, "default (FastGenreNet)")
        expected = []
        for key in ("precision_weighted", "recall_weighted", "f1_weighted"):
            for labels in ("hard", "soft"):
                tm = json.loads((out / f"default-{labels}-nochroma" / "test_metrics.json").read_text())
                m = tm["test"] if level == "clip" else tm["test"]["track"]
                expected.append(f"{m[key]:.3f}")
        assert row == expected
    # grid.json agrees with the cell's own JSON (test_predictions.npz, when written, gives the same clip metrics).
    for cell in summary["cells"]:
        tm = json.loads((out / cell["cell"] / "test_metrics.json").read_text())
        res = cell["results"]
        assert res["clip"]["accuracy"] == pytest.approx(tm["test"]["accuracy"])
        assert res["clip"]["n"] == tm["test"]["n"] == 3 * 3  # 3 test tracks x 3 clips of the drop
        assert res["track"]["n"] == 3
        for key in ("f1_macro", "top2", "kl", "ece"):
            assert 0.0 <= res["clip"][key] < 50
        assert np.array(res["clip"]["confusion"]).sum() == 9
        assert (out / cell["cell"] / "confusion_clip.png").read_bytes()[:4] == b"\x89PNG"
        assert (out / cell["cell"] / "confusion_track.png").is_file()
    assert re.search(r"\| default-soft-nochroma \| done \| 1 \| 9 \| 3 \| [0-9.]+ \|", text)


def test_second_run_skips_finished_cells(finished_grid, toy_manifest, capsys):
    out = finished_grid
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("*/test_metrics.json")}
    assert len(mtimes) == 2
    assert cli.main(_grid_args(toy_manifest, out)) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/test_metrics.json")} == mtimes
    log = capsys.readouterr().out
    assert log.count("finished earlier: skipped") == 2
    assert "skipped" in (out / "table2.md").read_text()


def test_interrupted_cell_resumes_from_last_checkpoint(toy_manifest, tmp_path):
    opts = {"epochs": 2, "batch_size": 8, "width": 8, "clips_per_drop": 3, "drops": "truth", "device": "cpu",
            "threads": 1, "progress": False}
    kw = dict(models=["default"], labels=["soft"], chroma=[False], options=opts)
    G.run_grid(str(toy_manifest), tmp_path, log=lambda m: None, **kw)
    cell_dir = tmp_path / "default-soft-nochroma"
    first = json.loads((cell_dir / "test_metrics.json").read_text())
    history_mtime = (cell_dir / "history.json").stat().st_mtime_ns
    (cell_dir / "test_metrics.json").unlink()  # as if the run died after its last epoch, before the test
    assert G.cell_state(cell_dir) == "resume"
    logs: list[str] = []
    res = G.run_grid(str(toy_manifest), tmp_path, log=logs.append, **kw)
    assert any("resuming from" in m and "last.pt" in m for m in logs)
    assert not any("epoch 1/2" in m or "epoch 2/2" in m for m in logs)  # no epoch trained again
    assert (cell_dir / "history.json").stat().st_mtime_ns == history_mtime
    again = json.loads((cell_dir / "test_metrics.json").read_text())
    assert again["test"]["accuracy"] == first["test"]["accuracy"] and again["best_epoch"] == first["best_epoch"]
    assert res["runs"]["default-soft-nochroma"]["status"] == "done"
    assert json.loads((cell_dir / "grid_cell.json").read_text())["attempts"] == 2


def test_failing_cell_does_not_stop_the_grid(toy_manifest, tmp_path, capsys):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "resnet18.pth").write_bytes(b"not a state dict")
    out = tmp_path / "grid"
    args = _grid_args(toy_manifest, out, "--weights-dir", str(weights))
    args[args.index("--models") + 1] = "resnet18,default"
    args[args.index("--labels") + 1] = "soft"
    assert cli.main(args) == 1
    printed = capsys.readouterr().out
    assert "1 cell(s) failed: resnet18-soft-nochroma" in printed
    assert (out / "resnet18-soft-nochroma" / "error.log").read_text().startswith("Traceback")
    assert (out / "default-soft-nochroma" / "test_metrics.json").is_file()  # ran after the failure
    summary = json.loads((out / "grid.json").read_text())
    assert summary["failed"] == ["resnet18-soft-nochroma"]
    text = (out / "table2.md").read_text()
    assert "| resnet18-soft-nochroma | failed (" in text
    # The failed backbone's row is in the Table 2 layout, with dashes.
    assert _table_row(text, "## Clip level: Table 2", "ours (resnet18)") == ["–"] * 3


def test_option_parsing():
    assert GO.parse_models("paper,default") == ["vit_b_16", "vgg11_bn", "densenet201", "resnet152", "default"]
    assert GO.parse_per_model("resnet18:2,default:14", "epochs") == {"resnet18": 2, "default": 14}
    assert GO.parse_per_model("3", "epochs") == 3
    assert GO.parse_chroma("yes,no") == [True, False]
    assert GO.parse_tracks_per_genre("train=8,val=3") == {"train": 8, "val": 3}
    for bad in (lambda: GO.parse_models("resnet9"), lambda: GO.parse_labels("fuzzy"),
                lambda: GO.parse_per_model("resnet18:x", "epochs"), lambda: GO.parse_tracks_per_genre("dev=3")):
        with pytest.raises(GO.GridError):
            bad()
    cells = GO.cells_for(["resnet18"], ["hard", "soft"], [False, True])
    assert [c.name for c in cells] == ["resnet18-hard-chroma", "resnet18-soft-chroma", "resnet18-hard-nochroma",
                                       "resnet18-soft-nochroma"]


def test_cli_reports_bad_options_in_one_line(tmp_path, capsys):
    assert cli.main(["grid", "--data", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "none.csv" in err


def test_checkpoint_backbone_option_matches_plain_training_step():
    """`--checkpoint-backbone N` (PatchSequenceModel(checkpoint_backbone=N)): with one chunk covering
    the batch, loss and gradients equal the plain step and running statistics are updated once."""
    import torch

    from mainstage.training.models import build_model

    torch.manual_seed(0)
    plain = build_model("resnet18", in_channels=1)
    ckpt = build_model("resnet18", in_channels=1, checkpoint_backbone=64)
    ckpt.load_state_dict(plain.state_dict())
    x = torch.rand(2, 1, 224, 224 + 16)  # 2 clips x 2 patches
    grads = []
    for m in (plain, ckpt):
        m.train()
        m.encoder.eval()  # no dropout: compare the backbone path only
        loss = m(x).logsumexp(dim=1).sum()
        loss.backward()
        grads.append((float(loss.detach()), m.embed[1].weight.grad.clone(), m.backbone.bn1.running_mean.clone(),
                      int(m.backbone.bn1.num_batches_tracked)))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-6)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-6)
    assert torch.allclose(grads[0][2], grads[1][2]) and grads[0][3] == grads[1][3] == 1
    # Smaller chunks: still trains (finite gradients), one running-statistics update per chunk.
    small = build_model("resnet18", in_channels=1, checkpoint_backbone=1)
    small.train()
    small(x).sum().backward()
    assert int(small.backbone.bn1.num_batches_tracked) == 4
    assert all(torch.isfinite(p.grad).all() for p in small.parameters() if p.grad is not None)
    assert "checkpoint_backbone" not in small.config()  # a runtime setting, not part of the architecture


def test_train_cli_accepts_every_architecture():
    """`mainstage train --model` offers exactly the architectures the model builder knows."""
    from mainstage.training.run.config import MODELS
    from mainstage.training.models import ARCHITECTURES

    assert set(MODELS) == set(ARCHITECTURES)


def test_grid_takes_a_label_studio_export_with_its_audio_folder(tmp_path, capsys):
    """`--data EXPORT.json` needs `--audio-dir`; an export that matches no audio stops with one line."""
    from mainstage.core.cli import main

    ref = Path(__file__).resolve().parents[1] / "data" / "reference"
    export = str(ref / "label-studio-project-4-100-clean.json")  # the paper's real export
    assert main(["grid", "--data", export, "--out", str(tmp_path / "g")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--audio-dir" in err[0]
    (tmp_path / "audio").mkdir()
    assert main(["grid", "--data", export, "--audio-dir", str(tmp_path / "audio"), "--out", str(tmp_path / "g")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "label-studio-project-4-100-clean.json" in err[0]
    assert (tmp_path / "g" / "labelstudio-report.json").is_file()
    assert main(["grid", "--data", str(tmp_path / "m.csv"), "--audio-dir", str(tmp_path), "--out", str(tmp_path)]) == 1
