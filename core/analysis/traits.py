"""Measured per-bar traits: instrument presence, style (GENRES.md Table 3), energy and brightness.

Ten values in [0, 1] per bar of the beat grid (:data:`TRAIT_NAMES`):

* ``kick``, ``bass``, ``lead``, ``chords``: presence of the instrument. Saturating: 0 means
  surely absent, 1 surely present, values in between are uncertain (or a part fading in,
  e.g. a lead behind an opening filter in a build).
* ``groove``, ``fragmentation``, ``distortion``, ``organicity``: the paper's 1-5 scores mapped
  to [0, 1] (``(score - 1) / 4``). They describe the music's style, so they are estimated
  from a wide neighbourhood of bars (a Gaussian of :data:`POOL_SIGMA_BARS` bars; bars with
  and without a kick pooled apart) and change slowly, e.g. across a DJ mix's transitions.
* ``energy``: loudness relative to the track's loud bars (its 95th percentile): 1 at that
  level, 0 at :data:`ENERGY_RANGE_DB` below it.
* ``brightness``: the spectral centroid on a log scale, 0 at :data:`BRIGHTNESS_HZ` [0] and 1
  at [1] (estimated from the band features, which stop at 5.5 kHz).

How: DSP features per bar (:mod:`.trait_features`) and, for most traits, a small fitted head
(logistic or linear, weights in ``trait_head.json`` beside this module, fitted on SynthHouse
renders by ``training/traits_fit.py``, applied here with numpy). Bass presence is a rule: the
low band between the kicks above the track's kick-alone template, in kick bars outside
rolls and builds. Energy is the loudness itself.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .layers import BarLayers
from .onsets import TrackFeatures
from .trait_features import FEATURE_NAMES, bar_features

#: Trait order of every value row.
TRAIT_NAMES = ("kick", "bass", "lead", "chords", "groove", "fragmentation", "distortion", "organicity",
               "energy", "brightness")
#: Presence traits (saturating probabilities) and style traits (pooled over many bars).
PRESENCE = ("kick", "bass", "lead", "chords")
STYLE = ("groove", "fragmentation", "distortion", "organicity")
#: The fitted heads.
HEAD_FILE = Path(__file__).with_name("trait_head.json")
HEAD_VERSION = 1
#: Energy 0 lies this far (dB) below the track's loud bars (95th percentile of bar loudness).
ENERGY_RANGE_DB = 30.0
ENERGY_REF_PERCENTILE = 95.0
#: Spectral centroids (Hz) that map to brightness 0 and 1 (log scale in between).
BRIGHTNESS_HZ = (125.0, 4000.0)
#: Width (bars, one standard deviation) of the neighbourhood the style traits are pooled over.
POOL_SIGMA_BARS = 32.0
#: Bass rule: evidence (dB, 0.5 * max + mean of the beats' residual) at presence 0.5, and the
#: width (dB) over which presence goes from 0 to 1.
BASS_THRESHOLD_DB = 2.5
BASS_RAMP_DB = 3.0
#: Probability range of a presence head mapped onto [0, 1] (below: 0, above: 1).
PRESENCE_RAMP = (0.2, 0.8)


class TraitHeadError(RuntimeError):
    """The trait head file is missing, unreadable or does not match the features."""


def energy_from_db(rel_db) -> np.ndarray:
    """Energy in [0, 1] from a loudness relative to the track's loud bars (dB)."""
    return np.clip(1.0 + np.asarray(rel_db, dtype=np.float64) / ENERGY_RANGE_DB, 0.0, 1.0)


def brightness_from_hz(centroid_hz) -> np.ndarray:
    """Brightness in [0, 1] from a spectral centroid (Hz), log scale over :data:`BRIGHTNESS_HZ`."""
    lo, hi = BRIGHTNESS_HZ
    c = np.maximum(np.asarray(centroid_hz, dtype=np.float64), 1e-3)
    return np.clip(np.log(c / lo) / np.log(hi / lo), 0.0, 1.0)


