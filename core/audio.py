"""Audio input: probing, block-wise decoding, downmixing and anti-aliased resampling.

Decoding goes through soundfile (libsndfile: WAV/AIFF/FLAC/Ogg Vorbis/Opus/MP3, any bit
depth and sample rate). Files libsndfile cannot open are decoded by an ``ffmpeg``
subprocess when one is installed (set ``MAINSTAGE_FFMPEG`` to its path, or to ``none``
to disable the fallback). Audio is always read in blocks so that a two-hour mix never
sits in memory as a whole; resampling uses libsoxr's streaming resampler.

Every problem with an input file raises :class:`~mainstage.core.errors.InputFileError`
with a one-line message naming the file and the cause.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InputFileError

#: File name extensions treated as audio when a folder is expanded.
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
     ".w64", ".rf64", ".caf", ".m4a", ".aac", ".wma", ".mka", ".webm"}
)
#: Default block length in frames of the source file (about 1.5 s at 44.1 kHz).
BLOCK_FRAMES = 1 << 16
#: Quality of the soxr resampler ("HQ": 20-bit, steep anti-aliasing; librosa's default too).
RESAMPLE_QUALITY = "HQ"
#: A decoded length may fall short of the header's length by this much before the file
#: counts as truncated (MP3 decoders differ by a few hundred samples of padding).
_SHORTFALL_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, as reported by its decoder.

    Attributes
    ----------
    path : str
        The file as given.
    sample_rate : int
        Native sample rate in Hz.
    channels : int
        Number of channels.
    frames : int
        Number of sample frames the header declares (an estimate for some MP3s).
    format, subtype : str
        Container and encoding, e.g. ``"WAV"``/``"PCM_24"`` or ``"mp3"``/``"mp3float"``.
    decoder : str
        ``"soundfile"`` or ``"ffmpeg"``.
    """

    path: str
    sample_rate: int
    channels: int
    frames: int
    format: str
    subtype: str
    decoder: str

    @property
    def duration_s(self) -> float:
        """Declared duration in seconds."""
        return self.frames / float(self.sample_rate)


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def _quiet_stderr(active: bool):
    """Silence C-level stderr (libmpg123 prints warnings about damaged MP3 headers there)."""
    if not active:
        yield
        return
    try:
        saved = os.dup(2)
    except OSError:  # no usable stderr
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _is_mp3(path: str) -> bool:
    return path.lower().endswith((".mp3", ".mp2", ".mpga"))


def _sf():
    import soundfile

    return soundfile


def _libsndfile_name() -> str:
    try:
        return f"soundfile (libsndfile {_sf().__libsndfile_version__})"
    except Exception:  # pragma: no cover - soundfile always has it
        return "soundfile"


def ffmpeg_binary() -> str | None:
    """Path of the ffmpeg executable used as fallback decoder, or None if unavailable.

    ``MAINSTAGE_FFMPEG`` overrides the lookup on ``PATH``; ``none`` (or empty) disables it.
    """
    env = os.environ.get("MAINSTAGE_FFMPEG")
    if env is not None:
        if env.strip().lower() in ("", "none", "off", "0"):
            return None
        return shutil.which(env) or (env if os.path.isfile(env) else None)
    return shutil.which("ffmpeg")


def _ffprobe_binary(ffmpeg: str) -> str | None:
    sibling = Path(ffmpeg).with_name("ffprobe")
    if sibling.is_file():
        return str(sibling)
    return shutil.which("ffprobe")


def _one_line(text: str, limit: int = 160) -> str:
    """Last meaningful line of a (multi-line) decoder message, shortened."""
    lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()]
    msg = lines[-1] if lines else "unknown error"
    # libsndfile prefixes messages with "Error opening '<path>': "; the path is said already.
    if msg.startswith("Error opening") and "': " in msg:
        msg = msg.split("': ", 1)[1]
    # ffmpeg prefixes messages with the input path or "[codec @ 0x...]".
    msg = re.sub(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*", "", msg)
    if ": " in msg and os.path.sep in msg.split(": ", 1)[0]:
        msg = msg.split(": ", 1)[1]
    msg = msg.rstrip(".")
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


def _looks_like_text(head: bytes) -> bool:
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        # A multi-byte character cut at the end of the sniffed head is still text.
        try:
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)


