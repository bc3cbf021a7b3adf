"""Measured per-bar traits (``bar_traits``): presence, style, energy, brightness; schema checks.

Real audio only: short SynthHouse renders (the generator's truth says which parts play in
each bar) and the fluidsynth regression clips of ``tests/data/realmusic`` (whose drop bars
have kick and bass by the corpus' definition of a drop).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from mainstage.core.analysis.onsets import features_from_array
from mainstage.core.analysis.track import analyze_features, analyze_track
from mainstage.core.analysis.traits import TRAIT_NAMES, load_head
from mainstage.core.timeline import TimelineError, new_timeline, validate_timeline
from mainstage.training.synthhouse import render_track, write_track

SR = 22050
STRUCTURE = "intro:4,build:4,drop:8,breakdown:4,build:4,drop:8,outro:4"
CLIPS = Path(__file__).resolve().parents[1] / "data" / "realmusic"


def _analyse(res):
    feat = features_from_array(res.audio.mean(axis=1), res.sr)
    return analyze_features(feat)


def _by_section(res, ana, name):
    """Measured values of one trait, grouped by the truth's section of each analysed bar."""
    k = TRAIT_NAMES.index(name)
    starts = np.asarray(res.truth["downbeats"])
    mids = 0.5 * (ana.bar_traits.edges[:-1] + ana.bar_traits.edges[1:])
    labels = [res.truth["analysis"]["bars"][int(i)]["section"] for i in np.searchsorted(starts, mids) - 1]
    out: dict[str, list[float]] = {}
    for lab, v in zip(labels, ana.bar_traits.values[:, k]):
        out.setdefault(lab, []).append(float(v))
    return {lab: np.asarray(v) for lab, v in out.items()}


@pytest.fixture(scope="module")
def bass_house():
    res = render_track("Bass House", seed=11, structure=STRUCTURE, sr=SR)
    return res, _analyse(res)


@pytest.fixture(scope="module")
def deep_house():
    res = render_track("Deep House", seed=11, structure=STRUCTURE, sr=SR)
    return res, _analyse(res)


def test_head_is_installed_and_matches_the_features():
    head = load_head()
    assert head is not None, "core/analysis/trait_head.json is missing (python -m mainstage.training.traits_fit)"
    assert set(head["heads"]) >= {"kick", "lead", "chords", "groove", "fragmentation", "distortion", "organicity",
                                  "brightness"}


def test_kick_and_bass_follow_the_arrangement(bass_house):
    """Breakdown bars (kick and bass muted) read low, drop bars high."""
    res, ana = bass_house
    kick, bass = _by_section(res, ana, "kick"), _by_section(res, ana, "bass")
    assert kick["drop"].mean() > 0.9 and kick["breakdown"].max() < 0.2, kick
    assert bass["drop"].mean() > 0.8 and bass["breakdown"].max() < 0.2, bass
    assert bass["build"].mean() < 0.3, bass  # kick without bass under the roll
    energy = _by_section(res, ana, "energy")
    assert energy["drop"].mean() > energy["breakdown"].mean() + 0.1, energy


def test_distorted_genre_reads_more_distortion_than_deep_house(bass_house, deep_house):
    k = TRAIT_NAMES.index("distortion")
    bh, dh = bass_house[1].bar_traits.values[:, k], deep_house[1].bar_traits.values[:, k]
    assert np.median(bh) > np.median(dh) + 0.2, (np.median(bh), np.median(dh))
    o = TRAIT_NAMES.index("organicity")  # Deep House: 2-4, Bass House: 1-2
    assert np.median(deep_house[1].bar_traits.values[:, o]) > np.median(bass_house[1].bar_traits.values[:, o])


def test_deep_house_chords_bass_house_none(bass_house, deep_house):
    """GENRES.md: Deep House has lush chords, Bass House none."""
    dh = _by_section(*deep_house, "chords")
    bh = _by_section(*bass_house, "chords")
    assert dh["drop"].mean() > 0.7, dh
    assert bh["drop"].mean() < 0.3, bh


def test_truth_holds_the_generator_values(bass_house):
    res, _ = bass_house
    bt = res.truth["bar_traits"]
    assert bt["names"] == list(TRAIT_NAMES) and len(bt["values"]) == len(res.truth["downbeats"])
    v = np.asarray(bt["values"])
    bars = res.truth["analysis"]["bars"]
    for i, b in enumerate(bars):
        assert v[i, 0] == (0.0 if "kick" not in b["roles"] else 0.5 if b["roles"]["kick"] == "half" else 1.0)
        assert v[i, 1] == float("bass" in b["roles"])
    dist = res.truth["analysis"]["sound"]["Bass House"]["traits"]["distortion"]
    assert np.allclose(v[:, TRAIT_NAMES.index("distortion")], round((dist - 1) / 4, 4))
    validate_timeline(res.truth)