def score_to_unit(score) -> np.ndarray:
    """A GENRES.md 1-5 trait score mapped to [0, 1]."""
    return np.clip((np.asarray(score, dtype=np.float64) - 1.0) / 4.0, 0.0, 1.0)


@dataclass
class BarTraits:
    """Trait values of every bar: ``values[i]`` belongs to the bar from ``edges[i]`` to ``edges[i + 1]``."""

    edges: np.ndarray
    values: np.ndarray
    names: tuple[str, ...] = field(default=TRAIT_NAMES)

    def column(self, name: str) -> np.ndarray:
        """The values of one trait over all bars."""
        return self.values[:, self.names.index(name)]

    def to_json(self, decimals: int = 3) -> dict:
        """The timeline's ``bar_traits`` field: ``{"names": [...], "values": [[...], ...]}``, one
        row per downbeat."""
        v = np.round(np.clip(self.values, 0.0, 1.0), decimals)
        return {"names": list(self.names), "values": [[float(x) for x in row] for row in v]}


# --------------------------------------------------------------------------- heads
def _expected_layout() -> dict:
    return {"version": HEAD_VERSION, "features": list(FEATURE_NAMES)}


@lru_cache(maxsize=4)
def _load_head_cached(path: str, mtime: float) -> dict:
    try:
        head = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TraitHeadError(f"{path}: cannot read the trait head ({exc})") from None
    if head.get("version") != HEAD_VERSION or head.get("features") != list(FEATURE_NAMES):
        raise TraitHeadError(f"{path}: the trait head was fitted on other features (re-run training/traits_fit.py)")
    return head


def load_head(path: str | Path | None = None) -> dict | None:
    """The fitted heads (None when the file is absent)."""
    p = Path(path) if path is not None else HEAD_FILE
    try:
        mtime = p.stat().st_mtime
    except OSError:
        return None
    return _load_head_cached(str(p), mtime)


