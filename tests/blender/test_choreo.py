"""Choreography planning without Blender: blending, modes, intensity, envelopes, beat frames."""
import copy

import numpy as np
import pytest

from mainstage.blender_addon.show import color as C
from mainstage.blender_addon.show.envelopes import pulse_keys, span_keys
from mainstage.blender_addon.show.grid import Grid
from mainstage.blender_addon.show.plan import plan_show
from mainstage.core import presets as P
from mainstage.core.genres import GENRES
from mainstage.training.synthhouse.timelines import synthetic_set


@pytest.fixture(scope="module")
def looks():
    return P.shipped_looks()


@pytest.fixture(scope="module")
def mapping():
    return P.shipped_mapping()


@pytest.fixture(scope="module")
def doc():
    return synthetic_set()


def _mixed(doc, a: str, b: str, wa: float) -> dict:
    """The timeline with every genre window set to wa of genre a and 1-wa of genre b."""
    d = copy.deepcopy(doc)
    p = np.zeros(len(GENRES))
    p[GENRES.index(a)], p[GENRES.index(b)] = wa, 1 - wa
    for w in d["genre_windows"]:
        w["probs"] = p.tolist()
    d["genre_summary"] = p.tolist()
    return d


def test_oklab_round_trip_and_perceptual_midpoint():
    rgb = np.random.default_rng(0).uniform(0, 1, (50, 3))
    assert np.allclose(C.oklab_to_linear(C.linear_to_oklab(rgb)), rgb, atol=1e-6)
    labs = C.hex_to_oklab(["#FF0000", "#0000FF"])
    mid = C.blend_oklab(labs, np.array([0.5, 0.5]))
    naive = C.srgb_to_linear(C.hex_to_srgb(["#FF0000", "#0000FF"]).mean(axis=0))
    # the OKLab midpoint of red and blue keeps its lightness; averaging sRGB values goes dark
    assert C.linear_to_oklab(mid)[0] > C.linear_to_oklab(naive)[0] + 0.02
    assert np.allclose(C.blend_oklab(labs, np.array([1.0, 0.0])), C.srgb_to_linear(C.hex_to_srgb(["#FF0000"]))[0],
                       atol=1e-6)


def test_blend_weights_parameters_and_colours(doc, looks, mapping):
    d = _mixed(doc, "Progressive House", "Future House", 0.7)
    plan = plan_show(d, mapping, looks, 24.0, 1)
    ch = plan.channels["world.strength"]
    # before any event (frame 1) the value is the 70/30 blend of the looks' strengths
    prog, fut = looks["progressive_house"]["world"], looks["future_house"]["world"]
    expect = 0.7 * prog["strength"] + 0.3 * fut["strength"]
    assert ch.frames[0] == 1 and np.isclose(ch.values[0], expect, rtol=1e-6)
    wc = plan.channels["world.color"].values[0]
    labs = C.hex_to_oklab([prog["color"], fut["color"]])
    assert np.allclose(wc, C.blend_oklab(labs, np.array([0.7, 0.3])), atol=1e-6)
    # the genre mix moves the whole parameter set: all-progressive gives a different world
    only = plan_show(_mixed(doc, "Progressive House", "Future House", 1.0), mapping, looks, 24.0, 1)
    assert np.isclose(only.channels["world.strength"].values[0], prog["strength"], rtol=1e-6)


def test_intensity_scales_reactions(doc, looks, mapping):
    d = _mixed(doc, "Bigroom", "Deep House", 1.0)
    full = plan_show(d, mapping, looks, 24.0, 1).channels["lasers.emission_strength"]
    m0 = copy.deepcopy(mapping)
    m0["genres"]["Bigroom"]["intensity"] = 0.0
    calm = plan_show(d, m0, looks, 24.0, 1).channels["lasers.emission_strength"]
    base = looks["bigroom"]["materials"]["lasers"]["emission_strength"]
    assert full.values.max() > 2.5 * base
    assert np.allclose(calm.values, base)  # intensity 0: the look's base, no reactions
    m2 = copy.deepcopy(mapping)
    m2["genres"]["Bigroom"]["intensity"] = 2.0
    hot = plan_show(d, m2, looks, 24.0, 1).channels["lasers.emission_strength"]
    assert hot.values.max() > full.values.max() * 1.3


