"""Exported genre models: metadata validation and the ONNX Runtime session.

A model is two files: ``NAME.onnx`` and its metadata ``NAME.json`` (schema
``schemas/genre_model.schema.json``), which says which genres the outputs are, how the
input features were computed, and how long the windows are. The metadata is untrusted
input: it is validated, and a model whose features this code does not compute is
refused rather than fed wrong input.
"""
from __future__ import annotations

import os
import threading
from importlib import resources
from pathlib import Path

import numpy as np

from .. import schemas
from ..errors import InputFileError
from ..genres import GENRES, GenreError, canonical_genre
from ..hashing import sha256_file
from ..jsonfile import read_json
from . import chroma
from . import features as F

METADATA_FORMAT = "mainstage.genre-model/1"
#: Metadata files larger than this are refused unread (the bundled one is 22 kB).
MAX_METADATA_BYTES = 16 * 1024 * 1024


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


def _check_graph_outputs(src: str, declared: dict, outputs: dict) -> None:
    """The graph's outputs are exactly those the metadata names, with the declared ranks and,
    where the graph fixes them, sizes ((batch, 8) genres, (batch, D) embedding, (batch,) novelty).

    Raises
    ------
    GenreModelError
        An output the metadata does not declare (the graph is not what the metadata
        describes), or a shape that cannot be right.
    """
    named = {declared[k]: k for k in ("name", "embedding", "novelty") if declared.get(k) is not None}
    extra = sorted(set(outputs) - set(named))
    if extra:
        shown = ", ".join(repr(e) for e in extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        raise GenreModelError(src, f"the graph has {len(outputs)} outputs but its metadata declares {len(named)} "
                                   f"({sorted(named)}); undeclared: {shown}")
    want_rank = {"name": (2,), "embedding": (2,), "novelty": (1, 2)}
    for name, role in named.items():
        shape = list(outputs[name].shape or [])
        if len(shape) not in want_rank[role]:
            raise GenreModelError(src, f"the graph's output {name!r} has shape {shape}, expected rank "
                                       f"{' or '.join(map(str, want_rank[role]))}")
        if role == "name" and isinstance(shape[1], int) and shape[1] != len(GENRES):
            raise GenreModelError(src, f"the graph's output {name!r} gives {shape[1]} values per window; the "
                                       f"metadata lists {len(GENRES)} genres")
        if role == "novelty" and len(shape) == 2 and isinstance(shape[1], int) and shape[1] != 1:
            raise GenreModelError(src, f"the graph's output {name!r} has shape {shape}, expected one score per window")


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
        #: Graph outputs with the pooled embedding and its novelty score (None: the model has none).
        self.embedding_name = metadata["output"].get("embedding")
        self.novelty_name = metadata["output"].get("novelty")
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
        meta = validate_metadata(read_json(mp, GenreModelError, what="model metadata", max_bytes=MAX_METADATA_BYTES),
                                 str(mp))
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
        name_in = meta["input"]["name"]
        if name_in not in inputs or len(inputs[name_in].shape) != 4:
            raise GenreModelError(src, f"the graph has no 4-D input named {name_in!r} (has {sorted(inputs)})")
        for key in ("name", "embedding", "novelty"):
            name = meta["output"].get(key)
            if name is not None and name not in outputs:
                raise GenreModelError(src, f"the graph has no output named {name!r} (has {sorted(outputs)})")
        _check_graph_outputs(src, meta["output"], outputs)
        return cls(p, meta, session, digest)

    @property
    def name(self) -> str:
        return self.metadata["name"]

    @property
    def has_embedding(self) -> bool:
        """Whether the graph returns the pooled embedding (and :meth:`predict` can give it)."""
        return self.embedding_name is not None

    @property
    def has_novelty(self) -> bool:
        """Whether the graph returns a novelty score (1.0 = the threshold fitted in training)."""
        return self.novelty_name is not None

    def info(self) -> dict:
        """The timeline's ``model`` field: ``{"name", "sha256", "kind": "onnx"}`` plus, when the
        metadata has them, ``trained_on`` and ``validated_on``."""
        out = {"name": self.name, "sha256": self.sha256, "kind": "onnx"}
        out.update(self.metadata.get("provenance") or {})
        return out

    def frames_for(self, frames: int) -> int:
        """Input length the model gets for a window of ``frames`` frames."""
        if self.fixed_frames is not None:
            return int(self.fixed_frames)
        n = max(int(frames), self.min_frames)
        if self.max_frames is not None:
            n = min(n, int(self.max_frames))
        return n

    def predict(self, x: np.ndarray, batch_size: int = 32, with_embedding: bool = False):
        """Genre probabilities ``(n, 8)`` (GENRES order) for inputs ``(n, channels, 224, frames)``.

        With ``with_embedding``: ``(probs, embedding (n, D))``; raises ``GenreModelError`` when
        the model has no embedding output.
        """
        if with_embedding and not self.has_embedding:
            raise GenreModelError(str(self.path), "the model has no embedding output (export it again with this version)")
        out = self.run(x, batch_size=batch_size)
        return (out["probs"], out["embedding"]) if with_embedding else out["probs"]

    def run(self, x: np.ndarray, batch_size: int = 32) -> dict:
        """All outputs for inputs ``(n, channels, 224, frames)``.

        Returns
        -------
        dict
            ``probs`` ``(n, 8)`` in GENRES order, ``embedding`` ``(n, D)`` and ``novelty``
            ``(n,)`` (None when the model lacks them).

        Raises
        ------
        GenreModelError
            The graph's outputs have the wrong shape or are not finite.
        """
        x = np.asarray(x, dtype=np.float32)
        if x.ndim != 4 or x.shape[1] != self.channels or x.shape[2] != F.N_MELS:
            raise ValueError(f"expected (n, {self.channels}, {F.N_MELS}, frames), got {x.shape}")
        names = [n for n in (self.output_name, self.embedding_name, self.novelty_name) if n is not None]
        parts: list[list[np.ndarray]] = [[] for _ in names]
        with self._lock:  # one run at a time; ORT parallelises inside a run
            for i in range(0, len(x), batch_size):
                for k, y in enumerate(self.session.run(names, {self.input_name: x[i:i + batch_size]})):
                    parts[k].append(np.asarray(y))
        src = str(self.path)
        outs = {}
        for name, chunks in zip(names, parts):
            y = np.concatenate(chunks, axis=0).astype(np.float64) if chunks else None
            if y is not None and not np.all(np.isfinite(y)):
                raise GenreModelError(src, f"the model's output {name!r} contains NaN or infinite values")
            outs[name] = y
        y = outs[self.output_name]
        if y is None:
            y = np.zeros((0, len(GENRES)))
        if y.ndim != 2 or y.shape[1] != len(GENRES) or y.shape[0] != len(x):
            raise GenreModelError(src, f"the model's output {self.output_name!r} has shape {y.shape}, "
                                       f"expected ({len(x)}, {len(GENRES)})")
        if self.output_kind == "logits":
            y = np.exp(y - y.max(axis=1, keepdims=True))
        elif len(y) and (y.min() < -1e-4 or np.abs(y.sum(axis=1) - 1.0).max() > 1e-3):
            raise GenreModelError(src, f"the model's output {self.output_name!r} is not a probability distribution "
                                       f"(metadata says kind 'probabilities'; use 'logits' for raw scores)")
        y = np.clip(y, 0.0, None)
        y /= np.maximum(y.sum(axis=1, keepdims=True), 1e-12)
        emb = outs.get(self.embedding_name) if self.embedding_name else None
        nov = outs.get(self.novelty_name) if self.novelty_name else None
        if emb is not None and (emb.ndim != 2 or emb.shape[0] != len(x)):
            raise GenreModelError(src, f"the model's output {self.embedding_name!r} has shape {emb.shape}, expected ({len(x)}, D)")
        if nov is not None:
            nov = nov.reshape(-1)
            if nov.shape[0] != len(x) or (len(nov) and nov.min() < 0):
                raise GenreModelError(src, f"the model's output {self.novelty_name!r} is not one score >= 0 per window")
        return {"probs": y[:, self.order], "embedding": emb, "novelty": nov}


_CACHE: dict[tuple, GenreModel] = {}
_CACHE_LOCK = threading.Lock()


def model_files_key(path: str | os.PathLike) -> tuple:
    """Identity of a model's two files for in-memory caches: resolved path, and size and
    modification time of the ``.onnx`` and of its ``.json`` (either changing means reload).

    Raises
    ------
    OSError
        The ONNX file cannot be stat'ed.
    """
    p = Path(path)
    st = p.stat()
    try:
        mst = metadata_path(p).stat()
        meta = (mst.st_size, mst.st_mtime_ns, mst.st_ino)
    except OSError:
        meta = None
    return str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, meta


def load_genre_model(path: str | os.PathLike | None = None) -> GenreModel:
    """:meth:`GenreModel.load`, cached per model (:func:`model_files_key`: both files' size and time)."""
    p = Path(path) if path is not None else default_model_path()
    try:
        key = model_files_key(p)
    except OSError:
        return GenreModel.load(p)  # raises the one-line error
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE.clear()
            _CACHE[key] = GenreModel.load(p)
        return _CACHE[key]


