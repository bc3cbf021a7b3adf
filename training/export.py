"""Export a trained checkpoint to ONNX (dynamic batch) plus its metadata JSON, and check parity.

The exported graph takes ``mel`` float32 ``(batch, channels, 224, frames)`` and returns
``probs`` ``(batch, 8)`` (softmax included). The batch axis is dynamic; so is the
frame axis for models that accept any clip length (all of ours do, within
``[min_frames, max_frames]``). ``torch.onnx.export(dynamo=True)`` is used, with the
classic TorchScript exporter as a fallback for graphs the new exporter cannot take.

After export, ONNX Runtime's output is compared with torch's on random inputs of two
batch sizes and two lengths; export fails if they differ by more than 1e-4.
"""
from __future__ import annotations

import datetime as _dt
import os
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import core
from ..core.atomic import atomic_path, write_json_atomic
from ..core.errors import MainstageError
from ..core.genre import METADATA_FORMAT, metadata_path, validate_metadata
from ..core.hashing import sha256_file
from .run.checkpoint import load_checkpoint, model_from_checkpoint
from .run.novelty import NoveltyHead
from .models import count_parameters, min_frames

PARITY_TOLERANCE = 1e-4
#: Nominal clip: 4 bars at 128 BPM = 7.5 s = 646 frames.
NOMINAL_FRAMES = 646


class ExportError(MainstageError, RuntimeError):
    """The model could not be exported, or the exported model disagrees with torch."""


class _WithSoftmax(torch.nn.Module):
    """The exported graph: logits / temperature (calibrated on validation) -> softmax.

    With novelty statistics (a model with a ``pooled`` embedding, fitted by
    :mod:`.run.novelty`) it also returns the embedding and its novelty score.
    """

    def __init__(self, model: torch.nn.Module, temperature: float = 1.0, novelty: dict | None = None):
        super().__init__()
        self.model = model
        self.inv_temperature = 1.0 / float(temperature)
        self.novelty = NoveltyHead(novelty) if novelty is not None and hasattr(model, "pooled") else None

    @property
    def output_names(self) -> list[str]:
        return ["probs"] if self.novelty is None else ["probs", "embedding", "novelty"]

    def forward(self, mel: torch.Tensor):
        if self.novelty is None:
            return torch.softmax(self.model(mel) * self.inv_temperature, dim=-1)
        e = self.model.pooled(mel)
        probs = torch.softmax(self.model.head(e) * self.inv_temperature, dim=-1)
        return probs, e, self.novelty(e)


def frame_limits(model: torch.nn.Module) -> tuple[int, int | None]:
    """``(min_frames, max_frames)`` a model accepts (max None = unbounded)."""
    lo = min_frames(model)
    hi = None
    if hasattr(model, "max_patches"):
        from .models.patch import PATCH, PATCH_HOP

        hi = PATCH + (model.max_patches - 1) * PATCH_HOP
    return lo, hi


def _export(wrapper, example, path: Path, dynamic_frames: bool, lo: int, hi: int | None, opset: int) -> str:
    """Export to ``path``; returns the exporter used."""
    errors = []
    try:
        batch = torch.export.Dim("batch", min=1, max=4096)
        shapes = {0: batch}
        if dynamic_frames:
            shapes[3] = torch.export.Dim("frames", min=lo, max=hi or 100000)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(wrapper, (example,), dynamo=True, input_names=["mel"],
                                     output_names=wrapper.output_names,
                                     dynamic_shapes=({**shapes},), opset_version=opset, verbose=False,
                                     external_data=False)
        prog.save(str(path))
        return "dynamo"
    except Exception as exc:  # fall back to the TorchScript exporter
        errors.append(f"dynamo: {str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__}")
    try:
        axes = {"mel": {0: "batch"}, **{name: {0: "batch"} for name in wrapper.output_names}}
        if dynamic_frames:
            axes["mel"][3] = "frames"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(wrapper, (example,), str(path), dynamo=False, input_names=["mel"],
                              output_names=wrapper.output_names, dynamic_axes=axes, opset_version=min(opset, 17))
        return "torchscript"
    except Exception as exc:
        errors.append(f"torchscript: {str(exc).splitlines()[0][:200] if str(exc) else exc.__class__.__name__}")
    raise ExportError("ONNX export failed (" + "; ".join(errors) + ")")


def check_parity(wrapper: _WithSoftmax, onnx_path: str | os.PathLike, shapes, seed: int = 0) -> float:
    """Largest |ORT - torch| difference of any output over random inputs of the given shapes.

    The embedding is compared relative to its largest entry, so that every output is held to
    the same tolerance whatever its scale.
    """
    import onnxruntime as ort

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(seed)
    worst = 0.0
    wrapper = wrapper.eval()
    names = wrapper.output_names
    for shape in shapes:
        x = torch.rand(*shape, generator=gen)
        with torch.no_grad():
            ref = wrapper(x)
        ref = [r.numpy() for r in (ref if isinstance(ref, tuple) else (ref,))]
        got = sess.run(names, {"mel": x.numpy()})
        for name, r, g in zip(names, ref, got):
            diff = float(np.abs(r - g).max())
            if name == "embedding":
                diff /= max(float(np.abs(r).max()), 1.0)
            worst = max(worst, diff)
    return worst


