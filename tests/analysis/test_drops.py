"""The paper's drop rule: parity with librosa's RMS, the rule's parameters, snapping, statistics."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mainstage.core.analysis.drops import (DropParams, detect_drops, detect_drops_per_segment, drop_curve,
                                           loudness_db, rms_frames, running_max, running_mean, snap_drops)
from mainstage.core.analysis.onsets import LOUD_HOP, LOUD_SR

SR = LOUD_SR


#: The paper's drop annotations (BSD-3-Clause, LICENSE-housex-v2.txt beside them).
REFERENCE_DATA = Path(__file__).resolve().parents[1] / "data" / "reference"


def hop_sums(y: np.ndarray) -> np.ndarray:
    n = -(-y.size // LOUD_HOP)
    pad = np.zeros(n * LOUD_HOP)
    pad[: y.size] = y
    return (pad.reshape(n, LOUD_HOP) ** 2).sum(axis=1)


def loudness_track(levels_db: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    """Noise whose level follows ``[(duration_s, dBFS), ...]``."""
    rng = np.random.default_rng(seed)
    parts = [10 ** (db / 20) * rng.standard_normal(int(d * SR)) for d, db in levels_db]
    return np.concatenate(parts)


def test_rms_matches_librosa():
    import librosa  # the training extra; the reference implementation computes RMS with it
    rng = np.random.default_rng(0)
    y = (rng.standard_normal(SR * 7 + 123) * np.linspace(0.01, 1, SR * 7 + 123)).astype(np.float32)
    ref = librosa.feature.rms(y=y, frame_length=8192, hop_length=512, center=True)[0]
    ours = rms_frames(hop_sums(y.astype(np.float64)))
    assert ours.size in (ref.size, ref.size + 1)
    assert np.allclose(ours[: ref.size], ref, rtol=1e-4, atol=1e-7)
    ref_db = librosa.amplitude_to_db(ref, ref=np.max)
    assert np.allclose(loudness_db(hop_sums(y.astype(np.float64)))[: ref.size], ref_db, atol=1e-3)


def test_running_filters():
    x = np.array([0.0, 5.0, 1.0, 1.0, 1.0, 0.0, 9.0])
    assert np.array_equal(running_max(x, 3), [5, 5, 5, 1, 1, 9, 9])
    assert np.allclose(running_mean(x, 3), [2.5, 2.0, 7 / 3, 1.0, 2 / 3, 10 / 3, 4.5])


def test_rule_finds_loud_stretches_and_respects_its_parameters():
    # intro 20 s quiet, drop 40 s, breakdown 30 s, drop 35 s (1.8 dB quieter), short loud 10 s, outro.
    y = loudness_track([(20, -30), (40, -10), (30, -24), (35, -11.8), (12, -28), (10, -10), (20, -30)])
    drops = detect_drops(hop_sums(y))
    assert len(drops) == 2
    (a1, b1), (a2, b2) = drops
    for got, want in ((a1, 20), (b1, 60), (a2, 90), (b2, 125)):
        assert abs(got - want) < 2.0  # smoothing blurs edges by up to ~1.5 s
    # The paper's 1.5 dB threshold drops the second, 1.8 dB quieter, drop.
    assert len(detect_drops(hop_sums(y), DropParams(threshold_db=1.5))) == 1
    # A 10 s loud stretch is too short for the 15 s minimum, but not for a 5 s one.
    assert len(detect_drops(hop_sums(y), DropParams(min_length_s=5.0))) == 3


def test_first_seconds_are_skipped():
    y = loudness_track([(14, -10), (30, -30), (30, -10), (10, -30)])
    drops = detect_drops(hop_sums(y))
    assert len(drops) == 1 and drops[0][0] > 40
    cur = drop_curve(hop_sums(y))
    assert cur.times[0] == pytest.approx(15.0)
    assert len(detect_drops(hop_sums(y), DropParams(skip_s=0.0, min_length_s=10.0))) == 2


def test_mix_segments_are_judged_against_their_own_loudest_moment():
    # Track 1 (0-100 s) has its drop at -8 dBFS, track 2 (100-200 s) at -14 dBFS.
    y = loudness_track([(30, -26), (40, -8), (30, -26), (30, -30), (40, -14), (30, -30)])
    assert len(detect_drops(hop_sums(y))) == 1
    drops = detect_drops_per_segment(hop_sums(y), [(0.0, 100.0), (100.0, 200.0)])
    assert len(drops) == 2
    assert abs(drops[1][0] - 130) < 2 and abs(drops[1][1] - 170) < 2


def test_boundaries_snap_to_bar_lines_with_a_loudness_step():
    bar = 60.0 / 125 * 4
    downbeats = np.arange(0, 120, bar)
    phrases = downbeats[::8]
    start, end = downbeats[16], downbeats[32]
    y = loudness_track([(start, -25), (end - start, -8), (120 - end, -25)])
    raw = detect_drops(hop_sums(y))
    assert len(raw) == 1
    snapped = snap_drops(raw, downbeats, phrases, hop_sums(y), 120.0)
    assert snapped[0]["start_s"] == pytest.approx(start) and snapped[0]["end_s"] == pytest.approx(end)
    assert snapped[0]["loudness_db"] == pytest.approx(-8.0, abs=0.5)
    # Without a grid the raw boundaries are kept.
    assert snap_drops(raw, np.zeros(0), np.zeros(0), hop_sums(y), 120.0)[0]["start_s"] == pytest.approx(raw[0][0])


def reference_drop_stats() -> tuple[float, float]:
    data = json.loads((REFERENCE_DATA / "detected-drops.json").read_text())
    counts = [len(d["drop_sections"]) for d in data if d["drop_sections"]]
    lengths = [e - s for d in data for s, e in d["drop_sections"]]
    return float(np.mean(counts)), float(np.median(lengths))


def test_reference_statistics_are_what_the_paper_reports():
    per_track, median_len = reference_drop_stats()
    assert 1.9 < per_track < 2.4       # the paper: 2.2 drops per track (tracks with a drop)
    assert 28.0 < median_len < 34.0    # the paper: median 31 s