def head_digest(path: str | Path | None = None) -> str | None:
    """SHA-256 (16 hex digits) of the head file, for cache keys; None when absent."""
    p = Path(path) if path is not None else HEAD_FILE
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def _smooth(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (truncated at 3 sigma, zero padding), by FFT."""
    n = x.shape[0]
    half = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    m = n + 2 * half
    size = 1 << int(np.ceil(np.log2(max(m, 2))))
    X = np.fft.rfft(x, size, axis=0)
    K = np.fft.rfft(k, size)
    y = np.fft.irfft(X * (K[:, None] if x.ndim == 2 else K), size, axis=0)
    return y[half:half + n]


def context_inputs(X: np.ndarray) -> np.ndarray:
    """Per-bar inputs of the presence heads: the bar, the bar against the track's median bar,
    and the mean of its two neighbours."""
    pad = np.concatenate([X[:1], X, X[-1:]])
    return np.concatenate([X, X - np.median(X, axis=0, keepdims=True), 0.5 * (pad[:-2] + pad[2:])], axis=1)


def pooled_inputs(X: np.ndarray, kick: np.ndarray, sigma: float = POOL_SIGMA_BARS) -> np.ndarray:
    """Inputs of the style heads: Gaussian-weighted means of the features of the bars around each
    bar, over bars with a kick and over bars without (each falls back to all bars where its
    kind is missing nearby)."""
    w = np.clip(np.asarray(kick, dtype=np.float64), 0.0, 1.0)
    out = []
    allw = _smooth(np.ones(X.shape[0]), sigma)
    allx = _smooth(X, sigma) / np.maximum(allw, 1e-12)[:, None]
    for wk in (w, 1.0 - w):
        s = _smooth(wk, sigma)
        mean = _smooth(X * wk[:, None], sigma) / np.maximum(s, 1e-12)[:, None]
        share = np.clip(s / np.maximum(allw, 1e-12) / 0.05, 0.0, 1.0)[:, None]  # < 5 % of the bars: fall back
        out.append(share * mean + (1.0 - share) * allx)
    return np.concatenate(out, axis=1)


def _median3(x: np.ndarray) -> np.ndarray:
    if x.size < 3:
        return x.copy()
    p = np.concatenate([x[:1], x, x[-1:]])
    return np.median(np.stack([p[:-2], p[1:-1], p[2:]]), axis=0)


def _ramp(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((p - lo) / (hi - lo), 0.0, 1.0)


def _apply(spec: dict, inputs: np.ndarray) -> np.ndarray:
    coef = np.asarray(spec["coef"], dtype=np.float64)
    if coef.size != inputs.shape[1]:
        raise TraitHeadError(f"trait head {spec.get('name')!r}: {coef.size} weights for {inputs.shape[1]} inputs")
    z = inputs @ coef + float(spec["intercept"])
    if spec["kind"] == "logistic":
        return 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))
    return z


def bass_presence(X: np.ndarray, kick: np.ndarray) -> np.ndarray:
    """Bass presence from the bass residual (rule; see the module docstring)."""
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    evidence = 0.5 * X[:, col["bass_resid_max"]] + X[:, col["bass_resid_mean"]]
    evidence = evidence * np.clip(kick, 0.0, 1.0) * (1.0 - X[:, col["roll"]]) * (1.0 - X[:, col["build"]])
    return _ramp(_median3(evidence), BASS_THRESHOLD_DB - BASS_RAMP_DB / 2, BASS_THRESHOLD_DB + BASS_RAMP_DB / 2)


def apply_heads(X: np.ndarray, head: dict) -> np.ndarray:
    """Trait values ``(bars, 10)`` from the bar features ``X`` and the fitted heads."""
    n = X.shape[0]
    out = np.zeros((n, len(TRAIT_NAMES)))
    if n == 0:
        return out
    col = {name: i for i, name in enumerate(FEATURE_NAMES)}
    heads = head["heads"]
    idx = {name: i for i, name in enumerate(TRAIT_NAMES)}
    base_cols = [col[c] for c in heads["kick"]["columns"]]
    kick = _ramp(_apply(heads["kick"], X[:, base_cols]), *PRESENCE_RAMP)
    out[:, idx["kick"]] = kick
    out[:, idx["bass"]] = bass_presence(X, kick)
    ctx = context_inputs(X)
    for name in ("lead", "chords"):
        out[:, idx[name]] = _ramp(_median3(_apply(heads[name], ctx)), *PRESENCE_RAMP)
    pooled = pooled_inputs(X, kick)
    for name in STYLE:
        out[:, idx[name]] = _apply(heads[name], pooled)
    out[:, idx["energy"]] = energy_from_db(X[:, col["loud_rel"]])
    out[:, idx["brightness"]] = _apply(heads["brightness"], ctx)
    return np.clip(out, 0.0, 1.0)


# --------------------------------------------------------------------------- public
def build_flags(sections: list[dict], downbeats: np.ndarray) -> np.ndarray:
    """Per bar: whether its start lies in a section labelled ``build``."""
    db = np.asarray(downbeats, dtype=np.float64)
    out = np.zeros(db.size, dtype=bool)
    for s in sections:
        if s["label"] == "build":
            out |= (db >= s["start_s"] - 1e-6) & (db < s["end_s"] - 1e-6)
    return out


def measure_bar_traits(feat: TrackFeatures, beats: np.ndarray, downbeats: np.ndarray, layers: BarLayers,
                       sections: list[dict], head: dict | None = None) -> BarTraits | None:
    """The ten traits of every bar of the grid.

    Parameters
    ----------
    feat : TrackFeatures
    beats, downbeats : arrays of seconds
    layers : BarLayers
        :func:`.layers.bar_layers` of the same grid.
    sections : list of dict
        The section labels (build bars gate the bass).
    head : dict, optional
        Fitted heads; default :func:`load_head`.

    Returns
    -------
    BarTraits or None
        None without downbeats or without an installed head file.

    Raises
    ------
    TraitHeadError
        The head file does not match the features of this code.
    """
    head = load_head() if head is None else head
    downbeats = np.asarray(downbeats, dtype=np.float64)
    if head is None or downbeats.size == 0:
        return None
    X = bar_features(feat, beats, downbeats, layers, build_flags(sections, downbeats))
    return BarTraits(layers.edges.copy(), apply_heads(X, head))
