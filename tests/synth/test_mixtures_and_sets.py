"""Soft-label mixtures blend parts per role by weight; DJ sets change genre and tempo along the timeline."""
import numpy as np
import pytest
import synth_measures as sm

from mainstage.core.genres import GENRES
from mainstage.training.synthhouse import render_set, render_track
from mainstage.core.timeline import genre_at, validate_timeline

TECH, PROG = GENRES.index("Tech House"), GENRES.index("Progressive House")


@pytest.fixture(scope="module")
def half_half():
    res = render_track("Tech House:0.5,Progressive House:0.5", seed=5, structure="intro:2,build:2,drop:16,outro:2", stems=True)
    lead = res.stems["lead"]
    res.stems = None
    return res, lead


def test_mixture_label_is_the_weight_vector(half_half):
    res, _ = half_half
    validate_timeline(res.truth)
    want = np.zeros(8)
    want[[TECH, PROG]] = 0.5
    for w in res.truth["genre_windows"]:
        np.testing.assert_allclose(w["probs"], want)
    np.testing.assert_allclose(res.truth["genre_summary"], want)
    a = res.truth["analysis"]
    assert a["genres"] == {"Progressive House": 0.5, "Tech House": 0.5}
    # Continuous traits are blended by weight: the kick sits between the two genres' kicks.
    k = a["global"]["kick"]["pitch_hz"]
    ks = [a["sound"][g]["kick"]["pitch_hz"] for g in a["genres"]]
    assert k == pytest.approx(np.mean(ks), abs=0.01)


def test_mixture_blends_parts_per_role_by_weight(half_half):
    res, lead = half_half
    bars = res.truth["analysis"]["bars"]
    drop = [b for b in bars if b["section"] == "drop"]
    for role in ("bass", "hats", "clap"):
        share = np.mean([b["sources"][role] == "Progressive House" for b in drop])
        assert share == pytest.approx(0.5), role
    # Tech House has no lead: the lead plays exactly in the drop bars supplied by Progressive House.
    has_lead = np.array(["lead" in b["roles"] for b in drop])
    assert has_lead.mean() == pytest.approx(0.5)
    assert all(b["sources"]["lead"] == "Progressive House" for b in drop if "lead" in b["roles"])
    # ... and that is audible: per-bar lead level and tonal mid energy in the mix follow it.
    down = np.array(res.truth["downbeats"] + [res.duration_s])
    idx = [i for i, b in enumerate(bars) if b["section"] == "drop"]
    sr = res.sr
    lead_db, tonal = [], []
    for i in idx:
        a, b = down[i] + 0.4, down[i + 1]
        seg = lead[int(a * sr):int(b * sr)].astype(np.float64)
        lead_db.append(10 * np.log10(np.mean(seg ** 2) + 1e-20))
        tonal.append(sm.stable_tonal_db(res.audio[int(down[i] * sr):int(b * sr)].mean(axis=1), sr))
    lead_db, tonal = np.array(lead_db), np.array(tonal)
    assert lead_db[has_lead].min() > -40 and lead_db[~has_lead].max() < -80
    assert tonal[has_lead].mean() > tonal[~has_lead].mean() + 6.0


def test_three_genre_mixture_shares_follow_weights():
    res = render_track("Future Rave:0.6,Slap House:0.3,Bigroom:0.1", seed=9, structure="intro:1,drop:32,outro:1")
    drop = [b for b in res.truth["analysis"]["bars"] if b["section"] == "drop"]
    for role in ("bass", "hats", "clap", "lead"):
        srcs = [b["sources"].get(role) for b in drop]
        for g, w in (("Future Rave", 0.6), ("Slap House", 0.3), ("Bigroom", 0.1)):
            share = np.mean([s == g for s in srcs])
            assert abs(share - w) <= 4 / 32 + 1e-9, (role, g, share)
    # Bigroom has no bass: its blocks have none.
    assert all("bass" not in b["roles"] for b in drop if b["sources"].get("bass") == "Bigroom")


@pytest.fixture(scope="module")
def dj_set():
    return render_set(["Deep House", "Bigroom", "Tech House:0.7,Bass House:0.3"], seed=2, bpms=[120, 128, 124],
                      structure="intro:8,build:2,drop:8,outro:8", xfade_bars=8)


def test_set_tempo_segments_and_exact_beats(dj_set):
    t = dj_set.truth
    validate_timeline(t)
    segs = t["tempo"]["segments"]
    assert [s["bpm"] for s in segs] == [120, 128, 124]
    assert segs[0]["start_s"] == 0 and segs[-1]["end_s"] == pytest.approx(dj_set.duration_s)
    for a, b in zip(segs, segs[1:]):
        assert a["end_s"] == b["start_s"]
    beats = np.array(t["beats"])
    assert len(t["downbeats"]) == 3 * 26 - 2 * 8 and beats.size == 4 * len(t["downbeats"])
    for s in segs:
        inside = beats[(beats >= s["start_s"] - 1e-9) & (beats < s["end_s"] - 1e-9)]
        np.testing.assert_allclose(np.diff(inside), 60.0 / s["bpm"], atol=1e-9)
    # The tempo steps right after each crossfade: the incoming track was beat-matched until then.
    xf = t["analysis"]["track_offsets_s"]
    assert segs[1]["start_s"] == pytest.approx(xf[1] + 8 * 240 / 120)
    assert segs[2]["start_s"] == pytest.approx(xf[2] + 8 * 240 / 128)


