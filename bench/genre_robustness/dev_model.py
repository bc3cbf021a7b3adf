"""Development stand-in for a genre model exported with its embedding and novelty outputs.

Until ``mainstage export`` writes models with the pooled embedding and the novelty score
(training/run/novelty.py), the bundled model has neither. This tool makes a copy of an
exported model that has both, so that the robustness benchmark can run against it through
the public API (``GenreModel.predict(x, with_embedding=True)``, windows with ``"novelty"``):

* the input of the final Gemm that produces the genre logits (the attention-pooled
  embedding, 160-d in the default model) becomes an extra graph output ``embedding``;
* ``novelty`` is computed in the graph as the export does: ``sqrt(|W (e - mu)|^2 / D) / scale``
  with ``mu``, ``W`` and ``scale`` from :func:`mainstage.training.run.novelty.fit_novelty`,
  fitted on 4-bar windows of SynthHouse tracks of the model's own *training* set (train split,
  the dataset seed in its metadata) and thresholded on tracks of that set's *val* split;
* the metadata JSON is copied beside it with ``output.embedding`` / ``output.novelty``, a
  ``novelty`` block and the new file's ``onnx_sha256``.

The weights are untouched: probabilities equal the original model's.

Usage: ``python bench/genre_robustness/dev_model.py [--model core/genre/models/default.onnx]
--out /tmp/genre_dev/default_emb.onnx [--fit-tracks 48] [--val-tracks 16]``
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def _final_gemm(graph):
    """The node producing the logits: the last Gemm/MatMul whose weight has 8 output rows/columns."""
    inits = {i.name: i for i in graph.initializer}
    for node in reversed(graph.node):
        if node.op_type in ("Gemm", "MatMul") and len(node.input) >= 2 and node.input[1] in inits:
            dims = list(inits[node.input[1]].dims)
            if 8 in dims:
                return node, dims
    raise SystemExit("no final Gemm/MatMul with 8 outputs found in the graph")


def add_outputs(src: Path, dst: Path, stats: dict | None) -> tuple[str, int]:
    """Write ``dst``: ``src`` with an ``embedding`` output (and ``novelty`` when ``stats``)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(src))
    g = model.graph
    node, dims = _final_gemm(g)
    emb_name = node.input[0]
    trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
    d = int(dims[1] if (node.op_type == "Gemm" and trans_b) else dims[0])
    g.node.append(helper.make_node("Identity", [emb_name], ["embedding"], name="dev_embedding"))
    g.output.append(helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", d]))
    if stats is not None:
        mean = np.asarray(stats["mean"], dtype=np.float32)
        whiten_t = np.ascontiguousarray(np.asarray(stats["whiten"], dtype=np.float32).T)
        g.initializer.extend([
            numpy_helper.from_array(mean, "dev_novelty_mean"),
            numpy_helper.from_array(whiten_t, "dev_novelty_whiten_t"),
            numpy_helper.from_array(np.array([-1], dtype=np.int64), "dev_novelty_axes"),
            numpy_helper.from_array(np.array(1.0 / float(stats["scale"]), dtype=np.float32), "dev_novelty_inv_scale"),
        ])
        g.node.extend([
            helper.make_node("Sub", ["embedding", "dev_novelty_mean"], ["dev_nov_centred"]),
            helper.make_node("MatMul", ["dev_nov_centred", "dev_novelty_whiten_t"], ["dev_nov_z"]),
            helper.make_node("Mul", ["dev_nov_z", "dev_nov_z"], ["dev_nov_z2"]),
            helper.make_node("ReduceMean", ["dev_nov_z2", "dev_novelty_axes"], ["dev_nov_mean"], keepdims=0),
            helper.make_node("Sqrt", ["dev_nov_mean"], ["dev_nov_raw"]),
            helper.make_node("Mul", ["dev_nov_raw", "dev_novelty_inv_scale"], ["novelty"]),
        ])
        g.output.append(helper.make_tensor_value_info("novelty", TensorProto.FLOAT, ["batch"]))
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(dst))
    return emb_name, d


def _plain_session(path: Path, names: list[str]):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(names, {"mel": x})


def training_windows(meta: dict, split: str, n_tracks: int, run, seed: int = 0) -> np.ndarray:
    """Embeddings of every 4-bar window (true downbeats) of ``n_tracks`` tracks of the model's training set."""
    from mainstage.core.genre import features as F
    from mainstage.core.genre import window_grid
    from mainstage.training.synthhouse import render_track
    from mainstage.training.synthhouse.dataset import plan_items

    sh = meta["training"]["synthhouse"]["train_set"]
    items = [it for it in plan_items(sh["tracks_per_genre"], sh["mixtures"], seed=sh["seed"]) if it.split == split]
    order = np.random.default_rng(seed).permutation(len(items))[:n_tracks]
    embs = []
    for k, idx in enumerate(order):
        it = items[int(idx)]
        res = render_track(np.array(it.weights), seed=it.seed, structure=sh["structure"])
        y = F.prepare_audio(res.audio, res.sr)
        starts, ends, _ = window_grid(y.size / F.SAMPLE_RATE, res.truth["downbeats"])
        mel = F.track_mel_db(y)
        fps = F.SAMPLE_RATE / F.HOP_LENGTH
        n = int(8 * round((ends[0] - starts[0]) * fps / 8))
        first = np.rint((starts + ends) * 0.5 * fps - n / 2.0).astype(np.int64)
        x = F.window_features(mel, first, n)[:, None]
        embs.append(run(x)[0])
        print(f"\r  {split}: {k + 1}/{len(order)} tracks", end="", flush=True, file=sys.stderr)
    print(file=sys.stderr)
    return np.concatenate(embs)


def main(argv=None) -> int:
    from mainstage.core.genre import default_model_path, metadata_path
    from mainstage.core.hashing import sha256_file

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=default_model_path())
    ap.add_argument("--out", type=Path, required=True, help="the copy to write (MODEL.onnx; MODEL.json beside it)")
    ap.add_argument("--fit-tracks", type=int, default=48, help="training-split tracks the Gaussian is fitted on")
    ap.add_argument("--val-tracks", type=int, default=16, help="val-split tracks whose 99th percentile is 1.0")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    meta = json.loads(metadata_path(args.model).read_text())
    tmp = args.out.with_name(args.out.stem + ".embedding-only.onnx")
    emb_name, d = add_outputs(args.model, tmp, None)
    print(f"embedding: graph tensor {emb_name!r} ({d}-d)", file=sys.stderr)
    run = _plain_session(tmp, ["embedding"])
    fit = training_windows(meta, "train", args.fit_tracks, run)
    val = training_windows(meta, "val", args.val_tracks, run)
    from mainstage.training.run.novelty import fit_novelty

    stats = fit_novelty(fit, val)
    add_outputs(args.model, args.out, stats)
    tmp.unlink()
    meta["name"] = meta["name"] + "-dev-embedding"
    meta["output"] = {**meta["output"], "embedding": "embedding", "novelty": "novelty"}
    meta["novelty"] = {"method": "mahalanobis", "embedding_size": d, "shrinkage": stats["shrinkage"],
                       "quantile": stats["quantile"], "raw_threshold": stats["scale"], "fit_clips": stats["n_fit"],
                       "threshold_clips": stats["n_threshold"], "val_median": stats["val_median"]}
    meta["onnx_sha256"] = sha256_file(args.out)
    metadata_path(args.out).write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {args.out} and {metadata_path(args.out).name}: {stats['n_fit']} fit windows, "
          f"{stats['n_threshold']} threshold windows, raw threshold {stats['scale']:.3f}, "
          f"val median {stats['val_median']:.3f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
