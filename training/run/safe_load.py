"""Loading untrusted ``.pt``/``.pth`` files: tensors and plain Python only, one-line errors.

``torch.load(weights_only=True)`` refuses pickled objects, but its message advises re-running
with ``weights_only=False`` (which would run the file's code). This wrapper states the
refusal in its own words and never passes that advice on.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile

import torch

from ...core.errors import InputFileError, os_error_reason

#: What a file holding pickled objects (code that would run on load) is told.
REFUSED = "not a plain-tensor checkpoint: refused to unpickle objects"


def _refused_global(text: str) -> str:
    """The blocked global named in torch's message (``posix.system``), if any."""
    m = re.search(r"unsupported GLOBAL ([\w.]+)", text)
    return f" (it names {m.group(1)})" if m else ""


def load_tensors(path: str | os.PathLike, map_location="cpu", *, what: str = "checkpoint"):
    """``torch.load(path, weights_only=True)`` with one-line :class:`InputFileError` s.

    Raises
    ------
    InputFileError
        ``"<file>: not a plain-tensor checkpoint: refused to unpickle objects"`` for a file
        that pickles objects, or a short reason for a missing, unreadable or corrupt file.
    """
    src = os.fspath(path)
    if not os.path.isfile(src):
        raise InputFileError(src, f"no such {what} file" if not os.path.exists(src) else f"not a {what} file")
    try:
        return torch.load(src, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if re.search(r"global", text, re.IGNORECASE):  # a class or function the file wants to call
            raise InputFileError(src, REFUSED + _refused_global(text)) from None
        raise InputFileError(src, f"cannot load {what} (not a PyTorch file, or damaged)") from None
    except OSError as exc:
        raise InputFileError(src, f"cannot read {what}: {os_error_reason(exc)}") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, TypeError, AttributeError, KeyError,
            IndexError) as exc:  # torch reports truncated or foreign files with these
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        if "weights_only" in first:  # never pass on torch's advice to switch it off
            first = "not a PyTorch file, or damaged"
        raise InputFileError(src, f"cannot load {what} ({first[:120]})") from None
