"""Domain randomisation of SynthHouse: recorded drums, tops, vocals, FX, stereo, mixing and mastering.

Real parts throughout: the Debian sample packages and espeak-ng as installed (tests that
need one skip without it), scipy's filters, librosa's onset detector.
"""
import copy
import json

import numpy as np
import pytest

from mainstage.core.genres import GENRES
from mainstage.training.synthhouse import SYNTH_VERSION, SynthError, plan_track, render_track
from mainstage.training.synthhouse import mastering, samples, stereo, vocals
from mainstage.training.synthhouse.arrangement import parse_structure, plan_bars
from mainstage.training.synthhouse.engine import Engine
from mainstage.training.synthhouse.plan import bar_times, canonical_json, derive_rng, params_sha256

SHORT = "intro:2,build:2,drop:4,outro:2"
COMPACT = "intro:4,build:4,drop:8,breakdown:4,build:4,drop:8,outro:4"
NEW_ROLES = ("tops", "vox", "sfx")

needs_samples = pytest.mark.skipif(samples.missing_packages() != [], reason="drum-sample packages not installed")
needs_espeak = pytest.mark.skipif(not vocals.espeak_available(), reason="espeak-ng not installed")


def _find_plan(pred, genres=GENRES, seeds=range(80), structure=SHORT, **kw):
    for s in seeds:
        for g in genres:
            p = plan_track(g, seed=s, structure=structure, **kw)
            if pred(p, g):
                return g, s, p
    raise AssertionError("no seed found")  # the draws cover every case within 80 seeds


def _band_db(x: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(x.mean(axis=1) if x.ndim == 2 else x)) ** 2
    f = np.fft.rfftfreq(x.shape[0], 1.0 / sr)
    return float(10 * np.log10(spec[(f >= lo) & (f < hi)].sum() / spec.sum() + 1e-20))


# ---------------------------------------------------------------------------
# Plans: keys, determinism, truth
# ---------------------------------------------------------------------------

def test_plan_keeps_old_keys_adds_new_ones_and_is_json():
    p = plan_track("Deep House", seed=4, structure=SHORT)
    assert p["synth_version"] == SYNTH_VERSION == "3"
    for key in ("sound", "bars", "global", "progression", "key", "scale"):
        assert key in p
    snd = p["sound"]["Deep House"]
    for key in ("traits", "kick", "clap", "hats", "perc", "lead", "chords", "bass", "reverb", "levels"):
        assert key in snd
    for key in ("samples", "fx", "stereo", "mix", "master", "notes"):
        assert key in p
    assert "tops" in snd and "vox" in snd
    assert json.loads(canonical_json(p)) == p
    assert plan_track("Deep House", seed=4, structure=SHORT) == p


def test_randomisation_only_adds_roles_and_keeps_the_grid():
    """The arrangement's roles are those of plan_bars; tops / vox / sfx are extra keys only."""
    for g, s in (("Tech House", 3), ("Progressive House:0.6,Slap House:0.4", 5), ("Bigroom", 8)):
        p = plan_track(g, seed=s, structure=COMPACT)
        ref = plan_bars(parse_structure(COMPACT), p["sound"], np.asarray(p["weights"]), derive_rng(s, "arrangement"))
        for bar, want in zip(p["bars"], ref):
            assert {k: v for k, v in bar["roles"].items() if k not in NEW_ROLES} == want["roles"]
            assert {k: v for k, v in bar["sources"].items() if k not in NEW_ROLES} == want["sources"]
            assert (bar["section"], bar["pos"], bar["n"]) == (want["section"], want["pos"], want["n"])
        np.testing.assert_allclose(np.diff(bar_times(p)), 240.0 / p["bpm"], rtol=0, atol=1e-12)


def test_new_roles_play_where_the_arrangement_allows():
    seen = {r: 0 for r in NEW_ROLES}
    for s in range(12):
        p = plan_track(GENRES[s % 8], seed=s, structure=COMPACT)
        for bar in p["bars"]:
            for r in NEW_ROLES:
                seen[r] += r in bar["roles"]
            if "tops" in bar["roles"] or "vox" in bar["roles"]:
                assert bar["section"] in ("drop", "intro", "outro", "build", "breakdown")
            for r in ("tops", "vox"):
                if r in bar["roles"]:
                    assert p["sound"][bar["sources"][r]][r], "a role without its genre's part"
    assert all(n > 0 for n in seen.values()), seen


