"""Runtime genre inference: an exported ONNX model -> time-stamped genre distributions.

Needs only numpy and ONNX Runtime (plus librosa for the rare models trained with
chroma). A model is two files: ``NAME.onnx`` and its metadata ``NAME.json``
(schema ``schemas/genre_model.schema.json``), which says which genres the outputs
are, how the input features were computed, and how long the windows are. The
metadata is untrusted input: it is validated, and a model whose features this code
does not compute is refused rather than fed wrong input.

Windows are exactly 4 bars of the beat grid, stepped by one bar over the whole track
(the grid is extended at both ends with the first and last bar lengths). Without a
grid: 7.5 s windows stepped 1.875 s. Each window's scaled log-mel is cut from one
whole-track mel spectrogram (``features.track_mel_db``) and all windows go through
the model in a few batched session runs.
"""
from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Sequence

import numpy as np

from . import features as F
from .errors import InputFileError, MainstageError
from .genres import GENRES, GenreError, canonical_genre

METADATA_FORMAT = "mainstage.genre-model/1"
#: Weight of a window outside the drops in the whole-track summary, relative to a window
#: inside a drop (1): the paper's labels describe drops, so the summary is essentially the
#: mean over the drops, and the rest of the track counts only where no drop was found.
NON_DROP_WEIGHT = 0.05
#: Without known drops, windows within this many dB of the loudest window count as drops
#: (the paper's drop rule uses 2 dB).
LOUD_WINDOW_DB = 2.0
#: Window lengths are rounded to a multiple of this many frames (93 ms) so that a
#: track's windows share a few input shapes and run in a few batched calls.
FRAME_QUANTUM = 8
#: Default radius (windows, i.e. bars on a grid) of the moving average over window
#: distributions: genres change over phrases, not bars, and single windows of
#: drumless breakdowns or builds are the least certain. 0 turns smoothing off.
DEFAULT_SMOOTHING = 2
#: Audio per feature block: long mixes are featurised in pieces of about this length (s).
BLOCK_SECONDS = 600.0


class GenreModelError(InputFileError):
    """A genre model (ONNX file or metadata) cannot be used. One line: ``"<file>: <problem>"``."""


def default_model_path() -> Path:
    """The bundled default model (``mainstage/core/models/default.onnx``)."""
    return Path(str(resources.files(__package__).joinpath("models/default.onnx")))


def metadata_path(onnx_path: str | os.PathLike) -> Path:
    """``MODEL.onnx`` -> ``MODEL.json``."""
    return Path(onnx_path).with_suffix(".json")


