"""Finding a Label Studio task's audio file in a local folder.

A task is matched to the files of the audio folder (searched recursively) by the
first rule that finds exactly one file (see :mod:`.names` for Label Studio's renaming
of uploads):

1. ``exact``: the file name equals the task's name without the upload prefix;
2. ``normalised``: equal after Unicode NFC normalisation and case folding;
3. ``sanitised``: equal after applying Label Studio's renaming to the local name;
4. ``loose``: equal when only letters and digits count (accents and case ignored;
   ``A & B - T.ogg`` matches ``A___B_-_T.ogg``);
5. ``extension``: rules 1-4 without the file extensions (``x.ogg`` vs ``x.flac``);
6. ``truncated``: the task's name without Label Studio's random suffix is the start
   of exactly one local name (loose comparison, at least 16 characters).

A rule that finds several files stops the search: the task is reported as
*ambiguous* (with the candidates) rather than matched by a guess.
"""
from __future__ import annotations

import os
from pathlib import Path

from ...core.audio import AUDIO_EXTENSIONS
from ...core.errors import InputFileError
from .names import RANDOM_SUFFIX, label_studio_filename, loose_key, nfc_fold, split_extension

#: Shortest loose-key prefix accepted by the ``truncated`` rule.
MIN_TRUNCATED_KEY = 16
MATCH_RULES = ("exact", "normalised", "sanitised", "loose", "extension", "truncated")


def index_audio(audio_dir: str | os.PathLike) -> list[Path]:
    """Audio files under ``audio_dir`` (recursive, hidden files and folders skipped), sorted.

    Raises
    ------
    InputFileError
        The folder does not exist or is not a folder.
    """
    root = Path(audio_dir)
    if not root.exists():
        raise InputFileError(str(root), "no such audio folder")
    if not root.is_dir():
        raise InputFileError(str(root), "not a folder (--audio-dir needs the folder holding the audio files)")
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for f in filenames:
            if not f.startswith(".") and os.path.splitext(f)[1].lower() in AUDIO_EXTENSIONS:
                files.append(Path(dirpath) / f)
    return sorted(files)


def _rule_keys(name: str) -> dict[str, str]:
    """Keys of a file name under rules 1-4, with and without the extension."""
    stem, ext = split_extension(name)
    keys = {
        "exact": name,
        "normalised": nfc_fold(name),
        "sanitised": nfc_fold(label_studio_filename(name)),
        "loose": loose_key(stem) + ext.lower(),
    }
    keys.update({
        "exact:stem": stem,
        "normalised:stem": nfc_fold(stem),
        "sanitised:stem": nfc_fold(label_studio_filename(stem)),
        "loose:stem": loose_key(stem),
    })
    return keys


class AudioIndex:
    """Lookup of local audio files by the matching rules of this module."""

    _ORDER = (("exact", "exact"), ("normalised", "normalised"), ("sanitised", "sanitised"), ("loose", "loose"),
              ("exact:stem", "extension"), ("normalised:stem", "extension"), ("sanitised:stem", "extension"),
              ("loose:stem", "extension"))

    def __init__(self, files: list[Path]):
        self.files = list(files)
        self.tables: dict[str, dict[str, list[int]]] = {k: {} for k, _ in self._ORDER}
        self.loose_stems: list[str] = []
        for i, f in enumerate(self.files):
            keys = _rule_keys(f.name)
            for k, _ in self._ORDER:
                bucket = self.tables[k].setdefault(keys[k], [])
                if not bucket or bucket[-1] != i:
                    bucket.append(i)
            self.loose_stems.append(keys["loose:stem"])

    def match(self, names: list[str]) -> tuple[Path | None, str | None, list[Path]]:
        """Find the file of a task.

        Parameters
        ----------
        names : list of str
            The task's candidate names, best first (without, then with the upload prefix).

        Returns
        -------
        (path or None, rule or None, candidates)
            ``candidates`` lists the files of an ambiguous match (path None).
        """
        keysets = [_rule_keys(n) for n in names if n]
        for table, rule in self._ORDER:
            for keys in keysets:
                hits = self.tables[table].get(keys[table], [])
                if len(hits) == 1:
                    return self.files[hits[0]], rule, []
                if len(hits) > 1:
                    return None, None, [self.files[i] for i in hits]
        # Truncated upload names (Django's random suffix): a unique loose prefix.
        for n in names:
            if not n:
                continue
            stem, _ = split_extension(n)
            if not RANDOM_SUFFIX.search(stem):
                continue
            key = loose_key(RANDOM_SUFFIX.sub("", stem))
            if len(key) < MIN_TRUNCATED_KEY:
                continue
            hits = [i for i, s in enumerate(self.loose_stems) if s.startswith(key)]
            if len(hits) == 1:
                return self.files[hits[0]], "truncated", []
            if len(hits) > 1:
                return None, None, [self.files[i] for i in hits]
        return None, None, []
