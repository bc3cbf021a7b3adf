"""End to end: manifest -> tiny training run -> checkpoint -> ONNX export -> runtime analysis.

One small default model is trained once per session on 12 toy tracks (2 epochs, a few
seconds) and shared by the checkpoint, export and runtime tests.
"""
import json
import pickle
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from mainstage.core import cli  # noqa: E402
from mainstage.core import genre as GM
from mainstage.core.genre import inference as GI
from mainstage.core.hashing import sha256_file  # noqa: E402
from mainstage.core.errors import InputFileError, MainstageError  # noqa: E402
from mainstage.core.genres import GENRES  # noqa: E402
from mainstage.core.timeline import TimelineError, new_timeline, validate_timeline  # noqa: E402
from mainstage.training.run.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402
from mainstage.training.features.clip_cache import track_clips  # noqa: E402
from mainstage.training.features.clips import sample_clips  # noqa: E402
from mainstage.training.datasets.manifest import read_manifest  # noqa: E402
from mainstage.training.datasets.splits import split_tracks  # noqa: E402


@pytest.fixture(scope="module")
def trained(tmp_path_factory, make_dataset):
    """Train through the CLI (``mainstage train``) and export (``mainstage export``)."""
    root = tmp_path_factory.mktemp("e2e")
    manifest = make_dataset(root / "data", genres=(0, 3, 5), per_genre=4)
    out = root / "run"
    rc = cli.main(["train", "--data", str(manifest), "--out", str(out), "--epochs", "2", "--width", "8",
                   "--drops", "truth", "--batch-size", "8", "-q", "--threads", "2"])
    assert rc == 0
    onnx_path = root / "model" / "toy.onnx"
    rc = cli.main(["export", "--checkpoint", str(out / "best.pt"), "--onnx", str(onnx_path), "--name", "toy"])
    assert rc == 0
    return {"root": root, "manifest": manifest, "out": out, "onnx": onnx_path}


# --- data -----------------------------------------------------------------------------

def test_manifest_reading_accepts_techno_and_relative_paths(trained):
    rows = read_manifest(trained["manifest"])
    assert len(rows) == 12
    assert all(r.path.is_file() and r.truth.is_file() for r in rows)
    tech = [r for r in rows if r.label[GENRES.index("Tech House")] == 1.0]
    assert len(tech) == 4  # the toy manifest's column is called "Techno"
    np.testing.assert_allclose([r.label.sum() for r in rows], 1.0)


@pytest.mark.parametrize("content, problem", [
    ("", "empty manifest"),
    ("file,Bass House\n", "first column must be 'path'"),
    ("path,Bass House\nx.wav,1\n", "missing genre columns"),
    ("path," + ",".join(GENRES) + ",Rock\n", "unknown column 'Rock'"),
    ("path," + ",".join(GENRES) + "\nx.wav,1,0,0,0,0,0,0\n", "line 2: 8 fields"),
    ("path," + ",".join(GENRES) + "\nx.wav,1,0,0,0,0,0,0,abc\n", "line 2: Slap House = 'abc'"),
    ("path," + ",".join(GENRES) + "\nx.wav,0,0,0,0,0,0,0,0\n", "line 2: genre weights"),
    ("path," + ",".join(GENRES) + ",split\nx.wav,1,0,0,0,0,0,0,0,later\n", "split 'later'"),
])
def test_bad_manifests_give_one_line_errors(tmp_path, content, problem):
    p = tmp_path / "m.csv"
    p.write_text(content)
    with pytest.raises(InputFileError) as err:
        read_manifest(p)
    assert problem in str(err.value) and str(p) in str(err.value) and "\n" not in str(err.value)


def test_split_is_by_track_and_keeps_given_splits(trained):
    rows = read_manifest(trained["manifest"])
    rows[0].split = "test"
    splits = split_tracks(rows, (0.5, 0.25, 0.25), seed=3)
    all_idx = sum(splits.values(), [])
    assert sorted(all_idx) == list(range(len(rows)))  # every track in exactly one split
    assert 0 in splits["test"]
    for name in ("train", "val", "test"):  # stratified: each genre in each split
        assert {int(np.argmax(rows[i].label)) for i in splits[name]} == {0, 3, 5}
    assert split_tracks(rows, (0.5, 0.25, 0.25), seed=3) == splits


