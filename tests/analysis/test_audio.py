"""Audio loading: formats, rates, channels, resampling, and one-line errors for bad files."""
from __future__ import annotations

import shutil
import struct
import subprocess

import numpy as np
import pytest
import soundfile as sf

from mainstage.core import audio
from mainstage.core.errors import InputFileError

TONE_HZ = 440.0


def tone(sr: int, dur: float, channels: int, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(sr * dur)) / sr
    x = (amp * np.sin(2 * np.pi * TONE_HZ * t)).astype(np.float32)
    return np.repeat(x[:, None], channels, axis=1)


def dominant_hz(x: np.ndarray, sr: int) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[np.argmax(spec)])


CASES = [
    # (format, subtype, extension, sample rate, channels)
    ("WAV", "PCM_U8", "wav", 8000, 1),
    ("WAV", "PCM_16", "wav", 44100, 2),
    ("WAV", "PCM_24", "wav", 96000, 2),
    ("WAV", "PCM_32", "wav", 48000, 6),
    ("WAV", "FLOAT", "wav", 192000, 1),
    ("WAV", "DOUBLE", "wav", 22050, 2),
    ("FLAC", "PCM_16", "flac", 44100, 2),
    ("FLAC", "PCM_24", "flac", 192000, 2),
    ("AIFF", "PCM_16", "aiff", 32000, 1),
    ("OGG", "VORBIS", "ogg", 44100, 2),
    ("OGG", "OPUS", "opus", 48000, 2),
    ("OGG", "OPUS", "opus", 16000, 1),
    ("MP3", "MPEG_LAYER_III", "mp3", 44100, 2),
    ("MP3", "MPEG_LAYER_III", "mp3", 22050, 1),
]


@pytest.mark.parametrize("fmt,subtype,ext,sr,ch", CASES, ids=[f"{c[1]}-{c[3]}-{c[4]}ch" for c in CASES])
def test_formats_decode_to_the_same_tone(tmp_path, fmt, subtype, ext, sr, ch):
    path = tmp_path / f"tone.{ext}"
    sf.write(path, tone(sr, 2.0, ch), sr, format=fmt, subtype=subtype)
    info = audio.probe(path)
    assert (info.sample_rate, info.channels, info.decoder) == (sr, ch, "soundfile")
    y, info2 = audio.load_mono(path, 22050)
    assert info2 == info
    assert abs(y.size / 22050 - 2.0) < 0.08  # codec padding of MP3/Opus at most a few frames
    mid = y[int(0.3 * 22050): int(1.7 * 22050)]
    assert abs(dominant_hz(mid, 22050) - TONE_HZ) < 3.0
    rms_db = 20 * np.log10(np.sqrt(np.mean(mid ** 2)) / (0.5 / np.sqrt(2)))
    assert abs(rms_db) < (1.5 if subtype in ("VORBIS", "OPUS", "MPEG_LAYER_III", "PCM_U8") else 0.05)


def test_m4a_decodes_through_the_ffmpeg_fallback(tmp_path):
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed for this test (apt-get install ffmpeg)"
    path = tmp_path / "tone.m4a"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", f"sine=f={TONE_HZ:g}:d=2:sample_rate=44100",
                    "-c:a", "aac", str(path)], check=True)
    y, info = audio.load_mono(path, 22050)
    assert info.decoder == "ffmpeg" and info.sample_rate == 44100
    assert abs(y.size / 22050 - 2.0) < 0.1
    assert abs(dominant_hz(y[4000:40000], 22050) - TONE_HZ) < 3.0


def test_resampling_is_anti_aliased(tmp_path):
    """A 15 kHz tone at 48 kHz must vanish at 22.05 kHz, not fold down to 7.05 kHz."""
    sr = 48000
    t = np.arange(sr * 2) / sr
    x = (0.5 * np.sin(2 * np.pi * 15000 * t)).astype(np.float32)
    path = tmp_path / "hi.wav"
    sf.write(path, x, sr, subtype="FLOAT")
    y, _ = audio.load_mono(path, 22050)
    residual_db = 20 * np.log10(np.sqrt(np.mean(y[2000:-2000] ** 2)) / np.sqrt(np.mean(x ** 2)))
    assert residual_db < -60
    # Naive decimation (sample dropping) would have kept the energy at the alias frequency.
    dropped = x[:: 2][: int(2 * 22050)]
    assert 20 * np.log10(np.sqrt(np.mean(dropped ** 2)) / np.sqrt(np.mean(x ** 2))) > -1