@needs_samples
def test_same_seed_identical_audio_with_samples_and_vocals():
    def rich(p, g):
        v = p["sound"][g]["vox"]
        return p["samples"]["used"] and p["samples"]["kick"] and v and v["engine"] == "espeak" and \
            any("vox" in b["roles"] for b in p["bars"])

    g, s, _ = _find_plan(rich, structure="intro:1,build:1,drop:4")
    a = render_track(g, seed=s, structure="intro:1,build:1,drop:4")
    b = render_track(g, seed=s, structure="intro:1,build:1,drop:4")
    assert a.audio.tobytes() == b.audio.tobytes()
    assert a.truth == b.truth
    c = render_track(g, seed=s + 1000, structure="intro:1,build:1,drop:4")
    n = min(a.audio.shape[0], c.audio.shape[0])
    assert not np.allclose(a.audio[:n], c.audio[:n], atol=1e-3)


def test_params_hash_changes_with_the_randomised_draws():
    p = plan_track("Bass House", seed=7, structure=SHORT)
    q = copy.deepcopy(p)
    q["master"]["limiter"]["gain_db"] += 1.0
    assert params_sha256(p) != params_sha256(q)


# ---------------------------------------------------------------------------
# Recorded drums
# ---------------------------------------------------------------------------

@needs_samples
def test_every_package_table_entry_has_verified_files():
    for pool, table in samples.WEIGHTS.items():
        for flavour, weights in table.items():
            for pkg in weights:
                files = [e for e in samples.verified_pool(pkg, pool)
                         if flavour == "any" or e.acoustic == (flavour == "acoustic")]
                assert files, (pool, flavour, pkg)


@needs_samples
def test_classification_and_spectral_check():
    assert samples.classify("bd_haus") == "kick" and samples.classify("kick - hard") == "kick"
    assert samples.classify("hihat_opened01") == "open_hat" and samples.classify("closed hh") == "hat"
    assert samples.classify("loop_amen") is None and samples.classify("bass_dnb_f") is None
    for pool in ("kick", "hat", "snare", "crash"):
        e = samples.verified_pool("hydrogen-drumkits", pool)[0]
        a = samples.analyse(e.path)
        if pool == "kick":
            assert a["low"] >= 0.4 and a["early"] >= 0.3
        elif pool == "hat":
            assert a["high"] >= 0.55 and a["attack"] <= samples.MAX_ATTACK["hat"]
    # A crash is not a kick: the check rejects a file filed under the wrong pool.
    crash = samples.verified_pool("hydrogen-drumkits", "crash")[0]
    assert not samples.verify(samples.Entry(crash.package, crash.path, crash.rel, crash.kit, "kick", False, ""))


@needs_samples
def test_sample_drums_carry_the_sample_spectrum():
    """The clap one-shot of a plan with a recorded clap is that file (tuned, shaped, level-matched)."""
    g, s, p = _find_plan(lambda p, g: p["samples"]["used"] and (p["samples"]["genres"][g]["clap"] or {}).get("pool") == "clap")
    choice = p["samples"]["genres"][g]["clap"]
    eng = Engine(p)
    hit = eng.oneshot("clap", g).mean(axis=1)
    ref = np.asarray(samples.load(choice, eng.sr)).mean(axis=1)
    synth = Engine(dict(p, samples={"genres": {}})).oneshot("clap", g).mean(axis=1)
    n = min(hit.size, ref.size, int(0.1 * eng.sr))

    def logspec(x):
        x = x[:n] * np.hanning(n)
        return np.log10(np.abs(np.fft.rfft(x, 8192))[50:3000] + 1e-9)

    with_sample = np.corrcoef(logspec(hit), logspec(ref))[0, 1]
    with_synth = np.corrcoef(logspec(synth), logspec(ref))[0, 1]
    assert with_sample > 0.9 and with_sample > with_synth + 0.1, (with_sample, with_synth)
    # And the rendered clap stem holds it: its spectrum follows the file's, not the synthetic clap's.
    res = render_track(g, seed=s, structure=SHORT, stems=True)
    stem = res.stems["clap"].mean(axis=1)
    on = np.flatnonzero(np.abs(stem) > 0.3 * np.abs(stem).max())[0]
    seg = stem[on:on + n]
    assert np.corrcoef(logspec(seg), logspec(ref))[0, 1] > np.corrcoef(logspec(seg), logspec(synth))[0, 1]


