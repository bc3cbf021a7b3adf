"""The photosensitivity cap, planned without Blender: at most three flashes in any second
(WCAG 2.3.1 general flash threshold) on the worst look (Bass House) and every other look,
counted here independently, per frame, with a hysteresis (zigzag) flash detector."""
import copy

import numpy as np
import pytest

from mainstage.blender_addon.show import flash as FL
from mainstage.blender_addon.show.plan import plan_show
from mainstage.core import presets as P
from mainstage.core.genres import GENRES
from mainstage.training.synthhouse.timelines import synthetic_set

LUMA = np.array([0.2126, 0.7152, 0.0722])
#: (level channel, color channel) of each part of the picture.
SOURCES = {"lights": ("lights.energy", "lights.color"),
           "screens": ("screens.emission_strength", "screens.color"),
           "pulse": ("pulse.emission_strength", "pulse.color"),
           "lasers": ("lasers.emission_strength", "lasers.color"),
           "world": ("world.strength", "world.color")}


def wcag_flashes(lum, fps, depth=0.1, dark=0.8):
    """Most flashes in any one-second window of a per-frame luminance signal.

    Luminance is normalized to its maximum; a transition is a swing of at least ``depth``
    between alternating extremes (zigzag with hysteresis ``depth``) whose darker end is
    below ``dark``; a window holds floor(transitions / 2) flashes (pairs of opposing changes).
    """
    y = np.asarray(lum, dtype=np.float64)
    if y.max() <= 0:
        return 0
    y = y / y.max()
    pivots = [(0, y[0])]
    trend, ext_i, ext_v = 0, 0, y[0]
    for i, v in enumerate(y.tolist()):
        if trend == 0:
            if abs(v - pivots[-1][1]) >= depth:
                trend, ext_i, ext_v = (1 if v > pivots[-1][1] else -1), i, v
        elif (v - ext_v) * trend > 0:
            ext_i, ext_v = i, v
        elif (ext_v - v) * trend >= depth:
            pivots.append((ext_i, ext_v))
            trend, ext_i, ext_v = -trend, i, v
    pivots.append((ext_i, ext_v))
    t = np.array([b[0] for a, b in zip(pivots, pivots[1:])
                  if abs(b[1] - a[1]) >= depth and min(a[1], b[1]) < dark], dtype=np.float64)
    if len(t) == 0:
        return 0
    n = np.searchsorted(t, t + fps - 1e-9) - np.arange(len(t))
    return int(n.max()) // 2


def per_frame(ch, frames):
    """A channel sampled per frame: held after constant keys, linear otherwise (monotone between keys)."""
    v = ch.values if ch.values.ndim == 2 else ch.values[:, None]
    i = np.clip(np.searchsorted(ch.frames, frames, side="right") - 1, 0, len(ch.frames) - 1)
    lin = np.stack([np.interp(frames, ch.frames, v[:, k]) for k in range(v.shape[1])], axis=1)
    out = np.where((ch.interp[i] == 0)[:, None], v[i], lin)
    return out if ch.values.ndim == 2 else out[:, 0]


def flashes(plan, frames=None):
    """Most flashes in a second per source of a plan, sampled on every frame."""
    last = max(int(c.frames[-1]) for c in plan.channels.values())
    f = np.arange(plan.frame_start, last + 1) if frames is None else frames
    out = {}
    for src, (lev, col) in SOURCES.items():
        lum = per_frame(plan.channels[lev], f) * (per_frame(plan.channels[col], f) @ LUMA)
        out[src] = wcag_flashes(lum, plan.fps)
    return out


@pytest.fixture(scope="module")
def looks():
    return P.shipped_looks()


@pytest.fixture(scope="module")
def doc():
    return synthetic_set()


def only(look_id: str, mix: dict | None = None) -> dict:
    """The shipped mapping with every genre on one look."""
    m = copy.deepcopy(P.shipped_mapping())
    for g in GENRES:
        m["genres"][g]["preset"] = look_id
    return m


def test_detector_counts_square_waves():
    fps = 24.0
    f = np.arange(240)
    for hz, expect_over in ((2.0, False), (6.0, True)):
        lum = 0.05 + (np.sin(2 * np.pi * hz * f / fps) > 0)
        print(f"{hz} Hz square wave: {wcag_flashes(lum, fps)} flashes per second (tests), "
              f"{FL.max_flashes(FL.transitions(f, lum), fps)} (add-on)")
        assert (wcag_flashes(lum, fps) > 3) == expect_over
        assert (FL.max_flashes(FL.transitions(f, lum), fps) > 3) == expect_over
    # a 6 Hz flicker of 5 % of the maximum is no flash at all
    assert wcag_flashes(1.0 - 0.05 * (np.sin(2 * np.pi * 6 * f / fps) > 0), fps) == 0
    # a fall with a small reversal on the way down is one change (hysteresis), in both counters
    y = np.array([0.0, 1.0, 0.5, 0.52, 0.0] * 3 + [0.0] * 20)
    fy = np.arange(len(y))
    assert wcag_flashes(y, fps) == FL.max_flashes(FL.transitions(fy, y), fps) == 3


