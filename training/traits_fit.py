"""Fit the measured-trait heads (``core/analysis/trait_head.json``) on SynthHouse renders.

Usage::

    python -m mainstage.training.traits_fit [--out core/analysis/trait_head.json]
        [--cache .cache/traits_fit] [--per-genre 48] [--mixtures 96] [--jobs 1]

Every genre gets ``--per-genre`` tracks and there are ``--mixtures`` soft mixtures of two or
three genres (default structure, about 170 s each), with seeds from :data:`FIT_SEED_BASE` on
(``bench/bench_traits.py`` evaluates on seeds from 9 000 000, never used here). Each track is
rendered, analysed exactly like ``mainstage analyze`` does (frame features, beat grid,
sections, layers), turned into the per-bar features of
:mod:`mainstage.core.analysis.trait_features` and paired with the truth's ``bar_traits`` (the
generator's values, :func:`mainstage.training.synthhouse.truth.bar_trait_truth`), bar by bar
(the truth bar holding the analysed bar's middle). Rows are cached per track in ``--cache``
(keyed by synth version, seed, genre and the feature names), so a re-run only fits.

Heads (standardised inputs; the scaling is folded into the stored weights):

* kick: logistic regression on the kick layer evidence (3 inputs);
* lead, chords: logistic regression on the bar, the bar against the track's median bar and
  its neighbours (:func:`~mainstage.core.analysis.traits.context_inputs`);
* groove, fragmentation, distortion, organicity: ridge regression on the features pooled
  over the neighbouring bars with and without a kick (:func:`~mainstage.core.analysis.traits.pooled_inputs`);
* brightness: ridge regression on the context inputs.

Everything is deterministic: the items, the renders and the fits (no random initialisation).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from ..core.analysis.layers import bar_layers
from ..core.analysis.onsets import TrackFeatures, features_from_array
from ..core.analysis.trait_features import FEATURE_NAMES, bar_features
from ..core.analysis.track import analyze_features
from ..core.analysis.traits import (HEAD_FILE, HEAD_VERSION, STYLE, TRAIT_NAMES, build_flags, context_inputs,
                                    pooled_inputs)
from ..core.atomic import write_json_atomic
from ..core.genres import GENRES

ROOT = Path(__file__).resolve().parents[1]
#: Seeds of the fitting tracks start here (the benchmark's start at 9 000 000).
FIT_SEED_BASE = 7_000_000
#: Regularisation: inverse strength of the logistic heads, ridge strength per track.
KICK_C = 1.0
PRESENCE_C = 0.03
STYLE_RIDGE_PER_TRACK = 100.0
BRIGHTNESS_RIDGE = 100.0
#: Columns of the kick head.
KICK_COLUMNS = ("kick_rel", "kick_ratio", "kick_flag")


def random_mix_spec(rng: np.random.Generator) -> str:
    """A random 2-3 genre mixture spec (``"Genre:w,Genre:w"``, Dirichlet(1) weights)."""
    k = int(rng.choice([2, 3]))
    idx = rng.choice(len(GENRES), size=k, replace=False)
    w = rng.dirichlet(np.ones(k))
    return ",".join(f"{GENRES[int(i)]}:{x:.3f}" for i, x in zip(idx, w))


def fit_items(per_genre: int, mixtures: int, seed_base: int = FIT_SEED_BASE) -> list[tuple[str, str, int]]:
    """``(name, genre spec, seed)`` of every fitting track."""
    items = []
    for i in range(per_genre):
        for gi, g in enumerate(GENRES):
            items.append((f"{g.lower().replace(' ', '_')}_{i:03d}", g, seed_base + 100 * i + gi))
    rng = np.random.default_rng(seed_base)
    for j in range(mixtures):
        items.append((f"mix_{j:03d}", random_mix_spec(rng), seed_base + 50_000 + j))
    return items


def analysed_rows(audio: np.ndarray, sr: int, truth: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per-bar features of an analysed render and the truth's trait rows of the same bars."""
    return rows_from_analysis(analyse_render(audio, sr, truth))


