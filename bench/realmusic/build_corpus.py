"""Build the realmusic corpus: seeded house arrangements (MIDI) rendered by fluidsynth.

Usage: ``python bench/realmusic/build_corpus.py [--out DIR] [--tracks N] [--seed S] [--jobs J]``
See README.md in this folder.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from mainstage.core.atomic import atomic_path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from arrangements import GENERATOR_VERSION, make_arrangement, write_midi  # noqa: E402
from truth_derive import write_truth  # noqa: E402

SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
PACKAGES = ["fluidsynth", "fluid-soundfont-gm"]
FLAG_MS = 20.0


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


def kick_onset_check(wav: Path, kick_beats: list[float]) -> dict:
    """Median |kick onset - truth beat| (ms) over the beats with a kick.

    Onset: the audio is low-passed (FFT, < 150 Hz), its RMS taken in 4 ms windows at a
    1 ms hop, and the onset function is the rise of that RMS over 3 ms; for each kick beat
    the onset is the first frame within +-100 ms of the beat where it reaches 20 % of its
    maximum there (the start of the strongest low-frequency attack).
    """
    import soundfile as sf

    x, sr = sf.read(str(wav), dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    spec = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(x.size, 1.0 / sr)
    spec[freqs > 150.0] = 0
    low = np.fft.irfft(spec, n=x.size)
    hop, win = sr // 1000, int(0.004 * sr)
    c = np.concatenate([[0.0], np.cumsum(low.astype(np.float64) ** 2)])
    starts = np.arange(0, x.size - win, hop)
    env = np.sqrt(np.maximum(c[starts + win] - c[starts], 0.0) / win)
    rise = np.zeros_like(env)
    rise[3:] = env[3:] - env[:-3]
    # time of the frame = its window centre
    errs = []
    for b in kick_beats:
        i0, i1 = (int(((b + d) * sr - win / 2) / hop) for d in (-0.1, 0.1))
        i0, i1 = max(i0, 0), min(i1, rise.size)
        if i1 - i0 < 10:
            continue
        seg = rise[i0:i1]
        k = i0 + int(np.argmax(seg >= 0.2 * seg.max()))  # first frame of the steepest rise
        t = (k * hop + win / 2) / sr
        errs.append(abs(t - b) * 1000)
    med = float(np.median(errs)) if errs else None
    return {"kick_beats": len(errs), "median_abs_ms": med, "flagged": bool(med is not None and med > FLAG_MS)}


def build_one(out: Path, idx: int, seed: int) -> dict:
    name = f"rm{idx:03d}"
    mid, wav = out / f"{name}.mid", out / f"{name}.wav"
    truth, bars = out / f"{name}.truth.json", out / f"{name}.bars.json"
    track_seed = seed * 100003 + idx
    if truth.is_file() and wav.is_file() and bars.is_file():
        try:
            doc = json.loads(truth.read_text())
            a = doc.get("analysis", {})
            if a.get("generator_version") == GENERATOR_VERSION and a.get("seed") == track_seed:
                return {"name": name, "skipped": True, **a["manifest"]}
        except (OSError, ValueError, KeyError):
            pass
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
        "generator_version": GENERATOR_VERSION, "seed": track_seed, "renderer": "fluidsynth -g 0.6 -r 44100",
        "soundfont": SOUNDFONT.name, "humanise_jitter_ms": arr.jitter_ms, "onset_check": check, "manifest": entry})
    (out / f"{name}.tmp.truth.json").unlink(missing_ok=True)
    entry["build_s"] = round(time.time() - t0, 2)
    return {"skipped": False, **entry}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / ".cache" / "realmusic")
    ap.add_argument("--tracks", type=int, default=110)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    args = ap.parse_args(argv)
    ensure_tools()
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    entries = []
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs) as ex:
            futs = [ex.submit(build_one, args.out, i, args.seed) for i in range(args.tracks)]
            for f in futs:
                entries.append(f.result())
                _progress(entries[-1], len(entries), args.tracks)
    else:
        for i in range(args.tracks):
            entries.append(build_one(args.out, i, args.seed))
            _progress(entries[-1], len(entries), args.tracks)
    manifest = {"generator_version": GENERATOR_VERSION, "seed": args.seed, "soundfont": str(SOUNDFONT),
                "tracks": [{k: v for k, v in e.items() if k != "skipped"} for e in entries]}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1))
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
    print("kinds:", dict(Counter(e["kind"] for e in entries)),
          " tempo changes:", sum(e["tempo_segments"] > 1 for e in entries),
          " humanised:", sum(e["jitter_ms"] > 0 for e in entries))
    meds = [e["onset_check"]["median_abs_ms"] for e in entries if e["onset_check"]["median_abs_ms"] is not None]
    flagged = [e["name"] for e in entries if e["onset_check"]["flagged"]]
    if meds:
        print(f"kick-onset check: median of medians {np.median(meds):.1f} ms, max {max(meds):.1f} ms, "
              f"flagged (> {FLAG_MS:.0f} ms): {len(flagged)} {flagged}")


if __name__ == "__main__":
    raise SystemExit(main())