@needs_samples
def test_replacing_kick_is_retuned_to_the_plan_pitch():
    g, s, p = _find_plan(lambda p, g: (p["samples"]["kick"] or {}).get("mode") == "replace")
    kick = Engine(p).oneshot("kick", None).mean(axis=1)
    got = samples.body_pitch(kick, 44100)
    assert abs(got - p["global"]["kick"]["pitch_hz"]) < 0.12 * p["global"]["kick"]["pitch_hz"] + 3.0


@needs_samples
def test_bigroom_keeps_its_synthetic_kick_body():
    for s in range(40):
        k = plan_track("Bigroom", seed=s, structure=SHORT)["samples"]["kick"]
        assert k is None or k["mode"] == "layer"


@needs_samples
def test_missing_package_falls_back_deterministically():
    full = plan_track("Tech House", seed=21, structure=SHORT)
    none1 = plan_track("Tech House", seed=21, structure=SHORT, sample_packages=())
    none2 = plan_track("Tech House", seed=21, structure=SHORT, sample_packages=())
    assert none1 == none2
    smp = none1["samples"]
    assert smp["kick"] is None and smp["crash"] is None and smp["snare_roll"] is None
    assert all(c is None for gs in smp["genres"].values() for k, c in gs.items() if k != "tops")
    if full["samples"]["used"]:
        assert none1["notes"] and all("not allowed, synthetic" in n for n in none1["notes"])
    # Everything else is drawn exactly as with all packages.
    assert {k: v for k, v in none1.items() if k not in ("samples", "notes")} == \
        {k: v for k, v in full.items() if k not in ("samples", "notes")}
    # A partial set keeps the choices of the allowed package and drops the others.
    only = plan_track("Tech House", seed=21, structure=SHORT, sample_packages=("lmms-common",))
    for key in ("kick", "crash", "snare_roll"):
        c = full["samples"][key]
        assert only["samples"][key] == (c if c and c["package"] == "lmms-common" else None)
    a = render_track("Tech House", seed=21, structure=SHORT, sample_packages=())
    b = render_track("Tech House", seed=21, structure=SHORT, sample_packages=())
    assert a.audio.tobytes() == b.audio.tobytes()


def test_requiring_packages_gives_one_line_errors():
    with pytest.raises(SynthError, match="unknown drum-sample package 'nope'") as info:
        samples.require_packages(["nope"])
    assert "\n" not in str(info.value)
    if not samples.missing_packages() and vocals.espeak_available():
        plan_track("Bigroom", seed=1, structure=SHORT, require_samples=True)


def test_missing_espeak_is_an_error_when_required_and_a_noted_fallback_otherwise(monkeypatch):
    g, s, p = _find_plan(lambda p, g: (p["sound"][g]["vox"] or {}).get("engine") == "espeak") if \
        vocals.espeak_available() else (None, None, None)
    monkeypatch.setenv(vocals.ESPEAK_ENV, "espeak-ng-not-installed-here")
    with pytest.raises(SynthError, match="not found \\(Debian package 'espeak-ng'\\)"):
        plan_track("Bigroom", seed=1, structure=SHORT, require_samples=True, sample_packages=())
    if g is None:
        return
    q = plan_track(g, seed=s, structure=SHORT)
    assert q["sound"][g]["vox"]["engine"] == "formant"
    assert any("espeak-ng not installed" in n for n in q["notes"])
    assert plan_track(g, seed=s, structure=SHORT) == q
    res = render_track(g, seed=s, structure=SHORT)
    assert np.all(np.isfinite(res.audio))


@needs_samples
def test_acoustic_samples_raise_recorded_organicity():
    g, s, p = _find_plan(lambda p, g: bool(p["samples"]["acoustic_roles"]))
    sm = p["samples"]
    assert sm["organicity_shift"] == pytest.approx(min(1.0, 0.25 * len(sm["acoustic_roles"])))
    chosen = [sm["kick"]] + [c for gs in sm["genres"].values() for k, c in gs.items() if k != "tops"]
    assert any(c and c["acoustic"] for c in chosen + [c for gs in sm["genres"].values() for c in gs["tops"]])


