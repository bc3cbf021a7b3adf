"""Benchmark: measured per-bar traits (``bar_traits``) against the generator's truth and real music.

Usage: ``python bench/bench_traits.py [--seeds N] [--mixtures M] [--sets S] [--corpus DIR]
[--tracks K] [--no-real] [--no-synth]``

1. **SynthHouse** (seeds from 9 000 000; ``training/traits_fit.py`` fits on seeds from
   7 000 000, so none of these tracks was seen in fitting): every genre ``N`` times, ``M`` soft
   mixtures of two or three genres and ``S`` three-track DJ sets are rendered, written as
   16-bit WAV and analysed by :func:`mainstage.core.analysis.track.analyze_track` like any
   file. Each analysed bar is paired with the truth bar holding its middle; the table gives
   Spearman's rho per trait between the measured values and the truth's ``bar_traits`` (the
   generator's values: part activity, the track's 1-5 scores mapped to [0, 1], the rendered
   bar's level and spectral centroid), over all bars pooled, and per subset.
2. **Real music** (``bench/realmusic/``: arrangements rendered by fluidsynth, Hydrogen,
   openmpt123 and LMMS, truth read back from their project files): kick and bass presence
   thresholded at 0.5 against the per-bar note activity (``*.bars.json``; kick = GM note
   35/36, bass = a program 32-39), F1 per engine and overall; the kick / bass flags of
   :mod:`mainstage.core.analysis.layers` (what the drop rule uses) as the baseline.
3. **Speed**: the analysis of a 5-minute SynthHouse track with and without the traits, best
   of three, in this run.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from mainstage.core.analysis.traits import TRAIT_NAMES  # noqa: E402
from mainstage.core.genres import GENRES  # noqa: E402
from mainstage.training.traits_fit import random_mix_spec  # noqa: E402

#: Seeds of the benchmark tracks (the fitting script's start at 7 000 000).
BENCH_SEED_BASE = 9_000_000
ENGINES = {"rm": "fluidsynth", "h2": "Hydrogen", "tm": "openmpt123", "lm": "LMMS"}


def spearman(a, b) -> float:
    """Spearman's rho (scipy; NaN when either side is constant)."""
    from scipy.stats import spearmanr

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """F1 of boolean predictions (sklearn's f1_score, 0 when nothing is true or predicted)."""
    from sklearn.metrics import f1_score

    return float(f1_score(np.asarray(truth, bool), np.asarray(pred, bool), zero_division=0.0))


def pair_bars(est_downbeats, est_end: float, truth_starts) -> tuple[np.ndarray, np.ndarray]:
    """For each truth bar, the estimated bar holding its middle (-1 where none)."""
    edges = np.append(np.asarray(est_downbeats, dtype=np.float64), est_end)
    ts = np.asarray(truth_starts, dtype=np.float64)
    mid = 0.5 * (ts + np.append(ts[1:], est_end))
    j = np.searchsorted(edges, mid, side="right") - 1
    j[(j < 0) | (j >= edges.size - 1)] = -1
    return j, mid


def values_of(doc: dict) -> np.ndarray:
    bt = doc["bar_traits"]
    v = np.asarray(bt["values"], dtype=np.float64).reshape(-1, len(bt["names"]))
    return v[:, [bt["names"].index(n) for n in TRAIT_NAMES]]


# --------------------------------------------------------------------------- SynthHouse
def synth_items(seeds: int, mixtures: int, sets: int) -> list[tuple[str, str, object]]:
    """``(subset, name, spec)``: pure genres, mixtures (specs) and sets (lists of genres)."""
    items = []
    for i in range(seeds):
        for gi, g in enumerate(GENRES):
            items.append(("pure", f"{g}#{i}", (g, BENCH_SEED_BASE + 100 * i + gi)))
    rng = np.random.default_rng(BENCH_SEED_BASE)
    for j in range(mixtures):
        spec = random_mix_spec(rng)
        items.append(("mixture", spec, (spec, BENCH_SEED_BASE + 50_000 + j)))
    for s in range(sets):
        genres = [GENRES[int(i)] for i in rng.choice(len(GENRES), size=3, replace=False)]
        items.append(("set", " -> ".join(genres), (genres, BENCH_SEED_BASE + 60_000 + s)))
    return items


