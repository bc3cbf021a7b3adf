"""SynthHouse: procedural house tracks (numpy only) with exact ground-truth timelines.

>>> from mainstage.training.synthhouse import render_track, write_track
>>> res = render_track("Bass House", seed=7)            # doctest: +SKIP
>>> write_track(res, "t.wav")                           # doctest: +SKIP

See docs/synthhouse.md.
"""
from .arrangement import DATASET_STRUCTURE, DEFAULT_STRUCTURE, SET_STRUCTURE, SynthError, parse_structure
from .output import truth_path_for, write_track
from .plan import SYNTH_VERSION, genre_weights, plan_track
from .render import SynthResult, render_set, render_track

__all__ = [
    "render_track", "render_set", "write_track", "SynthResult", "plan_track", "genre_weights", "SynthError",
    "parse_structure", "truth_path_for", "DEFAULT_STRUCTURE", "DATASET_STRUCTURE", "SET_STRUCTURE", "SYNTH_VERSION",
]
