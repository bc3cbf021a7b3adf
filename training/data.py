"""Training data: manifest reading, track-level splits, clip sampling from drops, cached features.

Manifest (CSV, UTF-8)::

    path,Progressive House,Future House,Bass House,Tech House,Deep House,Bigroom,Future Rave,Slap House,split,truth

``path`` is an audio file (relative paths are relative to the manifest's folder); the
eight genre columns hold the soft label (any order, any accepted spelling: ``Techno``
means Tech House; rows are renormalised to sum 1); ``split`` (``train``/``val``/
``test``) and ``truth`` (a timeline JSON with the exact grid and drops, as SynthHouse
writes) are optional.

Clips follow the paper: a few random clips per drop section. Drops come from the
analysis module's rule-based detector (the paper's rule) or, for synthetic data, from
the truth file. Where a bar grid is known (truth file), clips are exactly 4 bars
starting on a downbeat, the same windows the runtime analyses; otherwise 7.5 s.

Two paths produce clips:

- the trainer's: tracks prepared once into a shared cache (:mod:`.prepare`), clips cut
  lazily from it (:func:`prepared_clipset`; training clips re-sampled every epoch with
  :func:`clip_rng` ``(seed, track, epoch)``, validation/test clips cut once);
- the per-clip cache of :func:`track_clips` / :func:`build_clipset` (clips cut once,
  features computed per track through ``core.features.track_mel_db`` +
  ``window_features``), used by evaluation code.

Splits live in :mod:`.splits` (``split_tracks`` is re-exported here).
"""
from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core import features as F
from ..core.errors import InputFileError, MainstageError
from ..core.genres import GENRES, GenreError, canonical_genre

SPLITS = ("train", "val", "test")
#: Clip length when no bar grid is known (4 bars at 128 BPM), seconds.
FALLBACK_CLIP_S = 7.5
CLIP_BARS = 4
CACHE_VERSION = 2


class DataError(MainstageError, ValueError):
    """The training data cannot be used (no clips, empty split, ...)."""


@dataclass
class TrackRow:
    """One manifest row."""

    path: Path
    label: np.ndarray  # (8,), sums to 1
    split: str | None = None
    truth: Path | None = None
    line: int = 0


def read_manifest(path: str | os.PathLike) -> list[TrackRow]:
    """Parse and check a manifest CSV.

    Raises
    ------
    InputFileError
        ``"<manifest>: line N: <problem>"`` for the first bad row or header.
    """
    p = Path(path)
    src = str(p)
    if not p.is_file():
        raise InputFileError(src, "no such file" if not p.exists() else "not a file")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (UnicodeDecodeError, OSError) as exc:
        raise InputFileError(src, f"cannot read as UTF-8 text ({exc.__class__.__name__})") from None
    reader = csv.reader(text.splitlines())
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InputFileError(src, "empty manifest") from None
    if not header or header[0].lower() != "path":
        raise InputFileError(src, f"line 1: the first column must be 'path', got {header[:1]}")
    genre_col: dict[int, int] = {}
    split_col = truth_col = None
    for i, name in enumerate(header[1:], start=1):
        low = name.lower()
        if low == "split":
            split_col = i
        elif low == "truth":
            truth_col = i
        else:
            try:
                g = GENRES.index(canonical_genre(name))
            except GenreError:
                raise InputFileError(src, f"line 1: unknown column {name!r} (expected genre names, split, truth)") from None
            if g in genre_col.values():
                raise InputFileError(src, f"line 1: genre {GENRES[g]!r} appears twice")
            genre_col[i] = g
    missing = [GENRES[g] for g in range(len(GENRES)) if g not in genre_col.values()]
    if missing:
        raise InputFileError(src, f"line 1: missing genre columns: {', '.join(missing)}")
    rows: list[TrackRow] = []
    base = p.parent
    for lineno, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            raise InputFileError(src, f"line {lineno}: {len(rec)} fields, header has {len(header)}")
        label = np.zeros(len(GENRES))
        for col, g in genre_col.items():
            cell = rec[col].strip()
            try:
                label[g] = float(cell) if cell else 0.0
            except ValueError:
                raise InputFileError(src, f"line {lineno}: {header[col]} = {cell!r} is not a number") from None
        if not np.all(np.isfinite(label)) or np.any(label < 0) or label.sum() <= 0:
            raise InputFileError(src, f"line {lineno}: genre weights must be finite, >= 0, and not all 0")
        split = rec[split_col].strip().lower() if split_col is not None else ""
        if split and split not in SPLITS:
            raise InputFileError(src, f"line {lineno}: split {split!r} is not one of {', '.join(SPLITS)}")
        audio = rec[0].strip()
        if not audio:
            raise InputFileError(src, f"line {lineno}: empty path")
        truth = rec[truth_col].strip() if truth_col is not None else ""
        rows.append(TrackRow(
            path=(base / audio) if not os.path.isabs(audio) else Path(audio),
            label=label / label.sum(),
            split=split or None,
            truth=((base / truth) if not os.path.isabs(truth) else Path(truth)) if truth else None,
            line=lineno,
        ))
    if not rows:
        raise InputFileError(src, "no tracks listed")
    return rows


