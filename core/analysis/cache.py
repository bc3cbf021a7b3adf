"""On-disk cache of analysis results, keyed by file content, parameters and code version.

Entries live in ``$MAINSTAGE_CACHE_DIR`` or, by default, ``$XDG_CACHE_HOME/mainstage-vfx``
(``~/.cache/mainstage-vfx``), as ``analysis/<key[:2]>/<key>.json``. The key is the SHA-256
of the audio file's SHA-256, the analysis parameters and the code version (which hashes
the analysis source files, so any change to the analysis invalidates old entries).
The genre model's identity (ONNX bytes and metadata JSON, see ``track.genre_cache_token``)
is one of the parameters. Writes are atomic, so processes can share the cache; an entry
is checked on read (strict JSON, the timeline schema, the file's hash) and a bad one is
reported in one line on stderr and recomputed.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

from .. import __version__
from ..atomic import remove_stale_temps, write_json_atomic
from ..errors import InputFileError
from ..jsonfile import read_json

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
    """Package version plus a digest of the source code that computes a timeline (audio
    decoding, analysis, genre inference, the timeline document)."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    core = here.parent
    files = (sorted(here.glob("*.py")) + sorted((core / "genre").glob("*.py")) + sorted((core / "timeline").glob("*.py"))
             + [core / "audio.py", core / "genres.py"])
    for f in files:
        try:
            h.update(f.relative_to(core).as_posix().encode())
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

    def get(self, key: str, sha256: str | None = None) -> dict | None:
        """The stored timeline, or None when absent or bad.

        A bad entry (not strict JSON, not a valid timeline, or about another file than
        ``sha256``) is reported on stderr in one line; the caller recomputes and overwrites it.
        """
        from ..timeline import validate_timeline

        p = self._path(key)
        if not p.is_file():
            return None
        try:
            doc = validate_timeline(read_json(p, what="a cache entry"), str(p))
            if sha256 is not None and doc["track"]["sha256"] != sha256:
                raise InputFileError(str(p), "it describes another file (sha256 differs)")
        except InputFileError as exc:
            print(f"note: ignored a bad analysis cache entry ({exc.problem[:200]}): {p}; recomputing",
                  file=sys.stderr, flush=True)
            return None
        return doc

    def remove_stale_temps(self) -> list[Path]:
        """Delete the temporary entries that killed processes left behind (see
        :func:`..atomic.remove_stale_temps`); those of live processes are kept."""
        removed: list[Path] = []
        try:
            folders = [e.path for e in os.scandir(self.root / "analysis") if e.is_dir(follow_symlinks=False)]
        except OSError:  # no cache yet, or unreadable: nothing to clean
            return removed
        for folder in folders:
            removed += remove_stale_temps(folder)
        return removed

    def put(self, key: str, doc: dict) -> None:
        """Store a document (atomically); cache write failures are not fatal."""
        try:
            write_json_atomic(self._path(key), doc, indent=None)
        except OSError:
            pass
