"""General MIDI soundfonts and the fluidsynth binary: discovery, preset lists, one-line errors.

The engine knows a fixed list of Debian soundfonts (:data:`KNOWN`). By default a track
draws its soundfont from those installed, so a dataset is deterministic for a given
seed and set of installed soundfonts (the soundfont name is part of the truth's
``analysis``, so installing another one re-renders the tracks that now pick it).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
from functools import cache, lru_cache
from pathlib import Path

from ...core.errors import MainstageError


class GMRenderError(MainstageError, RuntimeError):
    """The GM engine cannot run (missing fluidsynth or soundfont, failed render). One line."""


#: Soundfonts the engine draws from: name -> (candidate paths, Debian package, draw weight).
#: FluidR3_GS.sf2 (fluid-soundfont-gs) is not listed: it is a supplement of 33 sound-effect
#: presets (rain, dogs, cars), not a General MIDI set.
KNOWN: dict[str, tuple[tuple[str, ...], str, float]] = {
    "FluidR3_GM": (("/usr/share/sounds/sf2/FluidR3_GM.sf2",), "fluid-soundfont-gm", 0.5),
    "TimGM6mb": (("/usr/share/sounds/sf2/TimGM6mb.sf2",), "timgm6mb-soundfont", 0.3),
    "MuseScore_General": (("/usr/share/sounds/sf3/MuseScore_General.sf3", "/usr/share/sounds/sf3/MuseScore_General_Lite.sf3",
                           "/usr/share/sounds/sf2/MuseScore_General.sf2"), "musescore-general-soundfont-small", 0.2),
}
DEFAULT_SOUNDFONT = KNOWN["FluidR3_GM"][0][0]


def fluidsynth_binary() -> str:
    """Path of the ``fluidsynth`` command, or a :class:`GMRenderError` saying how to install it."""
    exe = shutil.which("fluidsynth")
    if exe is None:
        raise GMRenderError("fluidsynth: command not found (install it: apt-get install fluidsynth fluid-soundfont-gm)")
    return exe


@cache
def fluidsynth_version() -> str:
    """``"2.3.1"``: the runtime version reported by ``fluidsynth --version``."""
    out = subprocess.run([fluidsynth_binary(), "--version"], capture_output=True, text=True, check=False).stdout
    for word in out.split():
        if word[:1].isdigit() and word.count(".") >= 1:
            return word
    return "unknown"


def check_soundfont(path: str | os.PathLike) -> Path:
    """Resolve a soundfont path; a missing or unreadable one raises a one-line error naming it."""
    p = Path(path)
    if not p.is_file():
        pkg = next((k[1] for k in KNOWN.values() if p.name in {Path(c).name for c in k[0]}), "fluid-soundfont-gm")
        raise GMRenderError(f"{p}: soundfont not found (install it: apt-get install {pkg}, or pass another .sf2/.sf3)")
    try:
        with open(p, "rb") as fh:
            head = fh.read(12)
    except OSError as exc:
        raise GMRenderError(f"{p}: cannot read soundfont ({exc.strerror})") from None
    if head[:4] != b"RIFF" or head[8:12] != b"sfbk":
        raise GMRenderError(f"{p}: not a SoundFont file (no RIFF sfbk header)")
    return p


def installed_soundfonts() -> dict[str, str]:
    """Known soundfonts present on this machine: name -> path (in :data:`KNOWN` order)."""
    out = {}
    for name, (paths, _pkg, _w) in KNOWN.items():
        for c in paths:
            if Path(c).is_file():
                out[name] = str(Path(c).resolve())
                break
    return out


def soundfont_pool(soundfonts=None) -> list[tuple[str, str, float]]:
    """The soundfonts a track may draw: ``[(name, path, weight), ...]``.

    ``soundfonts`` is None (every installed known soundfont), or a path or a list of
    paths (equal weights). Raises :class:`GMRenderError` naming a missing file, or the
    default soundfont when none is installed.
    """
    if soundfonts is None:
        found = installed_soundfonts()
        if not found:
            check_soundfont(DEFAULT_SOUNDFONT)  # raises, naming it
        return [(n, p, KNOWN[n][2]) for n, p in found.items()]
    if isinstance(soundfonts, (str, os.PathLike)):
        soundfonts = [soundfonts]
    pool = []
    for s in soundfonts:
        p = check_soundfont(s)
        pool.append((p.stem, str(p.resolve()), 1.0))
    if not pool:
        raise GMRenderError("no soundfont given")
    return pool


def _next_chunk(fh, pos: int, size: int) -> int:
    """Offset of the chunk after one at ``pos``: RIFF pads odd sizes, but some writers do not."""
    nxt = pos + 8 + size
    if size & 1:
        fh.seek(nxt)
        if not fh.read(4).isalnum():  # a pad byte, then the next id
            return nxt + 1
    return nxt


@lru_cache(maxsize=16)
def _presets_cached(path: str, size: int, mtime: float) -> frozenset[tuple[int, int]]:
    with open(path, "rb") as fh:
        _riff, total, _kind = struct.unpack("<4sI4s", fh.read(12))
        end = min(8 + total, size)
        pos = 12
        while pos + 8 <= end:
            fh.seek(pos)
            cid, size_ = struct.unpack("<4sI", fh.read(8))
            if cid == b"LIST" and fh.read(4) == b"pdta":
                q, stop = pos + 12, pos + 8 + size_
                while q + 8 <= stop:
                    fh.seek(q)
                    sid, ssize = struct.unpack("<4sI", fh.read(8))
                    if sid == b"phdr":
                        raw = fh.read(ssize)
                        # 38-byte records: name[20], preset, bank, ...; the last one is "EOP".
                        recs = [struct.unpack_from("<20sHH", raw, i) for i in range(0, ssize - 38, 38)]
                        return frozenset((int(bank), int(prog)) for _n, prog, bank in recs)
                    q = _next_chunk(fh, q, ssize)
            pos = _next_chunk(fh, pos, size_)
    raise GMRenderError(f"{path}: no preset headers (phdr) in the soundfont")


def soundfont_presets(path: str | os.PathLike) -> frozenset[tuple[int, int]]:
    """``{(bank, program), ...}`` of a soundfont, read from its ``phdr`` chunk (no samples)."""
    p = check_soundfont(path)
    st = p.stat()
    return _presets_cached(str(p), st.st_size, st.st_mtime)


# -- SF3 (Ogg Vorbis samples) -> SF2, cached ---------------------------------------------
#: sampleType flag of an Ogg Vorbis compressed sample (SF3, as fluidsynth reads it).
_OGG = 0x10
_SHDR = struct.Struct("<20sIIIIIBbHH")


def cache_dir() -> Path:
    """Where decoded soundfonts are kept: ``$MAINSTAGE_CACHE`` or ``~/.cache/mainstage``."""
    base = os.environ.get("MAINSTAGE_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME") or
                                                             os.path.join(os.path.expanduser("~"), ".cache"), "mainstage")
    return Path(base) / "soundfonts"


def _chunks(data: bytes, pos: int, end: int):
    """``(id, payload_start, size)`` of the RIFF chunks in ``data[pos:end]`` (odd sizes: see _next_chunk)."""
    while pos + 8 <= end:
        cid, size = struct.unpack_from("<4sI", data, pos)
        yield cid, pos + 8, size
        nxt = pos + 8 + size
        if size & 1 and not data[nxt:nxt + 4].isalnum():
            nxt += 1
        pos = nxt


def _chunk(cid: bytes, payload: bytes) -> bytes:
    return struct.pack("<4sI", cid, len(payload)) + payload + (b"\0" if len(payload) & 1 else b"")


def sf3_to_sf2(src: str | os.PathLike, dst: str | os.PathLike) -> None:
    """Decode an SF3 soundfont's Ogg Vorbis samples into a plain SF2 file (16-bit PCM).

    Each decoded sample is followed by 46 zero samples (SoundFont 2.04); start, end and
    loop points become absolute sample offsets (SF3 stores byte offsets of the Ogg
    streams and loop points relative to the sample start).
    """
    import io

    import numpy as np
    import soundfile as sf

    from ...core.atomic import atomic_path

    data = Path(src).read_bytes()
    if data[:4] != b"RIFF" or data[8:12] != b"sfbk":
        raise GMRenderError(f"{src}: not a SoundFont file (no RIFF sfbk header)")
    lists = {}
    for cid, p0, size in _chunks(data, 12, len(data)):
        if cid == b"LIST":
            lists[data[p0:p0 + 4]] = (p0 + 4, p0 + size)
    info = [(c, data[a:a + n]) for c, a, n in _chunks(data, *lists[b"INFO"])]
    sdta = {c: (a, n) for c, a, n in _chunks(data, *lists[b"sdta"])}
    pdta = [(c, data[a:a + n]) for c, a, n in _chunks(data, *lists[b"pdta"])]
    s0, _sn = sdta[b"smpl"]
    shdr = dict(pdta)[b"shdr"]
    pcm, pos, rows = [], 0, []
    pad = np.zeros(46, dtype="<i2")
    for k in range(len(shdr) // _SHDR.size):
        name, start, end, ls, le, rate, pitch, corr, link, typ = _SHDR.unpack_from(shdr, k * _SHDR.size)
        if k == len(shdr) // _SHDR.size - 1:  # the terminal "EOS" record
            rows.append(_SHDR.pack(name, 0, 0, 0, 0, rate, pitch, corr, link, typ))
            break
        if typ & _OGG:
            x, _r = sf.read(io.BytesIO(data[s0 + start:s0 + end]), dtype="int16", always_2d=True)
            x = x[:, 0].astype("<i2")
            ls, le = pos + ls, pos + le
        else:  # already PCM: start/end are sample offsets into the old smpl chunk
            x = np.frombuffer(data, dtype="<i2", count=end - start, offset=s0 + 2 * start)
            ls, le = pos + (ls - start), pos + (le - start)
        rows.append(_SHDR.pack(name, pos, pos + x.size, ls, le, rate, pitch, corr, link, typ & ~_OGG))
        pcm += [x, pad]
        pos += x.size + pad.size
    smpl = b"".join(a.tobytes() for a in pcm)
    info = [(c, struct.pack("<HH", 2, 4) if c == b"ifil" else v) for c, v in info]
    pdta = [(c, b"".join(rows) if c == b"shdr" else v) for c, v in pdta]
    body = b"sfbk"
    for lid, chunks in ((b"INFO", info), (b"sdta", [(b"smpl", smpl)]), (b"pdta", pdta)):
        body += _chunk(b"LIST", lid + b"".join(_chunk(c, v) for c, v in chunks))
    with atomic_path(dst) as tmp:
        Path(tmp).write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def playable(path: str) -> str:
    """The file fluidsynth should load for a soundfont: SF3 files are decoded once into a cached
    SF2 (loading an SF3 decodes its samples every time, seconds per render); on failure, the SF3."""
    if not path.lower().endswith(".sf3"):
        return path
    st = os.stat(path)
    dst = cache_dir() / f"{Path(path).stem}-{st.st_size}-{int(st.st_mtime)}.sf2"
    if dst.is_file():
        return str(dst)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        sf3_to_sf2(path, dst)
    except (OSError, RuntimeError, ValueError, KeyError, struct.error):
        return path
    return str(dst)
