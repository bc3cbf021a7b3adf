"""GM render: SynthHouse's per-genre arrangements played by fluidsynth with General MIDI soundfonts.

A second training-data engine, so that a genre model does not learn SynthHouse's
oscillators: the tempo, key, chords, patterns, parts and sections come from
SynthHouse's planner; the sounds come from GM soundfonts (FluidR3_GM, TimGM6mb,
MuseScore General), with per-genre presets, kits and drum notes, then side-chain,
section levels and a randomised master chain. The truth timeline has SynthHouse's
layout, so the training pipeline reads it unchanged.

>>> from mainstage.training.gmrender import render_gm_track           # doctest: +SKIP
>>> from mainstage.training.synthhouse import write_track              # doctest: +SKIP
>>> write_track(render_gm_track("Deep House", seed=3), "deep.wav")     # doctest: +SKIP

See docs/synthhouse.md ("GM render").
"""
from .plan import GM_VERSION, plan_gm_track
from .render import GMResult, render_gm_track
from .soundfonts import GMRenderError, installed_soundfonts

__all__ = ["GM_VERSION", "GMRenderError", "GMResult", "installed_soundfonts", "plan_gm_track", "render_gm_track"]
