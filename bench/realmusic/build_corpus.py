"""Build the realmusic corpus: seeded house arrangements rendered by four third-party engines.

Usage: ``python bench/realmusic/build_corpus.py [--out DIR] [--fluidsynth N] [--hydrogen N]
[--tracker N] [--lmms N] [--tracks N] [--seed S] [--jobs J]``

fluidsynth (MIDI files and a General MIDI soundfont) is built here; Hydrogen (``h2cli``),
tracker modules (``openmpt123``) and LMMS (``lmms render``) in ``hydrogen_source.py``,
``tracker_source.py`` and ``lmms_source.py``. See README.md in this folder.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mainstage.core.atomic import atomic_path, write_json_atomic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from arrangements import GENERATOR_VERSION, make_arrangement, write_midi  # noqa: E402
from onset_check import FLAG_MS, kick_onset_check  # noqa: E402,F401  (the other engines import them from here)
from truth_derive import TRUTH_VERSION, cached_analysis, write_truth  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PACKAGES = ["fluidsynth", "fluid-soundfont-gm"]


def ensure_tools() -> None:
    if shutil.which("fluidsynth") and SOUNDFONT.is_file():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("installing", " ".join(PACKAGES), flush=True)
        subprocess.run(["apt-get", "update"], check=False)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES], check=True)
    if not (shutil.which("fluidsynth") and SOUNDFONT.is_file()):
        sys.exit(f"need fluidsynth and {SOUNDFONT}: run `sudo apt-get install -y --no-install-recommends "
                 f"{' '.join(PACKAGES)}` (Debian/Ubuntu)")


def render(mid: Path, wav: Path) -> None:
    with atomic_path(wav) as tmp:
        subprocess.run(["fluidsynth", "-ni", "-q", "-g", "0.6", "-r", "44100", "-T", "wav", "-F", str(tmp),
                        str(SOUNDFONT), str(mid)], check=True, stdout=subprocess.DEVNULL)


def build_one(out: Path, idx: int, seed: int) -> dict:
    name = f"rm{idx:03d}"
    mid, wav = out / f"{name}.mid", out / f"{name}.wav"
    truth, bars = out / f"{name}.truth.json", out / f"{name}.bars.json"
    track_seed = seed * 100003 + idx
    a = cached_analysis(truth, (wav, bars, mid), GENERATOR_VERSION, track_seed)
    if a is not None:
        if a.get("truth_version") != TRUTH_VERSION:  # same audio, newer derivation
            write_truth(mid, wav, truth, bars, extra={**a, "truth_version": TRUTH_VERSION})
        return {"name": name, "skipped": True, **a["manifest"]}
    t0 = time.time()
    arr = make_arrangement(track_seed)
    write_midi(arr, mid)
    render(mid, wav)
    plan = arr.describe()
    d = write_truth(mid, wav, out / f"{name}.tmp.truth.json", bars, extra={})  # truth first, to check the grid
    check = kick_onset_check(wav, d["kick_beats"])
    entry = {"name": name, "seed": track_seed, "kind": arr.kind, "bpm": d["bpm"],
             "tempo_segments": len(d["tempo_segments"]), "duration_s": d["song_end_s"],
             "sections": [s["label"] for s in d["sections"]], "drops": len(d["drops"]),
             "jitter_ms": arr.jitter_ms, "onset_check": check, "plan": plan}
    write_truth(mid, wav, truth, bars, extra={
        "generator_version": GENERATOR_VERSION, "truth_version": TRUTH_VERSION, "seed": track_seed,
        "renderer": "fluidsynth -g 0.6 -r 44100",
        "soundfont": SOUNDFONT.name, "humanise_jitter_ms": arr.jitter_ms, "onset_check": check, "manifest": entry})
    (out / f"{name}.tmp.truth.json").unlink(missing_ok=True)
    entry["build_s"] = round(time.time() - t0, 2)
    return {"skipped": False, **entry}


#: Engines: (module, its name prefix, default number of tracks). Each module has
#: ``ensure_tools()`` and ``build_one(out, idx, seed)``; "fluidsynth" is this file.
ENGINES = {
    "fluidsynth": ("build_corpus", "rm", 110),
    "hydrogen": ("hydrogen_source", "h2", 30),
    "tracker": ("tracker_source", "tm", 30),
    "lmms": ("lmms_source", "lm", 30),
}


def _engine(name: str):
    import importlib

    return sys.modules[__name__] if name == "fluidsynth" else importlib.import_module(ENGINES[name][0])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "realmusic")
    for name, (_mod, prefix, n) in ENGINES.items():
        ap.add_argument(f"--{name}", type=int, default=n, metavar="N",
                        help=f"tracks rendered by {name} ({prefix}000...; default {n}, 0 = none)")
    ap.add_argument("--tracks", type=int, default=None, help="the same number of tracks for every engine")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    counts = {name: (args.tracks if args.tracks is not None else getattr(args, name)) for name in ENGINES}
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    entries = []
    for name, n in counts.items():
        if n <= 0:
            continue
        eng = _engine(name)
        eng.ensure_tools()
        total = len(entries) + n
        if args.jobs > 1:
            with ProcessPoolExecutor(args.jobs) as ex:
                futs = [ex.submit(eng.build_one, args.out, i, args.seed) for i in range(n)]
                for f in futs:
                    entries.append({"engine": name, **f.result()})
                    _progress(entries[-1], len(entries), total)
        else:
            for i in range(n):
                entries.append({"engine": name, **eng.build_one(args.out, i, args.seed)})
                _progress(entries[-1], len(entries), total)
    manifest = {"generator_version": GENERATOR_VERSION, "seed": args.seed, "soundfont": str(SOUNDFONT),
                "engines": counts, "tracks": [{k: v for k, v in e.items() if k != "skipped"} for e in entries]}
    write_json_atomic(args.out / "manifest.json", manifest)
    summary(entries, time.time() - t0)
    return 0


def _progress(e: dict, i: int, n: int) -> None:
    c = e["onset_check"]
    med = "-" if c["median_abs_ms"] is None else f"{c['median_abs_ms']:.1f} ms"
    print(f"[{i}/{n}] {e['name']} {'(cached) ' if e['skipped'] else ''}{e['kind']:6s} {e['bpm']:6.1f} BPM "
          f"{e['duration_s']:6.1f} s  drops {e['drops']}  kick-onset {med}{'  FLAGGED' if c['flagged'] else ''}",
          flush=True)


def summary(entries: list[dict], wall: float) -> None:
    hours = sum(e["duration_s"] for e in entries) / 3600
    print(f"\ntracks {len(entries)}  ({sum(not e['skipped'] for e in entries)} built now)  "
          f"audio {hours:.2f} h  wall {wall:.0f} s")
    hist = Counter(int(e["bpm"] // 10 * 10) for e in entries)
    print("BPM histogram: " + "  ".join(f"{k}-{k + 9}: {hist[k]}" for k in sorted(hist)))
    print("engines:", dict(Counter(e.get("engine", "fluidsynth") for e in entries)),
          " kinds:", dict(Counter(e["kind"] for e in entries)),
          " tempo changes:", sum(e["tempo_segments"] > 1 for e in entries),
          " humanised:", sum(e["jitter_ms"] > 0 for e in entries))
    meds = [e["onset_check"]["median_abs_ms"] for e in entries if e["onset_check"]["median_abs_ms"] is not None]
    flagged = [e["name"] for e in entries if e["onset_check"]["flagged"]]
    if meds:
        print(f"kick-onset check: median of medians {np.median(meds):.1f} ms, max {max(meds):.1f} ms, "
              f"flagged (> {FLAG_MS:.0f} ms): {len(flagged)} {flagged}")


if __name__ == "__main__":
    raise SystemExit(main())
