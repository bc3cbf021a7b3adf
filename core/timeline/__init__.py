"""The timeline document: the contract between track analysis and the Blender scene.

A timeline is a JSON object (schema ``mainstage.timeline/1``, documented in
``docs/timeline.md``). :mod:`.validation` checks one, :mod:`.document` assembles, loads
and saves them, :mod:`.queries` reads their genre windows.
"""
from .document import load_timeline, new_timeline, save_timeline, to_builtin
from .queries import genre_at, genre_matrix
from .track_audio import ALLOW_OUTSIDE_OPTION, check_track_audio, relative_track_file, resolve_track_file
from .validation import PROB_TOLERANCE, SCHEMA_ID, SECTION_LABELS, TIME_TOLERANCE, TimelineError, validate_timeline

__all__ = [
    "ALLOW_OUTSIDE_OPTION", "check_track_audio", "relative_track_file", "resolve_track_file", "PROB_TOLERANCE", "SCHEMA_ID", "SECTION_LABELS", "TIME_TOLERANCE", "TimelineError", "genre_at", "genre_matrix",
    "load_timeline", "new_timeline", "save_timeline", "to_builtin", "validate_timeline",
]
