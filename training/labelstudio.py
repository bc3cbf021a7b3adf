"""Label Studio exports -> training manifests.

The paper's labels come as Label Studio JSON exports (``label-studio-*.json`` in the
shared reference data): a list of tasks, one per uploaded track::

    {"id": 155,
     "data": {"audio": "/data/upload/10/c79030f3-Agents_Of_Time_-_The_Mirage.ogg"},
     "file_upload": "c79030f3-Agents_Of_Time_-_The_Mirage.ogg",
     "annotations": [{"was_cancelled": false, "ground_truth": false,
                      "result": [{"from_name": "Techno", "type": "number",
                                  "value": {"number": 0.75}}, ...]}],
     ...}

Each annotation's ``number`` results are a soft label over the eight genres
(``Techno`` is Tech House). This module reads such exports as data (``json`` only,
every field checked), turns every task into one soft label, finds the task's audio
file in a local folder and writes a manifest in the format of
:func:`mainstage.training.data.read_manifest`.

Label rules
-----------
- cancelled annotations (``was_cancelled``) are skipped; Label Studio's model
  ``predictions`` and ``drafts`` are never used as labels;
- ``number`` results whose ``from_name`` is a genre (any accepted spelling) give that
  genre's weight; ``choices`` results naming genres give each chosen genre weight 1;
  other results (comments, unknown names) are ignored and counted in the report;
- an annotation whose weights do not sum to 1 is renormalised (and reported); one
  with a negative or non-finite weight is invalid, one with no positive weight is
  empty; a task without any usable annotation is *unlabelled* and left out;
- several usable annotations of one task are averaged (only the ``ground_truth``
  ones when the task has any);
- several tasks for the same audio file (duplicates) are averaged into one row.

Matching tasks to audio
-----------------------
Label Studio stores an upload as ``<8 hex digits>-<name>`` after replacing spaces by
``_`` and deleting characters other than letters, digits, ``_``, ``-`` and ``.``
(Django's ``get_valid_filename``); names that are too long or already taken get
truncated and a random 7-character suffix. A task is matched to the files of the
audio folder (searched recursively) by the first rule that finds exactly one file:

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

import csv
import io
import json
import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np

from ..core.errors import InputFileError, MainstageError
from ..core.genres import GENRES, GenreError, canonical_genre

#: Label Studio's upload prefix: 8 hex digits of a UUID and a dash.
UPLOAD_PREFIX = re.compile(r"^[0-9a-fA-F]{8}-")
#: Django's random suffix on truncated or clashing upload names (``_`` + 7 characters).
RANDOM_SUFFIX = re.compile(r"_[A-Za-z0-9]{7}$")
#: Extensions of files indexed in the audio folder (the runtime's list).
AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc",
     ".w64", ".rf64", ".caf", ".m4a", ".aac", ".wma", ".mka", ".webm"}
)
#: Largest export file read (bytes); real exports of 1000 tracks are a few MB.
MAX_EXPORT_BYTES = 512 * 1024 * 1024
#: Weights whose sum differs from 1 by more than this are reported as renormalised.
SUM_TOLERANCE = 1e-6
#: Shortest loose-key prefix accepted by the ``truncated`` rule.
MIN_TRUNCATED_KEY = 16
MATCH_RULES = ("exact", "normalised", "sanitised", "loose", "extension", "truncated")


class ExportError(InputFileError):
    """An export file cannot be read or is not a Label Studio JSON export."""


# --- names -------------------------------------------------------------------------------

def strip_upload_prefix(name: str) -> str:
    """File name without Label Studio's ``abcd1234-`` upload prefix (unchanged when absent).

    >>> strip_upload_prefix("c79030f3-Agents_Of_Time_-_The_Mirage.ogg")
    'Agents_Of_Time_-_The_Mirage.ogg'
    """
    base = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    return UPLOAD_PREFIX.sub("", base, count=1)


def label_studio_filename(name: str) -> str:
    """The name Label Studio (Django's ``get_valid_filename``) stores an upload under.

    Spaces become ``_``; every character other than a letter, digit, ``_``, ``-`` or
    ``.`` is deleted.
    """
    s = unicodedata.normalize("NFC", str(name)).strip().replace(" ", "_")
    return re.sub(r"(?u)[^-\w.]", "", s)


def _nfc_fold(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold()


def _loose(name: str) -> str:
    """Letters and digits only, accents removed, case folded, words separated by one space."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold()
    return " ".join(re.findall(r"[^\W_]+", s))


def _split_ext(name: str) -> tuple[str, str]:
    stem, ext = os.path.splitext(name)
    if ext and ext.lower() in AUDIO_EXTENSIONS | {".mp4", ".m4b", ".alac", ".ape", ".wv", ".mpc"}:
        return stem, ext
    return name, ""


#: Separators between artists in the artist part of a file name.
_ARTIST_SPLIT = re.compile(
    r"\s*(?:,|;|&|\+|/|\bfeat\b\.?|\bft\b\.?|\bfeaturing\b|\bvs\b\.?|\bversus\b|(?<=\s)x(?=\s)|(?<=\s)X(?=\s)"
    r"|\(|\)|\[|\])\s*",
    re.IGNORECASE,
)
#: Separators between artist and title ("Artist - Title").
_TITLE_SPLIT = re.compile(r"\s+[-\u2013\u2014]+\s+")


def _artist_title(name: str) -> tuple[str, str] | None:
    """``(first part, rest)`` of ``"A - B.ext"`` (Label Studio's ``A_-_B`` too); None without a separator."""
    base = strip_upload_prefix(name)
    stem, _ = _split_ext(base)
    stem = unicodedata.normalize("NFC", stem).strip()
    if " " not in stem and "_-_" not in stem and "___" in stem and RANDOM_SUFFIX.search(stem):
        # A sanitised name truncated by Label Studio (title lost): "A___B___C_Xy12AbC".
        return stem.split("___", 1)[0] + "___", ""
    if " " not in stem and "_-_" in stem:
        left, right = stem.split("_-_", 1)
        if re.fullmatch(r"\d{1,3}", left) and "_-_" in right:  # "01_-_Artist_-_Title"
            left, right = right.split("_-_", 1)
        return left, right
    pieces = _TITLE_SPLIT.split(stem)
    if len(pieces) < 2:
        return None
    if len(pieces) >= 3 and re.fullmatch(r"\d{1,3}\.?", pieces[0].strip()):  # "01 - Artist - Title"
        pieces = pieces[1:]
    return re.sub(r"^\d{1,3}[.)]\s+", "", pieces[0]), " - ".join(pieces[1:])


_SEVERAL_ARTISTS = re.compile(r"__|\s(?:&|x|X|vs\.?|,)\s|,\s|\s&\s")
_TITLE_WORDS = re.compile(r"(?i)(?:^|[\s_(\[])(?:remix|mix|edit|version|vip|bootleg|remake|rework|inst)(?:$|[\s_)\]])")


def name_order(names) -> str:
    """Whether a collection's file names read ``"Artist - Title"`` or ``"Title - Artist"``.

    Some exports name files ``Title - Artists`` (the paper's project 4 does). Votes:
    several artists (``&``, ``x``, ``,``, ``vs``, Label Studio's ``__``) mark the artist
    side; ``Remix``, ``Mix``, ``Edit``, ``Version``, ``VIP`` mark the title side.

    Parameters
    ----------
    names : iterable of str
        File names or paths.

    Returns
    -------
    str
        ``"artist-title"`` (the default, also on a tie) or ``"title-artist"``.
    """
    artist_first = title_first = 0
    for n in names:
        parts = _artist_title(n)
        if parts is None or not parts[1]:
            continue
        left, right = parts
        artist_first += bool(_SEVERAL_ARTISTS.search(left)) + bool(_TITLE_WORDS.search(right))
        title_first += bool(_SEVERAL_ARTISTS.search(right)) + bool(_TITLE_WORDS.search(left))
    return "title-artist" if title_first > artist_first else "artist-title"


def artist_from_filename(name: str, order: str = "artist-title") -> str | None:
    """First artist of a track from its file name (``"Artist - Title.ext"``), normalised.

    The upload prefix is removed; Label Studio's underscored names are understood
    (``"Arno_Cost___Norman_Doray_-_One_Night.ogg"``: ``_-_`` separates artist and title,
    runs of two or more ``_`` separate artists). The artist part is cut at ``feat.``,
    ``ft.``, ``featuring``, ``vs.``, ``x``, ``&``, ``,``, ``+``, ``/`` and brackets, and
    the first artist is returned in lower case with accents removed and single spaces,
    so that a producer's tracks share one key whatever the spelling of the file name.

    Parameters
    ----------
    name : str
        A file name or path.
    order : {"artist-title", "title-artist"}
        Which side of the `` - `` holds the artists (see :func:`name_order`).

    Returns
    -------
    str or None
        The normalised first artist, or None when the name has no ``Artist - Title``
        form (or a leading track number only).

    Examples
    --------
    >>> artist_from_filename("c79030f3-Agents_Of_Time_-_The_Mirage.ogg")
    'agents of time'
    >>> artist_from_filename("Tiësto feat. Someone & Other - Title (Extended Mix).mp3")
    'tiesto'
    >>> artist_from_filename("Alok x Ilkay Sencan - Track.flac")
    'alok'
    """
    if order not in ("artist-title", "title-artist"):
        raise ValueError(f"order must be 'artist-title' or 'title-artist', got {order!r}")
    parts = _artist_title(name)
    if parts is None:
        return None
    artist_text = parts[0] if order == "artist-title" else parts[1]
    if not artist_text:
        return None
    if " " not in artist_text and "_" in artist_text:  # Label Studio's underscores
        artist_text = ", ".join(a.replace("_", " ") for a in re.split(r"__+", artist_text))
    for chunk in _ARTIST_SPLIT.split(artist_text):
        key = _loose(chunk)
        if key and not re.fullmatch(r"\d{1,3}", key):
            return key
    return None


def task_audio_reference(task: dict) -> str | None:
    """The audio reference of a task (``data.audio``, else the one audio-like string in ``data``)."""
    data = task.get("data")
    if not isinstance(data, dict):
        return None
    value = data.get("audio")
    if isinstance(value, str) and value.strip():
        return value.strip()
    candidates = [v for v in data.values() if isinstance(v, str) and _split_ext(_reference_basename(v))[1]]
    return candidates[0].strip() if len(candidates) == 1 else None


def _reference_basename(ref: str) -> str:
    """File name of an audio reference: an upload path, a URL, or ``/data/local-files/?d=path``."""
    parsed = urlparse(ref)
    query = parse_qs(parsed.query)
    if "d" in query and query["d"]:  # Label Studio local-files storage
        path = query["d"][0]
    else:
        path = parsed.path if parsed.scheme or parsed.netloc or parsed.query else ref
    return unquote(path).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]


