"""The audio file a timeline describes: found beside the timeline and checked to be that audio.

A timeline's ``track.file`` is untrusted: it is resolved in the timeline's folder, must
stay inside it (after symlinks) unless the user allows otherwise, and the file found
must be the one analysed (same SHA-256) and decodable, so that nothing else (a system
file, a different track) is read or rendered.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..errors import InputFileError, os_error_reason
from ..hashing import sha256_file
from .validation import TimelineError

#: The command-line option that lifts the "inside the timeline's folder" rule.
ALLOW_OUTSIDE_OPTION = "--allow-outside-paths"


def resolve_track_file(doc: dict, timeline_path: str | os.PathLike, *, allow_outside: bool = False) -> Path:
    """Where a timeline's ``track.file`` points, resolved in the timeline's folder.

    Raises
    ------
    TimelineError
        An absolute path, or one that leaves the timeline's folder (``../``, a symlink),
        unless ``allow_outside``.
    """
    src = str(timeline_path)
    name = str(doc["track"]["file"])
    base = Path(timeline_path).resolve().parent
    p = Path(name)
    if p.is_absolute() and not allow_outside:
        raise TimelineError(src, f"track.file {name[:200]!r} is an absolute path; it must be relative to the "
                                 f"timeline's folder ({ALLOW_OUTSIDE_OPTION} permits other places)")
    try:
        resolved = (base / p).resolve()
    except (OSError, RuntimeError) as exc:  # symlink loop
        reason = os_error_reason(exc) if isinstance(exc, OSError) else "symlink loop"
        raise TimelineError(src, f"its audio {name[:200]!r}: {reason}") from None
    if not allow_outside and not resolved.is_relative_to(base):
        raise TimelineError(src, f"track.file {name[:200]!r} points outside the timeline's folder {base} "
                                 f"({ALLOW_OUTSIDE_OPTION} permits that)")
    return resolved


def check_track_audio(doc: dict, timeline_path: str | os.PathLike, *, allow_outside: bool = False) -> Path:
    """The timeline's audio file, checked to be the analysed audio; returns its resolved path.

    Parameters
    ----------
    doc : dict
        A validated timeline.
    timeline_path : path
        The timeline file (``track.file`` is relative to its folder).
    allow_outside : bool
        Accept absolute paths and paths outside the timeline's folder (the hash check stays).

    Raises
    ------
    TimelineError
        One line naming the timeline: the path is not allowed, the file is missing or not a
        regular file, cannot be read, differs from the analysed audio (SHA-256), or does
        not decode.
    """
    src = str(timeline_path)
    name = str(doc["track"]["file"])[:200]
    audio = resolve_track_file(doc, timeline_path, allow_outside=allow_outside)
    if not audio.exists():
        raise TimelineError(src, f"its audio {name!r} is not at {audio}")
    if not audio.is_file():
        raise TimelineError(src, f"its audio {name!r} at {audio} is not a regular file")
    try:
        digest = sha256_file(audio)
    except OSError as exc:
        raise TimelineError(src, f"cannot read its audio {audio}: {os_error_reason(exc)}") from None
    want = doc["track"]["sha256"]
    if digest != want:
        raise TimelineError(src, f"its audio {audio} is not the analysed track (sha256 {digest[:12]}..., the "
                                 f"timeline says {want[:12]}...); analyse the file again")
    from ..audio import probe

    try:
        probe(str(audio))
    except InputFileError as exc:
        raise TimelineError(src, f"its audio {audio} does not decode ({exc.problem})") from None
    return audio


def relative_track_file(track: str | os.PathLike, timeline_path: str | os.PathLike) -> str:
    """``track.file`` for a timeline written to ``timeline_path``: the audio relative to the
    timeline's folder, with forward slashes (absolute only across Windows drives)."""
    try:
        rel = os.path.relpath(os.path.abspath(track), os.path.dirname(os.path.abspath(timeline_path)))
    except ValueError:
        return Path(os.path.abspath(track)).as_posix()
    return Path(rel).as_posix()
