"""Audio transformations of the genre-robustness benchmark.

Each transformation takes a stereo float track ``(n, 2)`` at 44.1 kHz and its truth timeline
and returns the transformed audio plus the factor by which the truth's times scale (1.0
except for time stretching). All are deterministic: their random parts (noise, the vocal
melody, the order of the spoken phrases) come from a generator seeded by the track's seed
and the transformation's key.

| key | what |
|---|---|
| ``lowcut150`` | 4th-order Butterworth high-pass at 150 Hz (24 dB/octave; causal, like an EQ) |
| ``highcut6k`` | 4th-order Butterworth low-pass at 6 kHz |
| ``lowshelf+6`` / ``lowshelf-6`` | RBJ-cookbook low shelf, corner 200 Hz, slope S = 1, +-6 dB |
| ``highshelf+6`` / ``highshelf-6`` | RBJ-cookbook high shelf, corner 4 kHz, slope S = 1, +-6 dB |
| ``pink20`` | pink noise (1/f power, independent per channel) at 20 dB SNR (RMS over the track) |
| ``vocal-10`` | a sung formant line (SynthHouse's ``vocal`` voice) at -10 dB RMS relative to the track: random melody in the track's key, notes on the 8th-note grid of its true beats, 1-in-4 bars resting |
| ``speech-10`` | English speech by espeak-ng (phrases in three voices, looped with pauses) at -10 dB RMS |
| ``mp3-128`` | MP3 at 128 kbit/s CBR (ffmpeg, libmp3lame) and decoded back; aligned to the original |
| ``limiter`` | +6 dB into a look-ahead brickwall limiter (5 ms look-ahead, 40 ms hold, stereo-linked) with its ceiling at the original peak: up to 6 dB of gain reduction |
| ``pitch+2`` / ``pitch-2`` | ``librosa.effects.pitch_shift`` by +-2 semitones (tempo unchanged) |
| ``stretch+6`` / ``stretch-6`` | ``librosa.effects.time_stretch`` to 106 % / 94 % of the tempo (rate 1.06 / 0.94); truth times scale by 1 / rate |
| ``mono`` | (L + R) / 2 on both channels; identical to the clean track for the model, which averages the channels itself (a sanity check) |
| ``left`` | the left channel on both channels (extra: a one-sided mono source; not in the targets) |
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

SR = 44100
#: Bump when a transformation changes: cached results of the old one are not reused.
VERSION = 1


@dataclass(frozen=True)
class Transform:
    key: str
    label: str
    fn: Callable  # (audio, truth, rng, ctx) -> audio
    time_scale: float = 1.0
    in_quick: bool = False
    in_targets: bool = True
    needs: str | None = None  # an external program


def rng_for(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, zlib.crc32(key.encode())])


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)))))


# --------------------------------------------------------------------------- filters
def butter(x: np.ndarray, kind: str, fc: float, order: int = 4) -> np.ndarray:
    from scipy import signal

    sos = signal.butter(order, fc, btype=kind, fs=SR, output="sos")
    return signal.sosfilt(sos, x, axis=0).astype(np.float32)


def shelf(x: np.ndarray, kind: str, fc: float, gain_db: float) -> np.ndarray:
    from scipy import signal

    from mainstage.training.synthhouse.mastering import shelf_sos  # the RBJ cookbook shelf SynthHouse masters with

    return signal.sosfilt(shelf_sos(kind, fc, gain_db, SR)[None, :], x, axis=0).astype(np.float32)


# --------------------------------------------------------------------------- overlays
def pink_noise(n: int, channels: int, rng: np.random.Generator) -> np.ndarray:
    """Pink noise (power ~ 1/f from 20 Hz up) by spectral shaping of white noise; unit RMS."""
    from scipy.fft import irfft, next_fast_len, rfft

    m = next_fast_len(n)
    w = rng.standard_normal((m, channels))
    spec = rfft(w, axis=0)
    f = np.fft.rfftfreq(m, 1.0 / SR)
    spec *= (1.0 / np.sqrt(np.maximum(f, 20.0)))[:, None]
    spec[0] = 0.0
    y = irfft(spec, m, axis=0)[:n]
    return (y / (rms(y) or 1.0)).astype(np.float32)


def mix_at(x: np.ndarray, overlay: np.ndarray, rel_db: float) -> np.ndarray:
    """``x`` plus ``overlay`` scaled to ``rel_db`` RMS relative to ``x`` (over the whole track)."""
    if overlay.ndim == 1:
        overlay = overlay[:, None]
    overlay = np.broadcast_to(overlay, x.shape)
    g = rms(x) / (rms(overlay) or 1.0) * 10.0 ** (rel_db / 20.0)
    return (x + g * overlay).astype(np.float32)


def vocal_line(truth: dict, n: int, rng: np.random.Generator) -> np.ndarray:
    """A sung formant melody in the track's key on the 8th-note grid of the true beats."""
    from mainstage.training.synthhouse.instruments import render_note
    from mainstage.training.synthhouse.theory import scale_note

    an = truth.get("analysis") or {}
    key_pc, scale = int(an.get("key_pc", 0)), str(an.get("scale", "minor"))
    root = 60 + key_pc if key_pc < 5 else 48 + key_pc  # tonic between G3 and E4; the line sits above it
    p = {"type": "vocal", "shift": round(float(rng.uniform(1.0, 1.25)), 2), "scoop": float(rng.uniform(0.3, 1.2)),
         "vibrato": float(rng.uniform(15, 45)), "breath": float(rng.uniform(0.03, 0.1)), "attack": 0.02,
         "decay": 0.3, "sustain": 0.85, "release": 0.1, "drive": 1.0}
    beats = np.asarray(truth["beats"], dtype=np.float64)
    if beats.size < 2:
        return np.zeros((n, 2), np.float32)
    period = float(np.median(np.diff(beats)))
    eighths = np.sort(np.concatenate([beats, beats + period / 2]))
    eighths = eighths[eighths < n / SR]
    out = np.zeros((n + SR, 2))
    degree = int(rng.integers(2, 6))
    k = 0
    while k < len(eighths):
        bar = k // 8
        if k % 8 == 0 and rng.random() < 0.25:  # a resting bar
            k += 8
            continue
        if rng.random() < 0.25:  # an 8th rest
            k += 1
            continue
        length = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.15, 0.2]))
        length = max(1, min(length, 8 * (bar + 1) - k))  # notes end at the bar line
        end = eighths[k + length] if k + length < len(eighths) else eighths[k] + length * period / 2
        dur = max(float(end - eighths[k]) * 0.92, 0.05)
        degree = int(np.clip(degree + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, 9))
        midi = scale_note(root, scale, degree)
        note = render_note(p, midi, dur, SR, rng, 1.0, vowel=str(rng.choice(list("aeiou"))))
        i0 = int(round(eighths[k] * SR))
        m = min(note.shape[0], out.shape[0] - i0)
        out[i0:i0 + m] += note[:m]
        k += length
    return out[:n].astype(np.float32)