def _riff_format_tag(head: bytes) -> int | None:
    """The ``fmt `` chunk's format tag of a RIFF/WAVE header, if one is in ``head``."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
        return None
    pos = 12
    while pos + 8 <= len(head):
        cid, size = head[pos : pos + 4], struct.unpack("<I", head[pos + 4 : pos + 8])[0]
        if cid == b"fmt " and pos + 10 <= len(head):
            return struct.unpack("<H", head[pos + 8 : pos + 10])[0]
        pos += 8 + size + (size & 1)
    return None


def _declared_vs_present_pcm(path: str, size: int) -> tuple[int, int] | None:
    """(declared, present) byte counts of the sample data of a WAV or AIFF file.

    libsndfile silently clamps a WAV/AIFF data chunk to the bytes actually present, so
    a truncated download would otherwise decode as a shorter, "valid" file. No library
    exposes the header's declared length, hence this small chunk walker. Returns None
    for other containers and for streamed headers with an unknown length.
    """
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12:
            return None
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            endian, target = "<", b"data"
        elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
            endian, target = ">", b"SSND"
        else:
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            hdr = fh.read(8)
            if len(hdr) < 8:
                return None
            cid, csize = hdr[:4], struct.unpack(endian + "I", hdr[4:])[0]
            if cid == target:
                if csize in (0, 0xFFFFFFFF):  # length unknown (written by a stream)
                    return None
                return csize, size - (pos + 8)
            pos += 8 + csize + (csize & 1)
    return None


def _ogg_is_truncated(path: str, size: int) -> bool:
    """True when an Ogg file ends inside a page or before its end-of-stream page.

    libsndfile decodes a cut Ogg stream up to the cut without complaint and Ogg has no
    length header, so the page structure is checked here (headers only, no decoding).
    """
    eos = False
    with open(path, "rb") as fh:
        pos = 0
        while pos < size:
            fh.seek(pos)
            hdr = fh.read(27)
            if len(hdr) < 27:
                return True
            if hdr[:4] != b"OggS":
                return False  # not a plain Ogg page sequence: leave it to the decoder
            nseg = hdr[26]
            table = fh.read(nseg)
            if len(table) < nseg:
                return True
            pos += 27 + nseg + sum(table)
            eos = bool(hdr[5] & 0x04)
        if pos > size:
            return True
    return not eos


# --------------------------------------------------------------------------- probing


def _check_path(path: str) -> int:
    import stat

    from .errors import os_error_reason

    p = Path(path)
    try:
        st = p.stat()  # Path.exists() would call a symlink loop or an unreadable folder "no such file"
    except FileNotFoundError:
        raise InputFileError(path, "no such file") from None
    except OSError as exc:
        raise InputFileError(path, os_error_reason(exc)) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputFileError(path, "is a directory, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise InputFileError(path, "is not a regular file")
    try:
        size = st.st_size
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise InputFileError(path, f"cannot read: {os_error_reason(exc)}") from None
    if size == 0:
        raise InputFileError(path, "empty file (0 bytes)")
    return size


def _probe_soundfile(path: str) -> AudioInfo:
    sf = _sf()
    with _quiet_stderr(_is_mp3(path)):
        info = sf.info(path)
    if info.samplerate <= 0 or info.channels <= 0:
        raise RuntimeError("invalid header (no sample rate or channels)")
    return AudioInfo(path, int(info.samplerate), int(info.channels), int(info.frames),
                     str(info.format), str(info.subtype), "soundfile")


def _probe_ffmpeg(path: str, ffmpeg: str) -> AudioInfo:
    ffprobe = _ffprobe_binary(ffmpeg)
    if ffprobe is None:
        raise RuntimeError("ffprobe not found next to ffmpeg")
    cmd = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries",
           "stream=codec_name,sample_rate,channels,duration:format=format_name,duration",
           "-of", "json", path]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if res.returncode != 0:
        raise RuntimeError(_one_line(res.stderr or f"ffprobe exited with {res.returncode}"))
    doc = json.loads(res.stdout or "{}")
    streams = doc.get("streams") or []
    if not streams:
        raise RuntimeError("no audio stream")
    st = streams[0]
    sr = int(st.get("sample_rate") or 0)
    ch = int(st.get("channels") or 0)
    if sr <= 0 or ch <= 0:
        raise RuntimeError("no sample rate or channel count in the stream")
    dur = st.get("duration") or (doc.get("format") or {}).get("duration")
    frames = int(round(float(dur) * sr)) if dur not in (None, "N/A") else 0
    fmt = str((doc.get("format") or {}).get("format_name", "unknown"))
    return AudioInfo(path, sr, ch, frames, fmt, str(st.get("codec_name") or "unknown"), "ffmpeg")


def probe(path: str | os.PathLike) -> AudioInfo:
    """Check that ``path`` is a decodable audio file and describe it.

    Tries soundfile first, then the ffmpeg fallback.

    Raises
    ------
    InputFileError
        Missing file, directory, zero bytes, truncated file, text or other non-audio
        data, unsupported codec: one line naming the file, the cause and the decoders tried.
    """
    path = str(path)
    size = _check_path(path)
    try:
        info = _probe_soundfile(path)
    except Exception as exc:  # libsndfile raises LibsndfileError/RuntimeError/TypeError
        sf_error = _one_line(str(exc))
    else:
        _check_declared_length(path, size, info)
        return info

    tried = [f"{_libsndfile_name()}: {sf_error}"]
    ffmpeg = ffmpeg_binary()
    if ffmpeg is not None:
        try:
            info = _probe_ffmpeg(path, ffmpeg)
            # ffprobe reads headers only; make sure the codec really decodes.
            next(iter(_blocks_ffmpeg(info, 4096, ffmpeg, probe_only=True)), None)
            return info
        except InputFileError:
            raise
        except Exception as exc:
            tried.append(f"ffmpeg: {_one_line(str(exc))}")
    else:
        tried.append("ffmpeg: not installed (set MAINSTAGE_FFMPEG to use one)")

    with open(path, "rb") as fh:
        head = fh.read(4096)
    if _looks_like_text(head[:1024]):
        cause = "a text file, not audio"
    elif (tag := _riff_format_tag(head)) is not None and tag not in (1, 3, 0xFFFE):
        cause = f"unsupported codec (WAV format tag 0x{tag:04x})"
    elif "malformed" in sf_error.lower() or "truncat" in sf_error.lower() or "unexpected end" in sf_error.lower():
        cause = "corrupt or truncated audio file"
    elif "Decoder" in tried[-1] and "not found" in tried[-1]:
        cause = "unsupported codec"
    else:
        cause = "not a recognised audio file"
    raise InputFileError(path, f"{cause} (tried {'; '.join(tried)})")


def _check_declared_length(path: str, size: int, info: AudioInfo) -> None:
    pcm = _declared_vs_present_pcm(path, size)
    if pcm is not None:
        declared, present = pcm
        if declared > present + 1:
            frac = present / declared
            raise InputFileError(
                path,
                f"truncated file: the header promises {info.duration_s / max(frac, 1e-9):.2f} s of audio "
                f"but only {info.duration_s:.2f} s ({present} of {declared} data bytes) are present",
            )
    if info.format == "OGG" and _ogg_is_truncated(path, size):
        raise InputFileError(path, f"truncated file: the Ogg stream ends without its final page "
                                   f"(only {info.duration_s:.2f} s could be decoded)")


# --------------------------------------------------------------------------- decoding


def _blocks_soundfile(info: AudioInfo, block_frames: int, dtype: str = "float32") -> Iterator[np.ndarray]:
    sf = _sf()
    path = info.path
    buf = np.empty((block_frames, info.channels), dtype=dtype)
    done = 0
    quiet = info.format == "MP3"
    try:
        with _quiet_stderr(quiet):
            fh = sf.SoundFile(path)
        with fh:
            while True:
                try:
                    with _quiet_stderr(quiet):
                        out = fh.read(block_frames, dtype=dtype, out=buf)
                except Exception as exc:
                    raise InputFileError(
                        path, f"truncated or corrupt audio: decoding failed at {done / info.sample_rate:.2f} s "
                              f"of {info.duration_s:.2f} s ({_one_line(str(exc))})"
                    ) from None
                n = len(out)
                if n == 0:
                    break
                done += n
                yield out
    except InputFileError:
        raise
    except Exception as exc:
        raise InputFileError(path, f"cannot decode ({_libsndfile_name()}: {_one_line(str(exc))})") from None
    short = info.frames - done
    if short > max(_SHORTFALL_TOLERANCE_S * info.sample_rate, 0.002 * info.frames):
        raise InputFileError(
            path, f"truncated file: the header promises {info.duration_s:.2f} s of audio "
                  f"but only {done / info.sample_rate:.2f} s could be decoded"
        )


def _blocks_ffmpeg(info: AudioInfo, block_frames: int, ffmpeg: str | None = None,
                   probe_only: bool = False) -> Iterator[np.ndarray]:
    ffmpeg = ffmpeg or ffmpeg_binary()
    if ffmpeg is None:
        raise InputFileError(info.path, "needs ffmpeg to decode, but ffmpeg is not installed")
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-xerror", "-i", info.path, "-map", "0:a:0",
           "-vn", "-f", "f32le", "-acodec", "pcm_f32le", "-"]
    nbytes = block_frames * info.channels * 4
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
        got = 0
        try:
            while True:
                chunk = proc.stdout.read(nbytes)
                if not chunk:
                    break
                usable = len(chunk) - len(chunk) % (4 * info.channels)
                block = np.frombuffer(chunk[:usable], dtype="<f4").reshape(-1, info.channels)
                got += len(block)
                yield block
                if probe_only:
                    return
        finally:
            if proc.poll() is None and probe_only:
                proc.kill()
            proc.stdout.close()
            rc = proc.wait()
        if probe_only and got:
            return
        if rc != 0 or got == 0:
            err.seek(0)
            msg = _one_line(err.read().decode("utf-8", "replace") or f"ffmpeg exited with {rc}")
            if probe_only:
                raise RuntimeError(msg)
            raise InputFileError(info.path, f"truncated or corrupt audio: decoding failed at "
                                            f"{got / info.sample_rate:.2f} s (ffmpeg: {msg})")


def iter_blocks(info: AudioInfo, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Decode a probed file block by block.

    Yields float32 arrays of shape ``(n, channels)`` at the native rate. A yielded block
    may be reused by the next iteration: copy it to keep it.

    Raises
    ------
    InputFileError
        When decoding fails part-way or the file turns out shorter than its header says.
    """
    if info.decoder == "ffmpeg":
        return _blocks_ffmpeg(info, block_frames)
    return _blocks_soundfile(info, block_frames)


