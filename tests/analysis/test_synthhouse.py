"""Accuracy against SynthHouse ground truth: tempo, beats, bars, phrases, drops, sections, DJ mixes."""
from __future__ import annotations

import numpy as np
import pytest

from mainstage.core.analysis.track import analyze_track
from mainstage.training.synthhouse import render_set, render_track, write_track

from mainstage.training.evaluation.scoring import bar_labels, nearest_error
from .test_drops import reference_drop_stats

SR = 22050  # half the render time of 44.1 kHz; the analysis resamples anyway
TRACKS = [("Bass House", 7), ("Deep House", 1), ("Slap House", 107), ("Future House", 109)]


@pytest.fixture(scope="session")
def house(tmp_path_factory):
    """Default-structure SynthHouse tracks, written to WAV and analysed from the files."""
    out = []
    folder = tmp_path_factory.mktemp("synthhouse")
    for genre, seed in TRACKS:
        res = render_track(genre, seed=seed, sr=SR)
        path = folder / f"{genre.replace(' ', '_')}_{seed}.wav"
        write_track(res, path)
        out.append((f"{genre}/{seed}", res.truth, analyze_track(path, genre=False)))
    return out


@pytest.fixture(scope="session")
def dj_set(tmp_path_factory):
    res = render_set(["Deep House", "Tech House", "Bass House"], seed=3, sr=SR)
    path = tmp_path_factory.mktemp("djset") / "set.flac"
    write_track(res, path)
    return res.truth, analyze_track(path, genre=False)


def test_tempo_exact_and_never_octave(house):
    for name, truth, doc in house:
        assert doc["tempo"]["bpm"] == pytest.approx(truth["tempo"]["bpm"], abs=0.1), name
        assert len(doc["tempo"]["segments"]) == 1, name


def test_beats_on_the_kicks(house):
    for name, truth, doc in house:
        err = nearest_error(doc["beats"], truth["beats"])
        assert np.median(err) <= 0.015, name
        assert np.percentile(err, 95) <= 0.020, name
        assert abs(len(doc["beats"]) - len(truth["beats"])) <= 1, name


def test_grid_phase_locked_through_breakdowns(house):
    for name, truth, doc in house:
        bd = [s for s in truth["sections"] if s["label"] == "breakdown"]
        assert bd, name
        tb = np.asarray(truth["beats"])
        inside = tb[(tb > bd[0]["start_s"]) & (tb < bd[0]["end_s"])]
        assert np.max(nearest_error(doc["beats"], inside)) < 0.015, name


def test_downbeats_and_phrases_on_true_bar_starts(house):
    for name, truth, doc in house:
        assert len(doc["downbeats"]) == len(truth["downbeats"]), name
        assert np.max(nearest_error(doc["downbeats"], truth["downbeats"])) < 0.02, name
        assert len(doc["phrases"]) == len(truth["phrases"]), name
        assert np.max(nearest_error(doc["phrases"], truth["phrases"])) < 0.02, name


def test_every_drop_found_within_one_bar(house):
    for name, truth, doc in house:
        bar = 240.0 / truth["tempo"]["bpm"]
        assert len(doc["drops"]) == len(truth["drops"]), name
        for est, true in zip(doc["drops"], truth["drops"]):
            assert abs(est["start_s"] - true["start_s"]) < bar, name
            assert abs(est["end_s"] - true["end_s"]) < bar, name


def test_section_labels_per_bar(house):
    accuracies = []
    for name, truth, doc in house:
        edges = np.append(truth["downbeats"], truth["track"]["duration_s"])
        mids = 0.5 * (edges[:-1] + edges[1:])
        want, got = bar_labels(truth["sections"], mids), bar_labels(doc["sections"], mids)
        accuracies.append(np.mean([w == g for w, g in zip(want, got)]))
        assert accuracies[-1] >= 0.9, (name, accuracies[-1])
    assert np.mean(accuracies) >= 0.95


def test_drop_statistics_match_the_reference_data(house):
    ref_per_track, ref_median = reference_drop_stats()
    counts = [len(doc["drops"]) for _, _, doc in house]
    lengths = [d["end_s"] - d["start_s"] for _, _, doc in house for d in doc["drops"]]
    assert abs(np.mean(counts) - ref_per_track) < 0.5
    assert abs(np.median(lengths) / ref_median - 1.0) < 0.2


def test_dj_set_tempo_segments(dj_set):
    truth, doc = dj_set
    tsegs, esegs = truth["tempo"]["segments"], doc["tempo"]["segments"]
    assert len(esegs) == len(tsegs)
    for t, e in zip(tsegs, esegs):
        bar = 240.0 / t["bpm"]
        assert e["bpm"] == pytest.approx(t["bpm"], abs=0.1)
        assert abs(e["start_s"] - t["start_s"]) < bar and abs(e["end_s"] - t["end_s"]) < bar
    err = nearest_error(doc["beats"], truth["beats"])
    assert np.median(err) <= 0.015 and np.percentile(err, 99) < 0.03
    assert np.max(nearest_error(doc["downbeats"], truth["downbeats"])) < 0.03
    assert len(doc["drops"]) == len(truth["drops"])