from .splits import split_tracks  # noqa: E402,F401  (moved; re-exported)


# --- drops and grid --------------------------------------------------------------------

def load_truth(path: Path) -> dict:
    """Read a truth timeline (SynthHouse) without the full validation cost."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputFileError(str(path), f"cannot read truth timeline ({exc.__class__.__name__}: {exc})") from None


def detect_drops(y: np.ndarray, sr: int) -> list[tuple[float, float]]:
    """Drop sections by the paper's loudness rule, from the analysis module (``core.analysis.drops``).

    The rule works on per-hop sums of squares of the 22.05 kHz signal.
    """
    from ..core.analysis import drops as drops_mod
    from ..core.analysis.onsets import LOUD_HOP, LOUD_SR
    from ..core.audio import resample

    z = resample(np.asarray(y, dtype=np.float32), sr, LOUD_SR).astype(np.float64)
    n = z.size // LOUD_HOP
    blocks = z[:n * LOUD_HOP].reshape(n, LOUD_HOP)
    sumsq = np.einsum("ij,ij->i", blocks, blocks)
    if z.size > n * LOUD_HOP:
        rest = z[n * LOUD_HOP:]
        sumsq = np.append(sumsq, np.dot(rest, rest))
    return [(float(a), float(b)) for a, b in drops_mod.detect_drops(sumsq)]


def drop_detector_available() -> bool:
    """Whether the analysis module's drop detector is installed."""
    try:
        from ..core.analysis import drops as drops_mod
        from ..core.analysis import onsets  # noqa: F401
    except ImportError:
        return False
    return hasattr(drops_mod, "detect_drops")


def track_drops(row: TrackRow, y: np.ndarray, sr: int, source: str = "auto", truth: dict | None = None
                ) -> list[tuple[float, float]]:
    """Drop sections of a track.

    Parameters
    ----------
    source : {"auto", "detect", "truth"}
        ``detect``: the paper's rule-based detector; ``truth``: the truth file's drops;
        ``auto``: the detector when installed, else the truth file.
    """
    if source == "auto":
        source = "detect" if drop_detector_available() else "truth"
    if source == "detect":
        return detect_drops(y, sr)
    if source != "truth":
        raise ValueError(f"drop source must be auto, detect or truth, got {source!r}")
    if truth is None:
        if row.truth is None:
            raise InputFileError(str(row.path), "no truth file in the manifest for --drops truth")
        truth = load_truth(row.truth)
    return [(float(d["start_s"]), float(d["end_s"])) for d in truth.get("drops", [])]


def bar_grid(truth: dict | None) -> np.ndarray | None:
    """Downbeat times from a truth timeline (None when unknown)."""
    if not truth:
        return None
    db = np.asarray(truth.get("downbeats", []), dtype=np.float64)
    return db if db.size >= CLIP_BARS + 1 else None