# ---------------------------------------------------------------------------
# Vocals
# ---------------------------------------------------------------------------

@needs_espeak
def test_espeak_phrase_is_deterministic_and_tuned_to_the_key():
    a = vocals.speak("move your body", "en-us+f3", 150, 50, 44100)
    b = vocals.speak.__wrapped__("move your body", "en-us+f3", 150, 50, 44100)
    assert np.array_equal(a, b)
    f0 = vocals.f0_median(a, 44100)
    assert 80 < f0 < 400
    target = vocals._nearest_scale_midi(f0, 9, "minor", 0)  # A minor
    tuned = vocals._tuned(a, 44100, target, f0)
    got = 69 + 12 * np.log2(vocals.f0_median(tuned, 44100) / 440.0)
    assert abs(got - target) < 0.6
    assert len(vocals.syllables(a, 44100)) >= 2


@needs_espeak
def test_vox_styles_render_on_the_grid():
    styles = {}
    for s in range(80):
        for g in GENRES:
            v = plan_track(g, seed=s, structure=SHORT)["sound"][g]["vox"]
            if v and v["style"] not in styles:
                styles[v["style"]] = (g, s)
    assert set(styles) == {"phrase", "spoken", "chop", "stab", "formant"}
    for style, (g, s) in styles.items():
        res = render_track(g, seed=s, structure="intro:1,drop:4", stems=True)
        vox = res.stems["vox"]
        assert np.sqrt(np.mean(vox ** 2)) > 1e-3, style
        # Nothing before the first bar that plays the part.
        first = next(i for i, b in enumerate(res.truth["analysis"]["bars"]) if "vox" in b["roles"])
        t0 = res.truth["downbeats"][first]
        if first > 0:
            assert np.max(np.abs(vox[: int(t0 * res.sr)])) < 1e-6, style


# ---------------------------------------------------------------------------
# Mastering, stereo
# ---------------------------------------------------------------------------

def test_random_chain_is_seeded_json_and_genre_aware():
    a = mastering.random_chain(np.random.default_rng(5), distortion=4.5)
    assert mastering.random_chain(np.random.default_rng(5), distortion=4.5) == a
    assert json.loads(json.dumps(a)) == a
    loud = [mastering.random_chain(np.random.default_rng(s), distortion=4.8)["limiter"]["gain_db"] for s in range(40)]
    soft = [mastering.random_chain(np.random.default_rng(s), distortion=1.2)["limiter"]["gain_db"] for s in range(40)]
    assert np.mean(loud) > np.mean(soft) + 2.5
    kinds = {mastering.random_chain(np.random.default_rng(s))["degrade"] for s in range(200)}
    assert kinds == {None, "small_speaker", "radio", "dull"}
    assert all(mastering.random_chain(np.random.default_rng(s), degrade=0.0)["degrade"] is None for s in range(50))


