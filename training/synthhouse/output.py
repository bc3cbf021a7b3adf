"""Writing a render to disk: audio file plus ``<name>.truth.json``, as a pair.

Both are written to temporary files first; then an audio file being replaced is
removed, the truth is renamed into place and the audio last. A process killed at
any point (SIGKILL included) leaves either the old pair, a truth without audio, or
the new pair: never audio without its truth, nor with another render's truth. The
temporaries of a killed run are removed by :func:`remove_stale_outputs`.
"""
from __future__ import annotations

import contextlib
import copy
import hashlib
import io
import os
from pathlib import Path

from ...core.atomic import atomic_path, remove_stale_temps, resolve_target
from ...core.errors import InputFileError
from ...core.timeline import save_timeline

#: Output container by file extension.
FORMATS = {".wav": "WAV", ".flac": "FLAC"}
SUBTYPES = ("PCM_16", "PCM_24")


def truth_path_for(audio_path: str | os.PathLike) -> Path:
    """``mix.wav`` -> ``mix.truth.json`` (same folder)."""
    p = Path(audio_path)
    return p.with_name(p.stem + ".truth.json")


def write_track(res, path: str | os.PathLike, subtype: str = "PCM_16", truth_path: str | os.PathLike | None = None) -> Path:
    """Write ``res.audio`` to ``path`` (.wav or .flac) and its truth next to it.

    The truth's ``track`` fields are filled in from the written file (``file`` = the
    audio file name, ``sha256`` of the file, ``duration_s``, ``sample_rate``,
    ``channels``); the truth is validated before it is written.

    Parameters
    ----------
    res : SynthResult
    path : path-like
        Audio file; the extension picks the format.
    subtype : {"PCM_16", "PCM_24"}
    truth_path : path-like, optional
        Default: ``<stem>.truth.json`` beside the audio.

    Returns
    -------
    Path
        The truth file written.

    Raises
    ------
    InputFileError
        For an unsupported extension or subtype.
    """
    import soundfile as sf

    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputFileError(str(path), f"unsupported audio extension {path.suffix or '(none)'!r}; use .wav or .flac")
    if subtype not in SUBTYPES:
        raise InputFileError(str(path), f"unsupported sample format {subtype!r}; use one of {', '.join(SUBTYPES)}")
    tpath = Path(truth_path) if truth_path is not None else truth_path_for(path)
    resolve_target(tpath)  # a directory or device in the truth's place: refused before rendering work is lost
    # Encoded in memory, then written by Python: a full disk or a read-only folder is then a real
    # OSError (errno, file name) instead of libsndfile's bare "System error.".
    buf = io.BytesIO()
    sf.write(buf, res.audio, res.sr, subtype=subtype, format=fmt)
    data = buf.getbuffer()
    truth = copy.deepcopy(res.truth)
    truth["track"].update(file=path.name, sha256=hashlib.sha256(data).hexdigest(),
                          duration_s=res.audio.shape[0] / res.sr, sample_rate=int(res.sr),
                          channels=int(res.audio.shape[1]))
    with atomic_path(path) as audio_tmp:
        with open(audio_tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        with atomic_path(tpath) as truth_tmp:
            save_timeline(truth, truth_tmp)  # validated before anything is renamed
            with contextlib.suppress(FileNotFoundError):
                resolve_target(path).unlink()  # the old audio must not outlive its truth
        # leaving the outer block renames the audio: the pair is complete
    return tpath


def remove_stale_outputs(*paths: str | os.PathLike) -> list[Path]:
    """Remove temporaries that a killed :func:`write_track` left for these target files."""
    removed: list[Path] = []
    for p in paths:
        p = Path(p)
        removed += remove_stale_temps(p.parent if str(p.parent) else ".", p.name)
    return removed