#: What espeak-ng says (plain English: an announcer, a podcast, a phone call).
PHRASES = (
    "Good evening and welcome to the show. Tonight we have three hours of music for you.",
    "The doors open at nine, and the last train leaves the station at half past one.",
    "If you are just tuning in, this is the late programme, and the lines are open now.",
    "Please keep the emergency exits clear and take care of each other on the dance floor.",
    "I think the new schedule works better for everyone, but we should talk about the budget.",
    "The weather tomorrow will be dry in the north, with showers later in the afternoon.",
    "Can you hear me? I am on the train, the signal is really bad here, I will call you back.",
    "Our next guest has been making records for twenty years and has a new album out this week.",
    "Thank you all for coming. Drinks are at the bar on the left, and the cloakroom is downstairs.",
    "So what I am saying is, we start with the rhythm, and everything else follows from there.",
    "Ladies and gentlemen, the main stage will open in ten minutes. Enjoy the festival.",
    "That was the news at midnight. Stay with us for more music until the early morning.",
)
VOICES = ("en-us", "en-gb", "en-us+f3")


def espeak_binary() -> str | None:
    return shutil.which("espeak-ng")


def speech_clips(cache_dir: Path) -> list[np.ndarray]:
    """Every phrase in every voice, as mono float32 at 44.1 kHz (rendered once, cached as WAV)."""
    import soundfile as sf
    import soxr

    from mainstage.core.atomic import atomic_path

    exe = espeak_binary()
    clips = []
    for voice in VOICES:
        for i, text in enumerate(PHRASES):
            tag = hashlib.sha256(f"{voice}|{text}".encode()).hexdigest()[:12]
            path = cache_dir / f"{voice.replace('+', '_')}-{i:02d}-{tag}.wav"
            if not path.is_file():
                if exe is None:
                    raise RuntimeError("espeak-ng is not installed (apt-get install -y espeak-ng)")
                with atomic_path(path) as tmp:
                    subprocess.run([exe, "-v", voice, "-s", "165", "-w", str(tmp), text], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            y, sr = sf.read(str(path), dtype="float32", always_2d=True)
            y = y.mean(axis=1)
            if sr != SR:
                y = soxr.resample(y, sr, SR, quality="HQ").astype(np.float32)
            clips.append(y)
    return clips


def speech_track(n: int, rng: np.random.Generator, clips: list[np.ndarray]) -> np.ndarray:
    parts, total = [], 0
    while total < n:
        order = rng.permutation(len(clips))
        for j in order:
            gap = np.zeros(int(rng.uniform(0.25, 1.2) * SR), np.float32)
            parts += [clips[int(j)], gap]
            total += clips[int(j)].size + gap.size
            if total >= n:
                break
    return np.concatenate(parts)[:n]


# --------------------------------------------------------------------------- codec, dynamics, time
def mp3_roundtrip(x: np.ndarray, bitrate: str = "128k") -> np.ndarray:
    """Encode with ffmpeg/libmp3lame at a constant bitrate, decode, and align to the input."""
    import soundfile as sf

    exe = shutil.which("ffmpeg")
    if exe is None:
        raise RuntimeError("ffmpeg is not installed")
    with tempfile.TemporaryDirectory(prefix="genre-robustness-") as d:
        wav, mp3 = Path(d) / "in.wav", Path(d) / "out.mp3"
        sf.write(str(wav), np.clip(x, -1.0, 1.0), SR, subtype="FLOAT")
        subprocess.run([exe, "-v", "error", "-y", "-i", str(wav), "-codec:a", "libmp3lame", "-b:a", bitrate,
                        str(mp3)], check=True)
        raw = subprocess.run([exe, "-v", "error", "-i", str(mp3), "-f", "f32le", "-acodec", "pcm_f32le",
                              "-ac", str(x.shape[1]), "-ar", str(SR), "-"], check=True, capture_output=True).stdout
    y = np.frombuffer(raw, dtype=np.float32).reshape(-1, x.shape[1])
    lag = align_lag(x, y)
    y = y[lag:] if lag >= 0 else np.concatenate([np.zeros((-lag, x.shape[1]), np.float32), y])
    if y.shape[0] < x.shape[0]:
        y = np.concatenate([y, np.zeros((x.shape[0] - y.shape[0], x.shape[1]), np.float32)])
    return np.ascontiguousarray(y[: x.shape[0]])


def align_lag(x: np.ndarray, y: np.ndarray, max_lag: int = 4096) -> int:
    """Samples by which ``y`` lags ``x`` (cross-correlation of the first 10 s, within +-max_lag)."""
    from scipy import signal

    a = x[: 10 * SR].mean(axis=1)
    b = y[: 10 * SR + max_lag].mean(axis=1)
    c = signal.correlate(b, a, mode="full", method="fft")
    lags = np.arange(-len(a) + 1, len(b))
    keep = np.abs(lags) <= max_lag
    return int(lags[keep][np.argmax(c[keep])])


def limiter(x: np.ndarray, drive_db: float = 6.0, lookahead_s: float = 0.005, hold_s: float = 0.04) -> np.ndarray:
    """+``drive_db`` into a look-ahead brickwall limiter whose ceiling is the input's peak.

    Gain: the minimum over ``[t - hold, t + lookahead]`` of ``ceiling / |x|`` (stereo-linked),
    smoothed by a moving average over the look-ahead, which never exceeds the instantaneous
    gain a peak needs, so nothing passes the ceiling; a final clip catches rounding.
    """
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    ceiling = float(np.max(np.abs(x))) or 1.0
    xd = x.astype(np.float64) * 10.0 ** (drive_db / 20.0)
    peak = np.max(np.abs(xd), axis=1)
    g = np.minimum(1.0, ceiling / np.maximum(peak, 1e-12))
    la, hold = max(int(lookahead_s * SR), 1), int(hold_s * SR)
    size = la + hold + 1
    # window [t - hold, t + la]: minimum_filter1d's window is centred at t + origin offset
    g = minimum_filter1d(g, size=size, origin=(hold - la) // 2 if size % 2 else (hold - la - 1) // 2, mode="nearest")
    g = uniform_filter1d(g, size=la | 1, mode="nearest")
    y = xd * g[:, None]
    return np.clip(y, -ceiling, ceiling).astype(np.float32)


def gain_reduction_db(x: np.ndarray, y: np.ndarray, drive_db: float = 6.0) -> dict:
    """Gain reduction of :func:`limiter` (max, and the mean over samples reduced by > 0.5 dB)."""
    xd = np.max(np.abs(x), axis=1).astype(np.float64) * 10.0 ** (drive_db / 20.0)
    yy = np.max(np.abs(y), axis=1).astype(np.float64)
    ok = xd > 1e-3
    gr = 20.0 * np.log10(np.maximum(xd[ok], 1e-12) / np.maximum(yy[ok], 1e-12))
    active = gr > 0.5
    return {"max_db": round(float(gr.max()), 2) if gr.size else 0.0,
            "mean_active_db": round(float(gr[active].mean()), 2) if active.any() else 0.0,
            "active_share": round(float(active.mean()), 3) if gr.size else 0.0}


def pitch_shift(x: np.ndarray, steps: float) -> np.ndarray:
    import librosa

    return np.ascontiguousarray(librosa.effects.pitch_shift(x.T, sr=SR, n_steps=steps).T.astype(np.float32))


def time_stretch(x: np.ndarray, rate: float) -> np.ndarray:
    import librosa

    return np.ascontiguousarray(librosa.effects.time_stretch(x.T, rate=rate).T.astype(np.float32))


# --------------------------------------------------------------------------- the list
def _mono(x, *_):
    m = x.mean(axis=1, keepdims=True)
    return np.repeat(m, x.shape[1], axis=1)


def _left(x, *_):
    return np.repeat(x[:, :1], x.shape[1], axis=1)


TRANSFORMS: tuple[Transform, ...] = (
    Transform("lowcut150", "150 Hz low cut (HP, 4th order)", lambda x, t, r, c: butter(x, "highpass", 150.0),
              in_quick=True),
    Transform("highcut6k", "6 kHz high cut (LP, 4th order)", lambda x, t, r, c: butter(x, "lowpass", 6000.0)),
    Transform("lowshelf+6", "low shelf +6 dB @ 200 Hz", lambda x, t, r, c: shelf(x, "low", 200.0, 6.0)),
    Transform("lowshelf-6", "low shelf -6 dB @ 200 Hz", lambda x, t, r, c: shelf(x, "low", 200.0, -6.0)),
    Transform("highshelf+6", "high shelf +6 dB @ 4 kHz", lambda x, t, r, c: shelf(x, "high", 4000.0, 6.0)),
    Transform("highshelf-6", "high shelf -6 dB @ 4 kHz", lambda x, t, r, c: shelf(x, "high", 4000.0, -6.0)),
    Transform("pink20", "pink noise, 20 dB SNR",
              lambda x, t, r, c: mix_at(x, pink_noise(x.shape[0], x.shape[1], r), -20.0), in_quick=True),
    Transform("vocal-10", "formant vocal line, -10 dB",
              lambda x, t, r, c: mix_at(x, vocal_line(t, x.shape[0], r), -10.0), in_quick=True),
    Transform("speech-10", "speech (espeak-ng), -10 dB",
              lambda x, t, r, c: mix_at(x, speech_track(x.shape[0], r, c["speech"]()), -10.0), needs="espeak-ng"),
    Transform("mp3-128", "MP3 128 kbit/s", lambda x, t, r, c: mp3_roundtrip(x), in_quick=True, needs="ffmpeg"),
    Transform("limiter", "limiter (+6 dB into brickwall)", lambda x, t, r, c: limiter(x)),
    Transform("pitch+2", "pitch +2 semitones", lambda x, t, r, c: pitch_shift(x, 2.0), in_quick=True),
    Transform("pitch-2", "pitch -2 semitones", lambda x, t, r, c: pitch_shift(x, -2.0)),
    Transform("stretch+6", "time stretch +6 % (tempo)", lambda x, t, r, c: time_stretch(x, 1.06),
              time_scale=1.0 / 1.06, in_quick=True),
    Transform("stretch-6", "time stretch -6 % (tempo)", lambda x, t, r, c: time_stretch(x, 0.94),
              time_scale=1.0 / 0.94),
    Transform("mono", "mono ((L+R)/2)", _mono, in_quick=True),
    Transform("left", "left channel only (extra)", _left, in_targets=False),
)
BY_KEY = {t.key: t for t in TRANSFORMS}


def available(t: Transform) -> str | None:
    """None when the transformation can run here, else why not."""
    if t.needs and shutil.which(t.needs) is None:
        return f"{t.needs} is not installed" + (" (apt-get install -y espeak-ng)" if t.needs == "espeak-ng" else "")
    return None