def test_clips_are_four_bars_on_the_grid_inside_drops():
    rng = np.random.default_rng(0)
    downbeats = np.arange(40) * 1.875  # 128 BPM
    clips = sample_clips([(15.0, 45.0)], 75.0, rng, per_drop=4, downbeats=downbeats)
    assert len(clips) == 4
    for s, e, in_drop in clips:
        assert in_drop and 15.0 - 1e-9 <= s and e <= 45.0 + 1e-9
        assert e - s == pytest.approx(7.5)
        assert np.min(np.abs(downbeats - s)) < 1e-9
    no_grid = sample_clips([(15.0, 45.0)], 75.0, rng, per_drop=3)
    assert len(no_grid) == 3 and all(e - s == pytest.approx(7.5) for s, e, _ in no_grid)
    extra = sample_clips([(15.0, 45.0)], 75.0, rng, per_drop=2, downbeats=downbeats, outside=3)
    assert sum(not d for *_, d in extra) == 3


def test_feature_cache_is_reused(trained, tmp_path):
    rows = read_manifest(trained["manifest"])
    f1, s1 = track_clips(rows[0], seed=0, drops="truth", cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    f2, s2 = track_clips(rows[0], seed=0, drops="truth", cache_dir=tmp_path)
    assert s1 == s2 and all(np.array_equal(a, b) for a, b in zip(f1, f2))
    assert f1[0].dtype == np.float16 and f1[0].shape[:2] == (1, 224)


# --- training outputs and checkpoints ----------------------------------------------------

def test_training_writes_best_last_history_and_test_metrics(trained):
    out = trained["out"]
    for name in ("best.pt", "last.pt", "history.json", "test_metrics.json"):
        assert (out / name).is_file(), name
    hist = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [0, 1]
    metrics = json.loads((out / "test_metrics.json").read_text())
    for key in ("accuracy", "precision_weighted", "recall_weighted", "f1_weighted", "top2", "kl"):
        assert 0.0 <= metrics["test"][key] <= (1.0 if key != "kl" else 50.0)
    # The best checkpoint is chosen by validation loss, never by test.
    best_epoch = min(range(2), key=lambda e: hist[e]["val"]["loss"])
    assert metrics["best_epoch"] == best_epoch
    assert metrics["data"]["test"]["tracks"] >= 3 and metrics["data"]["train"]["tracks"] >= 6


def test_checkpoint_loads_with_weights_only(trained):
    ckpt = torch.load(trained["out"] / "best.pt", weights_only=True)
    assert ckpt["format"] == "mainstage.genre-checkpoint/1"
    assert ckpt["model_config"]["arch"] == "default"
    assert ckpt["features"]["hop_length"] == 512 and ckpt["genres"] == list(GENRES)
    assert "test_metrics" in ckpt and "optimizer" in ckpt
    last = load_checkpoint(trained["out"] / "last.pt")
    assert last["epoch"] == 1


def test_resume_continues_an_interrupted_run(trained, tmp_path, monkeypatch):
    from mainstage.training.run import train as T

    out = tmp_path / "interrupted"
    args = ["train", "--data", str(trained["manifest"]), "--out", str(out), "--epochs", "3", "--width", "8",
            "--drops", "truth", "--batch-size", "8", "-q", "--threads", "2"]
    real_epoch = T.Trainer.train_epoch

    def stop_at_second_epoch(self, epoch):
        if epoch == 1:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(T.Trainer, "train_epoch", stop_at_second_epoch)
    assert cli.main(args) == 130
    assert load_checkpoint(out / "last.pt")["epoch"] == 0
    monkeypatch.setattr(T.Trainer, "train_epoch", real_epoch)
    assert cli.main(args + ["--resume", str(out / "last.pt")]) == 0
    hist = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in hist] == [0, 1, 2]
    assert (out / "test_metrics.json").is_file()


