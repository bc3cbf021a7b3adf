"""Genre models whose graph outputs contradict their metadata, run through the real loader,
ONNX Runtime and `mainstage analyze` (issue 15): refused with one line naming the model."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from mainstage.core.genre import GenreModelError, load_genre_model  # noqa: E402
from mainstage.core.genre.model import default_model_path  # noqa: E402

SR = 44100


def tiny_model(path: Path, *, k: int = 8, softmax: bool = True, bias=None,
               kind: str = "probabilities", extra_outputs: int = 0, scale: float = 1.0) -> Path:
    """A real ONNX graph mel (batch, 1, 224, frames) -> mean -> (batch, k) scores, plus metadata.

    ``softmax`` False gives raw scores (logits); ``bias`` sets the output bias (NaN for a
    broken model); ``extra_outputs`` adds graph outputs the metadata does not declare.
    """
    w = (np.arange(k, dtype=np.float32)[None, :] + 1) * 0.01 * scale
    b = np.zeros(k, np.float32) if bias is None else np.asarray(bias, np.float32)
    nodes = [helper.make_node("ReduceMean", ["mel"], ["m"], axes=[1, 2, 3], keepdims=0),
             helper.make_node("Unsqueeze", ["m", "ax"], ["m2"]),
             helper.make_node("MatMul", ["m2", "W"], ["z"]), helper.make_node("Add", ["z", "B"], ["logit"]),
             helper.make_node("Softmax" if softmax else "Identity", ["logit"], ["probs"], **({"axis": 1} if softmax else {}))]
    dim = k
    outs = [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["batch", dim])]
    for i in range(extra_outputs):
        nodes.append(helper.make_node("Identity", ["logit"], [f"extra{i}"]))
        outs.append(helper.make_tensor_value_info(f"extra{i}", TensorProto.FLOAT, ["batch", dim]))
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("mel", TensorProto.FLOAT, ["batch", 1, 224, "frames"])], outs,
        initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
                     numpy_helper.from_array(np.array([1], np.int64), "ax")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    meta = json.loads(default_model_path().with_suffix(".json").read_text())
    for key in ("onnx_sha256", "novelty", "metrics", "training"):
        meta.pop(key, None)
    meta["name"] = path.stem
    meta["output"] = {"name": "probs", "kind": kind}
    path.with_suffix(".json").write_text(json.dumps(meta))
    return path


@pytest.fixture(scope="module")
def track(tmp_path_factory) -> Path:
    """Eight seconds of a gated bass tone."""
    t = np.arange(8 * SR) / SR
    y = (0.5 * np.sin(2 * np.pi * 55 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32)
    path = tmp_path_factory.mktemp("onnx_track") / "a.wav"
    sf.write(path, y, SR)
    return path


def analyze(track: Path, model: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    out = tmp_path / "out.timeline.json"
    return subprocess.run([sys.executable, "-m", "mainstage.core.cli", "analyze", str(track), "--no-cache",
                           "--model", str(model), "-o", str(out)], capture_output=True, text=True, timeout=300)


def one_line_error(proc: subprocess.CompletedProcess, model: Path, *fragments: str) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, proc.stdout, err)
    assert "Traceback" not in err and "internal error" not in err, err
    assert str(model) in err, err
    for f in fragments:
        assert f in err, err


@pytest.mark.parametrize("k", [20, 3])
def test_wrong_number_of_genre_scores_refused_at_load(tmp_path, track, k):
    model = tiny_model(tmp_path / f"k{k}.onnx", k=k)
    with pytest.raises(GenreModelError, match=f"gives {k} values per window"):
        load_genre_model(model)
    proc = analyze(track, model, tmp_path)
    one_line_error(proc, model, f"{k} values per window")
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "out.timeline.json").exists()


def test_undeclared_graph_outputs_refused(tmp_path, track):
    model = tiny_model(tmp_path / "many.onnx", extra_outputs=19)
    with pytest.raises(GenreModelError, match="20 outputs but its metadata declares 1"):
        load_genre_model(model)
    proc = analyze(track, model, tmp_path)
    one_line_error(proc, model, "undeclared")
    assert not (tmp_path / "out.timeline.json").exists()


def test_raw_logits_declared_as_probabilities_refused(tmp_path, track):
    model = tiny_model(tmp_path / "raw.onnx", softmax=False, scale=100.0)
    proc = analyze(track, model, tmp_path)
    one_line_error(proc, model, "not a probability distribution", "'logits'")


def test_logits_flag_applies_softmax(tmp_path):
    model = tiny_model(tmp_path / "logits.onnx", softmax=False, kind="logits", scale=100.0)
    gm = load_genre_model(model)
    x = np.random.default_rng(0).random((3, 1, 224, 64), dtype=np.float32)
    probs = gm.predict(x)
    z = x.mean(axis=(1, 2, 3))[:, None] * ((np.arange(8) + 1) * 0.01 * 100.0)[None, :]
    want = np.exp(z - z.max(axis=1, keepdims=True))
    want /= want.sum(axis=1, keepdims=True)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert np.allclose(probs, want[:, gm.order], atol=1e-5)


def test_nan_output_rejected_naming_the_model(tmp_path, track):
    model = tiny_model(tmp_path / "nan.onnx", bias=[np.nan] * 8)
    proc = analyze(track, model, tmp_path)
    one_line_error(proc, model, "NaN or infinite")


def test_editing_the_metadata_reloads_the_model_in_a_long_running_process(tmp_path, track):
    """Blender analyses many tracks in one process: a reversed genre list must not be served
    from the model (or result) cached in memory."""
    from mainstage.core.analysis.cache import AnalysisCache
    from mainstage.core.analysis.track import analyze_track_cached

    model = tiny_model(tmp_path / "order.onnx")
    store = AnalysisCache(tmp_path / "cache")
    first, cached = analyze_track_cached(track, model=model, cache=store, smoothing=0)
    assert not cached
    meta = json.loads(model.with_suffix(".json").read_text())
    meta["genres"] = meta["genres"][::-1]
    model.with_suffix(".json").write_text(json.dumps(meta))
    second, cached = analyze_track_cached(track, model=model, cache=store, smoothing=0)
    assert not cached, "served the result of the old genre order from the cache"
    w1, w2 = np.array(first["genre_windows"][0]["probs"]), np.array(second["genre_windows"][0]["probs"])
    assert not np.allclose(w1, w2), "the model kept its old genre order"
    assert np.allclose(w1, w2[::-1], atol=1e-5)
