"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or an error half-way never leaves a truncated file where the user expects
a complete one, and an existing file is only replaced once the new one is whole.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Iterator


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix so that libraries which pick a
    format from the extension (soundfile, matplotlib) still work.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp makes owner-only files; give the result the mode a plain open() would
        # (or keep the mode of the file it replaces).
        try:
            mode = target.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file for writing that replaces ``path`` when closed without error."""
    if not any(c in mode for c in "wx"):
        raise ValueError("atomic_open is for writing")
    with atomic_path(path) as tmp:
        with open(tmp, mode.replace("x", "w"), **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def write_json_atomic(path: str | os.PathLike, obj, indent: int | None = 1) -> None:
    """Serialise ``obj`` as JSON to ``path`` atomically (UTF-8, NaN forbidden)."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=indent, allow_nan=False)
        fh.write("\n")