def sample_clips(drops, duration: float, rng: np.random.Generator, *, per_drop: int = 4,
                 downbeats: np.ndarray | None = None, outside: int = 0) -> list[tuple[float, float, bool]]:
    """Clip spans ``(start_s, end_s, in_drop)`` sampled the paper's way.

    Parameters
    ----------
    drops : list of (start_s, end_s)
    duration : float
        Track length (s).
    per_drop : int
        Random clips per drop section (the paper: 4), drawn without replacement
        where the drop has enough bars.
    downbeats : array, optional
        Bar grid. Clips are then exactly 4 bars starting on a downbeat; else 7.5 s.
    outside : int
        Extra clips drawn from outside the drops (0 = the paper's drops-only data).
    """
    clips: list[tuple[float, float, bool]] = []
    if downbeats is not None and len(downbeats) > CLIP_BARS:
        db = np.asarray(downbeats, dtype=np.float64)
        starts, ends = db[:-CLIP_BARS], db[CLIP_BARS:]
        ok = ends <= duration + 1e-6
        starts, ends = starts[ok], ends[ok]
        in_drop = np.zeros(starts.size, dtype=bool)
        for s, e in drops:
            cand = np.nonzero((starts >= s - 0.05) & (ends <= e + 0.05))[0]
            in_drop[cand] = True
            if cand.size:
                pick = rng.choice(cand, size=min(per_drop, cand.size), replace=False)
                clips += [(float(starts[i]), float(ends[i]), True) for i in np.sort(pick)]
        rest = np.nonzero(~in_drop)[0]
        if outside and rest.size:
            pick = rng.choice(rest, size=min(outside, rest.size), replace=False)
            clips += [(float(starts[i]), float(ends[i]), False) for i in np.sort(pick)]
        return clips
    length = FALLBACK_CLIP_S
    for s, e in drops:
        if e - s < length:
            continue
        for t in np.sort(rng.uniform(s, e - length, size=per_drop)):
            clips.append((float(t), float(t) + length, True))
    if outside and duration > length:
        mask_ok = []
        for t in rng.uniform(0, duration - length, size=outside * 4):
            if all(t + length <= s or t >= e for s, e in drops):
                mask_ok.append(float(t))
            if len(mask_ok) == outside:
                break
        clips += [(t, t + length, False) for t in sorted(mask_ok)]
    return clips


# --- features and cache ----------------------------------------------------------------

def clip_frames(start_s: float, end_s: float) -> tuple[int, int]:
    """First frame and frame count of a clip on the 44.1 kHz / hop 512 frame grid."""
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    first = int(round(start_s * fps))
    return first, max(int(round((end_s - start_s) * fps)), 1)


def clip_features_from_track(y: np.ndarray, clips, chroma: bool = False) -> list[np.ndarray]:
    """Features ``(channels, 224, frames)`` of each clip, through the runtime's code path."""
    mel_db = F.track_mel_db(y)
    chroma_track = None
    if chroma:
        from .chroma import chroma_channels

        chroma_track = chroma_channels(y)
    out = []
    for s, e, *_ in clips:
        first, n = clip_frames(s, e)
        mel = F.window_features(mel_db, [first], n)[0]
        if chroma_track is None:
            out.append(mel[None])
        else:
            ch = np.zeros((2, F.N_MELS, n), dtype=np.float32)
            lo, hi = max(first, 0), min(first + n, chroma_track.shape[2])
            ch[:, :, lo - first:hi - first] = chroma_track[:, :, lo:hi]
            out.append(np.concatenate([mel[None], ch], axis=0))
    return out


@dataclass
class ClipSet:
    """Clips of a set of tracks: features (float16), labels and where they came from."""

    features: list[np.ndarray] = field(default_factory=list)  # each (channels, 224, frames) float16
    labels: list[np.ndarray] = field(default_factory=list)    # each (8,)
    track: list[int] = field(default_factory=list)            # manifest row index
    spans: list[tuple[float, float]] = field(default_factory=list)
    in_drop: list[bool] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.features)

    def label_matrix(self) -> np.ndarray:
        return np.asarray(self.labels, dtype=np.float32).reshape(-1, len(GENRES))


