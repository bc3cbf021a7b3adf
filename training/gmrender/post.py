"""Post-processing of the fluidsynth stems: filters, drive, side-chain pump, section levels, master.

fluidsynth ignores CC74 with these soundfonts, so the filter moves of the arrangement
are applied here, bar by bar, on the stem they belong to (SynthHouse's cut-offs):
``filtered`` bass 350 Hz, ``filtered`` chords 700 Hz, ``soft`` breakdown lead 1800 Hz,
build sweeps 250 Hz -> 12 kHz. Then each stem gets its genre's drive (the GM presets are
clean; Bass House and Bigroom are not), the bass and music stems are ducked by the
kick (SynthHouse's pump depth and release), the stems are balanced, the sections are
levelled so that drops are the loudest part (SynthHouse's margins: the paper's drop
rule must find them) and a randomised mix/master chain (:mod:`..synthhouse.mastering`:
EQ, width, bus compression, saturation, limiter) finishes the mix.
"""
from __future__ import annotations

import numpy as np

from ..synthhouse.effects import lowpass, pump_curve, sweep_filter, waveshape
from ..synthhouse.engine import BUILD_RAMP_DB, SECTION_TARGET_DB

#: Per-bar fade between processed and unprocessed audio (s).
XFADE_S = 0.01


def bar_curve(per_bar, starts: np.ndarray, n: int, sr: int, ramp_s: float = XFADE_S) -> np.ndarray:
    """Per-sample curve (``n`` samples) of per-bar values, ramping linearly across each bar line
    where the value changes (``ramp_s`` centred on the line)."""
    v = np.asarray(per_bar, dtype=np.float32)
    curve = np.repeat(v, np.diff(starts).astype(np.int64))
    if curve.size < n:
        curve = np.concatenate([curve, np.full(n - curve.size, v[-1], np.float32)])
    curve = curve[:n]
    half = max(1, int(ramp_s * sr / 2))
    for i in np.flatnonzero(v[1:] != v[:-1]) + 1:
        lo, hi = max(0, int(starts[i]) - half), min(n, int(starts[i]) + half)
        curve[lo:hi] = np.linspace(v[i - 1], v[i], hi - lo, dtype=np.float32)
    return curve


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[(first_bar, end_bar), ...]`` of the runs of set flags."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def variant_filters(stem: np.ndarray, sr: int, starts: np.ndarray, bars: list[dict], roles: tuple[str, ...],
                    cutoffs: dict[str, float]) -> np.ndarray:
    """Static low-passes where one of ``roles`` plays a variant in ``cutoffs``, and build sweeps.

    Only the runs of affected bars are filtered (with a margin), and crossfaded in and
    out over :data:`XFADE_S` at their bar lines.
    """
    out = stem.copy()
    n = stem.shape[0]
    half, margin = max(1, int(XFADE_S * sr / 2)), int(0.25 * sr)
    for variant, hz in cutoffs.items():
        flags = np.array([any(b["roles"].get(r) == variant for r in roles) for b in bars])
        for a, b in _runs(flags):
            s0, s1 = int(starts[a]), int(starts[b])
            lo, hi = max(0, s0 - margin), min(n, s1 + margin)
            filt = lowpass(out[lo:hi], sr, hz).astype(np.float32)
            w = np.zeros(hi - lo, dtype=np.float32)
            w[max(0, s0 - half - lo):s1 + half - lo] = 1.0
            for edge, up in ((s0, True), (s1, False)):
                e0, e1 = max(lo, edge - half), min(hi, edge + half)
                if e1 > e0 and 0 < edge < n:
                    ramp = np.linspace(0.0, 1.0, e1 - e0, dtype=np.float32)
                    w[e0 - lo:e1 - lo] = ramp if up else ramp[::-1]
            out[lo:hi] += w[:, None] * (filt - out[lo:hi])
    sweep = [next((b["roles"][r] for r in roles if str(b["roles"].get(r, "")).startswith("sweep")), None) for b in bars]
    for i, v in enumerate(sweep):
        if v is None:
            continue
        k, m = (int(q) for q in v[5:].split("/"))
        a, b = int(starts[i]), int(starts[i + 1])
        out[a:b] = sweep_filter(out[a:b], sr, 250.0 * 48.0 ** (k / m), 250.0 * 48.0 ** ((k + 1) / m))
    return out


def drive(x: np.ndarray, amount: float) -> np.ndarray:
    """Peak-relative tanh drive (``amount`` <= 1.05: unchanged)."""
    if amount <= 1.05:
        return x
    peak = float(np.max(np.abs(x))) or 1.0
    return (waveshape(x / peak, float(amount)) * peak).astype(np.float32)


