"""SynthHouse instruments: drum one-shots, melodic and bass voices, build-up effects.

Every voice is a function ``voice(p, midi, dur_s, sr, rng) -> (n, 2) float64`` where
``p`` is the voice's parameter dict (drawn per genre in :mod:`.profiles`) and the
note rings on past ``dur_s`` for its release. Drum one-shots are ``drum(p, sr, rng)``.
Outputs peak around 1 before mixing.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from .dsp import (TABLE_SIZE, adsr, exp_decay, fade_edges, fft_filter, log_bell, n_harmonics, noise_slice, osc, pan_gains,
                  phase_of, seconds, shaped_noise, to_stereo, wavetable_bank, wavetable_read, white)
from .effects import waveshape
from .theory import midi_to_hz


def _len(dur_s: float, release_s: float, sr: int) -> int:
    return int((dur_s + release_s) * sr) + 1


def _amp_env(p: dict, dur_s: float, n: int, sr: int) -> np.ndarray:
    return adsr(n, sr, p.get("attack", 0.003), p.get("decay", 0.3), p.get("sustain", 0.7), p.get("release", 0.1), dur_s)


def _drive(x: np.ndarray, drive: float) -> np.ndarray:
    """Waveshaper (:func:`.effects.waveshape`) applied relative to the peak, which it keeps."""
    if drive <= 1.05:
        return x
    peak = float(np.max(np.abs(x))) or 1.0
    return waveshape(x / peak, drive) * peak


def _spread(n_voices: int, cents: float) -> np.ndarray:
    if n_voices == 1:
        return np.zeros(1)
    return np.linspace(-cents, cents, n_voices)


def _stack(kind: str, f0: float, n: int, sr: int, voices: int, detune: float, width: float, cutoff,
           rng: np.random.Generator, pw: float = 0.5, resonance: float = 0.0) -> np.ndarray:
    """Detuned unison of one waveform, spread across the stereo field."""
    out = np.zeros((n, 2))
    for i, c in enumerate(_spread(voices, detune)):
        f = f0 * 2.0 ** (c / 1200.0)
        x = osc(kind, f, n, sr, cutoff_hz=cutoff, phase0=float(rng.random()), pw=pw, resonance=resonance)
        pan = 0.0 if voices == 1 else width * (-1.0 + 2.0 * i / (voices - 1))
        lg, rg = pan_gains(pan)
        out[:, 0] += x * lg
        out[:, 1] += x * rg
    return out * (np.sqrt(2.0) / np.sqrt(voices))


# ---------------------------------------------------------------------------
# Drums
# ---------------------------------------------------------------------------

def kick(p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Kick drum: sine body with an exponential pitch drop, a click and a waveshaper.

    ``p``: ``pitch_hz`` (body), ``start_hz``, ``pitch_decay`` (s), ``decay`` (s),
    ``hold`` (s), ``click`` (0..1), ``drive``.
    """
    decay = p["decay"]  # length of the body after the hold (s)
    hold = p.get("hold", 0.02)
    n = int((hold + decay) * sr)
    t = seconds(n, sr)
    f = p["pitch_hz"] + (p["start_hz"] - p["pitch_hz"]) * np.exp(-t / p["pitch_decay"])
    body = np.sin(2 * np.pi * phase_of(f, n, sr)) * exp_decay(n, sr, decay / 3.5, hold)
    click = fft_filter(white(rng, n), sr, lo=1500, hi=9000) * exp_decay(n, sr, 0.004) * 0.35
    tok = np.sin(2 * np.pi * p.get("tok_hz", 1200) * t) * exp_decay(n, sr, 0.006) * 0.4
    x = body + p.get("click", 0.3) * (click + tok)
    x = _drive(x, p.get("drive", 1.0))
    x /= np.max(np.abs(x))
    return to_stereo(fade_edges(x, sr, 0.0005, 0.03))