def _cache_key(row: TrackRow, settings: dict) -> str:
    st = row.path.stat()
    h = hashlib.sha1()
    h.update(json.dumps({"v": CACHE_VERSION, "path": str(row.path.resolve()), "size": st.st_size,
                         "mtime": st.st_mtime_ns, "features": F.FEATURE_PARAMS, **settings},
                        sort_keys=True).encode())
    if row.truth is not None and row.truth.exists():
        h.update(str(row.truth.stat().st_mtime_ns).encode())
    return h.hexdigest()[:24]


def track_clips(row: TrackRow, *, seed: int, per_drop: int = 4, outside: int = 0, drops: str = "auto",
                chroma: bool = False, cache_dir: str | os.PathLike | None = None):
    """Sample and featurise one track's clips (cached).

    Returns
    -------
    features : list of float16 arrays (channels, 224, frames)
    spans : list of (start_s, end_s, in_drop)
    """
    if not row.path.is_file():
        raise InputFileError(str(row.path), "audio file listed in the manifest does not exist")
    drop_source = drops if drops != "auto" else ("detect" if drop_detector_available() else "truth")
    settings = {"seed": seed, "per_drop": per_drop, "outside": outside, "drops": drop_source, "chroma": chroma,
                "bars": CLIP_BARS}
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"{_cache_key(row, settings)}.npz"
        if cache_file.exists():
            try:
                with np.load(cache_file) as z:
                    n = int(z["n"])
                    feats = [z[f"f{i}"] for i in range(n)]
                    spans = [tuple(x) for x in z["spans"].tolist()]
                return feats, [(float(s), float(e), bool(d)) for s, e, d in spans]
            except (OSError, KeyError, ValueError):
                pass  # unreadable cache entry: recompute
    from ..core.audio import load_mono

    y, _ = load_mono(row.path, F.SAMPLE_RATE)
    truth = load_truth(row.truth) if row.truth is not None else None
    drop_spans = track_drops(row, y, F.SAMPLE_RATE, drop_source, truth)
    # One generator per track from (seed, path): clips are "cut once" and stay the same
    # whatever the manifest order or the split.
    digest = hashlib.sha1(str(row.path.name).encode()).digest()
    rng = np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])
    clips = sample_clips(drop_spans, len(y) / F.SAMPLE_RATE, rng, per_drop=per_drop,
                         downbeats=bar_grid(truth), outside=outside)
    feats = [f.astype(np.float16) for f in clip_features_from_track(y, clips, chroma)] if clips else []
    if cache_file is not None:
        from ..core.atomic import atomic_path

        arrays = {f"f{i}": f for i, f in enumerate(feats)}
        with atomic_path(cache_file) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, n=len(feats), spans=np.asarray(clips, dtype=np.float64).reshape(-1, 3), **arrays)
    return feats, clips


def build_clipset(rows: list[TrackRow], indices, *, seed: int = 0, per_drop: int = 4, outside: int = 0,
                  drops: str = "auto", chroma: bool = False, cache_dir=None, progress: bool = True) -> ClipSet:
    """Clips of the tracks ``rows[i] for i in indices``; tracks without a drop contribute none."""
    out = ClipSet()
    it = list(indices)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="clips", unit="track", leave=False)
    for i in it:
        feats, spans = track_clips(rows[i], seed=seed, per_drop=per_drop, outside=outside, drops=drops,
                                   chroma=chroma, cache_dir=cache_dir)
        for f, (s, e, d) in zip(feats, spans):
            out.features.append(f)
            out.labels.append(rows[i].label.astype(np.float32))
            out.track.append(i)
            out.spans.append((s, e))
            out.in_drop.append(d)
    return out


# --- clips from the prepared cache (training.prepare) ---------------------------------------

