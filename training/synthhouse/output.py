"""Writing a render to disk: audio file plus ``<name>.truth.json``, both atomically."""
from __future__ import annotations

import copy
import os
from pathlib import Path

from ...core.atomic import atomic_path
from ...core.errors import InputFileError
from ...core.hashing import sha256_file
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
    with atomic_path(path) as tmp:
        sf.write(str(tmp), res.audio, res.sr, subtype=subtype, format=fmt)
    truth = copy.deepcopy(res.truth)
    truth["track"].update(file=path.name, sha256=sha256_file(path), duration_s=res.audio.shape[0] / res.sr,
                          sample_rate=int(res.sr), channels=int(res.audio.shape[1]))
    tpath = Path(truth_path) if truth_path is not None else truth_path_for(path)
    save_timeline(truth, tpath)
    return tpath