def pump_gain(n: int, sr: int, starts: np.ndarray, bars: list[dict], bpm: float, depth: float, release: float) -> np.ndarray:
    """Side-chain gain (1 = untouched) of the bars with a kick: one duck per kick beat."""
    duck = np.zeros(n, dtype=np.float32)
    for i, bar in enumerate(bars):
        kick = bar["roles"].get("kick")
        if not kick:
            continue
        b_bpm = float(bar.get("bpm", bpm))
        beat_n = (starts[i + 1] - starts[i]) / 4.0
        one = pump_curve(int(beat_n), sr, depth, release * 60.0 / b_bpm).astype(np.float32)
        for b in range(2 if kick == "half" else 4):
            o = int(round(starts[i] + b * beat_n))
            seg = duck[o:o + one.size]
            np.maximum(seg, one[:seg.size], out=seg)
    return 1.0 - np.minimum(duck, 0.95)


def _span_db(power: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Mean power (dB) of the spans between consecutive ``starts`` of a per-sample power curve."""
    c = np.concatenate([[0.0], np.cumsum(power, dtype=np.float64)])
    s = np.clip(starts, 0, power.size)
    return 10.0 * np.log10(np.maximum((c[s[1:]] - c[s[:-1]]) / np.maximum(np.diff(s), 1), 1e-12))


def _power(mix: np.ndarray) -> np.ndarray:
    """Per-sample power of the mono sum: what the paper's drop rule measures (wide stereo
    parts lose level in mono, centred hits do not)."""
    mono = mix.sum(axis=1, dtype=np.float32) * np.float32(0.5)
    return mono * mono


#: A quarter bar of a drop may stand at most this far (dB) above the drop's median quarter.
DROP_PEAK_DB = 1.0


def level_sections(mix: np.ndarray, sr: int, starts: np.ndarray, bars: list[dict], swell: bool = True,
                   attenuate_only: bool = False) -> None:
    """In place: builds swell by :data:`BUILD_RAMP_DB`; each drop sits at the drops' mean level
    (bar RMS) and each other section's loudest quarter bar at its SynthHouse margin below it.

    Levels are also taken on quarter bars because the paper's drop rule looks at a running
    maximum of short frames: a build's riser and roll peak in its last beats, and the crash
    and impact of a drop's first beat stand out of the drop. Drop quarters louder than
    :data:`DROP_PEAK_DB` above their drop's median quarter are turned down to it.
    """
    sec = np.array([b["section_index"] for b in bars])
    label = {b["section_index"]: b["section"] for b in bars}
    if swell:
        for s in (s for s, lab in label.items() if lab == "build"):
            idx = np.flatnonzero(sec == s)
            a, b = int(starts[idx[0]]), int(starts[idx[-1] + 1])
            mix[a:b] *= (10.0 ** (np.linspace(-BUILD_RAMP_DB, 0.0, b - a) / 20.0)).astype(np.float32)[:, None]
    power = _power(mix)
    db = _span_db(power, starts)
    quarter = np.append(np.round(starts[:-1, None] + np.diff(starts)[:, None] * np.arange(4) / 4).astype(np.int64),
                        starts[-1])
    qdb = _span_db(power, quarter).reshape(-1, 4)
    del power
    drops = {s: float(db[sec == s].mean()) for s, lab in label.items() if lab == "drop"}
    if not drops:
        return
    ref = float(np.mean(list(drops.values())))
    gain_db = np.zeros((len(bars), 4))
    for s, lab in label.items():
        m = sec == s
        if lab == "drop":
            g = 0.0 if attenuate_only else ref - drops[s]
            peak = np.minimum(0.0, float(np.median(qdb[m])) + DROP_PEAK_DB - qdb[m])
            gain_db[m] = float(np.clip(g, -30.0, 12.0)) + peak
        else:
            g = ref + SECTION_TARGET_DB[lab] - float(qdb[m].max())
            g = min(g, 0.0) if attenuate_only else g
            gain_db[m] = float(np.clip(g, -30.0, 12.0))
    if not gain_db.any():
        return
    mix *= bar_curve(10.0 ** (gain_db.reshape(-1) / 20.0), quarter, mix.shape[0], sr, 0.02)[:, None]


# -- master chain -------------------------------------------------------------------------

def random_master(rng: np.random.Generator, distortion: float) -> dict:
    """A randomised mix/master chain (:func:`..synthhouse.mastering.random_chain`), JSON-ready."""
    from ..synthhouse.mastering import random_chain

    return random_chain(rng, distortion=distortion)


def apply_master(x: np.ndarray, sr: int, chain: dict) -> np.ndarray:
    """Run a chain of :func:`random_master` (EQ, width, bus compressor, saturation, limiter)."""
    from ..synthhouse.mastering import apply_chain

    return apply_chain(x, sr, chain)


def ceiling(chain: dict) -> float:
    """The chain's output ceiling (linear peak)."""
    return float(10.0 ** (chain["limiter"]["ceiling_db"] / 20.0))
