"""``mainstage embed``: clip embeddings of a trained model projected to 2-D and plotted.

A default model is trained for one epoch through ``mainstage train`` on nine toy
tracks (three genres, exact grids and drops in truth files), then embedded.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")
pytest.importorskip("matplotlib")

from mainstage.core import cli  # noqa: E402
from mainstage.core.genres import GENRES  # noqa: E402
from mainstage.training.evaluation import embed as E  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import SR, toy_track  # noqa: E402

BARS, DROP = 16, (6, 14)
TOY_GENRES = (0, 2, 5)  # Progressive House, Bass House, Bigroom


def write_toy_dataset(root: Path) -> Path:
    (root / "audio").mkdir(parents=True)
    (root / "truth").mkdir()
    rows = []
    for k, g in enumerate(np.repeat(TOY_GENRES, 3)):
        y, downbeats, drop = toy_track(int(g), 124.0 + 2 * (k % 3), seed=k, bars=BARS, drop=DROP)
        name = f"Artist{k} - g{g}"
        sf.write(root / "audio" / f"{name}.flac", y, SR)
        (root / "truth" / f"{name}.truth.json").write_text(json.dumps(
            {"downbeats": downbeats.tolist(), "drops": [{"start_s": drop[0], "end_s": drop[1]}]}))
        label = np.eye(len(GENRES))[g]
        if k % 3 == 2:  # one mixture track per genre
            label = 0.7 * label + 0.3 * np.eye(len(GENRES))[7]
        rows.append([f"audio/{name}.flac", *(f"{w:g}" for w in label), f"truth/{name}.truth.json"])
    with open(root / "manifest.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", *GENRES, "truth"])
        w.writerows(rows)
    return root / "manifest.csv"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("embed")
    manifest = write_toy_dataset(root / "data")
    out = root / "run"
    rc = cli.main(["train", "--data", str(manifest), "--out", str(out), "--epochs", "1", "--width", "8",
                   "--drops", "truth", "--batch-size", "8", "-q", "--threads", "2"])
    assert rc == 0
    return {"root": root, "manifest": manifest, "ckpt": out / "best.pt"}


def run_cli(capsys, *argv):
    rc = cli.main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def test_embed_plot_and_npz_all_methods(trained, tmp_path, capsys):
    from PIL import Image

    png, npz = tmp_path / "plots" / "fig2.png", tmp_path / "emb.npz"
    rc, out, err = run_cli(capsys, "embed", "--checkpoint", trained["ckpt"], "--data", trained["manifest"],
                           "--plot", png, "--save-npz", npz, "--split", "all", "--drops", "truth", "--seed", "3",
                           "-q", "--threads", "2")
    assert rc == 0, err
    # 9 tracks x 4 clips (drop of 8 bars: five 4-bar windows, four picked), 160-d attention-pooled embeddings.
    assert out.startswith("embedded 36 drop clips of 9 tracks (160-d, default model)")
    with Image.open(png) as im:
        im.load()
        assert im.format == "PNG" and im.size == (1350, 480)  # 3 panels of 4.5 x 4.8 in at 100 dpi
        colours = {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3)[::7].tolist()}
        assert len(colours) > 8  # points in several genre colours, not a blank canvas
    with np.load(npz, allow_pickle=False) as z:
        assert z["embeddings"].shape == (36, 160) and z["embeddings"].dtype == np.float32
        assert np.all(np.isfinite(z["embeddings"]))
        assert list(z["methods"]) == ["pca", "tsne", "umap"]
        for m in ("pca", "tsne", "umap"):
            assert z[f"proj_{m}"].shape == (36, 2) and np.all(np.isfinite(z[f"proj_{m}"]))
        assert z["labels"].shape == (36, 8) and z["probs"].shape == (36, 8)
        np.testing.assert_allclose(z["probs"].sum(axis=1), 1.0, rtol=1e-5)
        assert sorted(set(z["track"].tolist())) == list(range(9)) and len(z["paths"]) == 9
        assert list(z["genres"]) == list(GENRES)
        spans = z["spans"]
        assert np.all(spans[:, 1] > spans[:, 0])
        emb_all = z["embeddings"]

    # The embedding is exactly the final layer's input: the head applied to it gives the logits.
    from mainstage.training.run.checkpoint import load_checkpoint, model_from_checkpoint

    ckpt = load_checkpoint(trained["ckpt"])
    model = model_from_checkpoint(ckpt)
    logits = model.head[-1](torch.from_numpy(emb_all)).detach().numpy() / float(ckpt.get("temperature", 1.0))
    p = np.exp(logits - logits.max(1, keepdims=True))
    with np.load(npz) as z:
        np.testing.assert_allclose(p / p.sum(1, keepdims=True), z["probs"], atol=1e-5)


def test_test_split_pca_only_is_deterministic(trained, tmp_path, capsys):
    runs = []
    for k in range(2):
        npz = tmp_path / f"e{k}.npz"
        # --drops defaults to the training run's setting (truth)
        rc, out, err = run_cli(capsys, "embed", "--checkpoint", trained["ckpt"], "--data", trained["manifest"],
                               "--save-npz", npz, "--methods", "pca,tsne", "-q")
        assert rc == 0, err
        with np.load(npz) as z:
            runs.append({k2: z[k2] for k2 in z.files})
    # The checkpoint's test split: one track per genre (stratified 80/10/10 of 3 tracks per genre).
    assert runs[0]["embeddings"].shape == (12, 160) and len(runs[0]["paths"]) == 3
    assert sorted(int(np.argmax(runs[0]["labels"][runs[0]["track"] == t][0])) for t in range(3)) == list(TOY_GENRES)
    for key in ("embeddings", "proj_pca", "proj_tsne"):
        np.testing.assert_array_equal(runs[0][key], runs[1][key])
    assert "proj_umap" not in runs[0]


def test_embedding_layer_of_both_model_families():
    from mainstage.training.models import FastGenreNet, PatchSequenceModel

    fast = FastGenreNet(width=8).eval()
    assert E.embedding_layer(fast) is fast.head[-1]
    x = torch.rand(2, 1, 224, 64)
    emb, logits = E.embed_batch(fast, x)
    assert emb.shape == (2, 160) and logits.shape == (2, 8)
    np.testing.assert_allclose(fast.head[-1](torch.from_numpy(emb)).detach().numpy(), logits, atol=1e-5)
    assert not fast.head[-1]._forward_pre_hooks  # the hook is removed again

    patch = PatchSequenceModel("vit_b_16").eval()
    assert E.embedding_layer(patch) is patch.classifier[-1]
    emb, logits = E.embed_batch(patch, torch.rand(1, 1, 224, 224))
    assert emb.shape == (1, 768) and logits.shape == (1, 8)
    assert np.all(emb >= 0)  # the token after the classifier's ReLU


def test_clip_spans_follow_the_grid_or_fall_back_to_seconds():
    db = np.arange(16) * 2.0
    spans = E.drop_clip_spans([(12.0, 28.0)], 32.0, per_drop=4, downbeats=db)
    assert spans == [(12.0, 20.0), (14.0, 22.0), (18.0, 26.0), (20.0, 28.0)]
    assert E.drop_clip_spans([(10.0, 40.0)], 60.0, per_drop=2) == [(10.0, 17.5), (32.5, 40.0)]
    assert E.drop_clip_spans([(10.0, 15.0)], 60.0) == []


@pytest.mark.parametrize("argv, problem", [
    (["--methods", "pca,lda"], "unknown projection method 'lda' (expected pca, tsne, umap)"),
    (["--split", "val", "--methods", "pca", "--clips-per-drop", "1"], "3 clips are too few for a projection"),
])
def test_option_errors(trained, tmp_path, capsys, argv, problem):
    rc, _, err = run_cli(capsys, "embed", "--checkpoint", trained["ckpt"], "--data", trained["manifest"],
                         "--plot", tmp_path / "x.png", "--drops", "truth", "-q", *argv)
    assert rc == 1 and err.count("\n") == 1 and err.startswith("mainstage embed: error: ") and problem in err
    assert not (tmp_path / "x.png").exists()


def test_missing_checkpoint_and_bad_manifest(trained, tmp_path, capsys):
    missing = tmp_path / "nope.pt"
    rc, _, err = run_cli(capsys, "embed", "--checkpoint", missing, "--data", trained["manifest"],
                         "--plot", tmp_path / "x.png")
    assert rc == 1 and err == f"mainstage embed: error: {missing}: no such checkpoint file\n"
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    rc, _, err = run_cli(capsys, "embed", "--checkpoint", junk, "--data", trained["manifest"], "--plot",
                         tmp_path / "x.png")
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith(f"mainstage embed: error: {junk}: cannot load checkpoint")
    bad = tmp_path / "bad.csv"
    bad.write_text("file,Bass House\n")
    rc, _, err = run_cli(capsys, "embed", "--checkpoint", trained["ckpt"], "--data", bad, "--plot", tmp_path / "x.png")
    assert rc == 1 and err.startswith(f"mainstage embed: error: {bad}: line 1: ") and err.count("\n") == 1
    gone = tmp_path / "gone.csv"
    gone.write_text(f"path,{','.join(GENRES)}\n" + "".join(f"t{i}.wav,1,0,0,0,0,0,0,0\n" for i in range(6)))
    rc, _, err = run_cli(capsys, "embed", "--checkpoint", trained["ckpt"], "--data", gone, "--plot",
                         tmp_path / "x.png", "--split", "all")
    assert rc == 1 and err == (f"mainstage embed: error: {tmp_path / 't0.wav'}: audio file listed in the manifest "
                               "does not exist (5 more missing)\n")
    rc, _, err = run_cli(capsys, "embed", "--checkpoint", trained["ckpt"], "--data", trained["manifest"])
    assert rc == 1 and err == "mainstage embed: error: give --plot OUT.png and/or --save-npz FILE.npz\n"
    assert not (tmp_path / "x.png").exists()