def test_downmix_averages_channels():
    block = np.array([[1.0, 0.0, 0.5], [0.2, 0.4, 0.0]], dtype=np.float32)
    assert np.allclose(audio.downmix(block), [0.5, 0.2])
    assert np.allclose(audio.downmix(block[:, :2].T.copy().T), [0.5, 0.3])  # non-contiguous stereo
    assert np.allclose(audio.downmix(np.array([[0.3, 0.6, 0.9]], np.float32)), [0.6])


def test_blocks_are_bounded_and_complete(tmp_path):
    sr = 8000
    x = tone(sr, 10.0, 2)
    path = tmp_path / "long.flac"
    sf.write(path, x, sr)
    info = audio.probe(path)
    sizes = [len(b) for b in audio.iter_blocks(info, block_frames=4096)]
    assert max(sizes) <= 4096 and sum(sizes) == x.shape[0]
    mono = np.concatenate(list(audio.iter_mono(info, None, block_frames=4096)))
    assert np.allclose(mono, x.mean(axis=1), atol=1e-4)


# --------------------------------------------------------------------------- bad inputs


def expect_error(path, *words):
    with pytest.raises(InputFileError) as ei:
        info = audio.probe(path)
        for _ in audio.iter_blocks(info):
            pass
    msg = str(ei.value)
    assert "\n" not in msg and msg.startswith(str(path))
    for w in words:
        assert w in msg, msg
    return msg


def test_missing_file(tmp_path):
    expect_error(tmp_path / "nope.wav", "no such file")


def test_directory(tmp_path):
    expect_error(tmp_path, "is a directory")


def test_zero_bytes(tmp_path):
    p = tmp_path / "empty.wav"
    p.write_bytes(b"")
    expect_error(p, "empty file")


def test_text_file_renamed_wav(tmp_path):
    p = tmp_path / "notes.wav"
    p.write_text("These are my set notes, not audio.\n" * 20)
    msg = expect_error(p, "text file", "soundfile", "ffmpeg")
    assert "libsndfile" in msg


def test_unsupported_codec_names_the_decoders_tried(tmp_path, monkeypatch):
    good = tmp_path / "good.wav"
    sf.write(good, tone(8000, 1.0, 1), 8000, subtype="PCM_16")
    data = bytearray(good.read_bytes())
    i = data.find(b"fmt ")
    data[i + 8 : i + 10] = struct.pack("<H", 0x7777)
    bad = tmp_path / "odd.wav"
    bad.write_bytes(bytes(data))
    expect_error(bad, "unsupported codec", "0x7777", "soundfile", "ffmpeg")
    monkeypatch.setenv("MAINSTAGE_FFMPEG", "none")
    expect_error(bad, "unsupported codec", "ffmpeg: not installed")


@pytest.mark.parametrize("fmt,subtype,ext,sr", [
    ("WAV", "PCM_16", "wav", 44100), ("AIFF", "PCM_24", "aiff", 44100), ("FLAC", "PCM_16", "flac", 44100),
    ("OGG", "VORBIS", "ogg", 44100), ("OGG", "OPUS", "opus", 48000), ("MP3", "MPEG_LAYER_III", "mp3", 44100),
])
@pytest.mark.parametrize("keep", [0.5, 0.03])
def test_truncated_files(tmp_path, fmt, subtype, ext, sr, keep):
    rng = np.random.default_rng(1)
    x = (0.1 * rng.standard_normal((sr * 4, 2))).astype(np.float32)
    whole = tmp_path / f"whole.{ext}"
    sf.write(whole, x, sr, format=fmt, subtype=subtype)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: int(len(data) * keep)])
    msg = expect_error(cut)
    assert "truncated" in msg


def test_short_and_quiet_files_are_not_errors(tmp_path):
    p = tmp_path / "short.wav"
    sf.write(p, np.zeros(44100 * 2, np.float32), 44100)
    y, info = audio.load_mono(p, 22050)
    assert info.duration_s == pytest.approx(2.0) and y.size == 44100 and not np.any(y)