def test_timeline_field_shape(tmp_path):
    res = render_track("Future Rave", seed=5, structure="intro:4,drop:8,outro:4", sr=SR)
    write_track(res, tmp_path / "t.wav")
    doc = analyze_track(tmp_path / "t.wav", genre=False)
    bt = doc["bar_traits"]
    assert bt["names"] == list(TRAIT_NAMES)
    assert len(bt["values"]) == len(doc["downbeats"]) > 0
    v = np.asarray(bt["values"])
    assert v.shape[1] == len(TRAIT_NAMES) and np.all((v >= 0) & (v <= 1))
    validate_timeline(doc)


@pytest.mark.parametrize("clip", ["short-drop", "swing-build"])
def test_real_clip_kick_and_bass(clip):
    """fluidsynth renders: the truth's drop bars have kick and bass; the intro of short-drop has
    the kick alone; the build of swing-build a kick under a snare roll and no bass."""
    truth = json.loads((CLIPS / f"{clip}.truth.json").read_text())
    doc = analyze_track(CLIPS / f"{clip}.ogg", genre=False)
    db = np.asarray(doc["downbeats"])
    v = np.asarray(doc["bar_traits"]["values"])
    ends = np.append(db[1:], doc["track"]["duration_s"])
    mids = 0.5 * (db + ends)
    tdb = np.asarray(truth["downbeats"])
    # whole bars of the song (the truth's last section runs on through the release tail)
    whole = ((ends - db) > 0.9 * np.median(np.diff(db))) & (mids < tdb[-1] + np.median(np.diff(tdb)))

    def bars_in(label):
        m = np.zeros(db.size, bool)
        for s in truth["sections"]:
            if s["label"] == label:
                m |= (mids > s["start_s"]) & (mids < s["end_s"])
        return m & whole

    drop = bars_in("drop")
    assert drop.sum() >= 4
    assert np.mean(v[drop, 0] >= 0.5) > 0.9 and np.mean(v[drop, 1] >= 0.5) > 0.8, v[drop, :2]
    other = bars_in("intro") if clip == "short-drop" else bars_in("build")
    assert other.sum() >= 2
    assert np.mean(v[other, 0] >= 0.5) > 0.7, v[other, :2]
    assert np.mean(v[other, 1] < 0.5) > 0.7, v[other, :2]


def test_silence_has_no_bar_traits_and_says_why(tmp_path):
    import soundfile as sf

    sf.write(str(tmp_path / "s.wav"), np.zeros((SR * 8, 2), np.float32), SR, subtype="PCM_16")
    doc = analyze_track(tmp_path / "s.wav", genre=False)
    assert "bar_traits" not in doc
    assert any("no bar traits" in w for w in doc["warnings"])


def _doc_with_traits(values):
    doc = new_timeline(file="x.wav", duration_s=8.0, sample_rate=44100, sha256="0" * 64, bpm=120.0,
                       beats=[0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], downbeats=[0.0, 2.0])
    doc["bar_traits"] = {"names": ["kick", "bass"], "values": values}
    return doc


def test_schema_accepts_good_traits_and_rejects_bad_ones():
    validate_timeline(_doc_with_traits([[1.0, 0.0], [0.5, 0.25]]))
    for bad, msg in (([[1.2, 0.0], [0.5, 0.25]], "maximum"), ([[-0.1, 0.0], [0.5, 0.25]], "minimum"),
                     ([[float("nan"), 0.0], [0.5, 0.25]], "finite"), ([[1.0, 0.0]], "rows"),
                     ([[1.0], [0.5, 0.25]], "values for 2 names")):
        with pytest.raises(TimelineError, match=msg):
            validate_timeline(_doc_with_traits(bad))
    doc = _doc_with_traits([[1.0, 0.0], [0.5, 0.25]])
    doc["schema"] = "mainstage.timeline/1"
    with pytest.raises(TimelineError, match="bar_traits needs schema"):
        validate_timeline(doc)
    doc = copy.deepcopy(_doc_with_traits([[1.0, 0.0], [0.5, 0.25]]))
    doc["bar_traits"]["extra"] = 1
    with pytest.raises(TimelineError):
        validate_timeline(doc)