def track_seed(path: str | os.PathLike) -> int:
    """A track's part of its clip generator's seed: from its file name, so that clips do not
    depend on the manifest's order, its folder or the split."""
    digest = hashlib.sha1(str(Path(path).name).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def clip_rng(seed: int, path: str | os.PathLike, epoch: int | None = None) -> np.random.Generator:
    """Generator of a track's clips: ``(seed, track)`` for clips cut once (validation, test,
    ``resample=False``; the same clips as :func:`track_clips`), ``(seed, track, epoch)`` for
    training clips re-sampled every epoch."""
    if epoch is None:
        return np.random.default_rng([seed, track_seed(path)])
    return np.random.default_rng([seed, track_seed(path), int(epoch) + 1])


class LazyFeatures:
    """Features of a clip set cut from prepared tracks on demand (float16 ``(c, 224, n)``).

    Behaves as a read-only list; ``lengths`` gives every clip's frame count without
    computing anything, so batches can be planned first and only the clips a process
    needs are cut (from memory-mapped arrays).
    """

    def __init__(self):
        self._src: list[tuple] = []   # (PreparedTrack, first frame, frames)
        self.lengths: list[int] = []

    def append_clip(self, track, first: int, n: int) -> None:
        self._src.append((track, int(first), int(n)))
        self.lengths.append(int(n))

    def __len__(self) -> int:
        return len(self._src)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        track, first, n = self._src[int(i)]
        return track.clip_features(first, n).astype(np.float16)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


def prepared_clip_spans(row: TrackRow, track, *, seed: int, epoch: int | None = None, per_drop: int = 4,
                        outside: int = 0) -> list[tuple[float, float, bool]]:
    """Clip spans of a prepared track: :func:`sample_clips` with :func:`clip_rng`.

    Clips not covered by the stored frames (long tracks keep only drops + margins) are
    left out.
    """
    rng = clip_rng(seed, row.path, epoch)
    spans = sample_clips(track.drops, track.duration, rng, per_drop=per_drop, downbeats=track.downbeats,
                         outside=outside)
    return [(s, e, d) for s, e, d in spans if track.covers(*clip_frames(s, e))]


def prepared_clipset(rows: list[TrackRow], tracks, indices, *, seed: int = 0, epoch: int | None = None,
                     per_drop: int = 4, outside: int = 0) -> ClipSet:
    """Clips of ``rows[i] for i in indices`` from prepared tracks (features cut lazily).

    Parameters
    ----------
    tracks : list
        :class:`training.prepare.PreparedTrack` (or None for a track that failed) per row.
    epoch : int, optional
        None: clips cut once with the seed (validation, test, ``resample=False``);
        else the clips of that training epoch.
    """
    out = ClipSet()
    feats = LazyFeatures()
    out.features = feats  # type: ignore[assignment]
    for i in indices:
        t = tracks[i]
        if t is None:
            continue
        for s, e, d in prepared_clip_spans(rows[i], t, seed=seed, epoch=epoch, per_drop=per_drop, outside=outside):
            first, n = clip_frames(s, e)
            feats.append_clip(t, first, n)
            out.labels.append(rows[i].label.astype(np.float32))
            out.track.append(int(i))
            out.spans.append((s, e))
            out.in_drop.append(bool(d))
    return out


def clip_lengths(clips: ClipSet) -> np.ndarray:
    """Frames of every clip of a clip set (without computing lazy features)."""
    lengths = getattr(clips.features, "lengths", None)
    if lengths is not None:
        return np.asarray(lengths, dtype=np.int64)
    return np.array([f.shape[-1] for f in clips.features], dtype=np.int64)


def _stack(clips: ClipSet, idx, min_frames: int, rng: np.random.Generator | None, rows: range | None = None,
           lengths: np.ndarray | None = None) -> np.ndarray:
    """Clips ``idx`` cut to their shortest length (random offset with ``rng``, else centred).

    Offsets are drawn for every clip of ``idx`` in order; only the clips at positions
    ``rows`` (default: all) are stacked, so that a process of a distributed run builds
    its share of a global batch exactly as a single process builds the whole batch.
    """
    lens = [int(x) for x in (lengths[idx] if lengths is not None else clip_lengths(clips)[idx])]
    t = max(int(min(lens)), min_frames) if lens else min_frames
    offs = []
    for n in lens:
        extra = max(n - t, 0)
        offs.append(int(rng.integers(0, extra + 1)) if (rng is not None and extra) else extra // 2)
    rows = range(len(lens)) if rows is None else rows
    xs = []
    for k in rows:
        f = clips.features[int(idx[k])]
        extra = f.shape[-1] - t
        if extra < 0:  # shorter than the model's minimum: pad with silence (1.0)
            f = np.concatenate([f, np.ones(f.shape[:-1] + (-extra,), dtype=f.dtype)], axis=-1)
        xs.append(f[..., offs[k]:offs[k] + t])
    if not xs:
        ch = clips.features[int(idx[0])].shape[0] if len(idx) else 1
        return np.zeros((0, ch, F.N_MELS, t), dtype=np.float32)
    return np.stack(xs).astype(np.float32)


def iterate_batches(clips: ClipSet, targets: np.ndarray, batch_size: int, *, shuffle: bool,
                    rng: np.random.Generator | None = None, min_frames: int = 1):
    """Yield ``(x float32 (b, c, 224, t), y (b, 8), idx)`` batches.

    Clips of a batch are cut to the batch's shortest clip (random offset when shuffling,
    centred otherwise). Evaluation batches group clips of similar length, so little is cut.
    """
    n = len(clips)
    lengths = clip_lengths(clips)
    if shuffle:
        rng = rng or np.random.default_rng()
        order = rng.permutation(n)
    else:
        order = np.argsort(lengths, kind="stable")
    for b0 in range(0, n, batch_size):
        idx = order[b0:b0 + batch_size]
        yield _stack(clips, idx, min_frames, rng if shuffle else None, lengths=lengths), targets[idx], idx


def plan_track_batches(clips: ClipSet, batch_size: int, bag_size: int, rng: np.random.Generator
                       ) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches made of per-track bags, for the track-level loss.

    A track's drop clips and its other clips form separate groups (each should match
    the track's label on its own, and the runtime summary looks at drops); each group is
    shuffled and cut into bags of at most ``bag_size`` clips. Bags are shuffled and
    packed into batches of about ``batch_size`` clips, so an epoch still sees every clip
    once. Returns ``[(idx, bag), ...]``: clip indices of each batch and, per clip, the
    number of its bag within the batch (0, 1, ...).
    """
    tracks = np.asarray(clips.track)
    in_drop = np.asarray(clips.in_drop, bool)
    bags = []
    for t in np.unique(tracks):
        for d in (True, False):
            members = rng.permutation(np.nonzero((tracks == t) & (in_drop == d))[0])
            bags += [members[k:k + bag_size] for k in range(0, members.size, bag_size)]
    out, batch, count = [], [], 0
    for k in rng.permutation(len(bags)):
        batch.append(bags[k])
        count += bags[k].size
        if count >= batch_size:
            out.append(batch)
            batch, count = [], 0
    if batch:
        out.append(batch)
    return [(np.concatenate(b), np.concatenate([np.full(x.size, j) for j, x in enumerate(b)])) for b in out]


def describe(rows: list[TrackRow], splits: dict[str, list[int]]) -> dict:
    """Plain description of a dataset (stored with checkpoints and exported models)."""
    out = {}
    for name, idx in splits.items():
        labels = np.array([rows[i].label for i in idx]).reshape(-1, len(GENRES))
        dominant = np.bincount(np.argmax(labels, axis=1), minlength=len(GENRES)) if len(idx) else np.zeros(8, int)
        mixtures = int(np.sum(np.sort(labels, axis=1)[:, -2] > 0)) if len(idx) else 0
        out[name] = {"tracks": len(idx), "mixtures": mixtures,
                     "tracks_per_dominant_genre": dict(zip(GENRES, dominant.tolist()))}
    return out