def analyse_render(audio: np.ndarray, sr: int, truth: dict) -> dict:
    """What the fit needs of one render (plain arrays, cacheable): its frame features, the
    analysed grid and sections (exactly as ``mainstage analyze`` finds them in the mono mix)
    and the truth's per-bar traits with the truth's bar starts."""
    feat = features_from_array(np.asarray(audio, dtype=np.float32).mean(axis=1), sr)
    res = analyze_features(feat, traits=False)
    bt = truth.get("bar_traits") or {"names": list(TRAIT_NAMES), "values": []}
    T = np.asarray(bt["values"], dtype=np.float64).reshape(-1, len(bt["names"]))
    return {**{k: getattr(feat, k) for k in _FEATURE_ARRAYS}, "fps": feat.fps, "chroma_fps": feat.chroma_fps,
            "loud_samples": feat.loud_samples, "duration_s": feat.duration_s, "peak": feat.peak,
            "beats": res.grid.beats, "downbeats": res.downbeats,
            "build": build_flags(res.sections, res.downbeats),
            "truth_downbeats": np.asarray(truth["downbeats"], dtype=np.float64),
            "truth_traits": T[:, [bt["names"].index(n) for n in TRAIT_NAMES]] if T.size else np.zeros((0, len(TRAIT_NAMES)))}


_FEATURE_ARRAYS = ("flux", "low", "mid", "high", "bass_chroma", "chroma", "loud_sumsq")


def rows_from_analysis(a) -> tuple[np.ndarray, np.ndarray]:
    """``(X, T)``: the bar features of the analysed bars and the truth rows of the bars holding
    their middles (empty without a grid or truth traits)."""
    down = np.asarray(a["downbeats"], dtype=np.float64)
    t_start, T = np.asarray(a["truth_downbeats"]), np.asarray(a["truth_traits"])
    if down.size == 0 or T.shape[0] == 0:
        return np.zeros((0, len(FEATURE_NAMES))), np.zeros((0, len(TRAIT_NAMES)))
    feat = TrackFeatures(fps=float(a["fps"]), flux=a["flux"], low=a["low"], mid=a["mid"], high=a["high"],
                         chroma_fps=float(a["chroma_fps"]), bass_chroma=a["bass_chroma"], chroma=a["chroma"],
                         loud_sumsq=a["loud_sumsq"], loud_samples=int(a["loud_samples"]),
                         duration_s=float(a["duration_s"]), peak=float(a["peak"]))
    beats = np.asarray(a["beats"], dtype=np.float64)
    layers = bar_layers(feat, beats, down, feat.duration_s)
    X = bar_features(feat, beats, down, layers, np.asarray(a["build"], dtype=bool))
    mid = 0.5 * (layers.edges[:-1] + layers.edges[1:])
    j = np.clip(np.searchsorted(t_start, mid, side="right") - 1, 0, len(t_start) - 1)
    return X, T[j]


def _cache_tag(spec: str, seed: int) -> str:
    from .synthhouse.plan import SYNTH_VERSION

    h = hashlib.sha256(json.dumps([SYNTH_VERSION, spec, seed, "analysis-1"]).encode()).hexdigest()
    return h[:16]


