"""Music values planned without Blender: pulses on beat frames, exact phases, drops, builds,
sections, genre weights, bar traits, confidence, sparse keys (see show/inputs.py)."""
import copy
import itertools

import numpy as np
import pytest
from mainstage.blender_addon.show import inputs as I
from mainstage.blender_addon.show.channel import INTERP
from mainstage.blender_addon.show.grid import Grid
from mainstage.core.genres import GENRES, SLUGS
from mainstage.core.timeline import new_timeline, validate_timeline
from mainstage.training.synthhouse.timelines import SET_PLAN, synthetic_set

FPS = 24.0


@pytest.fixture(scope="module")
def doc():
    return synthetic_set()


@pytest.fixture(scope="module")
def values(doc):
    return I.plan_music_values(doc, FPS, 1)


def _frames(doc, fps=FPS, start=1):
    g = Grid(doc, fps, start)
    return g, np.arange(start, g.last_frame + 1)


def test_names_follow_the_shared_contract(values):
    base = {"msvfx_beat_pulse", "msvfx_beat_phase", "msvfx_bar_phase", "msvfx_phrase_phase", "msvfx_energy",
            "msvfx_section", "msvfx_drop", "msvfx_build", "msvfx_confidence"}
    genres = {f"msvfx_genre_{s}" for s in ("progressive_house", "future_house", "bass_house", "tech_house",
                                           "deep_house", "bigroom", "future_rave", "slap_house")}
    assert set(values) == base | genres  # the synthetic set has no bar traits
    assert I.SECTIONS == ("intro", "build", "drop", "breakdown", "outro", "other")
    for name in values:
        desc, hi = I.value_info(name)
        assert desc and "\n" not in desc and hi >= 1.0
    assert I.trait_value("Kick Drum") == "msvfx_trait_kick_drum"


@pytest.mark.parametrize("fps,start", [(24.0, 1), (25.0, 1), (30000 / 1001, 1), (60.0, 101)])
def test_beat_pulse_is_one_on_beat_frames_and_low_mid_beat(doc, fps, start):
    ch = I.plan_music_values(doc, fps, start)["msvfx_beat_pulse"]
    g, _ = _frames(doc, fps, start)
    B = np.unique(g.frame(doc["beats"]))
    assert np.allclose(I.evaluate(ch, B), 1.0)
    mid = (B[:-1] + B[1:]) // 2
    assert I.evaluate(ch, mid).max() < 0.1
    assert np.allclose(I.evaluate(ch, B[1:] - 1), 0.0, atol=2e-3)  # back to 0 before the next beat
    assert I.evaluate(ch, [start - 5, B[0] - 1]).max() == 0.0      # nothing before the first beat
    # a decay: falling all through the beat
    seg = I.evaluate(ch, np.arange(B[10], B[11]))
    assert np.all(np.diff(seg) < 0)
    # sparse: a key on the beat and one before the next
    assert len(ch) <= 2 * len(B) + 1
    assert set(ch.interp[np.isin(ch.frames, B)]) == {INTERP["exponential"]}


@pytest.mark.parametrize("name,key", [("msvfx_beat_phase", "beats"), ("msvfx_bar_phase", "downbeats"),
                                      ("msvfx_phrase_phase", "phrases")])
def test_phases_are_exact_ramps_that_wrap_on_the_event_frame(doc, values, name, key):
    ch = values[name]
    g, frames = _frames(doc)
    E = np.unique(g.frame(doc[key]))
    v = I.evaluate(ch, frames)
    assert v.min() >= 0.0 and v.max() < 1.0
    assert np.allclose(I.evaluate(ch, E), 0.0)
    for a, b in itertools.pairwise(E):  # exact (f - a) / (b - a) on every frame, monotone within the interval
        f = np.arange(a, b)
        assert np.allclose(I.evaluate(ch, f), (f - a) / (b - a), atol=1e-9)
    # after the last event the clock keeps going at the same period until the track end
    tail = frames[frames >= E[-1]]
    assert I.evaluate(ch, tail).max() > 0.4
    assert len(ch) <= 2 * (len(E) + 3)


def test_drop_build_and_section_follow_the_structure(doc, values):
    g, frames = _frames(doc)
    t = g.frame_time(frames)
    drop = I.evaluate(values["msvfx_drop"], frames)
    in_drop = np.zeros(len(frames), dtype=bool)
    for d in doc["drops"]:
        in_drop |= (frames >= g.frame(d["start_s"])) & (frames < g.frame(d["end_s"]))
    assert np.array_equal(drop, in_drop.astype(float))
    build = I.evaluate(values["msvfx_build"], frames)
    builds = [s for s in doc["sections"] if s["label"] == "build"]
    in_build = np.zeros(len(frames), dtype=bool)
    for s in builds:
        a, b = g.frame(s["start_s"]), g.frame(s["end_s"])
        m = (frames >= a) & (frames < b)
        in_build |= m
        assert np.all(np.diff(build[m]) > 0) and build[m][0] == 0.0 and build[m][-1] > 0.99
    assert np.all(build[~in_build] == 0.0)
    sec = I.evaluate(values["msvfx_section"], frames)
    for s in doc["sections"]:
        m = (t >= s["start_s"] + 0.1) & (t < s["end_s"] - 0.1)
        assert np.all(sec[m] == I.SECTIONS.index(s["label"])), s


