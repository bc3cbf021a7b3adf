"""Benchmark: how the genre model holds up off its training domain (issue 13).

Usage: ``python bench/bench_genre_robustness.py [--model MODEL.onnx] [--quick] [--seeds N]
[--seed-base 5000] [--renders DIR] [--real-limit N] [--no-real] [--cache-dir DIR]``

Three parts, all through the public runtime API (``mainstage.core.genre``):

1. **Fresh SynthHouse seeds.** 8 genres x 3 seeds (``seed-base + 10 * genre index + k``,
   default 5000-5072; checked against the track seeds of the model's training and held-out
   sets, which come from dataset seeds 1 and 99 through ``plan_items``), 48 bars each with every
   section type (``STRUCTURE``). Windows are the runtime's 4-bar windows stepped one bar on
   the TRUE downbeats, without smoothing (``analyze_genres(..., smoothing=0)``); each is
   scored against its track's genre: top-1 and KL(label || window probabilities), overall,
   per section type (a window belongs to the section covering most of it) and per genre.
2. **Transformations** of the same audio (``genre_robustness/transforms.py``: filters, shelves,
   noise, a sung line, speech, MP3, a limiter, pitch, tempo, mono): one table with the window
   top-1, its change against clean in points, and the mean KL; targets: clean >= 0.93, every
   transformation within 3 points of clean.
3. **Real electronic music** (``genre_robustness/real_music.py``: 38 tracks from Debian game
   packages) through the full pipeline (``core.analysis.track.analyze_track``: beats, drops,
   genres), so windows are on the *detected* grid; the clean SynthHouse renders go through the
   same pipeline as the synthetic side. Reports the top-1 genres over windows and over track
   summaries (target: no genre above 40 % of the summaries), mean window entropy, a
   real-vs-synthetic domain classifier (logistic regression on the model's pooled embedding,
   ``StratifiedGroupKFold``, folds grouped by track; target ROC AUC < 0.85; the same on log-mel
   statistics as a reference), and how the model's novelty score separates real from held-out synthetic
   windows (AUROC, share of real windows above the metadata's threshold, novelty 1.0).

The embedding parts need a model with an embedding output (``GenreModel.has_embedding``);
without one they are reported as not measured (FAIL) with the reason, the rest still runs.
Renders, speech clips and every analysis are cached under ``.cache/genre_robustness/``,
keyed by the model's SHA-256, the runtime's genre and analysis code and the benchmark's
version. The clean tracks come from the checkout's SynthHouse (``--renders DIR``: from a folder
rendered by another version, e.g. the one the model was trained on; the version is printed).
Prints the targets with PASS/FAIL at the end, writes
``.cache/genre_robustness/results.json`` atomically, and exits 0 whatever the results.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from genre_robustness import domain, real_music  # noqa: E402
from genre_robustness import transforms as T  # noqa: E402

#: 48 bars with every section type.
STRUCTURE = "intro:8,build:4,drop:8,breakdown:8,build:4,drop:12,outro:4"
SEED_BASE = 5000
#: Bump to recompute every cached analysis.
BENCH_VERSION = 1
SR = 44100
TARGET_CLEAN_TOP1 = 0.93
TARGET_MAX_DROP_POINTS = 3.0
TARGET_MAX_SUMMARY_SHARE = 0.40
TARGET_DOMAIN_AUC = 0.85


# --------------------------------------------------------------------------- helpers
def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def genre_code_digest() -> str:
    """Digest of the runtime's genre code (a change there invalidates cached analyses)."""
    import mainstage.core.genre as g

    h = hashlib.sha256()
    for f in sorted(Path(g.__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def synth_code_digest() -> str:
    """Digest of SynthHouse's code: renders are reused only while it is unchanged (SYNTH_VERSION
    alone is not bumped for every edit while SynthHouse is being worked on)."""
    import mainstage.training.synthhouse as sh

    h = hashlib.sha256()
    for f in sorted(Path(sh.__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:8]


def save_npz(path: Path, **arrays) -> None:
    from mainstage.core.atomic import atomic_path

    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)


def load_npz(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a damaged entry: recompute
        return None


def _f(v, nd=4):
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def progress(label: str, i: int, n: int, name: str = "") -> None:
    """One progress line on a terminal (redrawn), every 10th item and the last one otherwise."""
    if sys.stderr.isatty():
        print(f"\r  {label}: {i}/{n} {name[:40]:40s}", end="\n" if i == n else "", flush=True, file=sys.stderr)
    elif i == n or i % 10 == 0:
        print(f"  {label}: {i}/{n}", flush=True, file=sys.stderr)


def kl_onehot(probs: np.ndarray, label: int) -> np.ndarray:
    """KL(one-hot label || probs) in nats, probabilities clipped at 1e-8 (the training metrics' rule)."""
    from mainstage.training.evaluation.metrics import kl_divergence

    t = np.zeros_like(probs)
    t[:, label] = 1.0
    return kl_divergence(t, probs)


def window_sections(starts, ends, sections, scale: float = 1.0) -> list[str]:
    """Section label of each window: the section covering most of it (ties: the later one)."""
    out = []
    for s, e in zip(starts, ends):
        best, best_cover = "?", -1.0
        for sec in sections:
            cover = min(e, sec["end_s"] * scale) - max(s, sec["start_s"] * scale)
            if cover >= best_cover - 1e-6 and cover > 0:
                best, best_cover = sec["label"], max(cover, best_cover)
        out.append(best)
    return out


# --------------------------------------------------------------------------- part 1/2: SynthHouse
def training_seeds(meta: dict) -> tuple[set[int], list[str]]:
    """Track seeds of the model's SynthHouse training and held-out sets (from its metadata)."""
    from mainstage.training.synthhouse.dataset import plan_items

    sets = []
    tr = ((meta.get("training") or {}).get("synthhouse") or {}).get("train_set") or \
        {"tracks_per_genre": 16, "mixtures": 3.0, "seed": 1}
    ho = ((meta.get("metrics") or {}).get("held_out") or {}).get("data") or \
        {"tracks_per_genre": 4, "mixtures": 2.0, "seed": 99}
    seeds: set[int] = set()
    for name, d in (("training", tr), ("held-out", ho)):
        items = plan_items(int(d["tracks_per_genre"]), float(d["mixtures"]), seed=int(d["seed"]))
        seeds |= {int(it.seed) for it in items}
        sets.append(f"{name}: dataset seed {d['seed']}, {len(items)} tracks")
    dj = ((meta.get("metrics") or {}).get("held_out") or {}).get("dj_set") or {}
    if "seed" in dj:
        seeds.add(int(dj["seed"]))
        sets.append(f"DJ set: seed {dj['seed']}")
    return seeds, sets


def clean_track(genre: str, seed: int, cache: Path, renders: Path | None = None) -> tuple[Path, np.ndarray, dict]:
    """The rendered track (24-bit FLAC, cached) and its truth; the audio always comes from the file.

    With ``renders``, the track must already be there (``<genre slug>_<seed>.flac`` and its
    ``.truth.json``, e.g. rendered by another SynthHouse version); nothing is rendered.
    """
    import soundfile as sf

    from mainstage.core.genres import SLUGS
    from mainstage.training.synthhouse import SYNTH_VERSION, render_track, write_track

    folder = renders or cache / "renders" / f"synth{SYNTH_VERSION}-{synth_code_digest()}-{_digest(STRUCTURE)[:8]}"
    wav = folder / f"{SLUGS[genre]}_{seed}.flac"
    tpath = wav.with_name(wav.stem + ".truth.json")
    if not (wav.is_file() and tpath.is_file()):
        if renders is not None:
            raise SystemExit(f"--renders {renders}: {wav.name} or {tpath.name} is missing")
        res = render_track(genre, seed=seed, structure=STRUCTURE)
        write_track(res, wav, subtype="PCM_24")
    audio, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    assert sr == SR
    return wav, audio, json.loads(tpath.read_text())


def condition_windows(model, cond, seed: int, wav: Path, audio: np.ndarray, truth: dict,
                      cache: Path, key_base: dict, speech) -> dict:
    """Raw windows (``smoothing=0``) of one track under one condition (None = clean); cached."""
    from mainstage.core.genre import analyze_genres

    ckey = "clean" if cond is None else cond.key
    key = _digest({**key_base, "cond": ckey, "transforms": T.VERSION, "track": wav.name,
                   "sha": truth["track"]["sha256"]})
    path = cache / "windows" / f"{ckey}-{wav.stem}-{key[:16]}.npz"
    hit = load_npz(path)
    if hit is not None:
        return {k: (json.loads(str(v)) if k == "info" else v) for k, v in hit.items()}
    scale = 1.0 if cond is None else cond.time_scale
    info = {}
    if cond is None:
        x = audio
    else:
        x = cond.fn(audio, truth, T.rng_for(seed, cond.key), {"speech": speech})
        if cond.key == "limiter":
            info["gain_reduction"] = T.gain_reduction_db(audio, x)
    downbeats = np.asarray(truth["downbeats"], dtype=np.float64) * scale
    res = analyze_genres(x, SR, downbeats=downbeats, smoothing=0, model=model)
    wins = res["genre_windows"]
    out = {"probs": np.array([w["probs"] for w in wins]), "starts": np.array([w["start_s"] for w in wins]),
           "ends": np.array([w["end_s"] for w in wins]),
           "sections": np.array(window_sections([w["start_s"] for w in wins], [w["end_s"] for w in wins],
                                                truth["sections"], scale)),
           "info": json.dumps(info)}
    save_npz(path, **out)
    out["info"] = info
    return out


def score(rows: list[dict]) -> dict:
    """Top-1 and mean KL over windows, overall, drop / other, per section label and per genre."""
    from mainstage.core.genres import GENRES

    probs = np.concatenate([r["probs"] for r in rows])
    label = np.concatenate([np.full(len(r["probs"]), r["genre"]) for r in rows])
    sec = np.concatenate([r["sections"] for r in rows])
    correct = probs.argmax(axis=1) == label
    kl = np.concatenate([kl_onehot(r["probs"], r["genre"]) for r in rows])

    def part(mask):
        return {"windows": int(mask.sum()), "top1": _f(correct[mask].mean()) if mask.any() else None,
                "kl": _f(kl[mask].mean()) if mask.any() else None}

    out = {"all": part(np.ones(len(label), bool)), "drop": part(sec == "drop"), "other": part(sec != "drop"),
           "sections": {s: part(sec == s) for s in ("intro", "build", "drop", "breakdown", "outro")
                        if (sec == s).any()},
           "genres": {g: part(label == i) for i, g in enumerate(GENRES)}}
    return out


def run_synthetic(model, args, cache: Path, key_base: dict, log) -> tuple[dict, list]:
    from mainstage.core.genres import GENRES

    seeds_used, sets = training_seeds(model.metadata)
    tracks = [(gi, g, args.seed_base + 10 * gi + k) for gi, g in enumerate(GENRES) for k in range(args.seeds)]
    clash = sorted({s for _gi, _g, s in tracks} & seeds_used)
    if clash:
        raise SystemExit(f"seeds {clash} were used to train or validate the model; pick another --seed-base")
    log(f"fresh seeds {tracks[0][2]}-{tracks[-1][2]} ({len(tracks)} tracks, {args.seeds} per genre), none of the "
        f"{len(seeds_used)} track seeds of the model's sets ({'; '.join(sets)}); structure {STRUCTURE}")
    t0 = time.perf_counter()
    rendered = [(gi, g, s, *clean_track(g, s, cache, args.renders)) for gi, g, s in tracks]
    versions = sorted({str((r[-1].get("analysis") or {}).get("synth_version")) for r in rendered})
    trained = ((model.metadata.get("training") or {}).get("synthhouse") or {}).get("synth_version")
    log(f"renders ready ({time.perf_counter() - t0:.1f} s): SynthHouse version {', '.join(versions)}"
        + (f" from {args.renders}" if args.renders else ""))
    if trained is None:
        log("note: the model's metadata does not say which SynthHouse version it was trained on")
    elif versions != [str(trained)]:
        log(f"WARNING: the model was trained on SynthHouse version {trained}, these renders are {versions}")
    args.synth_versions = versions
    speech_state: dict = {}

    def speech():
        if "clips" not in speech_state:
            speech_state["clips"] = T.speech_clips(cache / "speech")
        return speech_state["clips"]

    conds = [None] + [t for t in T.TRANSFORMS if (t.in_quick or not args.quick)]
    results = {}
    for cond in conds:
        key = "clean" if cond is None else cond.key
        why = None if cond is None else T.available(cond)
        if why is not None:
            results[key] = {"skipped": why}
            log(f"{key}: skipped ({why})")
            continue
        t1 = time.perf_counter()
        rows, infos = [], []
        for gi, g, s, wav, audio, truth in rendered:
            w = condition_windows(model, cond, s, wav, audio, truth, cache, key_base, speech)
            rows.append({"genre": gi, **w})
            if w.get("info"):
                infos.append(w["info"])
        sc = score(rows)
        sc["seconds"] = round(time.perf_counter() - t1, 1)
        if infos and "gain_reduction" in infos[0]:
            gr = [i["gain_reduction"] for i in infos]
            sc["gain_reduction"] = {k: round(float(np.mean([d[k] for d in gr])), 3) for k in gr[0]}
        results[key] = sc
        log(f"{key}: top-1 {sc['all']['top1']:.3f} ({sc['seconds']:.0f} s)")
    return results, rendered


# --------------------------------------------------------------------------- part 3: the full pipeline
def pipeline_windows(path: Path, model, model_path: Path, cache: Path, key_base: dict) -> dict:
    """Full analysis of a file (detected grid and drops, default summary) plus raw windows,
    embeddings, novelty and log-mel statistics of the same windows; cached."""
    from mainstage.core.analysis.cache import code_version
    from mainstage.core.analysis.track import analyze_track
    from mainstage.core.audio import load_mono
    from mainstage.core.genre import analyze_genres
    from mainstage.core.hashing import sha256_file

    key = _digest({**key_base, "analysis": code_version(), "file": sha256_file(path), "part": "pipeline"})
    cpath = cache / "pipeline" / f"{path.parent.name}-{path.stem}-{key[:16]}.npz"
    hit = load_npz(cpath)
    if hit is not None:
        hit["meta"] = json.loads(str(hit["meta"]))
        return hit
    doc = analyze_track(path, genre=True, model=model_path)
    y, _info = load_mono(path, SR)
    db = doc["downbeats"]
    raw = analyze_genres(y, SR, downbeats=db if len(db) >= 2 else None, drops=doc["drops"], model=model, smoothing=0)
    wins = raw["genre_windows"]
    wo = domain.window_outputs(model, y, db, embedding=bool(getattr(model, "has_embedding", False)))
    probs = np.array([w["probs"] for w in wins])
    if len(wo["probs"]) != len(probs):
        raise RuntimeError(f"{path}: {len(wo['probs'])} windows cut here vs {len(probs)} from analyze_genres")
    novelty = np.array([w.get("novelty", np.nan) for w in wins], dtype=np.float64)
    conf = np.array([w.get("confidence", np.nan) for w in wins], dtype=np.float64)
    uniform = np.all(np.abs(probs - 1.0 / 8) < 1e-5, axis=1)  # silent windows (the runtime says "no genre")
    diff = float(np.abs(wo["probs"][~uniform] - probs[~uniform]).max()) if (~uniform).any() else 0.0
    meta = {"bpm": doc["tempo"]["bpm"], "bars": len(db), "drops": len(doc["drops"]),
            "duration_s": doc["track"]["duration_s"], "summary": doc["genre_summary"],
            "genre_confidence": doc.get("genre_confidence"), "prob_diff": diff}
    out = {"probs": probs, "novelty": novelty, "confidence": conf, "silent": uniform,
           "embedding": wo["embedding"] if wo["embedding"] is not None else np.zeros((len(probs), 0), np.float32),
           "logmel": wo["logmel"], "starts": wo["starts"], "ends": wo["ends"], "meta": json.dumps(meta)}
    save_npz(cpath, **out)
    out["meta"] = meta
    return out


def run_real(model, model_path: Path, args, cache: Path, key_base: dict, rendered, log) -> dict:
    from mainstage.core.genres import GENRES

    found, missing = real_music.locate()
    if args.quick:
        found = found[::3]
    if args.real_limit:
        found = found[: args.real_limit]
    out: dict = {"tracks_listed": len(real_music.TRACKS), "tracks_used": len(found),
                 "missing": [f"{t.id}: {why}" for t, why in missing]}
    if missing:
        log(f"real music: {len(missing)} of {len(real_music.TRACKS)} tracks missing; "
            f"install: {real_music.install_command(missing)}")
    if len(found) < 2:
        out["skipped"] = "fewer than 2 real tracks installed"
        return out
    t0 = time.perf_counter()
    real = []
    for i, (t, p) in enumerate(found):
        real.append((t.id, pipeline_windows(p, model, model_path, cache, key_base)))
        progress("real music", i + 1, len(found), t.id)
    syn = []
    for i, (_gi, g, s, wav, _audio, _truth) in enumerate(rendered):
        syn.append((wav.stem, pipeline_windows(wav, model, model_path, cache, key_base)))
        progress("synthetic (full pipeline)", i + 1, len(rendered), wav.stem)
    out["seconds_analysis"] = round(time.perf_counter() - t0, 1)
    out["prob_diff_max"] = _f(max(r["meta"]["prob_diff"] for _n, r in real + syn), 7)

    def heard(rows, key):
        return np.concatenate([r[key][~r["silent"].astype(bool)] for _n, r in rows])

    rp, sp = heard(real, "probs"), heard(syn, "probs")
    top_w = np.bincount(rp.argmax(axis=1), minlength=8) / max(len(rp), 1)
    summaries = np.array([r["meta"]["summary"] for _n, r in real])
    no_genre = np.ptp(summaries, axis=1) < 1e-6  # uniform: the runtime found no genre to hear
    top_s = np.bincount(summaries[~no_genre].argmax(axis=1), minlength=8) / len(summaries)
    out["summaries_without_genre"] = int(no_genre.sum())
    out["windows_real"], out["windows_synthetic"] = int(len(rp)), int(len(sp))
    out["silent_windows_real"] = int(sum(int(r["silent"].sum()) for _n, r in real))
    out["top1_windows"] = {g: _f(v) for g, v in zip(GENRES, top_w)}
    out["top1_summaries"] = {g: _f(v) for g, v in zip(GENRES, top_s)}
    out["max_summary_share"] = _f(top_s.max())
    out["entropy_bits"] = {"real": _f(domain.entropy_bits(rp).mean()), "synthetic": _f(domain.entropy_bits(sp).mean()),
                           "max": 3.0}
    out["max_prob"] = {"real": _f(rp.max(axis=1).mean()), "synthetic": _f(sp.max(axis=1).mean())}
    out["tracks"] = []
    for n, r in real:
        summ = np.asarray(r["meta"]["summary"])
        out["tracks"].append({
            "id": n, "bpm": _f(r["meta"]["bpm"], 2), "bars": r["meta"]["bars"], "drops": r["meta"]["drops"],
            "windows": int(len(r["probs"])),
            "summary_top": GENRES[int(summ.argmax())] if np.ptp(summ) > 1e-6 else "(no genre)",
            "summary_max": _f(summ.max()), "level": (r["meta"].get("genre_confidence") or {}).get("level")})
    groups_r = np.concatenate([[n] * int((~r["silent"].astype(bool)).sum()) for n, r in real])
    groups_s = np.concatenate([[n] * int((~r["silent"].astype(bool)).sum()) for n, r in syn])
    out["domain_logmel"] = domain.domain_auc(heard(real, "logmel"), groups_r, heard(syn, "logmel"), groups_s)
    try:
        domain.require_embedding(model)
        out["domain_embedding"] = domain.domain_auc(heard(real, "embedding"), groups_r,
                                                    heard(syn, "embedding"), groups_s)
    except domain.NoEmbedding as exc:
        out["domain_embedding"] = {"error": str(exc)}
    rn, sn = heard(real, "novelty"), heard(syn, "novelty")
    if np.isfinite(rn).all() and np.isfinite(sn).all() and rn.size and sn.size:
        out["novelty"] = {"auroc": _f(domain.auroc(rn, sn)), "real_flagged": _f(np.mean(rn > 1.0)),
                          "synthetic_flagged": _f(np.mean(sn > 1.0)), "threshold": 1.0,
                          "real_median": _f(np.median(rn)), "synthetic_median": _f(np.median(sn)),
                          "real_tracks_low": sum(1 for t in out["tracks"] if t["level"] in ("low", "none"))}
        rc, sc = heard(real, "confidence"), heard(syn, "confidence")
        if np.isfinite(rc).all() and np.isfinite(sc).all():
            out["novelty"]["confidence_auroc"] = _f(domain.auroc(-rc, -sc))
    else:
        out["novelty"] = {"error": "the model gives no novelty score (windows carry no 'novelty'; "
                                   "metadata output.novelty missing)"}
    out["max_prob_auroc"] = _f(domain.auroc(-rp.max(axis=1), -sp.max(axis=1)))
    return out


# --------------------------------------------------------------------------- printing
def _pct(v, nd=1):
    return "-" if v is None else f"{100 * v:.{nd}f} %"


def _num(v, nd=3):
    return "-" if v is None else f"{v:.{nd}f}"


def pass_fail(ok) -> str:
    return "PASS" if ok else "FAIL"


def print_clean(sc: dict) -> None:
    print("\nclean, fresh seeds (window top-1 / mean KL in nats, smoothing 0, true downbeats):")
    print(f"| {'windows':22s} | {'n':>5s} | {'top-1':>7s} | {'mean KL':>7s} |")
    print(f"|{'-' * 24}|{'-' * 7}|{'-' * 9}|{'-' * 9}|")
    rows = [("all", sc["all"]), ("drop", sc["drop"]), ("other sections", sc["other"])]
    rows += [(f"  {k}", v) for k, v in sc["sections"].items()]
    rows += [(f"{g}", v) for g, v in sc["genres"].items()]
    for name, v in rows:
        print(f"| {name:22s} | {v['windows']:5d} | {_num(v['top1']):>7s} | {_num(v['kl']):>7s} |")


def print_transform_table(syn: dict) -> list[tuple[str, bool | None, str]]:
    clean = syn["clean"]["all"]["top1"]
    labels = {"clean": "clean"} | {t.key: t.label for t in T.TRANSFORMS}
    targets = []
    print("\ntransformations (window top-1 against the track's genre, smoothing 0; delta in points vs clean):")
    head = (f"| {'transformation':34s} | {'top-1':>6s} | {'delta':>6s} | {'drop':>6s} | {'other':>6s} | "
            f"{'mean KL':>7s} | {'target':24s} |")
    print(head)
    print("|" + "|".join("-" * len(c) for c in head.split("|")[1:-1]) + "|")
    for key, sc in syn.items():
        if "skipped" in sc:
            print(f"| {labels.get(key, key):34s} | {'-':>6s} | {'-':>6s} | {'-':>6s} | {'-':>6s} | {'-':>7s} | "
                  f"{'skipped: ' + sc['skipped'][:15]:24s} |")
            targets.append((f"{key} within {TARGET_MAX_DROP_POINTS:.0f} points of clean", None, sc["skipped"]))
            continue
        a = sc["all"]
        delta = 100 * (a["top1"] - clean)
        if key == "clean":
            ok = a["top1"] >= TARGET_CLEAN_TOP1
            tgt = f">= {TARGET_CLEAN_TOP1:.2f}: {pass_fail(ok)}"
            targets.append((f"clean window top-1 >= {TARGET_CLEAN_TOP1:.2f}", ok, f"{a['top1']:.3f}"))
        elif T.BY_KEY[key].in_targets:
            ok = delta >= -TARGET_MAX_DROP_POINTS
            tgt = f">= -{TARGET_MAX_DROP_POINTS:.0f} pts: {pass_fail(ok)}"
            targets.append((f"{key} within {TARGET_MAX_DROP_POINTS:.0f} points of clean", ok, f"{delta:+.1f} points"))
        else:
            tgt = "(extra, no target)"
        print(f"| {labels.get(key, key):34s} | {a['top1']:6.3f} | {delta:+6.1f} | {_num(sc['drop']['top1']):>6s} | "
              f"{_num(sc['other']['top1']):>6s} | {a['kl']:7.3f} | {tgt:24s} |")
    if "limiter" in syn and "gain_reduction" in syn["limiter"]:
        gr = syn["limiter"]["gain_reduction"]
        print(f"  limiter gain reduction: max {gr['max_db']:.1f} dB, {gr['mean_active_db']:.1f} dB on average while "
              f"active ({100 * gr['active_share']:.0f} % of samples)")
    if "mono" in syn:
        print("  mono: the model averages the channels itself, so mono equals clean by construction (a sanity check)")
    from mainstage.core.genres import GENRES

    abbr = ["Prog", "Future", "Bass", "Tech", "Deep", "Bigroom", "Rave", "Slap"]
    print("\nwindow top-1 per genre:")
    print(f"| {'transformation':14s} | " + " | ".join(f"{a:>7s}" for a in abbr) + " |")
    print(f"|{'-' * 16}|" + "|".join("-" * 9 for _ in abbr) + "|")
    for key, sc in syn.items():
        if "skipped" not in sc:
            print(f"| {key:14s} | " + " | ".join(f"{_num(sc['genres'][g]['top1']):>7s}" for g in GENRES) + " |")
    return targets


def print_real(real: dict) -> list[tuple[str, bool | None, str]]:
    from mainstage.core.genres import GENRES

    targets = []
    print(f"\nreal electronic music: {real['tracks_used']} of {real['tracks_listed']} listed tracks"
          + (f" ({len(real['missing'])} missing)" if real["missing"] else ""))
    if "skipped" in real:
        print(f"  skipped: {real['skipped']}")
        return [(f"no genre above {TARGET_MAX_SUMMARY_SHARE:.0%} of real track summaries", None, real["skipped"]),
                (f"real-vs-synthetic AUC on the embedding < {TARGET_DOMAIN_AUC}", None, real["skipped"])]
    print(f"  {real['windows_real']} real windows ({real['silent_windows_real']} silent ones left out) on the detected "
          f"grid; {real['windows_synthetic']} synthetic windows (the clean renders through the same pipeline); "
          f"runtime vs re-cut windows max |diff| {real['prob_diff_max']}")
    print(f"| {'genre':18s} | {'windows':>8s} | {'summaries':>9s} |")
    print(f"|{'-' * 20}|{'-' * 10}|{'-' * 11}|")
    for g in GENRES:
        print(f"| {g:18s} | {_pct(real['top1_windows'][g]):>8s} | {_pct(real['top1_summaries'][g]):>9s} |")
    print(f"| {'track':42s} | {'BPM':>6s} | {'bars':>4s} | {'drops':>5s} | {'summary top-1':24s} | {'level':5s} |")
    print(f"|{'-' * 44}|{'-' * 8}|{'-' * 6}|{'-' * 7}|{'-' * 26}|{'-' * 7}|")
    for t in real["tracks"]:
        top = f"{t['summary_top']} {t['summary_max']:.2f}"
        print(f"| {t['id']:42s} | {_num(t['bpm'], 1):>6s} | {t['bars']:4d} | {t['drops']:5d} | {top:24s} | "
              f"{t['level'] or '-':5s} |")
    if real["summaries_without_genre"]:
        print(f"  {real['summaries_without_genre']} track summaries are uniform (no genre) and count for no genre")
    ok = real["max_summary_share"] <= TARGET_MAX_SUMMARY_SHARE
    targets.append((f"no genre above {TARGET_MAX_SUMMARY_SHARE:.0%} of real track summaries", ok,
                    f"largest {_pct(real['max_summary_share'])}"))
    e = real["entropy_bits"]
    print(f"  mean window entropy: real {e['real']:.3f} bits, synthetic {e['synthetic']:.3f} bits (max 3); "
          f"mean top probability: real {real['max_prob']['real']:.3f}, synthetic {real['max_prob']['synthetic']:.3f}")
    print("  real-vs-synthetic window classifier (logistic regression, StratifiedGroupKFold by track, "
          "pooled out-of-fold ROC AUC):")
    de = real["domain_embedding"]
    if "error" in de:
        print(f"    model embedding: not measured: {de['error']}")
        targets.append((f"real-vs-synthetic AUC on the embedding < {TARGET_DOMAIN_AUC}", False, "not measured"))
    else:
        ok = de["auc"] < TARGET_DOMAIN_AUC
        print(f"    model embedding ({de['windows_real']} + {de['windows_synthetic']} windows, {de['folds']} folds): "
              f"AUC {de['auc']:.3f} (folds {de['fold_aucs']})")
        targets.append((f"real-vs-synthetic AUC on the embedding < {TARGET_DOMAIN_AUC}", ok, f"{de['auc']:.3f}"))
    dl = real["domain_logmel"]
    print(f"    log-mel mean/std per band (reference): AUC {dl['auc']:.3f} (folds {dl['fold_aucs']})")
    nv = real["novelty"]
    if "error" in nv:
        print(f"  novelty: not measured: {nv['error']}")
    else:
        print(f"  novelty (1.0 = the metadata's threshold): AUROC real vs held-out synthetic {nv['auroc']:.3f}; "
              f"above threshold: real {_pct(nv['real_flagged'])}, synthetic {_pct(nv['synthetic_flagged'])}; "
              f"median real {nv['real_median']:.2f}, synthetic {nv['synthetic_median']:.2f}; "
              f"{nv['real_tracks_low']} of {real['tracks_used']} real tracks get confidence level low/none")
        if nv.get("confidence_auroc") is not None:
            print(f"  window confidence (the runtime's, lower = less sure): AUROC {nv['confidence_auroc']:.3f}")
    print(f"  the model's top probability alone: AUROC {real['max_prob_auroc']:.3f}")
    return targets


# --------------------------------------------------------------------------- main
def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="genre model (default: the bundled one)")
    ap.add_argument("--quick", action="store_true",
                    help="development run: 1 seed per genre, 7 of the transformations, every 3rd real track")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per genre (default 3; --quick 1)")
    ap.add_argument("--seed-base", type=int, default=SEED_BASE)
    ap.add_argument("--real-limit", type=int, default=None, help="use the first N real tracks")
    ap.add_argument("--no-real", action="store_true", help="skip part 3 (real music)")
    ap.add_argument("--cache-dir", type=Path, default=ROOT / ".cache" / "genre_robustness")
    ap.add_argument("--renders", type=Path, default=None, metavar="DIR",
                    help="take the clean tracks from DIR (<genre slug>_<seed>.flac + .truth.json, e.g. rendered "
                         "by the SynthHouse version the model was trained on) instead of rendering them")
    args = ap.parse_args(argv)
    args.seeds = args.seeds or (1 if args.quick else 3)

    from mainstage.core.atomic import write_json_atomic
    from mainstage.core.genre import GenreModel, default_model_path

    t_start = time.perf_counter()
    model_path = (args.model or default_model_path()).resolve()
    model = GenreModel.load(model_path)
    cache = args.cache_dir
    key_base = {"model": model.sha256, "genre_code": genre_code_digest(), "bench": BENCH_VERSION,
                "structure": STRUCTURE}

    def log(msg):
        print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)

    print(f"genre robustness: model {model.name} ({model_path.name}, sha256 {model.sha256[:12]}), "
          f"embedding {'yes' if getattr(model, 'has_embedding', False) else 'NO'}, "
          f"novelty {'yes' if getattr(model, 'has_novelty', False) else 'no'}"
          + (" [quick]" if args.quick else ""))
    try:
        domain.require_embedding(model)
    except domain.NoEmbedding as exc:
        print(f"WARNING: {exc}")
    syn, rendered = run_synthetic(model, args, cache, key_base, log)
    print(f"SynthHouse version of the clean tracks: {', '.join(args.synth_versions)}"
          + (f" (from {args.renders})" if args.renders else " (rendered by this checkout)"))
    print_clean(syn["clean"])
    targets = print_transform_table(syn)
    if args.no_real:
        real = {"skipped": "--no-real", "tracks_used": 0, "tracks_listed": len(real_music.TRACKS), "missing": []}
    else:
        real = run_real(model, model_path, args, cache, key_base, rendered, log)
    targets += print_real(real)

    elapsed = time.perf_counter() - t_start
    print("\ntargets:")
    for name, ok, value in targets:
        verdict = "n/a " if ok is None else pass_fail(ok)
        print(f"  {verdict}  {name}: {value}")
    print(f"\n{sum(1 for t in targets if t[1])} of {len(targets)} targets met; total {elapsed:.0f} s")
    results = {"model": {"path": str(model_path), "name": model.name, "sha256": model.sha256,
                         "has_embedding": bool(getattr(model, "has_embedding", False)),
                         "has_novelty": bool(getattr(model, "has_novelty", False))},
               "config": {"quick": args.quick, "seeds_per_genre": args.seeds, "seed_base": args.seed_base,
                          "structure": STRUCTURE, "bench_version": BENCH_VERSION, "transforms_version": T.VERSION,
                          "synth_versions": getattr(args, "synth_versions", None),
                          "renders": str(args.renders) if args.renders else None},
               "synthetic": syn, "real": real,
               "targets": [{"target": n, "pass": ok, "value": v} for n, ok, v in targets],
               "seconds": round(elapsed, 1)}
    out = cache / "results.json"
    write_json_atomic(out, results)
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