def task_file_name(task: dict) -> tuple[str | None, str | None]:
    """``(uploaded name, name without the upload prefix)`` of a task, or ``(None, None)``."""
    ref = task_audio_reference(task)
    if ref is None:
        upload = task.get("file_upload")
        if not isinstance(upload, str) or not upload.strip():
            return None, None
        ref = upload
    base = _reference_basename(ref)
    if not base:
        return None, None
    return base, strip_upload_prefix(base)


# --- reading exports -----------------------------------------------------------------------

def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def read_export(path: str | os.PathLike) -> list[dict]:
    """Read and check a Label Studio JSON export (a list of tasks).

    Only the structure that labels depend on is checked: every task is an object with a
    ``data`` object, and ``annotations`` (or the pre-1.0 ``completions``), when
    present, is a list of objects whose ``result`` is a list of objects.

    Raises
    ------
    ExportError
        ``"<file>: <problem>"``: missing or unreadable file, invalid JSON (NaN and
        Infinity included), or a structure that is not a Label Studio JSON export.
    """
    p = Path(path)
    src = str(p)
    if not p.exists():
        raise ExportError(src, "no such file")
    if not p.is_file():
        raise ExportError(src, "not a file")
    try:
        size = p.stat().st_size
        if size > MAX_EXPORT_BYTES:
            raise ExportError(src, f"{size / 1e6:.0f} MB is too large for a Label Studio export")
        raw = p.read_bytes()
    except OSError as exc:
        raise ExportError(src, f"cannot read ({exc.strerror or exc.__class__.__name__})") from None
    if not raw.strip():
        raise ExportError(src, "empty file, not a Label Studio JSON export")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ExportError(src, "not UTF-8 text, not a Label Studio JSON export") from None
    try:
        tasks = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ExportError(src, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise ExportError(src, f"invalid JSON: {str(exc)[:120] or exc.__class__.__name__}") from None
    if isinstance(tasks, dict) and ("data" in tasks and ("annotations" in tasks or "completions" in tasks)):
        tasks = [tasks]  # a single task exported on its own
    if not isinstance(tasks, list):
        raise ExportError(src, f"not a Label Studio JSON export (expected a list of tasks, got a JSON "
                               f"{_json_type(tasks)})")
    if not tasks:
        raise ExportError(src, "the export holds no tasks")
    for i, task in enumerate(tasks):
        where = f"task {i + 1}" + (f" (id {task.get('id')})" if isinstance(task, dict) and "id" in task else "")
        if not isinstance(task, dict):
            raise ExportError(src, f"not a Label Studio JSON export ({where} is a JSON {_json_type(task)}, "
                                   "not an object)")
        if not isinstance(task.get("data"), dict):
            hint = " (a JSON-MIN or CSV-style export? export as 'JSON')" if "data" not in task else ""
            raise ExportError(src, f"not a Label Studio JSON export ({where} has no 'data' object){hint}")
        key = "annotations" if "annotations" in task else ("completions" if "completions" in task else None)
        if key is None:
            continue
        anns = task[key]
        if anns is None:
            continue
        if not isinstance(anns, list):
            raise ExportError(src, f"{where}: '{key}' is a JSON {_json_type(anns)}, not a list")
        for j, ann in enumerate(anns):
            if not isinstance(ann, dict):
                raise ExportError(src, f"{where}: annotation {j + 1} is a JSON {_json_type(ann)}, not an object")
            result = ann.get("result", [])
            if result is None:
                continue
            if not isinstance(result, list):
                raise ExportError(src, f"{where}: annotation {j + 1}: 'result' is a JSON {_json_type(result)}, "
                                       "not a list")
            for k, r in enumerate(result):
                if not isinstance(r, dict):
                    raise ExportError(src, f"{where}: annotation {j + 1}: result {k + 1} is a JSON "
                                           f"{_json_type(r)}, not an object")
    if not any(task_file_name(t)[0] for t in tasks):
        raise ExportError(src, "not a Label Studio audio export (no task names an audio file in 'data')")
    return tasks


def _json_type(x) -> str:
    if isinstance(x, bool):
        return "boolean"
    if x is None:
        return "null"
    return {dict: "object", list: "array", str: "string", int: "number", float: "number"}.get(type(x), "value")


# --- labels ----------------------------------------------------------------------------------

@dataclass
class AnnotationLabel:
    """What one annotation says: its label (None when unusable) and why."""

    label: np.ndarray | None
    raw_sum: float = 0.0
    problem: str | None = None
    unknown: list[str] = field(default_factory=list)


def annotation_label(annotation: dict) -> AnnotationLabel:
    """The soft label of one annotation (before renormalisation: ``raw_sum`` tells the sum).

    ``number`` results named after a genre give its weight; ``choices`` results naming
    genres give each chosen genre weight 1. A weight that is not a finite number >= 0
    makes the annotation invalid.
    """
    w = np.zeros(len(GENRES), dtype=np.float64)
    unknown: list[str] = []
    found = False
    for r in annotation.get("result") or []:
        value = r.get("value")
        if not isinstance(value, dict):
            continue
        name = r.get("from_name")
        if "number" in value:
            if not isinstance(name, str):
                continue
            try:
                g = GENRES.index(canonical_genre(name))
            except GenreError:
                unknown.append(name)
                continue
            x = value["number"]
            if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
                return AnnotationLabel(None, problem=f"weight of {name!r} is {x!r}, not a number >= 0",
                                       unknown=unknown)
            w[g] += float(x)
            found = True
        elif "choices" in value and isinstance(value["choices"], list):
            for choice in value["choices"]:
                if not isinstance(choice, str):
                    continue
                try:
                    w[GENRES.index(canonical_genre(choice))] += 1.0
                    found = True
                except GenreError:
                    unknown.append(choice)
    total = float(w.sum())
    if not found:
        return AnnotationLabel(None, problem="no genre weights", unknown=unknown)
    if total <= 0:
        return AnnotationLabel(None, raw_sum=total, problem="all genre weights are 0", unknown=unknown)
    return AnnotationLabel(w / total, raw_sum=total, unknown=unknown)


@dataclass
class TaskLabel:
    """The label of one task, combined from its usable annotations."""

    label: np.ndarray | None
    annotations: int = 0
    used: int = 0
    cancelled: int = 0
    renormalised: list[float] = field(default_factory=list)  # raw sums of used annotations != 1
    problems: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    ground_truth: bool = False


def task_label(task: dict) -> TaskLabel:
    """Combine a task's annotations into one soft label (see the module docstring)."""
    anns = task.get("annotations")
    if anns is None:
        anns = task.get("completions")
    anns = anns or []
    out = TaskLabel(None, annotations=len(anns))
    usable: list[tuple[AnnotationLabel, bool]] = []
    for ann in anns:
        if ann.get("was_cancelled") is True:
            out.cancelled += 1
            continue
        lab = annotation_label(ann)
        out.unknown += lab.unknown
        if lab.label is None:
            out.problems.append(lab.problem or "unusable")
            continue
        usable.append((lab, ann.get("ground_truth") is True))
    if any(gt for _, gt in usable):
        usable = [(lab, gt) for lab, gt in usable if gt]
        out.ground_truth = True
    if not usable:
        return out
    out.used = len(usable)
    out.renormalised = [lab.raw_sum for lab, _ in usable if abs(lab.raw_sum - 1.0) > SUM_TOLERANCE]
    mean = np.mean([lab.label for lab, _ in usable], axis=0)
    out.label = mean / mean.sum()
    return out


def _unlabelled_reason(t: TaskLabel, task: dict) -> str:
    if t.annotations == 0:
        n_pred = len(task.get("predictions") or [])
        return "no annotations" + (f" ({n_pred} model predictions are not used as labels)" if n_pred else "")
    if t.cancelled == t.annotations:
        return f"all {t.annotations} annotations cancelled"
    return "; ".join(dict.fromkeys(t.problems)) or "no usable annotation"


# --- audio files and matching ------------------------------------------------------------------

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
    stem, ext = _split_ext(name)
    keys = {
        "exact": name,
        "normalised": _nfc_fold(name),
        "sanitised": _nfc_fold(label_studio_filename(name)),
        "loose": _loose(stem) + ext.lower(),
    }
    keys.update({
        "exact:stem": stem,
        "normalised:stem": _nfc_fold(stem),
        "sanitised:stem": _nfc_fold(label_studio_filename(stem)),
        "loose:stem": _loose(stem),
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
            stem, _ = _split_ext(n)
            if not RANDOM_SUFFIX.search(stem):
                continue
            key = _loose(RANDOM_SUFFIX.sub("", stem))
            if len(key) < MIN_TRUNCATED_KEY:
                continue
            hits = [i for i, s in enumerate(self.loose_stems) if s.startswith(key)]
            if len(hits) == 1:
                return self.files[hits[0]], "truncated", []
            if len(hits) > 1:
                return None, None, [self.files[i] for i in hits]
        return None, None, []


# --- the import ---------------------------------------------------------------------------------

def _rel(path: Path, base: Path) -> str:
    """``path`` relative to ``base`` with forward slashes (absolute when on another drive)."""
    try:
        return Path(os.path.relpath(path.resolve(), base.resolve())).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _label_dict(label: np.ndarray) -> dict[str, float]:
    return {g: round(float(w), 6) for g, w in zip(GENRES, label) if w > 0}


def _fmt_weight(w: float) -> str:
    return "0" if w == 0 else format(float(w), ".10g")


def manifest_text(rows: list[tuple[str, np.ndarray]]) -> str:
    """CSV text of a manifest: ``path,<8 genres in GENRES order>`` with one row per track."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["path", *GENRES])
    for path, label in rows:
        w.writerow([path, *(_fmt_weight(x) for x in label)])
    return buf.getvalue()


def import_labelstudio(exports, audio_dir: str | os.PathLike, manifest: str | os.PathLike, *,
                       report: str | os.PathLike | None = None) -> dict:
    """Turn Label Studio exports and a folder of audio into a training manifest.

    Parameters
    ----------
    exports : path or list of paths
        Label Studio JSON exports (tasks of several exports are combined).
    audio_dir : path
        Folder searched recursively for the audio files.
    manifest : path
        Manifest CSV to write (atomically); paths in it are relative to its folder.
    report : path, optional
        Also write the full report as JSON (atomically).

    Returns
    -------
    dict
        The report: ``counts`` and the lists ``matched``, ``unmatched``,
        ``audio_without_task`` (files no task names, labelled or not), ``unlabelled``
        (with the audio file when one matches), ``renormalised``, ``duplicates``,
        ``multi_annotated``, ``unknown_labels``.

    Raises
    ------
    InputFileError
        An unreadable or invalid export, a missing audio folder, or no task that is
        both labelled and matched to an audio file (the report is still written).
    """
    from ..core.atomic import atomic_open, write_json_atomic

    export_paths = [Path(exports)] if isinstance(exports, (str, os.PathLike)) else [Path(e) for e in exports]
    if not export_paths:
        raise MainstageError("no Label Studio export given")
    for out_path in (manifest, report):
        if out_path is not None and Path(out_path).is_dir():
            raise InputFileError(str(out_path), "is a folder; give a file name to write")
    loaded = [(p, read_export(p)) for p in export_paths]
    audio_root = Path(audio_dir)
    files = index_audio(audio_root)
    index = AudioIndex(files)
    manifest = Path(manifest)
    base = manifest.parent

    counts = {"exports": len(loaded), "tasks": 0, "labelled": 0, "unlabelled": 0, "matched": 0, "unmatched": 0,
              "ambiguous": 0, "rows": 0, "audio_files": len(files), "audio_without_task": 0, "renormalised": 0,
              "duplicates": 0, "multi_annotated": 0, "cancelled_annotations": 0}
    by_rule = {r: 0 for r in MATCH_RULES}
    rep: dict = {"exports": [str(p) for p, _ in loaded], "audio_dir": str(audio_root), "manifest": str(manifest),
                 "genres": list(GENRES), "counts": counts, "match_rules": by_rule, "matched": [], "unmatched": [],
                 "audio_without_task": [], "unlabelled": [], "renormalised": [], "duplicates": [],
                 "multi_annotated": [], "unknown_labels": {}}
    groups: dict[Path, list[dict]] = {}
    claimed: set[Path] = set()
    unmatched_names: dict[str, list[dict]] = {}
    for src, tasks in loaded:
        for pos, task in enumerate(tasks):
            counts["tasks"] += 1
            uploaded, name = task_file_name(task)
            ident = {"export": str(src), "task": task.get("id", pos + 1), "name": name or uploaded}
            tl = task_label(task)
            counts["cancelled_annotations"] += tl.cancelled
            for u in tl.unknown:
                rep["unknown_labels"][u] = rep["unknown_labels"].get(u, 0) + 1
            names = [name] + ([uploaded] if uploaded != name else []) if name else []
            if tl.label is None:
                counts["unlabelled"] += 1
                entry = {**ident, "reason": _unlabelled_reason(tl, task)}
                path = index.match(names)[0] if names else None
                if path is not None:  # its audio is there: not an "audio file without a task"
                    claimed.add(path)
                    entry["audio"] = _rel(path, base)
                rep["unlabelled"].append(entry)
                continue
            counts["labelled"] += 1
            if tl.renormalised:
                counts["renormalised"] += 1
                rep["renormalised"].append({**ident, "sums": [round(s, 6) for s in tl.renormalised]})
            if tl.used > 1:
                counts["multi_annotated"] += 1
                rep["multi_annotated"].append({**ident, "annotations": tl.used, "ground_truth": tl.ground_truth})
            if name is None:
                counts["unmatched"] += 1
                rep["unmatched"].append({**ident, "reason": "the task names no audio file"})
                continue
            path, rule, candidates = index.match(names)
            if path is None:
                counts["unmatched"] += 1
                entry = {**ident, "reason": "no audio file with this name"}
                if candidates:
                    counts["ambiguous"] += 1
                    entry["reason"] = "ambiguous: several audio files match"
                    entry["candidates"] = [_rel(c, base) for c in candidates]
                rep["unmatched"].append(entry)
                unmatched_names.setdefault(_loose(_split_ext(name)[0]), []).append({**ident, "label": tl.label})
                continue
            counts["matched"] += 1
            by_rule[rule] += 1
            groups.setdefault(path, []).append({**ident, "rule": rule, "label": tl.label})

    order = name_order(p.name for p in groups)
    rep["name_order"] = order
    rows: list[tuple[str, np.ndarray]] = []
    for path in sorted(groups, key=lambda p: _rel(p, base)):
        members = groups[path]
        rel = _rel(path, base)
        labels = np.array([m["label"] for m in members])
        label = labels.mean(axis=0)
        label = label / label.sum()
        rows.append((rel, label))
        if len(members) > 1:
            diff = float(np.max(np.abs(labels - labels[0]))) if len(members) else 0.0
            rep["duplicates"].append({"audio": rel, "tasks": [{k: m[k] for k in ("export", "task", "name")}
                                                              for m in members],
                                      "labels_agree": diff <= 1e-6, "max_difference": round(diff, 6),
                                      "label": _label_dict(label)})
        for m in members:
            rep["matched"].append({k: m[k] for k in ("export", "task", "name")} | {
                "audio": rel, "rule": m["rule"], "artist": artist_from_filename(path.name, order),
                "label": _label_dict(m["label"])})
    for key, members in unmatched_names.items():
        if len(members) > 1:
            labels = np.array([m["label"] for m in members])
            diff = float(np.max(np.abs(labels - labels[0])))
            rep["duplicates"].append({"audio": None, "tasks": [{k: m[k] for k in ("export", "task", "name")}
                                                               for m in members],
                                      "labels_agree": diff <= 1e-6, "max_difference": round(diff, 6)})
    counts["duplicates"] = len(rep["duplicates"])
    rep["audio_without_task"] = [_rel(f, base) for f in files if f not in groups and f not in claimed]
    counts["audio_without_task"] = len(rep["audio_without_task"])
    counts["rows"] = len(rows)
    if report is not None:
        try:
            write_json_atomic(report, rep)
        except OSError as exc:
            raise InputFileError(str(report), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    if not rows:
        where = ", ".join(str(p) for p, _ in loaded)
        if counts["labelled"] == 0:
            raise InputFileError(where, f"none of {counts['tasks']} tasks has a usable annotation")
        raise InputFileError(str(audio_root), f"no audio file matches any of the {counts['labelled']} labelled "
                                              f"tasks of {where} ({len(files)} audio files searched)")
    try:
        with atomic_open(manifest, "w", encoding="utf-8", newline="") as fh:
            fh.write(manifest_text(rows))
    except OSError as exc:
        raise InputFileError(str(manifest), f"cannot write ({exc.strerror or exc.__class__.__name__})") from None
    return rep


def summary_lines(rep: dict, limit: int = 5) -> list[str]:
    """A concise human-readable summary of an import report."""
    c = rep["counts"]
    rules = ", ".join(f"{k} {v}" for k, v in rep["match_rules"].items() if v)
    lines = [
        f"read {c['tasks']} tasks from {c['exports']} export(s): {c['labelled']} labelled, "
        f"{c['unlabelled']} unlabelled ({c['cancelled_annotations']} cancelled annotations)",
        f"matched {c['matched']} of {c['labelled']} labelled tasks to {c['audio_files']} audio files"
        + (f" ({rules})" if rules else ""),
        f"wrote {rep['manifest']}: {c['rows']} tracks",
    ]

    def names(items, key="name"):
        shown = [str(x[key]) if isinstance(x, dict) else str(x) for x in items[:limit]]
        more = len(items) - len(shown)
        return ", ".join(shown) + (f", ... ({more} more)" if more > 0 else "")

    if c["unmatched"]:
        lines.append(f"unmatched: {c['unmatched']} labelled tasks have no audio file"
                     + (f" ({c['ambiguous']} ambiguous)" if c["ambiguous"] else "") + f": {names(rep['unmatched'])}")
    if c["audio_without_task"]:
        lines.append(f"audio without task: {c['audio_without_task']} files: {names(rep['audio_without_task'])}")
    if c["unlabelled"]:
        lines.append(f"unlabelled: {c['unlabelled']} tasks: {names(rep['unlabelled'])}")
    if c["renormalised"]:
        lines.append(f"renormalised: {c['renormalised']} labels did not sum to 1: {names(rep['renormalised'])}")
    if c["duplicates"]:
        dis = sum(1 for d in rep["duplicates"] if not d["labels_agree"])
        lines.append(f"duplicates: {c['duplicates']} audio files named by several tasks (labels averaged"
                     + (f"; {dis} disagree" if dis else "") + ")")
    if c["multi_annotated"]:
        lines.append(f"multi-annotated: {c['multi_annotated']} tasks (annotations averaged)")
    if rep["unknown_labels"]:
        lines.append("ignored labels: " + ", ".join(f"{k!r} x{v}" for k, v in sorted(rep["unknown_labels"].items())))
    return lines


# --- checking a manifest -------------------------------------------------------------------------

def check_manifest(path: str | os.PathLike, *, probe: bool = False) -> dict:
    """Validate a manifest and describe it.

    Parameters
    ----------
    path : path
        Manifest CSV (read with :func:`mainstage.training.data.read_manifest`, which
        raises ``InputFileError`` for a bad header or row).
    probe : bool
        Also open every existing audio file's header (``core.audio.probe``) and list
        the ones that cannot be decoded.

    Returns
    -------
    dict
        ``tracks``, ``missing_audio``, ``missing_truth``, ``unreadable_audio``,
        ``duplicates`` (paths listed twice), ``splits``, ``tracks_per_dominant_genre``,
        ``mixtures``, ``mean_label``, ``name_order`` (:func:`name_order`), ``artists``
        (distinct first artists, from the file names) and ``no_artist``.
    """
    from .data import read_manifest

    rows = read_manifest(path)
    base = Path(path).parent

    def show(p: Path) -> str:
        return _rel(p, base)

    labels = np.array([r.label for r in rows])
    dominant = np.argmax(labels, axis=1)
    seen: dict[str, int] = {}
    for r in rows:
        key = str(r.path.resolve())
        seen[key] = seen.get(key, 0) + 1
    out = {
        "manifest": str(path),
        "tracks": len(rows),
        "missing_audio": [show(r.path) for r in rows if not r.path.is_file()],
        "missing_truth": [show(r.truth) for r in rows if r.truth is not None and not r.truth.is_file()],
        "unreadable_audio": [],
        "duplicates": sorted(_rel(Path(k), base) for k, n in seen.items() if n > 1),
        "splits": {s: sum(1 for r in rows if r.split == s) for s in ("train", "val", "test")}
        | {"unassigned": sum(1 for r in rows if not r.split)},
        "tracks_per_dominant_genre": {g: int(n) for g, n in zip(GENRES, np.bincount(dominant, minlength=len(GENRES)))},
        "mixtures": int(np.sum(np.sort(labels, axis=1)[:, -2] > 0)),
        "mean_label": {g: round(float(x), 4) for g, x in zip(GENRES, labels.mean(axis=0))},
    }
    order = name_order(r.path.name for r in rows)
    out["name_order"] = order
    artists = [artist_from_filename(r.path.name, order) for r in rows]
    out["artists"] = len({a for a in artists if a})
    out["no_artist"] = sum(1 for a in artists if not a)
    if probe:
        from ..core.audio import probe as probe_audio

        for r in rows:
            if r.path.is_file():
                try:
                    probe_audio(r.path)
                except InputFileError as exc:
                    out["unreadable_audio"].append({"path": show(r.path), "problem": exc.problem})
    return out


__all__ = ["AUDIO_EXTENSIONS", "AudioIndex", "ExportError", "MATCH_RULES", "annotation_label", "artist_from_filename",
           "check_manifest", "import_labelstudio", "index_audio", "label_studio_filename", "manifest_text",
           "name_order",
           "read_export", "strip_upload_prefix", "summary_lines", "task_audio_reference", "task_file_name",
           "task_label"]