def test_genre_weights_sum_to_one_and_follow_the_set(doc, values):
    g, frames = _frames(doc)
    W = np.stack([I.evaluate(values[I.genre_value(gn)], frames) for gn in GENRES], axis=1)
    assert np.allclose(W.sum(axis=1), 1.0, atol=1e-6)
    t = g.frame_time(frames)
    bar = 4 * 60.0 / doc["tempo"]["bpm"]
    for s, (_, _, genre) in zip(doc["sections"], SET_PLAN):
        m = (t >= s["start_s"] + bar) & (t < s["end_s"] - bar)
        assert np.all(np.argmax(W[m], axis=1) == GENRES.index(genre)), genre
    assert set(SLUGS.values()) == {n.removeprefix("msvfx_genre_") for n in values if "genre_" in n}


def _with_traits(doc):
    d = copy.deepcopy(doc)
    rng = np.random.default_rng(3)
    n = len(d["downbeats"])
    names = ["kick", "bass", "energy", "brightness"]
    vals = rng.uniform(0, 1, (n, len(names)))
    d["bar_traits"] = {"names": names, "values": vals.round(4).tolist()}
    conf = rng.uniform(0, 1, len(d["genre_windows"]))
    for w, c in zip(d["genre_windows"], conf):
        w["confidence"] = float(round(c, 4))
    d["genre_confidence"] = {"level": "ok", "confidence": 0.5}
    return validate_timeline(d), names, np.asarray(d["bar_traits"]["values"])


def test_bar_traits_hold_over_each_bar_and_feed_energy(doc):
    d, names, vals = _with_traits(doc)
    v = I.plan_music_values(d, FPS, 1)
    assert {f"msvfx_trait_{n}" for n in names} <= set(v)
    g, _ = _frames(d)
    D = g.frame(d["downbeats"])
    for k, n in enumerate(names):
        ch = v[f"msvfx_trait_{n}"]
        assert set(ch.interp) == {INTERP["constant"]}
        for i in (0, 5, len(D) - 2):  # every frame of the bar has the bar's value
            f = np.arange(D[i], D[i + 1])
            assert np.allclose(I.evaluate(ch, f), vals[i, k])
    # energy: the energy trait at each bar start, blended between
    assert np.allclose(I.evaluate(v["msvfx_energy"], D), vals[:, names.index("energy")])
    # confidence: mean window confidence at bar starts (one window per bar here)
    conf = np.array([w["confidence"] for w in d["genre_windows"]])
    assert np.allclose(I.evaluate(v["msvfx_confidence"], D[1:-1]), conf[1:-1], atol=1e-9)


def test_energy_without_traits_rises_through_builds_and_peaks_in_drops(doc, values):
    g, frames = _frames(doc)
    t = g.frame_time(frames)
    e = I.evaluate(values["msvfx_energy"], frames)
    assert 0.0 <= e.min() and e.max() <= 1.0
    for s in doc["sections"]:
        m = (t >= s["start_s"]) & (t < s["end_s"])
        if s["label"] == "build":
            assert e[m][-1] > e[m][0] + 0.3
        if s["label"] == "drop":
            assert e[m][len(e[m]) // 2] == 1.0
    # no genre confidence in the synthetic set: full confidence in its genres
    assert I.evaluate(values["msvfx_confidence"], frames).min() == 1.0


def test_silent_timeline_gives_still_values():
    d = validate_timeline(new_timeline(file="quiet.wav", duration_s=20.0, sample_rate=44100, sha256="0" * 64))
    v = I.plan_music_values(d, FPS, 1)
    frames = np.arange(1, 20 * 24)
    for name in ("msvfx_beat_pulse", "msvfx_beat_phase", "msvfx_bar_phase", "msvfx_phrase_phase", "msvfx_drop",
                 "msvfx_build", "msvfx_confidence"):
        assert np.all(I.evaluate(v[name], frames) == 0.0), name
    assert np.all(I.evaluate(v["msvfx_section"], frames) == I.SECTIONS.index("other"))
    W = np.stack([I.evaluate(v[I.genre_value(g)], frames) for g in GENRES], axis=1)
    assert np.allclose(W, 1.0 / len(GENRES))


def test_an_hour_mix_stays_sparse():
    d = synthetic_set(bpm=124.8, repeat=18)
    v = I.plan_music_values(d, 30.0, 1)
    n_keys = sum(len(c) for c in v.values())
    n_beats = len(d["beats"])
    print(f"1-hour mix: {n_beats} beats, {n_keys} music value keys ({n_keys / n_beats:.2f} per beat)")
    assert n_keys < 5 * n_beats
    assert all(np.all(np.diff(c.frames) > 0) for c in v.values())