def test_apply_chain_low_cut_ceiling_and_no_time_shift():
    sr = 44100
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((4 * sr, 2)) * 0.1).astype(np.float32)
    clicks = np.zeros_like(x)
    clicks[sr // 2::sr // 2] = 0.9  # a click every 0.5 s
    chain = mastering.random_chain(np.random.default_rng(1))
    chain.update(low_cut={"hz": 150.0, "order": 4}, high_cut=None, compressor=None, saturation=None)
    y = mastering.apply_chain(x, sr, chain)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.max(np.abs(y)) <= 10 ** (chain["limiter"]["ceiling_db"] / 20) + 1e-6
    # Little energy below the cutoff: 150 Hz, 4th order -> below 75 Hz at least 24 dB down.
    assert _band_db(y, sr, 20, 75) < _band_db(x, sr, 20, 75) - 20
    # Causal filters and gain stages: the clicks stay where they were.
    z = mastering.apply_chain(clicks + 0.001 * x, sr, dict(chain, low_cut=None, low_shelf=None, high_shelf=None,
                                                           bell=None, tilt_db=0.0))
    for t in range(sr // 2, 4 * sr, sr // 2):
        assert abs(int(np.argmax(np.abs(z[t - 200:t + 200, 0]))) - 200) <= 2


def test_track_with_a_drawn_low_cut_has_little_energy_below_it():
    g, s, p = _find_plan(lambda p, g: p["master"]["degrade"] == "small_speaker" and p["master"]["low_cut"]["hz"] > 120,
                         structure=SHORT)
    cut, order = p["master"]["low_cut"]["hz"], p["master"]["low_cut"]["order"]
    with_cut, _ = Engine(p).render()
    without, _ = Engine(dict(p, master=None)).render()
    # A Butterworth high-pass of order n is 6n dB down an octave below its cutoff.
    below = _band_db(with_cut, 44100, 20, cut / 2)
    assert below < _band_db(without, 44100, 20, cut / 2) - (6 * order - 2)
    assert below < -12.0  # under 6 % of the energy
    assert "low" in mastering.degraded_bands(p["master"])


def test_width_and_widening_keep_the_mono_sum():
    sr = 44100
    rng = np.random.default_rng(2)
    x = rng.standard_normal((sr, 2)).astype(np.float32) * 0.1
    mono = x.mean(axis=1)
    y = x.copy()
    mastering.set_width(y, 1.8)
    np.testing.assert_allclose(y.mean(axis=1), mono, atol=1e-6)
    assert np.std(y[:, 0] - y[:, 1]) == pytest.approx(1.8 * np.std(x[:, 0] - x[:, 1]), rel=1e-4)
    w = stereo.widen(x.astype(np.float64), sr, 0.8, 12.0)
    np.testing.assert_allclose(w[: sr].mean(axis=1), mono, atol=1e-6)
    assert np.std(w[:, 0] - w[:, 1]) > 2 * np.std(x[:, 0] - x[:, 1]) * 0.5
    echo = stereo.pingpong(np.r_[1.0, np.zeros(sr - 1)], sr, 0.25, 0.5, 6000.0)
    left, right = int(np.argmax(echo[:, 0])), int(np.argmax(echo[:, 1]))
    assert (left, right) == (int(0.25 * sr), int(0.5 * sr))


# ---------------------------------------------------------------------------
# Distributions over seeds
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sixteen():
    import librosa

    out = []
    for s in range(16):
        res = render_track(GENRES[s % 8], seed=100 + s, structure=COMPACT, sr=22050)
        y = res.audio.mean(axis=1)
        onsets = librosa.onset.onset_detect(y=y, sr=22050, units="time")
        m = res.audio.mean(axis=1).astype(np.float64)
        side = (res.audio[:, 0].astype(np.float64) - res.audio[:, 1]) / 2
        roll = librosa.feature.spectral_rolloff(y=y, sr=22050)[0]
        out.append({"onsets": len(onsets) / (len(y) / 22050), "width": float(np.sqrt(np.mean(side ** 2) / np.mean(m ** 2))),
                    "rolloff": float(np.mean(roll)), "truth": res.truth, "peak": float(np.max(np.abs(res.audio)))})
    return out


def test_onset_density_spans_a_wide_range(sixteen):
    d = np.array([t["onsets"] for t in sixteen])
    assert d.max() - d.min() >= 2.5, np.round(np.sort(d), 2)
    assert d.max() >= 5.5 and d.min() <= 3.5
    assert 3.8 <= np.median(d) <= 6.0


def test_stereo_width_and_brightness_vary(sixteen):
    w = np.array([t["width"] for t in sixteen])
    assert w.min() < 0.2 and w.max() > 0.45, np.round(np.sort(w), 3)
    r = np.array([t["rolloff"] for t in sixteen])
    assert r.max() - r.min() > 1500 and np.median(r) < 6000, np.round(np.sort(r))
    peaks = np.array([t["peak"] for t in sixteen])
    assert peaks.max() - peaks.min() > 0.05 and peaks.max() <= 1.0  # ceilings vary


def test_truth_stays_exact_over_seeds(sixteen):
    for t in sixteen:
        bpm = t["truth"]["tempo"]["bpm"]
        beats = np.array(t["truth"]["beats"])
        np.testing.assert_allclose(np.diff(beats), 60.0 / bpm, rtol=0, atol=1e-9)
        assert [s["label"] for s in t["truth"]["sections"]] == [lab for lab, _ in parse_structure(COMPACT)]
        assert len(t["truth"]["drops"]) == 2