def build_metadata(ckpt: dict, model: torch.nn.Module, *, name: str, onnx_sha256: str, exporter: str,
                   parity: float, dynamic_frames: bool, description: str | None = None,
                   extra_metrics: dict | None = None, provenance: dict | None = None) -> dict:
    """The metadata JSON of an exported model (schema ``genre_model.schema.json``)."""
    feats = dict(ckpt["features"])
    channels = len(feats["channels"])
    lo, hi = frame_limits(model)
    metrics = {"validation": ckpt.get("val_metrics"), "test": ckpt.get("test_metrics")}
    output = {"name": "probs", "kind": "probabilities"}
    novelty = ckpt.get("novelty") if hasattr(model, "pooled") else None
    if novelty is not None:
        output.update(embedding="embedding", novelty="novelty")
    if extra_metrics:
        metrics.update(extra_metrics)
    return {
        "format": METADATA_FORMAT,
        "name": name,
        "architecture": ckpt["model_config"]["arch"],
        "description": description or "",
        "genres": list(ckpt["genres"]),
        "labels": ckpt.get("labels", "soft"),
        "features": feats,
        "input": {"name": "mel", "dtype": "float32",
                  "shape": ["batch", channels, feats["n_mels"], "frames" if dynamic_frames else NOMINAL_FRAMES],
                  "min_frames": lo if dynamic_frames else NOMINAL_FRAMES,
                  "max_frames": hi if dynamic_frames else NOMINAL_FRAMES,
                  "nominal_frames": NOMINAL_FRAMES},
        "output": output,
        "window": {"bars": 4, "step_bars": 1, "fallback_s": 7.5, "fallback_step_s": 1.875},
        "onnx_sha256": onnx_sha256,
        "parameters": count_parameters(model),
        "training": {"data": ckpt.get("data"), "config": ckpt.get("train_config"),
                     "epochs_run": len(ckpt.get("history", [])), "best_epoch": ckpt.get("best_epoch"),
                     "model_config": ckpt["model_config"]},
        "metrics": metrics,
        **({"novelty": {"method": "mahalanobis", "embedding_size": int(novelty["mean"].numel()),
                        "shrinkage": novelty["shrinkage"], "quantile": novelty["quantile"],
                        "raw_threshold": novelty["scale"], "fit_clips": novelty["n_fit"],
                        "threshold_clips": novelty["n_threshold"], "val_median": novelty["val_median"]}}
           if novelty is not None else {}),
        "export": {"exporter": exporter, "parity_max_abs": parity, "torch": torch.__version__,
                   "temperature": float(ckpt.get("temperature", 1.0)),
                   "dynamic_axes": ["batch", "frames"] if dynamic_frames else ["batch"]},
        **({"provenance": dict(provenance)} if provenance else {}),
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "generator": {"name": "mainstage-vfx", "version": core.__version__},
    }


def export_checkpoint(checkpoint: str | os.PathLike, onnx_path: str | os.PathLike, *, name: str | None = None,
                      description: str | None = None, opset: int = 18, dynamic_frames: bool = True,
                      extra_metrics: dict | None = None, provenance: dict | None = None, log=print) -> dict:
    """Export ``checkpoint`` to ``onnx_path`` (+ ``.json`` metadata beside it), atomically.

    Returns
    -------
    dict
        The metadata written.

    Raises
    ------
    ExportError
        Export failure or ORT/torch disagreement above 1e-4.
    """
    ckpt = load_checkpoint(checkpoint)
    model = model_from_checkpoint(ckpt)
    lo, hi = frame_limits(model)
    channels = len(ckpt["features"]["channels"])
    n_mels = int(ckpt["features"]["n_mels"])
    frames = NOMINAL_FRAMES if hi is None else min(NOMINAL_FRAMES, hi)
    example = torch.rand(2, channels, n_mels, frames)
    out = Path(onnx_path)
    temperature = float(ckpt.get("temperature", 1.0))
    wrapper = _WithSoftmax(model, temperature, ckpt.get("novelty")).eval()
    with atomic_path(out) as tmp:
        exporter = _export(wrapper, example, tmp, dynamic_frames, lo, hi, opset)
        shapes = [(1, channels, n_mels, frames), (3, channels, n_mels, frames)]
        if dynamic_frames:
            shapes.append((2, channels, n_mels, max(lo, frames - 77)))
        parity = check_parity(wrapper, tmp, shapes)
        if not parity <= PARITY_TOLERANCE:
            raise ExportError(f"{out}: ONNX Runtime differs from torch by {parity:.3g} (> {PARITY_TOLERANCE:g})")
        digest = sha256_file(tmp)
    meta = build_metadata(ckpt, model, name=name or out.stem, onnx_sha256=digest, exporter=exporter,
                          parity=parity, dynamic_frames=dynamic_frames, description=description,
                          extra_metrics=extra_metrics, provenance=provenance)
    validate_metadata(meta, str(metadata_path(out)))
    write_json_atomic(metadata_path(out), meta)
    log(f"exported {out} ({out.stat().st_size / 1e6:.2f} MB, {exporter} exporter, "
        f"ORT vs torch max |diff| {parity:.2e})")
    return meta
