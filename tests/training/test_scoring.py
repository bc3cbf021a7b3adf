"""Timeline scoring (``training/evaluation/scoring.py``): mir_eval metrics and the project's own beside them."""
import json

import numpy as np
import pytest

from mainstage.core.timeline import new_timeline, validate_timeline
from mainstage.training.evaluation.scoring import score_timeline, tempo_accuracy

BPM = 125.0
SPB = 60.0 / BPM
DUR = 120.0


def timeline(*, bpm=BPM, offset=0.1, sections=None, drops=(), beats=None, downbeats=None):
    """A constant-tempo timeline: beats from ``offset``, downbeats every 4 beats."""
    if beats is None:
        beats = np.arange(offset, DUR - 0.5, 60.0 / bpm)
    if downbeats is None:
        downbeats = beats[::4]
    if sections is None:
        sections = [("intro", 0.0, 30.72), ("drop", 30.72, 61.44), ("breakdown", 61.44, 92.16), ("drop", 92.16, DUR)]
    doc = new_timeline(file="t.wav", duration_s=DUR, sample_rate=44100, sha256="0" * 64, bpm=bpm,
                       tempo_segments=[{"start_s": 0.0, "end_s": DUR, "bpm": bpm}] if bpm else [],
                       beats=beats, downbeats=downbeats,
                       sections=[{"label": lab, "start_s": a, "end_s": b} for lab, a, b in sections],
                       drops=[{"start_s": a, "end_s": b} for a, b in drops])
    return validate_timeline(doc)


TRUTH = timeline(drops=[(30.72, 61.44), (92.16, DUR)])


def test_a_perfect_estimate_scores_one_everywhere():
    s = score_timeline(TRUTH, TRUTH)
    for key in ("beat_f", "beat_cmlt", "beat_amlt", "downbeat_f", "boundary_f_05s", "boundary_f_3s",
                "tempo_acc1", "tempo_acc2", "drop_precision", "section_accuracy"):
        assert s[key] == pytest.approx(1.0), key
    assert s["drops_found_within_2_bars"] == 2 and s["true_drops"] == 2 and s["bpm_error"] == 0.0


def test_an_off_beat_grid_fails_beat_f_but_passes_amlt():
    """Half a beat out, exact tempo: the failure the continuity measures tell apart."""
    s = score_timeline(timeline(offset=0.1 + SPB / 2), TRUTH)
    assert s["beat_f"] < 0.05 and s["beat_cmlt"] < 0.05
    assert s["beat_amlt"] > 0.9 and s["tempo_acc1"] == 1.0


def test_double_and_two_thirds_tempo():
    double = score_timeline(timeline(bpm=2 * BPM), TRUTH)
    assert double["tempo_acc1"] == 0.0 and double["tempo_acc2"] == 1.0
    assert double["beat_f"] == pytest.approx(2 / 3, abs=0.02)  # every true beat found, half the estimates extra
    assert tempo_accuracy(BPM * 2 / 3, BPM) == (False, False)  # a 2/3 ratio is not an allowed metrical level
    assert tempo_accuracy(BPM * 1.03, BPM) == (True, True) and tempo_accuracy(BPM * 1.05, BPM) == (False, False)
    assert tempo_accuracy(None, BPM) == (False, False) and tempo_accuracy(BPM, None) is None


def test_boundaries_count_within_their_window_only():
    shifted = [("intro", 0.0, 31.72), ("drop", 31.72, 62.44), ("breakdown", 62.44, 93.16), ("drop", 93.16, DUR)]
    s = score_timeline(timeline(sections=shifted), TRUTH)
    assert s["boundary_f_3s"] == pytest.approx(1.0)
    assert s["boundary_f_05s"] < 0.5  # only the track's start and end still match


def test_drops_within_two_bars():
    bar = 4 * SPB
    est = timeline(drops=[(30.72 + 1.5 * bar, 61.44), (75.0, 80.0)])  # one near the true start, one wrong
    s = score_timeline(est, TRUTH)
    assert s["drops_found_within_2_bars"] == 1 and s["drop_precision"] == pytest.approx(0.5)
    late = score_timeline(timeline(drops=[(30.72 + 3 * bar, 61.44)]), TRUTH)
    assert late["drops_found_within_2_bars"] == 0 and late["drop_precision"] == 0.0


def test_an_empty_estimate_scores_zero_without_errors():
    empty = timeline(bpm=None, beats=[], downbeats=[], sections=[])
    s = score_timeline(empty, TRUTH)
    assert s["beat_f"] == 0.0 and s["downbeat_f"] == 0.0 and s["boundary_f_3s"] == 0.0
    assert s["tempo_acc1"] == 0.0 and s["tempo_acc2"] == 0.0  # no tempo is a miss, not "undefined"
    assert s["drop_precision"] is None and s["drops_found_within_2_bars"] == 0
    assert s["beat_median_error_ms"] is None and s["beat_hit_rate"] == 0.0
    json.dumps(s, allow_nan=False)  # scores.json stays strict JSON (no inf median)


def test_a_synthhouse_truth_against_itself_and_a_one_beat_late_grid():
    from mainstage.training.synthhouse import render_track

    truth = render_track("Bass House", seed=3, bars=32).truth
    assert score_timeline(truth, truth)["beat_f"] == pytest.approx(1.0)
    spb = 60.0 / truth["tempo"]["bpm"]
    late = dict(truth, beats=[t + spb for t in truth["beats"]], downbeats=[t + spb for t in truth["downbeats"]])
    s = score_timeline(late, truth)
    # a whole beat late (bar phase wrong): the beat metrics cannot see it, downbeat F can
    assert s["beat_f"] > 0.95 and s["beat_cmlt"] > 0.95
    assert s["downbeat_f"] == 0.0 and s["downbeat_hit_rate"] == 0.0
