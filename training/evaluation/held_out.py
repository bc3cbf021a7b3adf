"""Held-out evaluation of an exported genre model through the runtime (ONNX Runtime) path.

Three checks, all on material never seen in training:

- ``tracks``: clips sampled from the drops of held-out tracks (the paper's protocol:
  4 clips per drop, 4 bars on the grid), argmax vs sharpened label: accuracy and
  weighted precision/recall/F1; plus the whole-track summary of
  ``core.genre.analyze_genres`` (all windows, essentially the mean over the
  drops found by the paper's rule) against the label;
- ``mixtures``: the same for held-out tracks whose label mixes genres, with mean KL
  and top-2 accuracy of the predicted distribution (clip level and track level);
- ``dj_set``: a SynthHouse DJ-set mix (``render_set``) analysed as one file; the
  dominant predicted genre of each bar (``genre_at`` the bar centre) against the truth,
  over bars away from crossfades (at least ``margin`` bars from any bar whose truth
  blends two tracks; the default margin 4 is one analysis window).

``python -m mainstage.training.evaluation.held_out --onnx MODEL.onnx --data HELDOUT/manifest.csv
[--dj-set-seed N] [--json OUT.json] [--update-metadata]``
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from ...core.atomic import write_json_atomic
from ...core.genre import GenreModel, analyze_genres, metadata_path
from ...core.genres import GENRES
from ...core import jsonfile
from ...core.timeline import genre_at
from ..features.clip_cache import track_clips
from ..run.config import DROP_SOURCES
from ..features.drops import detect_drops, load_truth
from ..datasets.manifest import read_manifest
from .metrics import genre_metrics


def evaluate_tracks(model: GenreModel, manifest: str, *, seed: int = 1234, drops: str = "truth",
                    cache_dir: str | None = None, progress: bool = True) -> dict:
    """Clip-level and track-level metrics on a held-out manifest, split into pure tracks and mixtures."""
    from ...core.audio import load_mono

    rows = read_manifest(manifest)
    clip_probs, clip_labels, clip_is_mix = [], [], []
    track_probs, track_labels, track_is_mix = [], [], []
    it = rows
    if progress:
        from tqdm import tqdm

        it = tqdm(rows, desc="held-out tracks", unit="track", leave=False)
    for row in it:
        is_mix = bool(np.sort(row.label)[-2] > 0)
        feats, spans = track_clips(row, seed=seed, drops=drops, cache_dir=cache_dir)
        for f in feats:
            clip_probs.append(model.predict(f[None].astype(np.float32))[0])
            clip_labels.append(row.label)
            clip_is_mix.append(is_mix)
        truth = load_truth(row.truth) if row.truth else None
        y, info = load_mono(row.path, 44100)
        drop_spans = (truth or {}).get("drops") if drops == "truth" else detect_drops(y, 44100)
        res = analyze_genres(y, 44100, downbeats=(truth or {}).get("downbeats"), drops=drop_spans, model=model)
        track_probs.append(res["genre_summary"])
        track_labels.append(row.label)
        track_is_mix.append(is_mix)
    out = {}
    cp, cl, cm = np.array(clip_probs), np.array(clip_labels), np.array(clip_is_mix, bool)
    tp, tl, tm = np.array(track_probs), np.array(track_labels), np.array(track_is_mix, bool)
    for name, sel_c, sel_t in (("tracks", ~cm, ~tm), ("mixtures", cm, tm)):
        if sel_t.any():
            out[name] = {"tracks": int(sel_t.sum()), "clips": genre_metrics(cl[sel_c], cp[sel_c]) if sel_c.any() else {"n": 0},
                         "track_summary": genre_metrics(tl[sel_t], tp[sel_t])}
    return out


def evaluate_dj_set(model: GenreModel, *, seed: int = 777, genres=None, xfade_bars: int = 16, margin: int = 4,
                    smoothing: int | None = None, also_smoothing=(0, 2, 4)) -> dict:
    """Bar-level dominant-genre accuracy on a SynthHouse DJ set (one track per genre by default).

    The mix is analysed once without smoothing; the accuracy is reported for the
    runtime's default smoothing (or ``smoothing``) and for each radius in ``also_smoothing``.
    """
    from ...core.genre import DEFAULT_SMOOTHING, smooth_windows
    from ..synthhouse import render_set

    smoothing = DEFAULT_SMOOTHING if smoothing is None else int(smoothing)
    rng = np.random.default_rng(seed)
    order = list(genres) if genres is not None else [GENRES[i] for i in rng.permutation(len(GENRES))]
    res = render_set(order, seed=seed, xfade_bars=xfade_bars)
    truth = res.truth
    downbeats = np.asarray(truth["downbeats"])
    out = analyze_genres(res.audio, res.sr, downbeats=downbeats, model=model, smoothing=0)
    raw = np.array([w["probs"] for w in out["genre_windows"]])
    # Truth per bar: SynthHouse writes one genre window per bar.
    t_starts = np.array([w["start_s"] for w in truth["genre_windows"]])
    t_ends = np.array([w["end_s"] for w in truth["genre_windows"]])
    t_probs = np.array([w["probs"] for w in truth["genre_windows"]])
    centres = (t_starts + t_ends) / 2
    blended = t_probs.max(axis=1) < 1 - 1e-6
    near = np.zeros(len(blended), bool)
    for i in np.nonzero(blended)[0]:
        near[max(0, i - margin):i + margin + 1] = True
    away, clear = ~near, ~blended
    true_top = np.argmax(t_probs, axis=1)

    def correct(radius: int) -> np.ndarray:
        probs = smooth_windows(raw, radius)
        doc = {"genre_windows": [dict(w, probs=p.tolist()) for w, p in zip(out["genre_windows"], probs)],
               "genre_summary": out["genre_summary"]}
        return np.argmax(genre_at(doc, centres), axis=1) == true_top

    ok = correct(smoothing)
    per_section = {}
    for label in dict.fromkeys(s["label"] for s in truth["sections"]):
        m = np.zeros(len(ok), bool)
        for s in truth["sections"]:
            if s["label"] == label:
                m |= (centres >= s["start_s"]) & (centres < s["end_s"])
        m &= away
        if m.any():
            per_section[label] = {"bars": int(m.sum()), "accuracy": float(ok[m].mean())}
    by_radius = {str(r): float(correct(r)[away].mean()) for r in also_smoothing}
    return {
        "genres": order, "seed": seed, "xfade_bars": xfade_bars, "margin_bars": margin, "smoothing": smoothing,
        "duration_s": res.duration_s, "bars": int(len(ok)),
        "bars_away_from_crossfades": int(away.sum()),
        "accuracy_away_from_crossfades": float(ok[away].mean()) if away.any() else None,
        "accuracy_outside_crossfades": float(ok[clear].mean()) if clear.any() else None,
        "accuracy_all_bars": float(ok.mean()),
        "accuracy_away_by_smoothing": by_radius,
        "per_section": per_section,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mainstage.training.evaluation.held_out", description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", help="exported model (default: the bundled one)")
    ap.add_argument("--data", help="held-out manifest (tracks and mixtures)")
    ap.add_argument("--drops", default="truth", choices=DROP_SOURCES)
    ap.add_argument("--dj-set-seed", type=int, help="also evaluate a SynthHouse DJ set rendered with this seed")
    ap.add_argument("--smoothing", type=int, help="smoothing radius for the DJ-set analysis (default: the runtime's)")
    ap.add_argument("--cache-dir", help="feature cache folder")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--update-metadata", action="store_true",
                    help="store the results under metrics.held_out in the model's metadata JSON")
    ap.add_argument("-q", "--quiet", action="store_true")
    args = ap.parse_args(argv)
    import json

    model = GenreModel.load(args.onnx)
    result: dict = {"model": model.info()}
    if args.data:
        result.update(evaluate_tracks(model, args.data, drops=args.drops, cache_dir=args.cache_dir,
                                      progress=not args.quiet))
    if args.dj_set_seed is not None:
        result["dj_set"] = evaluate_dj_set(model, seed=args.dj_set_seed, smoothing=args.smoothing)
    print(json.dumps(result, indent=1))
    if args.json:
        write_json_atomic(args.json, result)
    if args.update_metadata:
        mp = metadata_path(model.path)
        meta = jsonfile.loads(mp.read_text(encoding="utf-8"))
        held = {k: v for k, v in result.items() if k != "model"}
        if args.data:
            held["data"] = str(Path(args.data).name)
        meta.setdefault("metrics", {})["held_out"] = held
        write_json_atomic(mp, meta)
    return 0


if __name__ == "__main__":
    sys.exit(main())