def test_unsafe_or_foreign_checkpoints_are_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.pt"
    with open(bad, "wb") as fh:
        pickle.dump({"format": "mainstage.genre-checkpoint/1", "x": Evil()}, fh)
    with pytest.raises(InputFileError, match="cannot load checkpoint"):
        load_checkpoint(bad)
    other = tmp_path / "other.pt"
    save_checkpoint({"format": "something-else"}, other)
    with pytest.raises(InputFileError, match="not a mainstage genre checkpoint"):
        load_checkpoint(other)
    with pytest.raises(InputFileError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")


# --- export ------------------------------------------------------------------------------

def test_export_matches_torch_and_writes_valid_metadata(trained):
    from mainstage.training.run.checkpoint import model_from_checkpoint
    from mainstage.training.export import _WithSoftmax, check_parity

    meta = json.loads(trained["onnx"].with_suffix(".json").read_text())
    GM.validate_metadata(meta)
    assert meta["export"]["parity_max_abs"] <= 1e-4
    assert meta["input"]["shape"][0] == "batch" and meta["input"]["shape"][3] == "frames"
    assert meta["onnx_sha256"] == sha256_file(trained["onnx"])
    assert meta["metrics"]["test"]["n"] > 0 and meta["training"]["data"]["train"]["tracks"] > 0
    # Independent parity check at other batch sizes and lengths.
    ckpt = load_checkpoint(trained["out"] / "best.pt")
    model = model_from_checkpoint(ckpt)
    assert ckpt["temperature"] > 0 and meta["export"]["temperature"] == ckpt["temperature"]
    wrapper = _WithSoftmax(model, ckpt["temperature"], ckpt["novelty"])
    assert wrapper.output_names == ["probs", "embedding", "novelty"]
    worst = check_parity(wrapper, trained["onnx"], [(1, 1, 224, 700), (5, 1, 224, 646), (2, 1, 224, 64)], seed=7)
    assert worst <= 1e-4
    # The novelty statistics: fitted on the training clips, 1.0 at the validation quantile.
    nov = meta["novelty"]
    assert nov["method"] == "mahalanobis" and nov["embedding_size"] == ckpt["novelty"]["mean"].numel()
    assert nov["fit_clips"] == meta["training"]["data"]["train"]["clips"]
    assert 0 < nov["val_median"] < 1.0 and nov["raw_threshold"] > 0
    assert meta["output"] == {"name": "probs", "kind": "probabilities", "embedding": "embedding", "novelty": "novelty"}


def _copy_model(trained, tmp_path, name="m"):
    onnx = tmp_path / f"{name}.onnx"
    shutil.copy(trained["onnx"], onnx)
    meta = json.loads(trained["onnx"].with_suffix(".json").read_text())
    return onnx, meta


@pytest.mark.parametrize("edit, problem", [
    (lambda m: m["features"].update(hop_length=256), "hop_length=256"),
    (lambda m: m["features"].update(n_mels=128), "n_mels"),
    (lambda m: m["features"].update(top_db=60.0), "top_db"),
    (lambda m: m.update(genres=list(GENRES[:7]) + ["Rock"]), "genres"),
    (lambda m: m.update(format="other/1"), "unsupported metadata format"),
    (lambda m: m["input"].update(min_frames="many"), "invalid metadata at input.min_frames"),
    (lambda m: m["input"].update(shape=["batch", 3, 224, "frames"]), "input shape"),
    (lambda m: m.update(onnx_sha256="0" * 64), "does not match its metadata"),
    (lambda m: m["input"].update(name="spectrogram"), "no 4-D input named 'spectrogram'"),
])
def test_metadata_mismatch_is_refused(trained, tmp_path, edit, problem):
    onnx, meta = _copy_model(trained, tmp_path)
    edit(meta)
    onnx.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(GM.GenreModelError) as err:
        GM.GenreModel.load(onnx)
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_missing_or_broken_model_files_are_refused(trained, tmp_path):
    with pytest.raises(GM.GenreModelError, match="no such model file"):
        GM.GenreModel.load(tmp_path / "none.onnx")
    onnx, meta = _copy_model(trained, tmp_path)
    with pytest.raises(GM.GenreModelError, match="metadata file m.json is missing"):
        GM.GenreModel.load(onnx)
    onnx.with_suffix(".json").write_text("{not json")
    with pytest.raises(GM.GenreModelError, match="not valid JSON"):
        GM.GenreModel.load(onnx)
    meta.pop("onnx_sha256")
    onnx.with_suffix(".json").write_text(json.dumps(meta))
    onnx.write_bytes(b"garbage")
    with pytest.raises(GM.GenreModelError, match="ONNX Runtime cannot load"):
        GM.GenreModel.load(onnx)


def test_chroma_model_without_librosa_is_refused_clearly(trained, tmp_path, monkeypatch):
    import sys

    onnx, meta = _copy_model(trained, tmp_path)
    meta["features"].update(chroma=True, channels=["mel", "cqt_chroma", "vqt_chroma"])
    meta["input"]["shape"][1] = 3
    meta.pop("onnx_sha256")
    onnx.with_suffix(".json").write_text(json.dumps(meta))
    monkeypatch.setitem(sys.modules, "librosa", None)
    with pytest.raises(MainstageError, match="needs? librosa|need librosa"):
        GM.GenreModel.load(onnx)


def test_genre_order_of_the_model_is_mapped_to_the_canonical_order(trained, tmp_path, make_track):
    onnx, meta = _copy_model(trained, tmp_path)
    meta["genres"] = list(reversed(meta["genres"]))
    onnx.with_suffix(".json").write_text(json.dumps(meta))
    reordered = GM.GenreModel.load(onnx)
    normal = GM.GenreModel.load(trained["onnx"])
    x = np.random.default_rng(0).random((2, 1, 224, 300), dtype=np.float32)
    np.testing.assert_allclose(reordered.predict(x), normal.predict(x)[:, ::-1], atol=1e-6)


# --- runtime analysis ---------------------------------------------------------------------

def test_analyze_genres_windows_are_four_bars_stepped_one_bar(trained, make_track):
    model = GM.GenreModel.load(trained["onnx"])
    audio, downbeats, drops = make_track(5, 126.0, seed=9, bars=24)
    calls = []
    run = model.session.run
    model.session.run = lambda *a, **k: (calls.append(a[1][model.input_name].shape), run(*a, **k))[1]
    res = GM.analyze_genres(audio, 44100, downbeats=downbeats, drops=[{"start_s": a, "end_s": b} for a, b in drops],
                            model=model)
    wins = res["genre_windows"]
    assert len(wins) == 24 - 4 + 1
    starts = np.array([w["start_s"] for w in wins])
    ends = np.array([w["end_s"] for w in wins])
    np.testing.assert_allclose(starts, downbeats[:len(wins)])
    np.testing.assert_allclose(ends[:-1], downbeats[4:4 + len(wins) - 1])
    np.testing.assert_allclose(ends - starts, 4 * 4 * 60 / 126.0, rtol=1e-9, atol=1e-6)
    assert len(calls) == 1 and calls[0][0] == len(wins)  # all windows in one session run
    assert res["model"] == {"name": "toy", "sha256": model.sha256, "kind": "onnx"}  # no provenance in the metadata
    assert res["windowing"] == "bars"
    for w in wins:
        assert abs(sum(w["probs"]) - 1.0) < 1e-5
    doc = new_timeline(file="toy.wav", duration_s=len(audio) / 44100, sample_rate=44100, sha256="0" * 64,
                       downbeats=downbeats, genre_windows=wins, genre_summary=res["genre_summary"],
                       model=res["model"])
    validate_timeline(doc)


def test_grid_is_extended_to_cover_the_whole_track_and_follows_tempo_changes():
    bar1, bar2 = 1.875, 2.0
    downbeats = np.concatenate([3.0 + bar1 * np.arange(10), 3.0 + bar1 * 10 + bar2 * np.arange(10)])
    duration = downbeats[-1] + 5.0
    starts, ends, on_grid = GM.window_grid(duration, downbeats)
    assert on_grid
    assert starts[0] == pytest.approx(3.0 - bar1)  # extended back by one bar (3.0 s before the first downbeat)
    assert ends[-1] <= duration and ends[-1] == pytest.approx(downbeats[-1] + 2 * bar2)
    lengths = ends - starts
    assert lengths.min() == pytest.approx(4 * bar1) and lengths.max() == pytest.approx(4 * bar2)
    assert np.allclose(np.diff(starts)[:8], bar1) and np.allclose(np.diff(starts)[-5:], bar2)


def test_fallback_windows_without_a_grid():
    starts, ends, on_grid = GM.window_grid(30.0, None)
    assert not on_grid
    np.testing.assert_allclose(ends - starts, 7.5)
    np.testing.assert_allclose(np.diff(starts), 1.875)
    assert ends[-1] <= 30.0 and ends[-1] > 30.0 - 1.875
    s, e, _ = GM.window_grid(5.0, [0.0])
    assert list(s) == [0.0] and list(e) == [5.0]
    assert GM.window_grid(0.0)[0].size == 0


def test_smoothing_and_drop_weighted_summary():
    probs = np.eye(8)[[0, 0, 1, 0, 0]].astype(float)
    sm = GM.smooth_windows(probs, 1)
    np.testing.assert_allclose(sm.sum(axis=1), 1.0)
    assert sm[2, 1] == pytest.approx(1 / 3) and sm[0, 0] == 1.0
    starts = np.arange(5.0)
    ends = starts + 1
    plain = GM.summarize(starts, ends, probs)
    dropped = GM.summarize(starts, ends, probs, drops=[{"start_s": 2.0, "end_s": 3.0}])
    assert plain[1] == pytest.approx(0.2)
    w = GM.NON_DROP_WEIGHT
    assert dropped[1] == pytest.approx((1 + w) / (1 + 5 * w)) and dropped[1] > 0.8  # essentially the drop's window
    loud = GM.summarize(starts, ends, probs, loudness_db=[-10, -10, -1, -10, -10])
    assert loud[1] == pytest.approx((1 + w) / (1 + 5 * w))
    half = GM.summarize(starts, ends, probs, drops=[(2.5, 3.0)])
    assert half[1] == pytest.approx((0.5 + w) / (0.5 + 5 * w))  # weight follows the drop share


def test_analyze_with_smoothing_and_without_grid(trained, make_track):
    audio, downbeats, _ = make_track(0, 128.0, seed=2, bars=12)
    model = GM.load_genre_model(trained["onnx"])
    assert GM.load_genre_model(trained["onnx"]) is model  # cached
    raw = GM.analyze_genres(audio, 44100, downbeats=downbeats, model=model, smoothing=0)
    smooth = GM.analyze_genres(audio, 44100, downbeats=downbeats, model=model, smoothing=2)
    default = GM.analyze_genres(audio, 44100, downbeats=downbeats, model=model)
    assert default["genre_windows"] == smooth["genre_windows"]  # smoothing radius 2 is the default
    p_raw = np.array([w["probs"] for w in raw["genre_windows"]])
    p_smooth = np.array([w["probs"] for w in smooth["genre_windows"]])
    assert p_raw.shape == p_smooth.shape
    assert np.abs(np.diff(p_smooth, axis=0)).sum() <= np.abs(np.diff(p_raw, axis=0)).sum() + 1e-9
    secs = GM.analyze_genres(audio[:, 0], 44100, model=model)
    assert secs["windowing"] == "seconds"
    assert all(w["end_s"] - w["start_s"] == pytest.approx(7.5) for w in secs["genre_windows"])
    empty = GM.analyze_genres(np.zeros(0, np.float32), 44100, model=model)
    assert empty["genre_windows"] == [] and empty["genre_summary"] is None


def test_bundled_default_model_loads_and_is_small():
    path = GM.default_model_path()
    assert path.is_file(), "core/genre/models/default.onnx must be bundled"
    assert path.stat().st_size < 20e6
    model = GM.GenreModel.load()
    meta = model.metadata
    assert meta["features"]["chroma"] is False and meta["parameters"] < 5_000_000
    assert meta["genres"] == list(GENRES)
    assert "synthetic" in meta["description"].lower()
    x = np.random.default_rng(1).random((3, 1, 224, 646), dtype=np.float32)
    p = model.predict(x)
    assert p.shape == (3, 8) and np.allclose(p.sum(axis=1), 1.0, atol=1e-5)


def test_file_analysis_streams_in_blocks_and_matches_in_memory(trained, make_track, tmp_path, monkeypatch):
    import soundfile as sf

    audio, downbeats, drops = make_track(3, 124.0, seed=4, bars=30)
    path = tmp_path / "track.flac"
    sf.write(path, audio, 44100, subtype="PCM_16")
    decoded, _ = sf.read(path, dtype="float32")
    model = GM.GenreModel.load(trained["onnx"])
    monkeypatch.setattr(GI, "BLOCK_SECONDS", 20.0)  # several feature blocks for a 58 s track
    reads = []
    real_read = GI.StreamReader.read
    monkeypatch.setattr(GI.StreamReader, "read", lambda self, a, b: (reads.append((a, b)), real_read(self, a, b))[1])
    streamed = GM.analyze_genres_file(path, downbeats=downbeats, model=model)
    in_memory = GM.analyze_genres(decoded, 44100, downbeats=downbeats, model=model)
    assert len(reads) >= 3 and all(b2 > b1 for (_, b1), (_, b2) in zip(reads, reads[1:]))
    assert len(streamed["genre_windows"]) == len(in_memory["genre_windows"]) == 27
    np.testing.assert_allclose([w["probs"] for w in streamed["genre_windows"]],
                               [w["probs"] for w in in_memory["genre_windows"]], atol=1e-6)
    assert streamed["genre_summary"] == in_memory["genre_summary"]


def test_chroma_model_trains_exports_and_runs(tmp_path, make_dataset, make_track):
    pytest.importorskip("librosa")
    manifest = make_dataset(tmp_path / "data", genres=(1, 6), per_genre=3, bars=20)
    out = tmp_path / "run"
    assert cli.main(["train", "--data", str(manifest), "--out", str(out), "--epochs", "1", "--width", "8", "--chroma",
                     "--drops", "truth", "--clips-per-drop", "2", "--batch-size", "8", "-q", "--threads", "2"]) == 0
    onnx_path = tmp_path / "chroma.onnx"
    assert cli.main(["export", "--checkpoint", str(out / "best.pt"), "--onnx", str(onnx_path)]) == 0
    model = GM.GenreModel.load(onnx_path)
    assert model.chroma and model.channels == 3
    assert model.metadata["features"]["channels"] == ["mel", "cqt_chroma", "vqt_chroma"]
    audio, downbeats, _ = make_track(6, 128.0, seed=1, bars=8)
    res = GM.analyze_genres(audio, 44100, downbeats=downbeats, model=model)
    assert len(res["genre_windows"]) == 5
    assert all(abs(sum(w["probs"]) - 1) < 1e-5 for w in res["genre_windows"])


def test_windows_carry_novelty_and_confidence_and_silence_gets_no_genre(trained, make_track):
    model = GM.GenreModel.load(trained["onnx"])
    assert model.has_embedding and model.has_novelty
    x = np.random.default_rng(3).random((3, 1, 224, 300), dtype=np.float32)
    probs, emb = model.predict(x, with_embedding=True)
    assert probs.shape == (3, 8) and emb.shape == (3, model.metadata["novelty"]["embedding_size"])
    audio, downbeats, drops = make_track(3, 126.0, seed=4, bars=16)
    res = GM.analyze_genres(audio, 44100, downbeats=downbeats, model=model, smoothing=0)
    wins = res["genre_windows"]
    nov = np.array([w["novelty"] for w in wins])
    conf = np.array([w["confidence"] for w in wins])
    assert np.all(nov >= 0) and np.all((conf >= 0) & (conf <= 1))
    # confidence is the top probability's margin over uniform, cut to 0 as novelty goes 1 -> 2
    p_max = np.array([max(w["probs"]) for w in wins])
    expect = (p_max - 1 / 8) / (7 / 8) * np.clip(2 - nov, 0, 1)
    np.testing.assert_allclose(conf, expect, atol=2e-4)
    tc = res["genre_confidence"]
    assert tc["level"] in ("ok", "low") and tc["silent"] == 0.0
    assert tc["out_of_domain"] == pytest.approx(float(np.mean(nov > 1)), abs=1e-4)
    # loud white noise without a grid is further from the training windows than the track
    noise = np.random.default_rng(5).standard_normal(44100 * 20).astype(np.float32) * 0.3
    res_noise = GM.analyze_genres(noise, 44100, model=model, smoothing=0)
    assert np.median([w["novelty"] for w in res_noise["genre_windows"]]) > np.median(nov)
    # digital silence: a uniform summary, no confidence, a warning
    silent = GM.analyze_genres(np.zeros(44100 * 30, np.float32), 44100, model=model)
    assert silent["genre_summary"] == [0.125] * 8
    assert silent["genre_confidence"]["level"] == "none" and silent["genre_confidence"]["confidence"] == 0.0
    assert all("novelty" not in w and w["confidence"] == 0.0 for w in silent["genre_windows"])
    assert any("silent" in w for w in silent["warnings"])
    # a track with a silent gap: the gap's windows count for nothing in the summary
    gap = audio.copy()
    gap[: len(gap) // 2] = 0.0
    half = GM.analyze_genres(gap, 44100, downbeats=downbeats, model=model, smoothing=0)
    assert 0.3 < half["genre_confidence"]["silent"] < 0.7 and half["genre_confidence"]["level"] != "none"
    doc = new_timeline(file="toy.wav", duration_s=len(audio) / 44100, sample_rate=44100, sha256="0" * 64,
                       downbeats=downbeats, genre_windows=wins, genre_summary=res["genre_summary"],
                       model=res["model"], genre_confidence=tc)
    assert validate_timeline(doc)["schema"] == "mainstage.timeline/2"
    doc["schema"] = "mainstage.timeline/1"
    with pytest.raises(TimelineError, match="genre_confidence needs schema"):
        validate_timeline(doc)
