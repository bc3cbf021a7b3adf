"""On-disk cache of analysis results, keyed by file content, parameters and code version.

Entries live in ``$MAINSTAGE_CACHE_DIR`` or, by default, ``$XDG_CACHE_HOME/mainstage-vfx``
(``~/.cache/mainstage-vfx``), as ``analysis/<key[:2]>/<key>.json``. The key is the SHA-256
of the audio file's SHA-256, the analysis parameters and the code version (which hashes
the analysis source files, so any change to the analysis invalidates old entries).
Writes are atomic; unreadable entries are ignored and replaced.
"""
from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

from .. import __version__
from ..atomic import write_json_atomic

ENV_DIR = "MAINSTAGE_CACHE_DIR"


def cache_dir() -> Path:
    """Folder of the analysis cache (not created here)."""
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "mainstage-vfx"


@lru_cache(maxsize=1)
def code_version() -> str:
    """Package version plus a digest of the audio and analysis source code."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py")) + [here.parent / "audio.py"]
    for f in files:
        try:
            h.update(f.name.encode())
            h.update(f.read_bytes())
        except OSError:
            continue
    return f"{__version__}+{h.hexdigest()[:12]}"


def cache_key(file_sha256: str, params: dict) -> str:
    """Key of an analysis of a file with ``params`` by this code version."""
    blob = json.dumps({"sha256": file_sha256, "params": params, "code": code_version()},
                      sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


class AnalysisCache:
    """Timeline documents stored by key."""

    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else cache_dir()

    def _path(self, key: str) -> Path:
        return self.root / "analysis" / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The stored document, or None when absent or unreadable."""
        p = self._path(key)
        try:
            with open(p, encoding="utf-8") as fh:
                doc = json.load(fh)
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, key: str, doc: dict) -> None:
        """Store a document (atomically); cache write failures are not fatal."""
        try:
            write_json_atomic(self._path(key), doc, indent=None)
        except OSError:
            pass