def track_rows(item: tuple[str, str, int], cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """Rows of one fitting track: rendered and analysed once (the analysis is cached), then the
    bar features of the current code."""
    from .synthhouse.render import render_track

    name, spec, seed = item
    path = cache / f"{name}.{_cache_tag(spec, seed)}.npz"
    if path.is_file():
        with np.load(path) as z:
            return rows_from_analysis(dict(z))
    res = render_track(spec, seed=seed)
    a = analyse_render(res.audio, res.sr, res.truth)
    cache.mkdir(parents=True, exist_ok=True)
    from ..core.atomic import atomic_path

    with atomic_path(path) as tmp:
        np.savez_compressed(tmp, **a)
    return rows_from_analysis(a)


def _standardise(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd = np.where(sd > 1e-9, sd, 1.0)
    return (Z - mu) / sd, mu, sd


def _folded(coef: np.ndarray, intercept: float, mu: np.ndarray, sd: np.ndarray, kind: str, **extra) -> dict:
    """A head's spec with the standardisation folded into the weights."""
    w = coef / sd
    b = float(intercept - np.dot(w, mu))
    return {"kind": kind, **extra, "coef": [float(f"{x:.6g}") for x in w], "intercept": float(f"{b:.6g}")}


def fit_logistic(Z: np.ndarray, y: np.ndarray, C: float, **extra) -> dict:
    from sklearn.linear_model import LogisticRegression

    S, mu, sd = _standardise(Z)
    m = LogisticRegression(C=C, max_iter=5000).fit(S, y)
    return _folded(m.coef_[0], float(m.intercept_[0]), mu, sd, "logistic", **extra)


def fit_ridge(Z: np.ndarray, y: np.ndarray, lam: float, **extra) -> dict:
    S, mu, sd = _standardise(Z)
    ym = float(y.mean())
    coef = np.linalg.solve(S.T @ S + lam * np.eye(S.shape[1]), S.T @ (y - ym))
    return _folded(coef, ym, mu, sd, "linear", **extra)


def fit_heads(tracks: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """The heads of :mod:`mainstage.core.analysis.traits` from per-track ``(X, T)`` rows."""
    tracks = [(X, T) for X, T in tracks if X.shape[0]]
    col = {n: i for i, n in enumerate(FEATURE_NAMES)}
    ti = {n: i for i, n in enumerate(TRAIT_NAMES)}
    X = np.concatenate([x for x, _ in tracks])
    T = np.concatenate([t for _, t in tracks])
    ctx = np.concatenate([context_inputs(x) for x, _ in tracks])
    heads = {}
    kc = [col[c] for c in KICK_COLUMNS]
    heads["kick"] = fit_logistic(X[:, kc], T[:, ti["kick"]] >= 0.5, KICK_C, inputs="base", columns=list(KICK_COLUMNS))
    for name in ("lead", "chords"):
        heads[name] = fit_logistic(ctx, T[:, ti[name]] >= 0.5, PRESENCE_C, inputs="context")
    # The pooled inputs weigh bars by their kick presence; the fit uses the truth's kick.
    pooled = np.concatenate([pooled_inputs(x, t[:, ti["kick"]]) for x, t in tracks])
    lam = STYLE_RIDGE_PER_TRACK * X.shape[0] / len(tracks)
    for name in STYLE:
        heads[name] = fit_ridge(pooled, T[:, ti[name]], lam, inputs="pooled")
    heads["brightness"] = fit_ridge(ctx, T[:, ti["brightness"]], BRIGHTNESS_RIDGE, inputs="context")
    return heads


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HEAD_FILE)
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "traits_fit")
    ap.add_argument("--per-genre", type=int, default=48)
    ap.add_argument("--mixtures", type=int, default=96)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    from .synthhouse.plan import SYNTH_VERSION

    items = fit_items(args.per_genre, args.mixtures)
    rows = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as pool:
            futures = [pool.submit(track_rows, it, args.cache) for it in items]
            for it, f in zip(items, futures):
                rows.append(f.result())
                print(f"{it[0]}: {rows[-1][0].shape[0]} bars", file=sys.stderr, flush=True)
    else:
        for it in items:
            rows.append(track_rows(it, args.cache))
            print(f"{it[0]}: {rows[-1][0].shape[0]} bars", file=sys.stderr, flush=True)
    head = {"version": HEAD_VERSION, "features": list(FEATURE_NAMES),
            "fitted_on": {"generator": "SynthHouse", "synth_version": SYNTH_VERSION, "tracks": len(items),
                          "per_genre": args.per_genre, "mixtures": args.mixtures, "seed_base": FIT_SEED_BASE,
                          "bars": int(sum(x.shape[0] for x, _ in rows)), "script": "training/traits_fit.py"},
            "heads": fit_heads(rows)}
    write_json_atomic(args.out, head, indent=None)
    print(f"wrote {args.out} ({len(items)} tracks, {head['fitted_on']['bars']} bars)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