def test_dominant_mode_switches_at_sections_with_crossfade(doc, looks, mapping):
    m = copy.deepcopy(mapping)
    m["mode"], m["crossfade_beats"] = "dominant", 8
    plan = plan_show(doc, m, looks, 24.0, 1)
    ids = plan.look_ids
    w = plan.bar_weights
    # each bar is one look, except the two bars after a change (8 beats of crossfade)
    pure = np.isclose(w.max(axis=1), 1.0)
    assert pure.mean() > 0.85
    secs = doc["sections"]
    bass_drop = secs[5]
    bar_t = (plan.bar_frames - 1) / 24.0
    inside = (bar_t > bass_drop["start_s"] + 9) & (bar_t < bass_drop["end_s"] - 1)
    assert np.all(w[inside, ids.index("bass_house")] == 1.0)
    first_bar = np.argmin(np.abs(bar_t - bass_drop["start_s"]))
    mid = w[first_bar + 1]
    assert 0 < mid[ids.index("bass_house")] < 1 and 0 < mid[ids.index("progressive_house")] < 1
    # blend mode on the same timeline is the genre mix itself (here nearly one-hot per section)
    blend = plan_show(doc, mapping, looks, 24.0, 1)
    assert np.allclose(blend.bar_weights.sum(axis=1), 1.0)


@pytest.mark.parametrize("fps,start", [(24.0, 1), (25.0, 1), (30.0, 1), (60.0, 1), (30 / 1.001, 1), (24.0, 101)])
def test_beat_keys_on_beat_frames_and_sparse(doc, looks, mapping, fps, start):
    d = _mixed(doc, "Progressive House", "Deep House", 1.0)  # screens pulse on every beat
    plan = plan_show(d, mapping, looks, fps, start)
    ch = plan.channels["screens.emission_strength"]
    beats = np.asarray(d["beats"])
    exact = start + beats * fps
    near = ch.frames[np.clip(np.searchsorted(ch.frames, np.rint(exact)), 0, len(ch.frames) - 1)]
    assert np.all(np.abs(near - exact) <= 0.5)
    # the key on the beat frame is the envelope's peak: higher than the key before it
    on = np.searchsorted(ch.frames, np.rint(exact))
    assert np.mean(ch.values[on[1:]] > ch.values[on[1:] - 1]) > 0.95
    n_frames = int(d["track"]["duration_s"] * fps)
    assert len(ch) < 0.5 * n_frames  # sparse: a few keys per beat, not one per frame


def test_pulse_envelope_shape_and_retrigger():
    doc = synthetic_set()
    grid = Grid(doc, 24.0, 1)
    t = np.asarray(doc["beats"][:8])
    env = {"attack_beats": 0, "hold_beats": 0, "decay_beats": 2.0, "curve": "exponential"}  # longer than a beat
    k = pulse_keys(grid, t, np.ones(len(t)), env)
    f0 = grid.frame(t)
    assert np.all(np.diff(k.frames) > 0)
    assert np.allclose(k.evaluate(f0), 1.0)  # every beat restarts at the peak
    pre = k.evaluate(f0[1:] - 1)  # one frame before: the previous envelope's remainder
    assert np.all((pre > 0.3) & (pre < 1.0))
    span = span_keys(grid, np.array([[10.0, 20.0]]), np.array([2.0]),
                     {"attack_beats": 1, "hold_beats": 0, "decay_beats": 2, "curve": "linear"}, "ramp")
    v = span.evaluate(grid.frame(np.array([10.0, 15.0, 20.0])))
    assert v[0] == 0 and 0.8 < v[1] < 1.2 and v[2] == 2.0  # a ramp rises over the whole span


def test_relative_drive_helpers(doc, looks, mapping):
    from mainstage.blender_addon.show import relative as R
    plan = plan_show(doc, mapping, looks, 24.0, 1)
    en = plan.channels["lights.energy"]
    # a level: the user's value at the show's typical (median) base, scaled like the plan
    v = R.level(500.0, en.values, plan.reference["lights.energy"])
    assert np.allclose(v / 500.0, en.values / plan.reference["lights.energy"])
    # a shape: the user's value times the reactions only (1 where nothing reacts)
    lens = plan.channels["camera.lens"]
    f = R.shape(85.0, lens.values, plan.base["camera.lens"]) / 85.0
    assert f.min() >= 1.0 - 1e-9 and f.max() > 1.1 and np.isclose(np.median(f), 1.0)
    # a tint: 0 keeps the user's color, 1 takes the planned hue at the user's lightness
    blue, red = np.array([0.1, 0.2, 1.0]), np.array([[1.0, 0.0, 0.0]])
    assert np.allclose(R.tint(blue, red, 0.0), blue, atol=1e-6)
    full = C.linear_to_oklab(R.tint(blue, red, 1.0))[0]
    assert np.isclose(full[0], C.linear_to_oklab(blue)[0], atol=1e-3) and full[1] > 0.1
    half = R.tint(blue, red, 0.35)[0]
    assert half[2] > half[0] > blue[0]  # still blue, warmer


def test_plan_is_fast_for_an_hour(looks, mapping):
    import time
    doc = synthetic_set(repeat=19)  # ~63 minutes
    assert doc["track"]["duration_s"] > 3600
    t0 = time.perf_counter()
    plan = plan_show(doc, mapping, looks, 30.0, 1)
    dt = time.perf_counter() - t0
    assert plan.n_keys > 100_000
    print(f"planned {plan.n_keys} keys for {doc['track']['duration_s'] / 60:.0f} min in {dt:.2f} s")