@lru_cache(maxsize=1)
def _metadata_validator():
    import jsonschema

    text = resources.files(__package__).joinpath("schemas/genre_model.schema.json").read_text(encoding="utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _sha256(path: Path) -> str:
    from .timeline import sha256_file

    return sha256_file(path)


def validate_metadata(meta, source: str = "<metadata>") -> dict:
    """Check a model's metadata; return it (with ``genres`` canonicalised) when usable.

    Raises
    ------
    GenreModelError
        Schema violation, unknown genres, or feature parameters this runtime does not
        compute (a mismatch would silently give wrong predictions).
    """
    import jsonschema

    if not isinstance(meta, dict):
        raise GenreModelError(source, f"metadata must be a JSON object, got {type(meta).__name__}")
    if meta.get("format") != METADATA_FORMAT:
        raise GenreModelError(source, f"unsupported metadata format {meta.get('format')!r} (expected {METADATA_FORMAT!r})")
    errors = sorted(_metadata_validator().iter_errors(meta), key=lambda e: len(e.path))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        where = ".".join(str(p) for p in err.absolute_path) or "(document)"
        raise GenreModelError(source, f"invalid metadata at {where}: {err.message[:200]}")
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


def _chroma_module():
    """The chroma code (needs librosa), for models trained with chroma."""
    # Optional, only for chroma models: librosa and the training package are not part of
    # the runtime (nor of the Blender extension), so they are looked up by name here.
    import importlib

    try:
        chroma = importlib.import_module("mainstage.training.chroma")
        importlib.import_module("librosa")
    except ImportError:
        raise MainstageError(
            "this genre model uses chroma features, which need librosa and the training extras; "
            "install them with: pip install 'mainstage-vfx[train]', or use a mel-only model"
        ) from None
    return chroma


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
        digest = _sha256(p)
        if meta.get("onnx_sha256") and meta["onnx_sha256"] != digest:
            raise GenreModelError(src, f"model file does not match its metadata (sha256 {digest[:12]}..., "
                                       f"metadata says {meta['onnx_sha256'][:12]}...)")
        if meta["features"]["chroma"]:
            _chroma_module()
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


# --- windows -----------------------------------------------------------------------------

def extend_grid(downbeats, duration_s: float) -> np.ndarray:
    """Bar lines covering the whole track: the downbeats, extended backwards with the first bar
    length and forwards with the last one, within ``[0, duration_s]``."""
    db = np.asarray(downbeats, dtype=np.float64).reshape(-1)
    db = db[np.isfinite(db)]
    if db.size < 2:
        return db
    first_bar, last_bar = db[1] - db[0], db[-1] - db[-2]
    before = db[0] - first_bar * np.arange(int(db[0] // first_bar) if first_bar > 0 else 0, 0, -1)
    # A bar line up to 1 ms past the end (the audio's length rounded to whole samples) still
    # counts as the track's last bar line; windows are clipped to the track end later.
    tol = 1e-3
    n_after = int(math.floor((duration_s + tol - db[-1]) / last_bar)) if last_bar > 0 else 0
    after = db[-1] + last_bar * np.arange(1, n_after + 1)
    grid = np.concatenate([before, db, after])
    return grid[(grid >= -1e-9) & (grid <= duration_s + tol)]


def window_grid(duration_s: float, downbeats: Sequence[float] | None = None, *, bars: int = 4,
                step_bars: int = 1, fallback_s: float = 7.5, fallback_step_s: float = 1.875
                ) -> tuple[np.ndarray, np.ndarray, bool]:
    """Analysis windows ``(starts, ends, on_grid)``.

    With a grid of at least ``bars + 1`` bar lines: windows of exactly ``bars`` bars,
    starting on every ``step_bars``-th bar line. Otherwise windows of ``fallback_s``
    seconds every ``fallback_step_s`` seconds. All windows lie inside the track; a track
    shorter than one window gets one window covering all of it.
    """
    duration_s = float(duration_s)
    if duration_s <= 0:
        return np.zeros(0), np.zeros(0), False
    if downbeats is not None and len(downbeats) >= 2:
        grid = extend_grid(downbeats, duration_s)
        if grid.size >= bars + 1:
            starts = grid[:-bars:step_bars]
            ends = grid[bars::step_bars]
            n = min(starts.size, ends.size)
            return starts[:n], ends[:n], True
    if duration_s <= fallback_s:
        return np.array([0.0]), np.array([duration_s]), False
    n = int(math.floor((duration_s - fallback_s) / fallback_step_s + 1e-9)) + 1
    starts = np.arange(n) * fallback_step_s
    return starts, starts + fallback_s, False


def smooth_windows(probs: np.ndarray, radius: int) -> np.ndarray:
    """Centred moving average over ``2 * radius + 1`` neighbouring windows (shrinks at the ends)."""
    p = np.asarray(probs, dtype=np.float64)
    if radius <= 0 or len(p) < 2:
        return p.copy()
    c = np.concatenate([np.zeros((1, p.shape[1])), np.cumsum(p, axis=0)])
    idx = np.arange(len(p))
    lo = np.clip(idx - radius, 0, len(p))
    hi = np.clip(idx + radius + 1, 0, len(p))
    out = (c[hi] - c[lo]) / (hi - lo)[:, None]
    return out / out.sum(axis=1, keepdims=True)


def _overlap(starts, ends, spans) -> np.ndarray:
    """Fraction of each window covered by the union of ``spans``."""
    cover = np.zeros(len(starts))
    for s, e in spans:
        cover += np.clip(np.minimum(ends, e) - np.maximum(starts, s), 0, None)
    return np.minimum(cover / np.maximum(ends - starts, 1e-9), 1.0)


def summarize(starts, ends, probs, *, drops=None, loudness_db=None) -> np.ndarray | None:
    """Whole-track distribution: window probabilities averaged with weight ``0.05 + drop share``.

    ``drops`` (list of ``{"start_s", "end_s"}`` or pairs) give each window's drop share;
    without drops, windows within 2 dB of the loudest window (``loudness_db``) count as drop.
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.size == 0:
        return None
    if drops:
        spans = [(float(d["start_s"]), float(d["end_s"])) if isinstance(d, dict) else (float(d[0]), float(d[1]))
                 for d in drops]
        share = _overlap(np.asarray(starts), np.asarray(ends), spans)
    elif loudness_db is not None and len(loudness_db) == len(p):
        ld = np.asarray(loudness_db, dtype=np.float64)
        share = (ld >= ld.max() - LOUD_WINDOW_DB).astype(np.float64)
    else:
        share = np.zeros(len(p))
    w = NON_DROP_WEIGHT + share
    s = (w[:, None] * p).sum(axis=0) / w.sum()
    return s / s.sum()


# --- whole-track analysis ----------------------------------------------------------------

def _frame_plan(model: GenreModel, starts, ends) -> tuple[np.ndarray, np.ndarray]:
    """First frame and input length per window (lengths quantised, windows centred)."""
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    raw = np.maximum(np.rint((ends - starts) * fps).astype(np.int64), 1)
    q = np.maximum(FRAME_QUANTUM * np.rint(raw / FRAME_QUANTUM).astype(np.int64), FRAME_QUANTUM)
    lengths = np.array([model.frames_for(int(n)) for n in q], dtype=np.int64)
    centre = (starts + ends) * 0.5 * fps
    first = np.rint(centre - lengths / 2.0).astype(np.int64)
    return first, lengths


def analyze_genres(audio, sample_rate: int, *, downbeats: Sequence[float] | None = None,
                   drops: Sequence | None = None, model: GenreModel | str | os.PathLike | None = None,
                   smoothing: int = DEFAULT_SMOOTHING, batch_size: int = 32) -> dict:
    """Time-stamped genre distributions of a track (or a DJ mix).

    Parameters
    ----------
    audio : np.ndarray, shape (n,) or (n, channels)
        Samples at ``sample_rate`` (any rate; converted to mono 44.1 kHz).
    downbeats : sequence of float, optional
        Bar lines (s) from beat tracking. Windows are exactly 4 bars of this grid stepped
        by one bar; without a grid, 7.5 s windows stepped 1.875 s.
    drops : sequence, optional
        Drop sections (``{"start_s", "end_s"}`` dicts or pairs); the summary is essentially
        the mean over windows inside drops (other windows weigh 0.05). Without drops, the
        windows within 2 dB of the loudest one take their place.
    model : GenreModel or path, optional
        Default: the bundled model.
    smoothing : int
        Radius (in windows, i.e. bars on a grid) of a moving average of the window
        distributions (default :data:`DEFAULT_SMOOTHING` = 2); 0 = off. The summary is
        computed from the smoothed windows.
    batch_size : int
        Windows per ONNX Runtime call.

    Returns
    -------
    dict
        ``genre_windows`` (list of ``{"start_s", "end_s", "probs"}``), ``genre_summary``
        (8 floats, or None for empty audio), ``model`` (``{"name", "sha256", "kind"}``),
        ``warnings`` (list of str) and ``windowing`` (``"bars"`` or ``"seconds"``).
    """
    if not isinstance(model, GenreModel):
        model = load_genre_model(model)
    y = F.prepare_audio(audio, sample_rate)
    return _analyze(lambda a, b: y[a:b], y.size / F.SAMPLE_RATE, downbeats, drops, model, smoothing, batch_size)


def analyze_genres_file(path: str | os.PathLike, *, downbeats: Sequence[float] | None = None,
                        drops: Sequence | None = None, model: GenreModel | str | os.PathLike | None = None,
                        smoothing: int = DEFAULT_SMOOTHING, batch_size: int = 32) -> dict:
    """:func:`analyze_genres` on an audio file, decoded block by block.

    Memory stays bounded for long DJ mixes: only about ``BLOCK_SECONDS`` of audio and its
    mel spectrogram are held at a time. Same parameters and result as
    :func:`analyze_genres`; decoding errors raise ``InputFileError``.
    """
    from .audio import iter_mono, probe

    if not isinstance(model, GenreModel):
        model = load_genre_model(model)
    info = probe(path)
    reader = _StreamReader(iter_mono(info, F.SAMPLE_RATE))
    out = _analyze(reader.read, info.duration_s, downbeats, drops, model, smoothing, batch_size)
    actual = reader.total_read() / F.SAMPLE_RATE
    if actual < info.duration_s - 0.05:  # declared length was an estimate (some MP3s): drop windows past the end
        out["genre_windows"] = [dict(w, end_s=min(w["end_s"], actual)) for w in out["genre_windows"]
                                if w["start_s"] < actual - 1.0]
    return out


class _StreamReader:
    """Forward-only random access to a stream of mono blocks: ``read(a, b)`` -> samples ``[a, b)``.

    Requests must not move backwards past data already released; samples before the
    requested start are dropped, so memory holds only the current block of audio.
    """

    def __init__(self, blocks):
        self._it = iter(blocks)
        self._buf: list[np.ndarray] = []
        self._start = 0  # absolute index of the first buffered sample
        self._end = 0    # absolute index after the last buffered sample
        self._done = False

    def total_read(self) -> int:
        while not self._done:
            self._pull()
        return self._end

    def _pull(self) -> None:
        try:
            block = next(self._it)
        except StopIteration:
            self._done = True
            return
        self._buf.append(np.array(block, dtype=np.float32, copy=True))
        self._end += block.shape[0]

    def read(self, a: int, b: int) -> np.ndarray:
        while self._end < b and not self._done:
            self._pull()
        data = np.concatenate(self._buf) if len(self._buf) > 1 else (self._buf[0] if self._buf else np.zeros(0, np.float32))
        out = data[max(a - self._start, 0):max(min(b, self._end) - self._start, 0)].copy()
        keep_from = max(a - self._start, 0)  # release what lies before this request
        self._buf = [data[keep_from:]] if keep_from < data.size else []
        self._start += min(keep_from, data.size)
        return out


def _analyze(read, duration: float, downbeats, drops, model: GenreModel, smoothing: int, batch_size: int) -> dict:
    """Windows, features, batched inference and summary; ``read(a, b)`` gives mono 44.1 kHz samples."""
    meta_win = model.metadata["window"]
    starts, ends, on_grid = window_grid(duration, downbeats, bars=int(meta_win["bars"]),
                                        step_bars=int(meta_win["step_bars"]), fallback_s=float(meta_win["fallback_s"]),
                                        fallback_step_s=float(meta_win["fallback_step_s"]))
    warnings: list[str] = []
    if downbeats is not None and len(downbeats) >= 2 and not on_grid:
        warnings.append("genre: beat grid too short for 4-bar windows; used 7.5 s windows")
    if starts.size == 0:
        return {"genre_windows": [], "genre_summary": None, "model": model.info(), "warnings": warnings,
                "windowing": "bars" if on_grid else "seconds"}
    first, lengths = _frame_plan(model, starts, ends)
    probs = np.zeros((starts.size, len(GENRES)))
    loud = np.zeros(starts.size)
    chroma_mod = _chroma_module() if model.chroma else None
    # Feature blocks of about BLOCK_SECONDS of audio, each covering whole windows (windows are
    # sorted by start, so blocks are read in order).
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    block_frames = int(BLOCK_SECONDS * fps)
    margin = 64  # frames of real audio on both sides, so windows see no block edge
    i = 0
    while i < starts.size:
        j = i + 1
        while j < starts.size and first[j] + lengths[j] - first[i] <= block_frames:
            j += 1
        f0 = max(int(first[i:j].min()) - margin, 0)
        f1 = int((first[i:j] + lengths[i:j]).max()) + margin
        seg = read(f0 * F.HOP_LENGTH, f1 * F.HOP_LENGTH)
        mel_db = F.track_mel_db(seg)
        chroma_db = chroma_mod.chroma_channels(seg) if chroma_mod is not None else None
        power_cumsum = _frame_power_cumsum(mel_db)
        for n in np.unique(lengths[i:j]):
            sel = np.arange(i, j)[lengths[i:j] == n]
            x = F.window_features(mel_db, first[sel] - f0, int(n))
            loud[sel] = _window_loudness(power_cumsum, first[sel] - f0, int(n))
            if chroma_db is not None:
                x = np.concatenate([x[:, None], _cut(chroma_db, first[sel] - f0, int(n))], axis=1)
            else:
                x = x[:, None]
            probs[sel] = model.predict(x, batch_size=batch_size)
        i = j
    if smoothing:
        probs = smooth_windows(probs, int(smoothing))
    summary = summarize(starts, ends, probs, drops=drops, loudness_db=loud)
    windows = [{"start_s": float(s), "end_s": float(min(e, duration)), "probs": _round_probs(p)}
               for s, e, p in zip(starts, ends, probs)]
    return {"genre_windows": windows, "genre_summary": _round_probs(summary), "model": model.info(),
            "warnings": warnings, "windowing": "bars" if on_grid else "seconds"}


def _round_probs(p) -> list[float]:
    """Probabilities as plain floats (6 decimals), renormalised to sum 1."""
    q = np.clip(np.asarray(p, dtype=np.float64), 0.0, None)
    q = np.round(q / q.sum(), 6)
    return [float(v) for v in q]


def _frame_power_cumsum(mel_db: np.ndarray) -> np.ndarray:
    """Cumulative sum of the per-frame mean mel power (linear), with a leading 0."""
    power = np.power(np.float32(10.0), mel_db * np.float32(0.1)).mean(axis=0, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(power)])


def _window_loudness(power_cumsum: np.ndarray, starts, length: int) -> np.ndarray:
    """Mean mel power (dB) of each window, for the drop-weighted summary."""
    total = power_cumsum.size - 1
    s = np.clip(np.asarray(starts), 0, total)
    e = np.clip(np.asarray(starts) + length, 0, total)
    mean = (power_cumsum[e] - power_cumsum[s]) / np.maximum(e - s, 1)
    return 10.0 * np.log10(np.maximum(mean, F.AMIN))


def _cut(channels: np.ndarray, starts, length: int) -> np.ndarray:
    """Windows of ``(c, 224, frames)`` features, zero outside the track."""
    c, m, total = channels.shape
    out = np.zeros((len(starts), c, m, length), dtype=np.float32)
    for k, s in enumerate(np.asarray(starts).tolist()):
        lo, hi = max(s, 0), min(s + length, total)
        if hi > lo:
            out[k, :, :, lo - s:hi - s] = channels[:, :, lo:hi]
    return out