def _downmix_int16(block: np.ndarray) -> np.ndarray:
    """Mono float32 (full scale = 1) of a 16-bit integer block."""
    ch = block.shape[1]
    # A matrix-vector product (BLAS) mixes and scales in one pass.
    return block.astype(np.float32) @ np.full(ch, 1.0 / (32768.0 * ch), dtype=np.float32)


def iter_mono_native(info: AudioInfo, block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Decode a probed file as mono float32 blocks at its native rate.

    16-bit PCM is read as integers and mixed down in one step, which halves the
    decoding time of the most common file type.
    """
    if info.decoder == "soundfile" and info.subtype == "PCM_16":
        for block in _blocks_soundfile(info, block_frames, "int16"):
            yield _downmix_int16(block)
        return
    for block in iter_blocks(info, block_frames):
        yield downmix(block)


def downmix(block: np.ndarray) -> np.ndarray:
    """Average the channels of a ``(n, channels)`` block into a new float32 mono array."""
    block = np.asarray(block, dtype=np.float32)
    if block.ndim == 1:
        return block.copy()
    if block.shape[1] == 1:
        return block[:, 0].copy()
    if block.shape[1] == 2:
        out = np.add(block[:, 0], block[:, 1])
        out *= 0.5
        return out
    return block.mean(axis=1, dtype=np.float32)


class StreamResampler:
    """Streaming anti-aliased resampler of mono float32 blocks (libsoxr).

    Call :meth:`process` with each block and :meth:`flush` once at the end; passes
    blocks through untouched when the rates are equal.
    """

    def __init__(self, in_rate: float, out_rate: float, quality: str = RESAMPLE_QUALITY):
        self.in_rate, self.out_rate = float(in_rate), float(out_rate)
        self._rs = None
        if self.in_rate != self.out_rate:
            import soxr

            self._rs = soxr.ResampleStream(self.in_rate, self.out_rate, 1, dtype="float32", quality=quality)

    def process(self, x: np.ndarray, last: bool = False) -> np.ndarray:
        """Resample the next block (``last=True`` for the final one)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if self._rs is None:
            return x
        return self._rs.resample_chunk(x, last=last)

    def flush(self) -> np.ndarray:
        """The resampler's remaining output at the end of the stream."""
        return self.process(np.zeros(0, dtype=np.float32), last=True)


def resample(x: np.ndarray, in_rate: int, out_rate: int, quality: str = RESAMPLE_QUALITY) -> np.ndarray:
    """Resample a mono or ``(n, channels)`` array with libsoxr (anti-aliased)."""
    if int(in_rate) == int(out_rate):
        return np.asarray(x, dtype=np.float32)
    import soxr

    return soxr.resample(np.asarray(x, dtype=np.float32), int(in_rate), int(out_rate), quality=quality)


def iter_mono(info: AudioInfo, sample_rate: int | None = None,
              block_frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
    """Decode a probed file as mono float32 blocks, resampled to ``sample_rate`` (None: native)."""
    rs = StreamResampler(info.sample_rate, sample_rate or info.sample_rate)
    for block in iter_mono_native(info, block_frames):
        out = rs.process(block)
        if out.size:
            yield out
    tail = rs.flush()
    if tail.size:
        yield tail


def load_mono(path: str | os.PathLike, sample_rate: int | None = 44100) -> tuple[np.ndarray, AudioInfo]:
    """Decode a whole file to one mono float32 array at ``sample_rate`` (None: native).

    Meant for tracks; long mixes should be processed with :func:`iter_mono` instead.
    """
    info = probe(path)
    parts = list(iter_mono(info, sample_rate))
    audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)
    return audio, info


class StreamReader:
    """Forward-only random access to a stream of mono blocks: ``read(a, b)`` -> samples ``[a, b)``.

    Requests must not move backwards past data already released; samples before the
    requested start are dropped, so memory holds only the current block of audio.
    """

    def __init__(self, blocks):
        self._it = iter(blocks)
        self._buf: list[np.ndarray] = []
        self._start = 0  # absolute index of the first buffered sample
        self._end = 0    # absolute index after the last buffered sample
        self._done = False

    def total_read(self) -> int:
        while not self._done:
            self._pull()
        return self._end

    def _pull(self) -> None:
        try:
            block = next(self._it)
        except StopIteration:
            self._done = True
            return
        self._buf.append(np.array(block, dtype=np.float32, copy=True))
        self._end += block.shape[0]

    def read(self, a: int, b: int) -> np.ndarray:
        while self._end < b and not self._done:
            self._pull()
        data = np.concatenate(self._buf) if len(self._buf) > 1 else (self._buf[0] if self._buf else np.zeros(0, np.float32))
        out = data[max(a - self._start, 0):max(min(b, self._end) - self._start, 0)].copy()
        keep_from = max(a - self._start, 0)  # release what lies before this request
        self._buf = [data[keep_from:]] if keep_from < data.size else []
        self._start += min(keep_from, data.size)
        return out