def clap(p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Hand clap: a few 1 kHz-ish noise bursts ~10 ms apart and a short room tail."""
    n = int((0.04 + p.get("tail", 0.12) * 5) * sr)
    t = seconds(n, sr)
    env = np.zeros(n)
    gap = p.get("spread", 0.010)
    for i in range(p.get("bursts", 4)):
        on = t >= i * gap
        env += on * np.exp(-np.maximum(t - i * gap, 0) / 0.0045) * (0.8 + 0.2 * (i == p.get("bursts", 4) - 1))
    env += (t >= 3 * gap) * 0.45 * np.exp(-np.maximum(t - 3 * gap, 0) / p.get("tail", 0.12))
    x = white(rng, n, 2)
    x = fft_filter(x, sr, lo=p.get("lo", 700), hi=p.get("hi", 5000), order=2, peak_hz=p.get("tone", 1300), peak_gain=1.5)
    x *= env[:, None]
    return fade_edges(x / np.max(np.abs(x)), sr, 0.0002, 0.01)


def snare(p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Snare: pitched body (180-240 Hz) plus high-passed noise with its own decay."""
    n = int((p.get("noise_decay", 0.15) * 5) * sr)
    t = seconds(n, sr)
    f = p.get("tone_hz", 200) * (1 + 0.5 * np.exp(-t / 0.01))
    body = np.sin(2 * np.pi * phase_of(f, n, sr)) * exp_decay(n, sr, p.get("body_decay", 0.05))
    noise = fft_filter(white(rng, n, 2), sr, lo=p.get("noise_lo", 1800), hi=12000) * exp_decay(n, sr, p.get("noise_decay", 0.15))[:, None]
    x = 0.8 * body[:, None] + p.get("snappy", 0.8) * noise / np.max(np.abs(noise))
    x = _drive(x, p.get("drive", 1.0))
    return fade_edges(x / np.max(np.abs(x)), sr, 0.0002, 0.01)


_HAT_RATIOS = np.array([1.0, 1.4471, 1.6170, 1.9265, 2.5028, 2.6637])


def hat(p: dict, sr: int, rng: np.random.Generator, open_: bool = False) -> np.ndarray:
    """Hi-hat: six inharmonic square waves (the 808 recipe) mixed with noise, high-passed."""
    decay = p.get("open_decay", 0.25) if open_ else p.get("decay", 0.04)
    n = int((decay * 5 + 0.01) * sr)
    t = seconds(n, sr)
    metal = np.sign(np.sin(2 * np.pi * np.outer(t, p.get("base_hz", 330) * _HAT_RATIOS))).sum(axis=1) / 6.0
    m = p.get("metal", 0.5)
    x = m * metal[:, None] + (1 - m) * white(rng, n, 2)
    x = fft_filter(x, sr, lo=p.get("lo", 7000), hi=p.get("hi", 16000), order=3)
    x *= exp_decay(n, sr, decay)[:, None]
    return fade_edges(x / np.max(np.abs(x)), sr, 0.0003, 0.005)


def shaker(p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Shaker: band-passed noise with a soft (5-10 ms) attack."""
    n = int(0.16 * sr)
    env = adsr(n, sr, p.get("attack", 0.008), 0.04, 0.0, 0.05, 0.03)
    x = fft_filter(white(rng, n, 2), sr, lo=p.get("lo", 4500), hi=p.get("hi", 11000), order=2) * env[:, None]
    return x / np.max(np.abs(x))


def ride(p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Ride cymbal: denser inharmonic partials, long decay."""
    n = int(0.9 * sr)
    t = seconds(n, sr)
    freqs = p.get("base_hz", 520) * np.array([1.0, 1.51, 2.33, 2.87, 3.41, 4.07, 5.2, 6.1])
    metal = np.sin(2 * np.pi * np.outer(t, freqs) + rng.uniform(0, 6.28, freqs.size)).sum(axis=1)
    x = 0.5 * metal[:, None] / freqs.size + 0.5 * white(rng, n, 2)
    x = fft_filter(x, sr, lo=3500, hi=14000) * (exp_decay(n, sr, 0.18) * 0.7 + 0.3 * exp_decay(n, sr, 0.012))[:, None]
    return fade_edges(x / np.max(np.abs(x)), sr, 0.0003, 0.02)


def perc(p: dict, sr: int, rng: np.random.Generator, variant: int = 0) -> np.ndarray:
    """Tuned percussion (conga / rim / tom), the organic layer of club grooves."""
    kind = p.get("kind", "conga")
    if kind == "rim":
        n = int(0.08 * sr)
        t = seconds(n, sr)
        f = p.get("tone_hz", 1700) * (1 + 0.15 * variant)
        x = (np.sin(2 * np.pi * f * t) + 0.6 * np.sin(2 * np.pi * f * 0.31 * t)) * exp_decay(n, sr, 0.012)
        x = x + 0.3 * fft_filter(white(rng, n), sr, lo=2000, hi=8000) * exp_decay(n, sr, 0.004)
    else:
        n = int(0.35 * sr)
        t = seconds(n, sr)
        f0 = p.get("tone_hz", 300) * (1.0, 1.5, 0.75)[variant % 3]
        f = f0 * (1 + 0.6 * np.exp(-t / 0.006))
        x = np.sin(2 * np.pi * phase_of(f, n, sr)) * exp_decay(n, sr, p.get("decay", 0.09))
        x = x + 0.2 * fft_filter(white(rng, n), sr, lo=800, hi=6000) * exp_decay(n, sr, 0.003)
    x = to_stereo(x / np.max(np.abs(x)), p.get("pan", 0.0) * (1 if variant % 2 else -1))
    return fade_edges(x, sr, 0.0002, 0.005)


def crash(p: dict, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Crash cymbal with a sub "impact" boom underneath (drop starts)."""
    n = int(p.get("decay", 1.8) * 2.2 * sr)
    t = seconds(n, sr)
    freqs = 400.0 * np.array([1.0, 1.37, 1.93, 2.41, 3.11, 3.87, 4.63, 5.9, 7.3])
    metal = np.sin(2 * np.pi * np.outer(t, freqs) + rng.uniform(0, 6.28, freqs.size)).sum(axis=1) / freqs.size
    x = fft_filter(0.35 * metal[:, None] + white(rng, n, 2), sr, lo=2500, hi=15000) * exp_decay(n, sr, p.get("decay", 1.8) / 2.5)[:, None]
    x /= np.max(np.abs(x))
    boom_n = int(1.2 * sr)
    tb = seconds(boom_n, sr)
    boom = np.sin(2 * np.pi * phase_of(30 + 50 * np.exp(-tb / 0.15), boom_n, sr)) * exp_decay(boom_n, sr, 0.35)
    x[:boom_n] += p.get("impact", 0.6) * boom[:, None]
    return fade_edges(x, sr, 0.0003, 0.05)


# ---------------------------------------------------------------------------
# Build-up effects (section-long)
# ---------------------------------------------------------------------------

#: Centre frequencies of the band-noise loops that risers and downlifters sweep across.
SWEEP_BANDS = np.geomspace(250.0, 12000.0, 9)


def _band_sweep(rng: np.random.Generator, n: int, sr: int, centre: np.ndarray) -> np.ndarray:
    """Stereo noise whose band follows ``centre`` (Hz per sample).

    A sum of cached band-passed noise loops (about 2/3 octave apart) cross-faded by
    their distance to the moving centre: a time-varying band-pass for the cost of a
    few multiply-adds per sample (no STFT, no IIR loop).
    """
    # Band weights change slowly: compute them every 256 samples and interpolate.
    coarse = np.arange(0, n + 256, 256)
    lc = np.log2(np.maximum(np.interp(coarse, np.arange(n), centre), 1.0))
    weights = np.exp(-0.5 * ((lc[None, :] - np.log2(SWEEP_BANDS)[:, None]) / 0.45) ** 2)
    weights /= np.sqrt(np.sum(weights ** 2, axis=0, keepdims=True)) + 1e-12
    out = np.zeros((n, 2))
    for fc, w in zip(SWEEP_BANDS, weights):
        active = np.flatnonzero(w > 1e-3)
        if active.size == 0:
            continue
        a = int(coarse[max(active[0] - 1, 0)])
        b = min(n, int(coarse[min(active[-1] + 1, coarse.size - 1)]))
        if b <= a:
            continue
        gain = np.interp(np.arange(a, b), coarse, w)
        out[a:b] += noise_slice(rng, b - a, sr, float(fc) / 1.35, float(fc) * 1.35) * gain[:, None]
    return out


def riser(p: dict, dur_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """White-noise riser: a band-pass sweeping up and a swelling level over ``dur_s``.

    With ``p["pitch"]`` a detuned saw also glides up two octaves (the classic build).
    """
    n = int(dur_s * sr)
    f_lo, f_hi = p.get("f_lo", 400.0), p.get("f_hi", 9000.0)
    u = np.linspace(0, 1, n)
    x = _band_sweep(rng, n, sr, f_lo * (f_hi / f_lo) ** u)
    swell = u ** p.get("curve", 2.0)
    x *= swell[:, None] / (np.max(np.abs(x)) or 1)
    if p.get("pitch", 0.0) > 0:
        f = midi_to_hz(p.get("midi", 48)) * 2.0 ** (2.0 * u ** 1.5)
        saw = 0.5 * (osc("saw", f, n, sr, cutoff_hz=5000.0) + osc("saw", f * 1.006, n, sr, cutoff_hz=5000.0))
        x += p["pitch"] * (swell * saw)[:, None] * np.array([0.9, 1.1])
    return fade_edges(x, sr, 0.01, 0.003)


def downlifter(p: dict, dur_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Falling noise sweep that fades out (after a drop hits or a breakdown starts)."""
    n = int(dur_s * sr)
    u = np.linspace(0, 1, n)
    top = p.get("top", 8000.0)
    x = _band_sweep(rng, n, sr, top * (300.0 / top) ** u)
    x *= ((1 - u) ** 2)[:, None] / (np.max(np.abs(x)) or 1)
    return fade_edges(x, sr, 0.005, 0.01)


def atmos(p: dict, midi: float, dur_s: float, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Drone pad for breakdowns of chord-less genres: filtered noise and a soft root/fifth."""
    n = int((dur_s + 0.5) * sr)
    f0 = float(midi_to_hz(midi))

    def mag(times, freqs):
        w = 1.0 + 0.3 * np.sin(2 * np.pi * 0.15 * times)[:, None]
        return log_bell(freqs, p.get("noise_hz", 1500) * w, 1.3)

    noise = shaped_noise(rng, n, sr, mag, channels=2)
    tone = osc("triangle", f0, n, sr) + 0.5 * osc("triangle", f0 * 1.5, n, sr)
    x = p.get("noise", 0.4) * noise / (np.max(np.abs(noise)) or 1) + 0.5 * tone[:, None]
    # The drone changes with the chord on the bar line: a short swell and release, so the
    # old root does not ring a beat into the next bar while the new one fades in.
    env = adsr(n, sr, min(0.3, dur_s / 6), 1.0, 1.0, 0.3, dur_s)
    return x * env[:, None]


# ---------------------------------------------------------------------------
# Melodic voices
# ---------------------------------------------------------------------------

def _filter_env(p: dict, f0: float, n: int, sr: int, bright: float) -> np.ndarray:
    t = seconds(n, sr)
    base = p.get("cutoff", 2000.0) * bright
    amt = p.get("env_amt", 3000.0) * bright
    return np.minimum(base + amt * np.exp(-t / p.get("env_decay", 0.2)), 0.45 * sr)


def supersaw(p, midi, dur_s, sr, rng, bright=1.0):
    """Detuned saw unison (5-9 voices) with a low-pass envelope: trance/progressive leads and pads."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.2), sr)
    x = _stack("saw", f0, n, sr, p.get("voices", 7), p.get("detune", 25), p.get("width", 0.8),
               _filter_env(p, f0, n, sr, bright), rng)
    return _drive(x * _amp_env(p, dur_s, n, sr)[:, None], p.get("drive", 1.0))


def square_lead(p, midi, dur_s, sr, rng, bright=1.0):
    """Pulse/square lead with a downward pitch flick at the note start (future-house hook)."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.1), sr)
    t = seconds(n, sr)
    f = f0 * 2.0 ** (p.get("bend", 2.0) * np.exp(-t / p.get("bend_time", 0.03)) / 12.0)
    cut = _filter_env(p, f0, n, sr, bright)
    x = np.zeros((n, 2))
    for i, c in enumerate((-p.get("detune", 8), p.get("detune", 8))):
        v = osc("pulse", f * 2 ** (c / 1200), n, sr, cutoff_hz=cut, phase0=float(rng.random()), pw=p.get("pw", 0.5),
                resonance=p.get("resonance", 0.5))
        x[:, i] = v
    return _drive(x * _amp_env(p, dur_s, n, sr)[:, None], p.get("drive", 1.0))


def fm_lead(p, midi, dur_s, sr, rng, bright=1.0):
    """Two-operator FM voice with a decaying index: metallic, "unusual" synth timbres."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.12), sr)
    t = seconds(n, sr)
    idx = bright * (p.get("index_end", 0.8) + (p.get("index", 4.0) - p.get("index_end", 0.8)) * np.exp(-t / p.get("index_decay", 0.12)))
    x = np.zeros((n, 2))
    for ch, c in enumerate((-6.0, 6.0)):
        f = f0 * 2 ** (c / 1200)
        mod = np.sin(2 * np.pi * f * p.get("ratio", 2.0) * t + rng.random() * 6.28)
        x[:, ch] = np.sin(2 * np.pi * f * t + idx * mod)
    return _drive(x * _amp_env(p, dur_s, n, sr)[:, None], p.get("drive", 1.0))


def pluck(p, midi, dur_s, sr, rng, bright=1.0):
    """Saw/pulse pluck: the filter closes within ~100 ms, the level decays."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.25), sr)
    t = seconds(n, sr)
    cut = np.minimum(f0 * (1.5 + p.get("env_amt", 30.0) * bright * np.exp(-t / p.get("env_decay", 0.08))), 0.45 * sr)
    x = _stack(p.get("wave", "saw"), f0, n, sr, 2, p.get("detune", 10), 0.6, cut, rng, pw=0.35)
    env = exp_decay(n, sr, p.get("decay", 0.35)) * adsr(n, sr, p.get("attack", 0.001), 1.0, 1.0, p.get("release", 0.25), dur_s)
    return _drive(x * env[:, None], p.get("drive", 1.0))


def piano(p, midi, dur_s, sr, rng, bright=1.0):
    """Piano / electric piano: slightly inharmonic partials with per-partial decays.

    ``p["tine"] > 0`` adds a decaying FM tine (Rhodes-like electric piano).
    """
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.3), sr)
    t = seconds(n, sr)
    k = np.arange(1, 8, dtype=np.float64)
    k = k[k * f0 < 0.4 * sr]
    fk = k * f0 * np.sqrt(1 + p.get("inharm", 0.0004) * k ** 2)
    amp = (1.0 / k ** p.get("rolloff", 1.3)) * bright ** (k - 1)
    tau = p.get("decay", 1.2) * (261.6 / max(f0, 50)) ** 0.35 / (1 + 0.5 * (k - 1))
    # float32 partial bank: half the cost of float64 sines, plenty of precision here.
    t32 = t.astype(np.float32)
    arg = np.outer(t32, (2 * np.pi * fk).astype(np.float32)) + rng.uniform(0, 6.28, k.size).astype(np.float32)
    part = np.sin(arg) * np.exp(-np.outer(t32, (1.0 / tau).astype(np.float32)))
    x = (part @ amp.astype(np.float32)).astype(np.float64)
    if p.get("tine", 0.0) > 0:
        x += p["tine"] * np.sin(2 * np.pi * f0 * t + 2.5 * np.exp(-t / 0.15) * np.sin(2 * np.pi * f0 * 14 * t)) * np.exp(-t / 0.6)
    hammer = fft_filter(white(rng, min(n, int(0.02 * sr))), sr, lo=1000, hi=6000) * 0.08
    x[:hammer.size] += hammer * exp_decay(hammer.size, sr, 0.004)
    rel = adsr(n, sr, 0.002, 1.0, 1.0, p.get("release", 0.3), dur_s)
    x = x * rel / (np.max(np.abs(x)) or 1)
    out = np.stack([x, np.roll(x, int(0.0004 * sr))], axis=1)  # tiny inter-channel delay: width
    return out


def strings(p, midi, dur_s, sr, rng, bright=1.0):
    """String ensemble: gently detuned saws, slow attack, vibrato, bow noise."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.4), sr)
    t = seconds(n, sr)
    x = np.zeros((n, 2))
    voices = p.get("voices", 4)
    # One vibrato LFO per note; voices sit on opposite sides of it (ensemble width).
    lfo = np.sin(2 * np.pi * 5.0 * t + rng.random() * 6.28) * (p.get("vibrato", 10) / 1200 * np.log(2))
    for i, c in enumerate(_spread(voices, p.get("detune", 9))):
        f = f0 * 2 ** (c / 1200) * (1.0 + (lfo if i % 2 else -lfo))
        v = osc("saw", f, n, sr, cutoff_hz=p.get("cutoff", 3000) * bright, phase0=float(rng.random()))
        x[:, i % 2] += v
    bow = noise_slice(rng, n, sr, 2000.0, 7000.0) * 0.01
    x = (x / np.sqrt(voices) + bow) * _amp_env(p, dur_s, n, sr)[:, None]
    return x


def organ(p, midi, dur_s, sr, rng, bright=1.0):
    """Drawbar organ: sine harmonics at 1/2, 1, 2, 3, 4, 6, 8 x f0, key click, tremolo."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.08), sr)
    t = seconds(n, sr)
    ratios = np.array([0.5, 1, 1.5, 2, 3, 4, 6, 8])
    bars = np.asarray(p.get("drawbars", [0.6, 1.0, 0.3, 0.7, 0.4, 0.3, 0.15, 0.1]), dtype=np.float64)
    keep = ratios * f0 < 0.4 * sr
    w = bars[keep] * bright ** np.arange(keep.sum())
    x = np.sin(2 * np.pi * np.outer(t, f0 * ratios[keep])) @ w
    x += p.get("perc", 0.5) * np.sin(2 * np.pi * 3 * f0 * t) * exp_decay(n, sr, 0.08)
    x /= np.max(np.abs(x)) or 1
    x = x * _amp_env(p, dur_s, n, sr)
    trem = 0.5 * np.sin(2 * np.pi * p.get("tremolo", 5.5) * t)
    return np.stack([x * (1 + 0.15 * trem), x * (1 - 0.15 * trem)], axis=1)


def horn(p, midi, dur_s, sr, rng, bright=1.0):
    """Big-room "horn" lead: saw + square stack, brassy filter blip, very short attack, driven."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.06), sr)
    t = seconds(n, sr)
    f = f0 * 2.0 ** (p.get("blip", 1.0) * np.exp(-t / 0.015) / 12.0)
    cut = np.minimum((f0 * 3 + p.get("env_amt", 6000.0) * np.exp(-t / p.get("env_decay", 0.15)) + p.get("cutoff", 1500)) * bright, 0.45 * sr)
    saws = _stack("saw", f0, n, sr, p.get("voices", 5), p.get("detune", 18), 0.7, cut, rng)
    sq = osc("square", f * 0.5, n, sr, cutoff_hz=cut)
    x = saws + p.get("sub_square", 0.6) * sq[:, None]
    x *= _amp_env(p, dur_s, n, sr)[:, None]
    return _drive(x, p.get("drive", 4.0))


def rave(p, midi, dur_s, sr, rng, bright=1.0):
    """Buzzy future-rave lead: PWM pulse (difference of two saws), hard clip, bit reduction."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.12), sr)
    t = seconds(n, sr)
    bank = wavetable_bank("saw", n_harmonics(f0 * 1.02, sr))
    x = np.zeros((n, 2))
    for ch, c in enumerate((-p.get("detune", 12), p.get("detune", 12))):
        ph = phase_of(f0 * 2 ** (c / 1200), n, sr, float(rng.random()))
        pw = 0.3 + p.get("pwm", 0.15) * np.sin(2 * np.pi * p.get("pwm_rate", 3.0) * t + ch)
        cut = min(p.get("cutoff", 4000) * bright, 0.45 * sr) / f0
        x[:, ch] = wavetable_read(bank, ph, cut) - wavetable_read(bank, ph + pw, cut)
    x = np.clip(x * p.get("clip", 2.0), -1, 1)
    levels = 2 ** p.get("bits", 6)
    x = np.round(x * levels) / levels
    x = fft_filter(x, sr, hi=min(p.get("cutoff", 4000) * 2.5 * bright, 18000.0), order=2)
    return x * _amp_env(p, dur_s, n, sr)[:, None]


VOWELS = {
    "a": ((800, 80), (1150, 90), (2900, 120)),
    "e": ((400, 70), (1700, 100), (2600, 120)),
    "i": ((300, 60), (2300, 100), (3000, 120)),
    "o": ((450, 70), (800, 80), (2830, 100)),
    "u": ((350, 65), (600, 80), (2700, 100)),
}


@lru_cache(maxsize=512)
def _formant_table(f0_q: float, vowel: str, shift: float, sr: int) -> tuple[np.ndarray, np.ndarray]:
    """One-level wavetable bank: a glottal (saw) source through three vowel formants."""
    kmax = max(1, min(TABLE_SIZE // 2 - 1, int(0.45 * sr / f0_q)))
    k = np.arange(1, kmax + 1, dtype=np.float64)
    fk = k * f0_q
    env = np.zeros_like(fk)
    for i, (fc, bw) in enumerate(VOWELS[vowel]):
        env += (1.0, 0.5, 0.25)[i] / (1 + ((fk - fc * shift) / (bw * shift * 1.5)) ** 2)
    spec = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    spec[1:kmax + 1] = -0.5j * TABLE_SIZE * (1.0 / k) * (env + 0.02)
    tab = np.fft.irfft(spec, TABLE_SIZE)
    tab = tab / (np.max(np.abs(tab)) or 1)
    tab = np.concatenate([tab, tab[:1]])
    tables = np.stack([tab, tab])
    return tables, np.array([1.0, 2.0])


def vocal(p, midi, dur_s, sr, rng, bright=1.0, vowel: str = "a"):
    """Sung-vowel hook: formant synthesis with a pitch scoop, delayed vibrato and breath."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.09), sr)
    t = seconds(n, sr)
    scoop = -p.get("scoop", 0.8) * np.exp(-t / 0.05)
    vib = p.get("vibrato", 30) / 100.0 * np.clip((t - 0.15) / 0.2, 0, 1) * np.sin(2 * np.pi * 5.5 * t)
    x = np.zeros((n, 2))
    bank = _formant_table(round(f0, 1), vowel, round(p.get("shift", 1.1), 2), sr)
    for ch, c in enumerate((-5.0, 5.0)):
        f = f0 * 2.0 ** ((scoop + vib + c / 100.0) / 12.0)
        x[:, ch] = wavetable_read(bank, phase_of(f, n, sr, float(rng.random())), 1.0)
    breath = noise_slice(rng, n, sr, 2500.0, 8000.0) * (p.get("breath", 0.06) * 0.3)
    x = (x + breath) * _amp_env(p, dur_s, n, sr)[:, None]
    if bright < 0.999:
        x = fft_filter(x, sr, hi=600 + 8000 * bright)
    return _drive(x, p.get("drive", 1.0))


def pad(p, midi, dur_s, sr, rng, bright=1.0):
    """Warm pad: detuned saw/triangle voices, low-passed with a slow wobble, slow attack."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.8), sr)
    t = seconds(n, sr)
    cut = p.get("cutoff", 1200) * bright * (1 + 0.25 * np.sin(2 * np.pi * p.get("lfo", 0.25) * t + rng.random() * 6.28))
    x = _stack(p.get("wave", "saw"), f0, n, sr, p.get("voices", 4), p.get("detune", 12), 0.9, cut, rng)
    return x * _amp_env(p, dur_s, n, sr)[:, None]


def stab(p, midi, dur_s, sr, rng, bright=1.0):
    """House chord stab: saw + square through a snappy filter envelope."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.08), sr)
    cut = _filter_env(p, f0, n, sr, bright)
    x = _stack("saw", f0, n, sr, 3, p.get("detune", 10), 0.5, cut, rng) + 0.5 * osc("square", f0, n, sr, cutoff_hz=cut)[:, None]
    return _drive(x * _amp_env(p, dur_s, n, sr)[:, None], p.get("drive", 1.0))


# ---------------------------------------------------------------------------
# Bass voices
# ---------------------------------------------------------------------------

def _sub(f0: float, n: int, sr: int) -> np.ndarray:
    return np.sin(2 * np.pi * f0 * seconds(n, sr))


def bass_saw(p, midi, dur_s, sr, rng, bright=1.0):
    """Progressive off-beat bass: filtered saw with a short envelope plus a sine sub."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.05), sr)
    t = seconds(n, sr)
    cut = np.minimum(f0 * (2.0 + p.get("env_amt", 8.0) * bright * np.exp(-t / p.get("env_decay", 0.06))), 0.45 * sr)
    x = osc("saw", f0, n, sr, cutoff_hz=cut, resonance=p.get("resonance", 0.8)) + p.get("sub", 0.6) * _sub(f0, n, sr)
    x = _drive(x * _amp_env(p, dur_s, n, sr), p.get("drive", 1.0))
    return to_stereo(x)


def rolling(p, midi, dur_s, sr, rng, bright=1.0):
    """Tech-house rolling bass: deep sine/triangle with a tiny filter blip, lightly saturated."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.04), sr)
    t = seconds(n, sr)
    cut = f0 * (1.5 + p.get("env_amt", 6.0) * bright * np.exp(-t / p.get("env_decay", 0.03)))
    x = _sub(f0, n, sr) + p.get("tri", 0.4) * osc("triangle", f0, n, sr) + p.get("saw", 0.3) * osc("saw", f0, n, sr, cutoff_hz=cut)
    x = _drive(x * _amp_env(p, dur_s, n, sr), p.get("drive", 1.5))
    return to_stereo(x)


def reese(p, midi, dur_s, sr, rng, bright=1.0):
    """Reese bass: two or three detuned saws beating against each other, low-passed, plus sub."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.12), sr)
    t = seconds(n, sr)
    cut = p.get("cutoff", 450.0) * bright * (1 + 0.35 * np.sin(2 * np.pi * p.get("lfo", 0.3) * t + rng.random() * 6.28))
    x = _stack("saw", f0, n, sr, p.get("voices", 3), p.get("detune", 18), 0.5, cut, rng)
    x += p.get("sub", 0.7) * _sub(f0, n, sr)[:, None]
    return _drive(x * _amp_env(p, dur_s, n, sr)[:, None], p.get("drive", 1.2))


def growl(p, midi, dur_s, sr, rng, bright=1.0):
    """Bass-house growl: resonant saw whose filter "talks" (wow LFO), pitch yoy, heavy drive, noise."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.05), sr)
    t = seconds(n, sr)
    f = f0 * 2.0 ** (-p.get("yoy", 5.0) * np.exp(-t / 0.04) / 12.0)
    lo, hi = p.get("r_lo", 2.0), p.get("r_hi", 18.0) * bright
    wob = 0.5 - 0.5 * np.cos(2 * np.pi * p.get("wow_rate", 6.0) * t + p.get("wow_phase", 0.0))
    cut = f0 * lo * (max(hi, lo * 1.01) / lo) ** wob
    x = osc("saw", f, n, sr, cutoff_hz=np.minimum(cut, 0.45 * sr), resonance=p.get("resonance", 3.0))
    x += p.get("fm", 0.4) * osc("square", f * 0.5, n, sr, cutoff_hz=np.minimum(cut * 0.7, 0.45 * sr))
    x = x / (np.max(np.abs(x)) or 1)
    x = np.sin(p.get("fold", 2.0) * np.pi * 0.5 * x)  # wavefolder: dense, noisy partials
    x = _drive(x, p.get("drive", 6.0))
    noise = noise_slice(rng, n, sr, 1500.0, 9000.0)[:, 0] * (p.get("noise", 0.15) * 0.3) * wob
    x = (x + noise + p.get("sub", 0.6) * _sub(f0, n, sr)) * _amp_env(p, dur_s, n, sr)
    out = to_stereo(x)
    out[:, 1] = np.roll(out[:, 1], int(0.0007 * sr))
    return out


def bounce(p, midi, dur_s, sr, rng, bright=1.0):
    """Future-house bass: pitch-diving, resonant "bwip" with metallic FM, made for pumping."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.05), sr)
    t = seconds(n, sr)
    f = f0 * 2.0 ** (p.get("dive", 12.0) * np.exp(-t / p.get("dive_time", 0.025)) / 12.0)
    cut = np.minimum(f0 * (2.0 + p.get("env_amt", 20.0) * bright * np.exp(-t / p.get("env_decay", 0.07))), 0.45 * sr)
    x = osc("pulse", f, n, sr, cutoff_hz=cut, pw=p.get("pw", 0.4), resonance=p.get("resonance", 1.5))
    x += p.get("metal", 0.3) * np.sin(2 * np.pi * phase_of(f, n, sr) + 2.0 * np.sin(2 * np.pi * phase_of(f * p.get("ratio", 3.5), n, sr)))
    x += p.get("sub", 0.5) * _sub(f0, n, sr)
    x = _drive(x * _amp_env(p, dur_s, n, sr), p.get("drive", 2.5))
    return to_stereo(x)


def pulse_bass(p, midi, dur_s, sr, rng, bright=1.0):
    """Future-rave bass: detuned saw/square, moderate attack, pulsating amplitude."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.08), sr)
    t = seconds(n, sr)
    cut = np.minimum(p.get("cutoff", 900.0) * bright * (1 + 0.8 * np.exp(-t / 0.1)), 0.45 * sr)
    x = _stack("saw", f0, n, sr, 2, p.get("detune", 10), 0.4, cut, rng) + 0.6 * osc("square", f0 * 0.5, n, sr, cutoff_hz=cut * 0.6)[:, None]
    trem = 1 - p.get("trem", 0.3) * (0.5 + 0.5 * np.cos(2 * np.pi * p.get("trem_rate", 8.0) * t))
    x = x * (_amp_env(p, dur_s, n, sr) * trem)[:, None] + p.get("sub", 0.5) * (_sub(f0, n, sr) * _amp_env(p, dur_s, n, sr))[:, None]
    return _drive(x, p.get("drive", 2.0))


def slap(p, midi, dur_s, sr, rng, bright=1.0):
    """Slap-house bass: bright pluck with a snapping transient and an octave layer in the mids."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.06), sr)
    t = seconds(n, sr)
    cut = np.minimum(f0 * (2.5 + p.get("env_amt", 25.0) * bright * np.exp(-t / p.get("env_decay", 0.06))), 0.45 * sr)
    x = osc("saw", f0, n, sr, cutoff_hz=cut, resonance=0.8) + p.get("octave", 0.5) * osc("pulse", 2 * f0, n, sr, cutoff_hz=cut, pw=0.3)
    x += 0.6 * _sub(f0, n, sr)
    snap_n = min(n, int(0.015 * sr))
    snap = fft_filter(white(rng, snap_n), sr, lo=1800, hi=5000) * exp_decay(snap_n, sr, 0.003) * p.get("snap", 0.6)
    x[:snap_n] += snap
    x = _drive(x * _amp_env(p, dur_s, n, sr), p.get("drive", 1.5))
    return to_stereo(x)


def sub_bass(p, midi, dur_s, sr, rng, bright=1.0):
    """Plain sine sub bass."""
    f0 = float(midi_to_hz(midi))
    n = _len(dur_s, p.get("release", 0.05), sr)
    x = _sub(f0, n, sr) + 0.15 * osc("triangle", f0, n, sr)
    return to_stereo(_drive(x * _amp_env(p, dur_s, n, sr), p.get("drive", 1.2)))


#: Voice name -> note renderer.
VOICES = {
    "supersaw": supersaw, "square": square_lead, "fm": fm_lead, "pluck": pluck, "piano": piano,
    "strings": strings, "organ": organ, "horn": horn, "rave": rave, "vocal": vocal, "pad": pad, "stab": stab,
    "bass_saw": bass_saw, "rolling": rolling, "reese": reese, "growl": growl, "bounce": bounce,
    "pulse_bass": pulse_bass, "slap": slap, "sub": sub_bass,
}


def render_note(p: dict, midi: float, dur_s: float, sr: int, rng: np.random.Generator, bright: float = 1.0,
                vowel: str | None = None) -> np.ndarray:
    """Render one note of voice ``p["type"]`` as a stereo float64 array."""
    fn = VOICES[p["type"]]
    if fn is vocal:
        return vocal(p, midi, dur_s, sr, rng, bright, vowel or "a")
    return fn(p, midi, dur_s, sr, rng, bright)
