"""User-facing error types. The CLI prints ``str(err)`` as one line and exits non-zero."""
from __future__ import annotations

import os


class MainstageError(Exception):
    """Base class of errors caused by user input (bad files, bad options), not by bugs."""


class InputFileError(MainstageError, ValueError):
    """An input file cannot be used. ``str(err)`` is ``"<file>: <problem>"`` on one line."""

    def __init__(self, source: str, problem: str):
        self.source = str(source)
        self.problem = problem
        super().__init__(f"{source}: {problem}")


#: The reason printed for the ``errno`` values a user meets with ordinary files.
_REASONS = {
    "EACCES": "permission denied", "EPERM": "permission denied (operation not permitted)",
    "ENAMETOOLONG": "file name too long", "ENOSPC": "no space left on device", "EDQUOT": "disk quota exceeded",
    "EFBIG": "file too large", "EISDIR": "is a directory", "ENOTDIR": "a component of the path is not a directory",
    "ELOOP": "symlink loop (too many levels of symbolic links)", "ENOENT": "no such file or directory",
    "EROFS": "read-only file system", "EEXIST": "already exists", "EIO": "input/output error",
    "EMFILE": "too many open files", "ENXIO": "no such device or address", "ETXTBSY": "file is busy",
}


def os_error_reason(exc: OSError) -> str:
    """The reason of ``exc`` in a few lower-case words (``"permission denied"``)."""
    import errno

    name = errno.errorcode.get(exc.errno or -1)
    if name in _REASONS:
        return _REASONS[name]
    return (exc.strerror or str(exc) or type(exc).__name__).rstrip(".").lower()


class FileSystemError(MainstageError, OSError):
    """An ordinary OS error on a file, as one line: ``"<file>: <reason>"``.

    Also an :class:`OSError` (with ``errno`` and ``filename``), so code that handles
    OS errors keeps handling it.
    """

    def __init__(self, path, reason: str, errno_: int | None = None):
        super().__init__(errno_, reason)
        self.filename = self.path = str(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    @classmethod
    def from_os_error(cls, exc: OSError, path=None) -> "FileSystemError":
        """Wrap ``exc``; ``path`` names the file when ``exc`` names none (or names a temporary)."""
        if isinstance(exc, FileSystemError):
            return exc
        name = path if path is not None else (exc.filename if exc.filename is not None else "(unknown file)")
        if isinstance(name, bytes):
            name = os.fsdecode(name)
        return cls(name, os_error_reason(exc), exc.errno)
