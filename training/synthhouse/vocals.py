"""Vocal-like content: espeak-ng phrases and chops tuned to the key, or formant-synth lines.

A genre's ``vox`` draw (:func:`draw_vox`, stored in ``sound[genre]["vox"]``) has a style:

* ``phrase``: a sung-ish phrase (``espeak-ng`` speech, varispeed-tuned so its median pitch
  lands on a scale note), once every ``every`` bars;
* ``spoken``: an untuned spoken line (club "hype" or spoken-word), every ``every`` bars;
* ``chop``: syllables cut from a phrase and played on a 16th-note pattern, each one
  tuned to a chord tone of the current chord (the house "vocal chop");
* ``stab``: one syllable (a "hey" or "oh") on one to three steps of the bar;
* ``formant``: a sung vowel line from the formant synthesiser (:func:`.instruments.vocal`).

The texts are house clichés or generated nonsense words; the voice (language, variant),
speed and pitch are drawn. Without ``espeak-ng`` on the PATH the espeak styles are
rendered with the formant synthesiser instead, and the plan notes it. espeak-ng
(GPL-3+) is run as a program; its output is not covered by its licence.

espeak-ng renders each distinct (text, voice, speed, pitch) once per process (cache).
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
from functools import lru_cache

import numpy as np

from .arrangement import SynthError
from .dsp import fade_edges, fft_filter, to_stereo
from .effects import waveshape
from .samples import resample
from .theory import scale_note

#: The espeak-ng program; ``MAINSTAGE_ESPEAK`` names another one (an empty value turns the
#: espeak styles off: they fall back to the formant synthesiser, as without espeak-ng).
ESPEAK_ENV = "MAINSTAGE_ESPEAK"


def espeak_program() -> str:
    """The espeak-ng executable to run (``$MAINSTAGE_ESPEAK`` or ``espeak-ng``)."""
    return os.environ.get(ESPEAK_ENV, "espeak-ng")

#: Probability that a genre's tracks carry a vox part, and its style weights.
VOX_PROB = {
    "Progressive House": 0.4, "Future House": 0.45, "Bass House": 0.4, "Tech House": 0.45,
    "Deep House": 0.45, "Bigroom": 0.35, "Future Rave": 0.35, "Slap House": 0.55,
}
VOX_STYLES = {
    "Progressive House": {"phrase": 0.5, "formant": 0.3, "chop": 0.2},
    "Future House": {"chop": 0.45, "stab": 0.3, "phrase": 0.25},
    "Bass House": {"stab": 0.5, "spoken": 0.35, "chop": 0.15},
    "Tech House": {"spoken": 0.6, "stab": 0.4},
    "Deep House": {"phrase": 0.4, "spoken": 0.3, "formant": 0.3},
    "Bigroom": {"spoken": 0.5, "chop": 0.25, "stab": 0.25},
    "Future Rave": {"chop": 0.5, "phrase": 0.3, "stab": 0.2},
    "Slap House": {"phrase": 0.5, "chop": 0.3, "formant": 0.2},
}
LANGUAGES = ("en-us", "en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-scotland", "es", "fr-fr", "de", "it",
             "pt-br", "nl", "sv")
VARIANTS = ("f1", "f2", "f3", "f4", "f5", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "klatt2", "klatt3",
            "Annie", "steph", "linda", "Andrea", "croak", "whisperf")
CLICHES = (
    "feel the music", "move your body", "all night long", "let's go", "come on", "get down", "turn it up",
    "higher", "freedom", "dance with me", "oh yeah", "I need you", "so good", "don't stop", "feel it",
    "the night is young", "take me higher", "lose control", "together", "one more time", "can you feel it",
    "baby", "jump", "deeper", "in the club", "everybody", "right now", "hold on", "tonight", "shake it",
)
HYPE = ("put your hands up", "are you ready", "let's go", "make some noise", "jump", "everybody", "here we go",
        "bass", "drop it", "come on", "say yeah", "one two three")
_CONSONANTS = "bdgklmnprstvwyzh"
_VOWELS = ("a", "e", "i", "o", "u", "ay", "ee", "oo", "ai")


def _r(x: float, nd: int = 3) -> float:
    return float(round(float(x), nd))


def espeak_available() -> bool:
    """Whether the espeak-ng program (:func:`espeak_program`) is on the PATH."""
    prog = espeak_program()
    return bool(prog) and shutil.which(prog) is not None


def nonsense(rng: np.random.Generator) -> str:
    """2-4 invented words of 1-3 consonant-vowel syllables ("lo dayna mee")."""
    words = []
    for _ in range(int(rng.integers(2, 5))):
        sy = [str(rng.choice(list(_CONSONANTS))) + str(rng.choice(_VOWELS)) for _ in range(int(rng.integers(1, 4)))]
        w = "".join(sy)
        if rng.random() < 0.3:
            w += str(rng.choice(["n", "y", "h", "s"]))
        words.append(w)
    return " ".join(words)


def _steps(rng: np.random.Generator, k_range: tuple[int, int], pool: list[int]) -> list[int]:
    k = int(rng.integers(k_range[0], k_range[1] + 1))
    return sorted(int(s) for s in rng.choice(pool, size=min(k, len(pool)), replace=False))


def draw_vox(genre: str, traits: dict, rng: np.random.Generator, formant_voice: dict, melodic: list) -> dict | None:
    """Draw one genre's vox part (or None). Consumes the same amount of ``rng`` either way.

    ``formant_voice`` / ``melodic`` are a vocal voice and a melodic line drawn by the
    caller (profiles' voice and pattern functions), used by the ``formant`` style and as
    the fallback without espeak-ng.
    """
    present = rng.random() < VOX_PROB[genre]
    styles = VOX_STYLES[genre]
    names = sorted(styles)
    p = np.array([styles[k] for k in names])
    style = names[int(rng.choice(len(names), p=p / p.sum()))]
    lang = str(rng.choice(LANGUAGES))
    variant = str(rng.choice(VARIANTS[:-1] if style != "spoken" else VARIANTS))
    speed = int(rng.integers(110, 191))
    pitch = int(rng.integers(25, 81))
    n_texts = int(rng.integers(1, 4))
    texts = []
    for _ in range(n_texts):
        u = rng.random()
        pool = HYPE if style == "spoken" else CLICHES
        t = str(rng.choice(pool)) if u < 0.6 else nonsense(rng)
        texts.append(t)
    every = int(rng.choice([2, 4, 4, 8])) if style in ("phrase", "spoken") else int(rng.choice([1, 1, 2]))
    start = int(rng.choice([0, 0, 2, 4, 8, 12]))
    frag = float(traits.get("fragmentation", 3.0))
    if style == "chop":
        steps = _steps(rng, (3, 4 + int(frag)), [0, 2, 3, 4, 6, 7, 8, 10, 11, 12, 14, 15])
        pattern = [[s, int(rng.choice([1, 1, 2, 3])), int(rng.integers(0, 4)), int(rng.choice([0, 0, 2, 4, 7])),
                    _r(rng.uniform(0.7, 1.0))] for s in steps]
    elif style == "stab":
        steps = _steps(rng, (1, 3), [2, 3, 6, 7, 10, 11, 14])
        chunk = int(rng.integers(0, 3))
        pattern = [[s, int(rng.choice([1, 2])), chunk, 0, _r(rng.uniform(0.8, 1.0))] for s in steps]
    else:
        pattern = []
    vox = {
        "style": style,
        "engine": "espeak" if style != "formant" else "formant",
        "voice": f"{lang}+{variant}",
        "speed": speed,
        "pitch": pitch,
        "texts": texts,
        "every": every,
        "start_step": start,
        "pattern": pattern,
        "tune": style != "spoken",
        "degree": int(rng.choice([0, 0, 2, 4])),
        "reverse": bool(rng.random() < 0.2) if style in ("chop", "stab") else False,
        "gain_db": _r(rng.uniform(-4.0, 2.0) - (3.0 if style == "spoken" else 0.0), 2),
        "hp_hz": _r(rng.uniform(120.0, 400.0), 1),
        "lp_hz": _r(rng.uniform(3500.0, 12000.0), 0),
        "drive": _r(rng.uniform(1.0, 2.5), 3),
        "formant_voice": formant_voice,
        "melodic": melodic,
    }
    return vox if present else None


# ---------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------

@lru_cache(maxsize=64)
def speak(text: str, voice: str, speed: int, pitch: int, sr: int) -> np.ndarray:
    """espeak-ng rendering of ``text`` at ``sr`` (mono float64, voiced RMS 1, read-only).

    Runs ``espeak-ng --stdout -v VOICE -s SPEED -p PITCH -- TEXT`` and decodes its WAV.
    """
    import soundfile as sf

    cmd = [espeak_program(), "--stdout", "-v", voice, "-s", str(int(speed)), "-p", str(int(pitch)), "--", text]
    try:
        out = subprocess.run(cmd, capture_output=True, check=True, timeout=30).stdout
        x, sr0 = sf.read(io.BytesIO(out), dtype="float64")
    except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
        raise SynthError(f"espeak-ng failed for voice {voice!r}: {exc}") from None
    x = x if x.ndim == 1 else x.mean(axis=1)
    # Trim the silence espeak puts around the phrase.
    a = np.abs(x)
    peak = float(a.max()) if a.size else 0.0
    if peak <= 0:
        raise SynthError(f"espeak-ng produced silence for voice {voice!r}")
    on = np.flatnonzero(a > 0.02 * peak)
    x = x[max(0, on[0] - 40): on[-1] + 40]
    y = resample(x, int(sr0), int(sr))
    frames = y[: y.size // 512 * 512].reshape(-1, 512)
    e = np.sqrt(np.mean(frames ** 2, axis=1)) if frames.size else np.array([1.0])
    voiced = e[e > 0.3 * e.max()]
    y = y / (float(np.sqrt(np.mean(voiced ** 2))) or 1.0)
    y.setflags(write=False)
    return y


def f0_median(x: np.ndarray, sr: int, fmin: float = 70.0, fmax: float = 500.0) -> float:
    """Median fundamental (Hz) of the loud frames of a voice: autocorrelation peak per frame.

    40 ms frames every 10 ms, frames within 10 dB of the loudest; the autocorrelation
    comes from one batched FFT (Wiener-Khinchin), as in the classic pitch trackers.
    """
    n = int(0.04 * sr)
    hop = int(0.01 * sr)
    if x.size < n:
        return 200.0
    fr = np.lib.stride_tricks.sliding_window_view(x, n)[::hop] * np.hanning(n)
    e = np.sqrt(np.mean(fr ** 2, axis=1))
    fr = fr[e > 0.3 * e.max()]
    spec = np.fft.rfft(fr, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, 2 * n, axis=1)[:, :n]
    lo, hi = int(sr / fmax), min(n - 1, int(sr / fmin))
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    strength = ac[np.arange(ac.shape[0]), lag] / (ac[:, 0] + 1e-12)
    good = lag[strength > 0.3]
    if good.size == 0:
        return 200.0
    return float(sr / np.median(good))


def syllables(x: np.ndarray, sr: int, max_chunks: int = 6) -> list[tuple[int, int]]:
    """Cut a phrase into syllable-like chunks at the dips of its 10 ms energy envelope."""
    hop = int(0.01 * sr)
    m = x.size // hop
    if m < 4:
        return [(0, x.size)]
    e = np.sqrt(np.mean(x[: m * hop].reshape(m, hop) ** 2, axis=1))
    e = np.convolve(e, np.ones(3) / 3, mode="same")
    thr = 0.25 * e.max()
    on = e > thr
    edges = np.diff(np.concatenate([[0], on.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    chunks = [(int(a * hop), int(min(x.size, (b + 3) * hop))) for a, b in zip(starts, ends) if b - a >= 4]
    return chunks[:max_chunks] or [(0, x.size)]


def _nearest_scale_midi(f0: float, key_pc: int, scale: str, degree: int) -> float:
    """The note of ``scale`` on ``key_pc`` (degree offsets of ``degree``) nearest to ``f0``."""
    midi = 69.0 + 12.0 * np.log2(max(f0, 20.0) / 440.0)
    cands = [scale_note(12 * o + key_pc, scale, degree + k) for o in range(2, 7) for k in (0, 2, 4)]
    return float(min(cands, key=lambda c: abs(c - midi)))


def _tuned(x: np.ndarray, sr: int, target_midi: float | None, f0: float) -> np.ndarray:
    if target_midi is None:
        return np.asarray(x, dtype=np.float64)
    semis = target_midi - (69.0 + 12.0 * np.log2(f0 / 440.0))
    while semis > 7:
        semis -= 12
    while semis < -7:
        semis += 12
    ratio = 2.0 ** (semis / 12.0)
    # Varispeed (as a sampler transposes): ratio > 1 plays the clip higher and shorter.
    return resample(x, sr, sr / ratio)


def _finish(x: np.ndarray, vox: dict, sr: int, soft: bool) -> np.ndarray:
    """Vocal chain: high-pass, low-pass, drive; then centred stereo."""
    y = fft_filter(x, sr, lo=vox["hp_hz"], hi=min(vox["lp_hz"] if not soft else 1500.0, 0.45 * sr))
    if vox["drive"] > 1.05:
        peak = float(np.max(np.abs(y))) or 1.0
        y = waveshape(y / peak, vox["drive"]) * peak
    return to_stereo(y)


def render_unit(vox: dict, variant: str, bpm: float, sr: int, key_pc: int, scale: str, root_deg: int, cycle: int,
                step_time, formant_note) -> np.ndarray:
    """One bar of the vox part (stereo float64, ringing past the bar as phrases do).

    ``step_time(step, bpm)`` gives the (swung) offset of a 16th step; ``formant_note(midi,
    dur_s, vowel)`` renders a formant-synth note (the engine's cached note renderer).
    """
    bar_n = int(round(240.0 / bpm * sr))
    step_s = 15.0 / bpm
    soft = variant == "soft"
    events: list[tuple[int, np.ndarray, float]] = []
    if vox["engine"] == "formant":
        base = 12 * 6 + key_pc - 12
        lo, hi = base - 5, base + 14
        vowels = vox["formant_voice"].get("vowels") or ["a"]
        half = cycle % 2
        style = vox["style"]
        if style in ("chop", "stab"):
            rows = [(s, ln, dg, v) for s, ln, _, dg, v in vox["pattern"]]
        else:
            rows = [(s - 16 * half, ln, dg, v) for s, ln, dg, v in vox["melodic"] if 16 * half <= s < 16 * half + 16]
        for i, (s, ln, dg, v) in enumerate(rows):
            m = scale_note(base, scale, (root_deg if root_deg <= 4 else root_deg - 7) + int(dg))
            while m > hi:
                m -= 12
            while m < lo:
                m += 12
            note = 0.6 * formant_note(float(m), ln * step_s * 0.9, vowels[i % len(vowels)])
            events.append((int(round(step_time(s, bpm) * sr)), note[:, 0], float(v)))
    else:
        text = vox["texts"][cycle % len(vox["texts"])]
        clip = speak(text, vox["voice"], vox["speed"], vox["pitch"], sr)
        f0 = f0_median(clip, sr)
        if vox["style"] in ("phrase", "spoken"):
            target = _nearest_scale_midi(f0, key_pc, scale, vox["degree"]) if vox["tune"] else None
            x = _tuned(clip, sr, target, f0)
            events.append((int(round(step_time(vox["start_step"], bpm) * sr)), x, 1.0))
        else:
            chunks = syllables(clip, sr)
            for s, ln, ci, dg, v in vox["pattern"]:
                a, b = chunks[int(ci) % len(chunks)]
                piece = clip[a:b]
                pf0 = f0_median(piece, sr) if piece.size > 0.05 * sr else f0
                target = scale_note(12 * 5 + key_pc, scale, (root_deg if root_deg <= 4 else root_deg - 7) + int(dg))
                x = _tuned(piece, sr, float(target), pf0)
                gate = int(ln * step_s * sr)
                x = np.array(x[:max(gate, int(0.03 * sr))])
                if vox["reverse"]:
                    x = x[::-1].copy()
                fade_edges(x, sr, 0.003, 0.012)
                events.append((int(round(step_time(s, bpm) * sr)), x, float(v)))
    end = max([bar_n] + [o + a.shape[0] for o, a, _ in events])
    buf = np.zeros(end)
    for o, a, g in events:
        buf[o:o + a.shape[0]] += g * a
    return _finish(buf, vox, sr, soft)
