"""Regression tests on short real renders (fluidsynth, Ogg Vorbis) with exact truth.

Each clip guards against one failure class seen on real music: the beat half a beat out
under an off-beat bass, a 2/3 tempo from a dotted bass line, a short track without a grid,
a drop missed because its bass rests in its first bars, a build's start. Scores come from
the same mir_eval-based scoring as the benchmark.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mainstage.core.analysis.track import analyze_track
from mainstage.training.evaluation.scoring import score_timeline

CLIPS = Path(__file__).resolve().parents[1] / "data" / "realmusic"
NAMES = [c["clip"] for c in json.loads((CLIPS / "clips.json").read_text())["clips"]]


@pytest.fixture(scope="module", params=NAMES)
def clip(request):
    truth = json.loads((CLIPS / f"{request.param}.truth.json").read_text())
    est = analyze_track(CLIPS / f"{request.param}.ogg", genre=False)
    return request.param, est, truth, score_timeline(est, truth)


def test_tempo_beats_and_bars_match_the_truth(clip):
    name, est, truth, s = clip
    assert est["tempo"]["bpm"] == pytest.approx(truth["tempo"]["bpm"], rel=0.005), name  # no 2/3, 3/4 ...
    assert s["beat_f"] >= 0.95, (name, s["beat_f"])  # on the beat, not the off-beat
    assert s["downbeat_f"] >= 0.9, (name, s["downbeat_f"])  # bar lines on the true downbeats
    # beats lie within 25 ms of the truth (mir_eval's window is 70 ms)
    assert s["beat_median_error_ms"] < 25.0, (name, s["beat_median_error_ms"])


def test_drop_found_within_two_bars_and_nothing_else(clip):
    name, est, truth, s = clip
    assert truth["drops"], name
    assert s["drops_found_within_2_bars"] == len(truth["drops"]), (name, est["drops"], truth["drops"])
    assert s["drop_precision"] == 1.0, (name, est["drops"], truth["drops"])
    bar = 240.0 / truth["tempo"]["bpm"]
    for d in est["drops"]:  # drops start on a bar line of the estimated grid
        assert np.min(np.abs(np.asarray(est["downbeats"]) - d["start_s"])) < 1e-6 + 0.001 * bar, name


def test_section_boundaries_fall_near_the_true_ones(clip):
    name, est, truth, s = clip
    assert s["boundary_f_3s"] >= 0.8, (name, est["sections"], truth["sections"])