@pytest.mark.parametrize("fps", [24.0, 30.0, 60.0])
def test_bass_house_capped_to_three_flashes_a_second(doc, looks, fps):
    m = only("bass_house")
    off = plan_show(doc, m, looks, fps, 1, flash_cap=False)
    on = plan_show(doc, m, looks, fps, 1)
    n_off, n_on = flashes(off), flashes(on)
    print(f"Bass House at {fps:g} fps, most flashes in a second: cap off {n_off}, cap on {n_on}; plan {on.flash}")
    assert n_off["lights"] > 3  # the test can fail: the strobe alone flashes faster
    assert max(n_on.values()) <= 3, n_on
    assert on.flash["lights"]["before"] > 3 and on.flash["lights"]["after"] <= 3


def test_cap_keeps_downbeats_and_beats(doc, looks):
    m = only("bass_house")
    off = plan_show(doc, m, looks, 24.0, 1, flash_cap=False)
    on = plan_show(doc, m, looks, 24.0, 1)
    e_off, e_on = off.channels["lights.energy"], on.channels["lights.energy"]
    fr = np.arange(1, int(e_off.frames[-1]) + 1)
    a, b = per_frame(e_off, fr), per_frame(e_on, fr)
    beats = np.asarray(doc["beats"])
    drops = np.asarray([[d["start_s"], d["end_s"]] for d in doc["drops"]])
    in_drop = ((beats[:, None] >= drops[None, :, 0]) & (beats[:, None] < drops[None, :, 1] - 0.5)).any(axis=1)
    bf = np.rint(1 + beats[in_drop] * 24.0).astype(int)
    # every drop beat keeps its full hit (kick pulse plus strobe, on the strobe's steady level),
    # rising within the beat frame
    assert np.all(b[bf - 1] >= a[bf - 1] - 1e-6)
    assert np.mean(b[bf - 1] > b[bf - 2]) > 0.95
    # fewer flashes, not a darker show: the removed strobes' mean stays as a steady level
    m_drop = np.zeros(len(fr), dtype=bool)
    for s, e in drops:
        m_drop |= (fr >= 1 + s * 24) & (fr < 1 + e * 24)
    print(f"drop light level capped / uncapped: {b[m_drop].mean() / a[m_drop].mean():.2f}")
    assert 0.85 * a[m_drop].mean() < b[m_drop].mean() < 1.15 * a[m_drop].mean()
    # only strobe events go: the other channels are untouched
    for name in ("screens.emission_strength", "camera.lens", "lights.color"):
        assert np.array_equal(off.channels[name].values, on.channels[name].values), name


@pytest.mark.parametrize("look_id", sorted(P.shipped_looks()))
def test_every_look_within_the_cap(doc, looks, look_id):
    n = flashes(plan_show(doc, only(look_id), looks, 24.0, 1))
    assert max(n.values()) <= 3, (look_id, n)


def test_blended_looks_within_the_cap(doc, looks):
    # the shipped mapping on the set (several looks, crossfades) and a 50/50 blend of two strobing looks
    n = flashes(plan_show(doc, P.shipped_mapping(), looks, 30.0, 1))
    assert max(n.values()) <= 3, n
    d = copy.deepcopy(doc)
    p = np.zeros(len(GENRES))
    p[GENRES.index("Bass House")] = p[GENRES.index("Bigroom")] = 0.5
    for w in d["genre_windows"]:
        w["probs"] = p.tolist()
    d["genre_summary"] = p.tolist()
    n = flashes(plan_show(d, P.shipped_mapping(), looks, 25.0, 1))
    assert max(n.values()) <= 3, n


def test_cap_off_is_the_uncapped_plan(doc, looks):
    m = only("bass_house")
    a = plan_show(doc, m, looks, 24.0, 1, flash_cap=False)
    assert a.flash == {}
    b = plan_show(doc, only("deep_house"), looks, 24.0, 1)  # no strobes: nothing to thin
    c = plan_show(doc, only("deep_house"), looks, 24.0, 1, flash_cap=False)
    assert all(v["thinned"] == 0 for v in b.flash.values())
    for k in b.channels:
        assert np.array_equal(b.channels[k].values, c.channels[k].values), k