def test_set_genre_windows_crossfade(dj_set):
    t = dj_set.truth
    deep, big = GENRES.index("Deep House"), GENRES.index("Bigroom")
    first, last = np.array(t["genre_windows"][0]["probs"]), np.array(t["genre_windows"][-1]["probs"])
    assert first[deep] == 1.0
    assert last[TECH] == pytest.approx(0.7) and last[GENRES.index("Bass House")] == pytest.approx(0.3)
    # Across the first crossfade (8 bars from the second track's start) Deep fades out, Bigroom in.
    off = t["analysis"]["track_offsets_s"][1]
    times = off + (np.arange(8) + 0.5) * 240 / 120
    probs = genre_at(t, times)
    assert np.all(np.diff(probs[:, deep]) < 0) and np.all(np.diff(probs[:, big]) > 0)
    assert 0 < probs[0, big] < 0.1 and 0.9 < probs[-1, big] < 1.0
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-6)
    # Middle of each track: pure labels.
    for d, want in zip(t["drops"], (deep, big)):
        assert genre_at(t, (d["start_s"] + d["end_s"]) / 2)[want] == 1.0
    assert [s["label"] for s in t["sections"]].count("drop") == 3 == len(t["drops"])


def test_set_kicks_stay_on_the_beat_after_tempo_steps(dj_set):
    import librosa

    t = dj_set.truth
    y = dj_set.audio.mean(axis=1)
    onsets = librosa.onset.onset_detect(y=y, sr=dj_set.sr, hop_length=256, units="time")
    beats = np.array(t["beats"])
    for d in t["drops"]:
        b = beats[(beats >= d["start_s"]) & (beats < d["end_s"])]
        dist = np.min(np.abs(b[:, None] - onsets[None, :]), axis=1)
        assert np.mean(dist <= 0.02) >= 0.9


def test_set_rejects_short_outros():
    from mainstage.training.synthhouse import SynthError

    with pytest.raises(SynthError, match="at least 16 bars"):
        render_set(["Deep House", "Bigroom"], structure="intro:4,drop:8,outro:4")


def test_part_labels_follow_the_parts_each_block_took_from_its_genres(half_half):
    """A mixture's clips are labelled with the genres their parts came from; over the drop they sum to the mix."""
    from mainstage.training.features.part_labels import bar_part_labels, clip_part_label

    res, _ = half_half
    truth = res.truth
    starts, shares = bar_part_labels(truth)
    assert starts.shape == (len(truth["downbeats"]),) and shares.shape == (len(starts), 8)
    bars = truth["analysis"]["bars"]
    label = np.asarray(truth["genre_summary"])
    drop = [i for i, b in enumerate(bars) if b["section"] == "drop"]
    # Per bar: the share of its sourced parts per genre, exactly.
    for i in drop:
        src = list(bars[i]["sources"].values())
        assert shares[i, PROG] == pytest.approx(src.count("Progressive House") / len(src))
        assert shares[i, TECH] == pytest.approx(src.count("Tech House") / len(src))
    # A 4-bar clip on a block: part mixture blended with the track's; blocks differ from the track label.
    down = np.array(truth["downbeats"] + [res.duration_s])
    clips = [clip_part_label((starts, shares), down[i], down[i + 4], label) for i in drop[::4]]
    for c, i in zip(clips, drop[::4]):
        want = 0.8 * shares[i:i + 4].mean(axis=0) + 0.2 * label
        np.testing.assert_allclose(c, want / want.sum(), atol=1e-6)
    assert max(abs(c[PROG] - 0.5) for c in clips) > 0.05
    # Over the whole drop the part shares are near the track's weights (blocks are allocated by
    # weight); Tech House has no lead, so its lead blocks play none and Progressive House's share
    # of the parts that play is a little higher.
    mean = np.mean(clips, axis=0)
    np.testing.assert_allclose(mean[[TECH, PROG]], [0.5, 0.5], atol=0.08)
    assert mean[PROG] > mean[TECH]
    # A truth without recorded parts (a user's annotation) gives none.
    assert bar_part_labels({k: v for k, v in truth.items() if k != "analysis"}) is None
    broken = dict(truth, analysis=dict(truth["analysis"], bars=[dict(b, sources={"lead": "Polka"}) for b in bars]))
    assert bar_part_labels(broken) is None
