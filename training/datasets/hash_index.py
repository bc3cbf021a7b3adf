"""Content hashes of a dataset's files, remembered by (path, size, mtime) in ``hashes.json``.

Prepared-track cache keys depend on file content (:mod:`..features.prepare`); the index lets
unchanged files go unread when a manifest is prepared again.
"""
from __future__ import annotations

import os
from pathlib import Path

from ...core.atomic import write_json_atomic
from ...core.hashing import sha256_file
from ...core import jsonfile


class HashIndex:
    """Remembered content hashes, keyed by (absolute path, size, mtime_ns); stored in ``hashes.json``."""

    def __init__(self, cache_dir: str | os.PathLike):
        self.path = Path(cache_dir) / "hashes.json"
        self.entries: dict[str, list] = {}
        self.dirty = False
        if self.path.is_file():
            try:
                doc = jsonfile.loads(self.path.read_text(encoding="utf-8"))
                if isinstance(doc, dict):
                    self.entries = {k: v for k, v in doc.items() if isinstance(v, list) and len(v) == 3}
            except (OSError, ValueError):
                self.entries = {}  # a broken index only costs re-hashing

    @staticmethod
    def _stamp(path: Path) -> tuple[str, int, int]:
        st = path.stat()
        return str(path.resolve()), int(st.st_size), int(st.st_mtime_ns)

    def get(self, path: str | os.PathLike) -> str:
        """sha256 of ``path``, from the index when its size and mtime are unchanged."""
        key, size, mtime = self._stamp(Path(path))
        e = self.entries.get(key)
        if e and e[0] == size and e[1] == mtime:
            return str(e[2])
        digest = sha256_file(path)
        self.entries[key] = [size, mtime, digest]
        self.dirty = True
        return digest

    def prefetch(self, paths, workers: int = 1) -> None:
        """Hash the files of ``paths`` not in the index yet, ``workers`` at a time (hashlib
        releases the GIL, so threads read and hash in parallel). Unreadable files are skipped
        (:meth:`get` reports them)."""
        todo = []
        for path in paths:
            try:
                key, size, mtime = self._stamp(Path(path))
            except OSError:
                continue
            e = self.entries.get(key)
            if not (e and e[0] == size and e[1] == mtime):
                todo.append((path, key, size, mtime))
        if len(todo) < 2 or workers <= 1:
            return
        from concurrent.futures import ThreadPoolExecutor

        def one(item):
            try:
                return item, sha256_file(item[0])
            except OSError:
                return item, None
        with ThreadPoolExecutor(max_workers=int(workers)) as ex:
            for (path, key, size, mtime), digest in ex.map(one, todo):
                if digest is not None:
                    self.entries[key] = [size, mtime, digest]
                    self.dirty = True

    def save(self) -> None:
        if self.dirty:
            write_json_atomic(self.path, self.entries, indent=None)
            self.dirty = False