def run_synth(items, tmp: Path) -> dict[str, list[tuple[np.ndarray, np.ndarray]]]:
    from mainstage.core.analysis.track import analyze_track
    from mainstage.training.synthhouse import render_set, render_track, write_track

    pairs: dict[str, list] = defaultdict(list)
    for i, (subset, name, (spec, seed)) in enumerate(items):
        res = render_set(spec, seed=seed) if subset == "set" else render_track(spec, seed=seed)
        wav = tmp / f"bench_{i}.wav"
        truth_path = write_track(res, wav)
        truth = json.loads(truth_path.read_text())
        doc = analyze_track(wav, genre=False, use_cache=False)
        wav.unlink()
        if "bar_traits" not in truth or "bar_traits" not in doc:
            print(f"\n  {name}: no bar traits ({'truth' if 'bar_traits' not in truth else 'analysis'})")
            continue
        j, _ = pair_bars(doc["downbeats"], doc["track"]["duration_s"], truth["downbeats"])
        ok = j >= 0
        pairs[subset].append((values_of(doc)[j[ok]], values_of(truth)[ok]))
        print(f"\r[{i + 1}/{len(items)}] {subset}: {name[:60]:60s}", end="", flush=True)
    print()
    return pairs


def print_synth(pairs: dict[str, list]) -> None:
    groups = {"all": [p for v in pairs.values() for p in v], **pairs}
    head = "| trait | " + " | ".join(f"{g} ({len(v)} tracks, {sum(len(a) for a, _ in v)} bars)"
                                     for g, v in groups.items()) + " |"
    print("\nSynthHouse, Spearman's rho per trait (measured vs generator, per bar, pooled); goal >= 0.8")
    print(head)
    print("|" + "|".join("---" for _ in range(len(groups) + 1)) + "|")
    for k, name in enumerate(TRAIT_NAMES):
        cells = []
        for v in groups.values():
            if not v:
                cells.append("-")
                continue
            est = np.concatenate([a[:, k] for a, _ in v])
            tru = np.concatenate([b[:, k] for _, b in v])
            cells.append(f"{spearman(est, tru):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    v = groups["all"]
    est = np.concatenate([a for a, _ in v])
    tru = np.concatenate([b for _, b in v])
    print("presence at 0.5 (SynthHouse, all bars): " + ", ".join(
        f"{n} F1 {f1(tru[:, k] >= 0.5, est[:, k] >= 0.5):.3f}" for k, n in enumerate(TRAIT_NAMES[:4])))


# --------------------------------------------------------------------------- real music
def run_real(corpus: Path, limit: int | None) -> dict[str, dict[str, list]]:
    from mainstage.core.analysis.layers import bar_layers
    from mainstage.core.analysis.onsets import extract_features
    from mainstage.core.analysis.track import analyze_features
    from mainstage.core.audio import probe

    truths = sorted(p for p in corpus.glob("*.truth.json") if ".tmp." not in p.name)
    if limit:
        truths = truths[:limit]
    acc: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for i, tp in enumerate(truths):
        stem = tp.name[: -len(".truth.json")]
        wav, bars_path = corpus / f"{stem}.wav", corpus / f"{stem}.bars.json"
        if not (wav.is_file() and bars_path.is_file()):
            continue
        bars = json.loads(bars_path.read_text())["bars"]
        feat = extract_features(probe(wav))
        res = analyze_features(feat)
        e = stem[:2]
        tk = np.array([b["kick"] for b in bars], bool)
        tb = np.array([b["bass"] for b in bars], bool)
        if res.bar_traits is None:
            est = np.zeros((len(bars), 2))
            base = np.zeros((len(bars), 2), bool)
        else:
            layers = bar_layers(feat, res.grid.beats, res.downbeats, feat.duration_s)
            j, _ = pair_bars(res.downbeats, feat.duration_s, [b["start_s"] for b in bars])
            v = np.vstack([res.bar_traits.values, np.zeros((1, len(TRAIT_NAMES)))])[j]  # -1: no bar (absent)
            est = v[:, [TRAIT_NAMES.index("kick"), TRAIT_NAMES.index("bass")]]
            flags = np.vstack([np.stack([layers.kick, layers.bass], 1), np.zeros((1, 2), bool)])
            base = flags[j]
        for key, val in (("kick_t", tk), ("bass_t", tb), ("kick_e", est[:, 0] >= 0.5), ("bass_e", est[:, 1] >= 0.5),
                         ("kick_b", base[:, 0]), ("bass_b", base[:, 1])):
            acc[e][key].append(val)
        print(f"\r[{i + 1}/{len(truths)}] {stem}", end="", flush=True)
    print()
    return acc


def print_real(acc: dict[str, dict[str, list]]) -> None:
    print("\nReal music (bench/realmusic), presence >= 0.5 vs per-bar note activity, F1; goal >= 0.85")
    print("| engine | tracks | bars | kick F1 | bass F1 | kick F1, layer flags | bass F1, layer flags |")
    print("|---|---|---|---|---|---|---|")
    tot: dict[str, list] = defaultdict(list)
    for e in list(ENGINES) + ["all"]:
        if e == "all":
            d, n_tracks = {k: [np.concatenate(v)] for k, v in tot.items()}, sum(len(acc[x]["kick_t"]) for x in acc)
        elif e in acc:
            d, n_tracks = acc[e], len(acc[e]["kick_t"])
            for k, v in d.items():
                tot[k].append(np.concatenate(v))
        else:
            continue
        c = {k: np.concatenate(v) for k, v in d.items()}
        print(f"| {ENGINES.get(e, 'all')} | {n_tracks} | {c['kick_t'].size} | {f1(c['kick_t'], c['kick_e']):.3f} | "
              f"{f1(c['bass_t'], c['bass_e']):.3f} | {f1(c['kick_t'], c['kick_b']):.3f} | {f1(c['bass_t'], c['bass_b']):.3f} |")


# --------------------------------------------------------------------------- speed
def speed(tmp: Path) -> None:
    import soundfile as sf

    from mainstage.core.analysis.onsets import extract_features
    from mainstage.core.analysis.track import analyze_features, analyze_track
    from mainstage.core.audio import probe
    from mainstage.training.synthhouse import render_track, write_track

    wav = tmp / "speed.wav"
    write_track(render_track("Progressive House", seed=BENCH_SEED_BASE + 99, duration_s=300.0), wav)
    dur = sf.info(str(wav)).duration
    analyze_track(wav, genre=False, use_cache=False)  # warm-up
    full = min(_timed(lambda: analyze_track(wav, genre=False, use_cache=False)) for _ in range(3))
    feat = extract_features(probe(wav))
    with_t = min(_timed(lambda: analyze_features(feat)) for _ in range(3))
    without = min(_timed(lambda: analyze_features(feat, traits=False)) for _ in range(3))
    print(f"\nspeed on a {dur:.0f} s SynthHouse track (44.1 kHz stereo 16-bit WAV, no genres), best of 3 in this run:")
    print(f"  whole analysis with traits {full:.3f} s; grid..sections {without:.3f} s, with traits {with_t:.3f} s: "
          f"traits add {with_t - without:.3f} s")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3, help="tracks per genre (default 3)")
    ap.add_argument("--mixtures", type=int, default=8)
    ap.add_argument("--sets", type=int, default=2)
    ap.add_argument("--corpus", type=Path, default=ROOT / ".cache" / "realmusic")
    ap.add_argument("--tracks", type=int, default=None, help="use the first K corpus tracks (default: all)")
    ap.add_argument("--no-real", action="store_true")
    ap.add_argument("--no-synth", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_traits_") as d:
        tmp = Path(d)
        if not args.no_synth:
            print_synth(run_synth(synth_items(args.seeds, args.mixtures, args.sets), tmp))
        if not args.no_real:
            if not any(args.corpus.glob("*.truth.json")):
                print(f"\nno real-music corpus in {args.corpus}: build it with bench/realmusic/build_corpus.py")
            else:
                print_real(run_real(args.corpus, args.tracks))
        speed(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
