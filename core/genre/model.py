"""Exported genre models: metadata validation and the ONNX Runtime session.

A model is two files: ``NAME.onnx`` and its metadata ``NAME.json`` (schema
``schemas/genre_model.schema.json``), which says which genres the outputs are, how the
input features were computed, and how long the windows are. The metadata is untrusted
input: it is validated, and a model whose features this code does not compute is
refused rather than fed wrong input.
"""
from __future__ import annotations

import json
import os
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from .. import schemas
from ..errors import InputFileError
from ..genres import GENRES, GenreError, canonical_genre
from ..hashing import sha256_file
from . import chroma
from . import features as F

METADATA_FORMAT = "mainstage.genre-model/1"


class GenreModelError(InputFileError):
    """A genre model (ONNX file or metadata) cannot be used. One line: ``"<file>: <problem>"``."""


def default_model_path() -> Path:
    """The bundled default model (``core/genre/models/default.onnx``)."""
    return Path(str(resources.files(__package__).joinpath("models/default.onnx")))


def metadata_path(onnx_path: str | os.PathLike) -> Path:
    """``MODEL.onnx`` -> ``MODEL.json``."""
    return Path(onnx_path).with_suffix(".json")


def validate_metadata(meta, source: str = "<metadata>") -> dict:
    """Check a model's metadata; return it (with ``genres`` canonicalised) when usable.

    Raises
    ------
    GenreModelError
        Schema violation, unknown genres, or feature parameters this runtime does not
        compute (a mismatch would silently give wrong predictions).
    """
    if not isinstance(meta, dict):
        raise GenreModelError(source, f"metadata must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != METADATA_FORMAT:
        raise GenreModelError(source, f"unsupported metadata format {meta.get('format')!r} (expected {METADATA_FORMAT!r})")
    err = schemas.best_error("genre_model", meta)
    if err is not None:
        raise GenreModelError(source, f"invalid metadata at {schemas.json_path(err.absolute_path)}: {err.message[:200]}")
    try:
        genres = [canonical_genre(g) for g in meta["genres"]]
    except GenreError as exc:
        raise GenreModelError(source, f"metadata genres: {exc}") from None
    if sorted(genres) != sorted(GENRES):
        raise GenreModelError(source, f"metadata genres {meta['genres']} are not the eight genres")
    feats = meta["features"]
    try:
        F.check_feature_params(feats, "metadata")
    except F.FeatureError as exc:
        raise GenreModelError(source, str(exc).removeprefix("metadata: ")) from None
    want_channels = ["mel", "cqt_chroma", "vqt_chroma"] if feats["chroma"] else ["mel"]
    if list(feats["channels"]) != want_channels:
        raise GenreModelError(source, f"features.channels {feats['channels']} do not match chroma={feats['chroma']}")
    shape = meta["input"]["shape"]
    if shape[1] != len(want_channels) or shape[2] != F.N_MELS:
        raise GenreModelError(source, f"input shape {shape} does not match {len(want_channels)} channel(s) x {F.N_MELS} mel bands")
    inp = meta["input"]
    if isinstance(shape[3], int) and inp["min_frames"] > shape[3]:
        raise GenreModelError(source, "input.min_frames exceeds the fixed frame count")
    if inp.get("max_frames") is not None and inp["max_frames"] < inp["min_frames"]:
        raise GenreModelError(source, "input.max_frames is below input.min_frames")
    out = dict(meta)
    out["genres"] = genres
    return out


class GenreModel:
    """An exported genre model ready to run (ONNX Runtime session + validated metadata).

    Use :meth:`load`, then :meth:`predict` on feature windows or
    :func:`analyze_genres` on audio.
    """

    def __init__(self, path: Path, metadata: dict, session, sha256: str):
        self.path = path
        self.metadata = metadata
        self.session = session
        self.sha256 = sha256
        inp = metadata["input"]
        self.input_name = inp["name"]
        self.channels = int(inp["shape"][1])
        self.fixed_frames = inp["shape"][3] if isinstance(inp["shape"][3], int) else None
        self.min_frames = int(inp["min_frames"])
        self.max_frames = inp.get("max_frames")
        self.output_name = metadata["output"]["name"]
        self.output_kind = metadata["output"]["kind"]
        self.chroma = bool(metadata["features"]["chroma"])
        # Column permutation from the model's genre order to GENRES.
        self.order = np.array([metadata["genres"].index(g) for g in GENRES])
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, threads: int | None = None) -> "GenreModel":
        """Open ``MODEL.onnx`` and its ``MODEL.json`` (default: the bundled model).

        Raises
        ------
        GenreModelError
            Missing files, invalid metadata, a model file that does not match the hash
            recorded in its metadata, or an ONNX graph whose input/output differ from the
            metadata.
        """
        p = Path(path) if path is not None else default_model_path()
        src = str(p)
        if not p.is_file():
            raise GenreModelError(src, "no such model file" if not p.exists() else "not a file")
        mp = metadata_path(p)
        if not mp.is_file():
            raise GenreModelError(src, f"metadata file {mp.name} is missing beside the model")
        try:
            meta = json.loads(mp.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise GenreModelError(str(mp), f"not valid JSON ({exc.__class__.__name__}: {str(exc)[:120]})") from None
        meta = validate_metadata(meta, str(mp))
        digest = sha256_file(p)
        if meta.get("onnx_sha256") and meta["onnx_sha256"] != digest:
            raise GenreModelError(src, f"model file does not match its metadata (sha256 {digest[:12]}..., "
                                       f"metadata says {meta['onnx_sha256'][:12]}...)")
        if meta["features"]["chroma"]:
            chroma.librosa()  # a clear error now, not at the first window
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        if threads:
            so.intra_op_num_threads = int(threads)
        try:
            session = ort.InferenceSession(str(p), so, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own exception types for bad files
            raise GenreModelError(src, f"ONNX Runtime cannot load the model ({str(exc).splitlines()[0][:160]})") from None
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name: o for o in session.get_outputs()}
        name_in, name_out = meta["input"]["name"], meta["output"]["name"]
        if name_in not in inputs or len(inputs[name_in].shape) != 4:
            raise GenreModelError(src, f"the graph has no 4-D input named {name_in!r} (has {sorted(inputs)})")
        if name_out not in outputs:
            raise GenreModelError(src, f"the graph has no output named {name_out!r} (has {sorted(outputs)})")
        return cls(p, meta, session, digest)

    @property
    def name(self) -> str:
        return self.metadata["name"]

    def info(self) -> dict:
        """The timeline's ``model`` field: ``{"name", "sha256", "kind": "onnx"}``."""
        return {"name": self.name, "sha256": self.sha256, "kind": "onnx"}

    def frames_for(self, frames: int) -> int:
        """Input length the model gets for a window of ``frames`` frames."""
        if self.fixed_frames is not None:
            return int(self.fixed_frames)
        n = max(int(frames), self.min_frames)
        if self.max_frames is not None:
            n = min(n, int(self.max_frames))
        return n

    def predict(self, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Genre probabilities ``(n, 8)`` (GENRES order) for inputs ``(n, channels, 224, frames)``."""
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[2] != F.N_MELS:
            raise ValueError(f"expected (n, {self.channels}, {F.N_MELS}, frames), got {x.shape}")
        outs = []
        with self._lock:  # one run at a time; ORT parallelises inside a run
            for i in range(0, len(x), batch_size):
                outs.append(self.session.run([self.output_name], {self.input_name: x[i:i + batch_size]})[0])
        y = np.concatenate(outs, axis=0).astype(np.float64) if outs else np.zeros((0, len(GENRES)))
        if self.output_kind == "logits":
            y = np.exp(y - y.max(axis=1, keepdims=True))
        y = np.clip(y, 0.0, None)
        y /= np.maximum(y.sum(axis=1, keepdims=True), 1e-12)
        return y[:, self.order]


_CACHE: dict[tuple, GenreModel] = {}
_CACHE_LOCK = threading.Lock()


def load_genre_model(path: str | os.PathLike | None = None) -> GenreModel:
    """:meth:`GenreModel.load`, cached per file (path, size, modification time)."""
    p = Path(path) if path is not None else default_model_path()
    try:
        st = p.stat()
        key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        return GenreModel.load(p)  # raises the one-line error
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = GenreModel.load(p)
        return _CACHE[key]


