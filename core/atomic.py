"""Atomic file output: write to a temporary file beside the target, then rename.

A crash or an error half-way never leaves a truncated file where the user expects
a complete one, and an existing file is only replaced once the new one is whole.

Only regular files are ever replaced: a symlink is written *through* (the new file
is renamed onto the link's target, the link stays), and a directory, device node,
FIFO or socket at the target is refused with a :class:`FileSystemError` before
anything is created. Temporary files are named ``.<stem>.<pid>.<random>.tmp<suffix>``
so that :func:`remove_stale_temps` can tell those of a dead (killed) process.
"""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from .errors import FileSystemError

#: Characters of the target's stem kept in a temporary name (the name must stay under 255 bytes).
_STEM_CHARS = 80
#: OS errors without a file name that a write into the temporary file raises: they concern the target.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}


def _read_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()

_KINDS = ((stat.S_ISDIR, "is a directory"), (stat.S_ISCHR, "is a character device"),
          (stat.S_ISBLK, "is a block device"), (stat.S_ISFIFO, "is a FIFO (named pipe)"),
          (stat.S_ISSOCK, "is a socket"))


def _temp_prefix(stem: str) -> str:
    return f".{stem[:_STEM_CHARS]}.{os.getpid()}."


def resolve_target(path: str | os.PathLike) -> Path:
    """The regular file that writing ``path`` must replace (symlinks followed).

    Raises
    ------
    FileSystemError
        ``path`` (or the file a symlink points to) exists and is not a regular file,
        or the symlinks loop.
    """
    target = Path(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:  # ELOOP, ENAMETOOLONG, EACCES, ENOTDIR
        raise FileSystemError.from_os_error(exc, target) from None
    if st is not None:
        for test, what in _KINDS:
            if test(st.st_mode):
                raise FileSystemError(target, f"{what}, not a regular file; refusing to replace it",
                                      errno.EISDIR if what == "is a directory" else None)
    if target.is_symlink():  # an existing file or a dangling link: write where it points
        target = Path(os.path.realpath(target))
    return target


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix so that libraries which pick a
    format from the extension (soundfile, matplotlib) still work. A symlink at
    ``path`` keeps pointing at the (replaced) file it names.

    Raises
    ------
    FileSystemError
        The target is not a regular file, or an OS error (permission denied, no space
        left, file name too long, ...) naming ``path`` rather than the temporary.
    """
    shown = Path(path)
    target = resolve_target(shown)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # names the folder that could not be made
        raise FileSystemError.from_os_error(exc, exc.filename or target.parent) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target.stem), suffix=f".tmp{target.suffix}",
                                   dir=target.parent)
        os.close(fd)
    except OSError as exc:  # the temporary's name would mean nothing to the user
        raise FileSystemError.from_os_error(exc, shown) from None
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
        resolve_target(target)  # something else may have appeared there while we wrote
        os.replace(tmp_path, target)
    except BaseException as exc:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if isinstance(exc, OSError) and not isinstance(exc, FileSystemError) and (
                exc.filename in (str(tmp_path), tmp_path) or (exc.filename is None and exc.errno in _WRITE_ERRNOS)):
            raise FileSystemError.from_os_error(exc, shown) from None
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


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    try:  # a killed process stays a zombie until it is reaped: dead all the same
        stat_line = Path(f"/proc/{pid}/stat").read_text()
        return stat_line[stat_line.rindex(")") + 2:][:1] not in ("Z", "X")
    except (OSError, ValueError):  # no /proc (not Linux)
        return True


_TEMP_RE = re.compile(r"^\.(?P<stem>.*)\.(?P<pid>\d+)\.[A-Za-z0-9_]{8}\.tmp(?P<suffix>(\.[^.]*)?)$")


def remove_stale_temps(folder: str | os.PathLike, name: str | os.PathLike | Iterable[str | os.PathLike] | None = None,
                       ) -> list[Path]:
    """Delete the temporary files of :func:`atomic_path` whose writing process is dead.

    A process killed with SIGKILL (or a power cut) cannot remove its temporary file;
    the next run calls this. Files of live processes are left alone (pid reuse can
    only make a stale file survive, never delete a live one on this machine).

    Parameters
    ----------
    folder : path-like
        The folder the targets live in.
    name : str or iterable of str, optional
        Only the temporaries of this target file name, or of these names (default: of
        every target).

    Returns
    -------
    list of Path
        The files removed.
    """
    want = None
    if name is not None:
        names = [name] if isinstance(name, (str, os.PathLike)) else list(name)
        want = {(Path(n).stem[:_STEM_CHARS], Path(n).suffix) for n in names}
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for e in entries:
        m = _TEMP_RE.match(e.name)
        if m is None or (want is not None and (m["stem"], m["suffix"]) not in want):
            continue
        try:
            if not e.is_file(follow_symlinks=False) or _pid_alive(int(m["pid"])):
                continue
            os.unlink(e.path)
            removed.append(Path(e.path))
        except (OSError, ValueError, OverflowError):
            continue
    return removed
