"""Track file names: Label Studio's upload names, comparison keys and the ``Artist - Title`` form.

Label Studio stores an upload as ``<8 hex digits>-<name>`` after replacing spaces by
``_`` and deleting characters other than letters, digits, ``_``, ``-`` and ``.``
(Django's ``get_valid_filename``); names that are too long or already taken get
truncated and a random 7-character suffix. The functions here undo or reproduce that
renaming, give the keys names are compared by, and read the first artist of a track
from its name (for artist-grouped splits and reports).
"""
from __future__ import annotations

import os
import re
import unicodedata

from ...core.audio import AUDIO_EXTENSIONS

#: Label Studio's upload prefix: 8 hex digits of a UUID and a dash.
UPLOAD_PREFIX = re.compile(r"^[0-9a-fA-F]{8}-")
#: Django's random suffix on truncated or clashing upload names (``_`` + 7 characters).
RANDOM_SUFFIX = re.compile(r"_[A-Za-z0-9]{7}$")
#: Extensions :func:`split_extension` recognises: the runtime's audio files and other audio containers.
NAME_EXTENSIONS = AUDIO_EXTENSIONS | {".mp4", ".m4b", ".alac", ".ape", ".wv", ".mpc"}
NAME_ORDERS = ("artist-title", "title-artist")

#: Separators between artists in the artist part of a file name.
_ARTIST_SPLIT = re.compile(
    r"\s*(?:,|;|&|\+|/|\bfeat\b\.?|\bft\b\.?|\bfeaturing\b|\bvs\b\.?|\bversus\b|(?<=\s)x(?=\s)|(?<=\s)X(?=\s)"
    r"|\(|\)|\[|\])\s*",
    re.IGNORECASE,
)
#: Separators between artist and title ("Artist - Title").
_TITLE_SPLIT = re.compile(r"\s+[-\u2013\u2014]+\s+")
#: Marks of the artist side: several artists.
_SEVERAL_ARTISTS = re.compile(r"__|\s(?:&|x|X|vs\.?|,)\s|,\s|\s&\s")
#: Marks of the title side: a mix or version.
_TITLE_WORDS = re.compile(r"(?i)(?:^|[\s_(\[])(?:remix|mix|edit|version|vip|bootleg|remake|rework|inst)(?:$|[\s_)\]])")


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


def nfc_fold(name: str) -> str:
    """``name`` in Unicode NFC normalisation, case folded."""
    return unicodedata.normalize("NFC", name).casefold()


def loose_key(name: str) -> str:
    """Letters and digits only, accents removed, case folded, words separated by one space."""
    s = unicodedata.normalize("NFKD", name)
    s = "".join(c for c in s if not unicodedata.combining(c)).casefold()
    return " ".join(re.findall(r"[^\W_]+", s))


def split_extension(name: str) -> tuple[str, str]:
    """``(stem, extension)`` of a file name; the extension is ``""`` unless it is an audio one."""
    stem, ext = os.path.splitext(name)
    if ext and ext.lower() in NAME_EXTENSIONS:
        return stem, ext
    return name, ""


def _artist_title(name: str) -> tuple[str, str] | None:
    """``(first part, rest)`` of ``"A - B.ext"`` (Label Studio's ``A_-_B`` too); None without a separator."""
    base = strip_upload_prefix(name)
    stem, _ = split_extension(base)
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
    if order not in NAME_ORDERS:
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
        key = loose_key(chunk)
        if key and not re.fullmatch(r"\d{1,3}", key):
            return key
    return None
