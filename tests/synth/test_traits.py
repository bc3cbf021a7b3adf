"""Genre traits of GENRES.md are measurable in the rendered audio (and stems).

One test per trait column: tempo, lead / chord / bass presence, groove (attack),
rhythm fragmentation, distortion, organicity (reverb), kick weight and pitch, swing.
Measurements come from the session fixture ``trait_tracks`` (every genre, two seeds).
"""
import numpy as np
from synth_measures import trait_values as tv

from mainstage.core.genres import GENRES
from mainstage.training.synthhouse import plan_track
from mainstage.training.synthhouse.profiles import TRAITS

SILENT_DB = -120.0


def _present(tracks, genre, role):
    return [m.stem_db[role] > -60.0 for (g, _), m in tracks.items() if g == genre]


def test_tempo_ranges_follow_the_table():
    for g in GENRES:
        lo, hi = TRAITS[g].bpm
        bpms = [plan_track(g, seed=s)["bpm"] for s in range(12)]
        assert all(lo <= b <= hi for b in bpms), (g, bpms)
        assert len(set(bpms)) > 1, f"{g}: tempo is not randomised"
    deep = [plan_track("Deep House", seed=s)["bpm"] for s in range(12)]
    big = [plan_track("Bigroom", seed=s)["bpm"] for s in range(12)]
    assert max(deep) < min(big) or np.mean(deep) < np.mean(big) - 4


def test_rendered_tempo_deep_below_bigroom(trait_tracks):
    assert tv(trait_tracks, "Deep House", "bpm").max() < tv(trait_tracks, "Bigroom", "bpm").min()
    assert tv(trait_tracks, "Slap House", "bpm").max() <= 125 and tv(trait_tracks, "Tech House", "bpm").max() <= 126


def test_bass_present_except_bigroom(trait_tracks):
    for g in GENRES:
        present = _present(trait_tracks, g, "bass")
        if g == "Bigroom":
            assert not any(present), "Bigroom: the pitched kick is the bass"
        else:
            assert all(present), g
    for (g, _), m in trait_tracks.items():
        has_bass = any("bass" in b["roles"] for b in m.truth["analysis"]["bars"])
        assert has_bass == (g != "Bigroom")


def test_chord_instruments_per_table(trait_tracks):
    for g in ("Progressive House", "Deep House"):
        assert all(_present(trait_tracks, g, "chords")), g
    for g in ("Bass House", "Tech House", "Bigroom", "Future Rave"):
        assert not any(_present(trait_tracks, g, "chords")), g


def test_lead_instruments_per_table(trait_tracks):
    for g in ("Progressive House", "Future House", "Bigroom", "Future Rave", "Slap House"):
        assert all(_present(trait_tracks, g, "lead")), g
    assert not any(_present(trait_tracks, "Tech House", "lead"))
    voices = {g: {m.truth["analysis"]["sound"][g]["lead"]["voice"]["type"]
                  for (gg, _), m in trait_tracks.items() if gg == g and m.truth["analysis"]["sound"][g]["lead"]}
              for g in GENRES}
    assert voices["Bigroom"] == {"horn"} and voices["Future Rave"] == {"rave"}


def test_tech_house_has_no_tonal_lead_energy(trait_tracks):
    """Stable mid-band partials (a melody or chords) are far weaker in Tech House drops."""
    tech = tv(trait_tracks, "Tech House", "tonal_db")
    for g in ("Progressive House", "Future House", "Bigroom", "Future Rave", "Slap House"):
        assert tech.max() < tv(trait_tracks, g, "tonal_db").min() - 4.0, g
    # Bass House's lead, when there is one, is a non-melodic growl stab.
    assert tv(trait_tracks, "Bass House", "tonal_db").max() < tv(trait_tracks, "Progressive House", "tonal_db").min() - 4.0


def test_distortion_bigroom_and_bass_house_above_deep_house(trait_tracks):
    """Clipping and saturation squash the crest factor (peak / RMS)."""
    deep = tv(trait_tracks, "Deep House", "crest_db")
    for g in ("Bigroom", "Bass House"):
        assert tv(trait_tracks, g, "crest_db").max() < deep.min() - 2.0, g
    assert tv(trait_tracks, "Bass House", "flatness").mean() > tv(trait_tracks, "Deep House", "flatness").mean()


def test_organicity_deep_house_has_more_reverb_than_bigroom(trait_tracks):
    assert tv(trait_tracks, "Deep House", "reverb_db").min() > tv(trait_tracks, "Bigroom", "reverb_db").max() + 6.0
    # In the mix: reverb tails lift the quiet moments of the mid-highs.
    assert tv(trait_tracks, "Deep House", "tail_db").mean() > tv(trait_tracks, "Bigroom", "tail_db").mean() + 4.0
    assert tv(trait_tracks, "Progressive House", "reverb_db").mean() > tv(trait_tracks, "Bass House", "reverb_db").mean()


def test_bigroom_kick_has_the_highest_pitch_and_weight(trait_tracks):
    big_hz, big_len = tv(trait_tracks, "Bigroom", "kick_hz"), tv(trait_tracks, "Bigroom", "kick_len")
    for g in GENRES:
        if g == "Bigroom":
            continue
        assert tv(trait_tracks, g, "kick_hz").max() < big_hz.min(), g
        assert tv(trait_tracks, g, "kick_len").max() < big_len.min(), g
    # Tech House: lighter (shorter) kick than Bass House.
    assert tv(trait_tracks, "Tech House", "kick_len").mean() < tv(trait_tracks, "Bass House", "kick_len").mean()


def test_groove_bigroom_attacks_are_shortest(trait_tracks):
    """Groove 1-2 (Bigroom) means extremely short attacks; 4-5 (Future Rave) wave-like ones."""
    big = tv(trait_tracks, "Bigroom", "lead_rise")
    assert big.max() < 0.006
    assert tv(trait_tracks, "Future Rave", "lead_rise").min() > max(0.008, big.max())
    for g in ("Slap House", "Future House"):  # groove 3-4: in between, on average
        assert tv(trait_tracks, g, "lead_rise").mean() > big.mean() + 0.002, g


def test_fragmentation_future_house_more_than_progressive_and_deep(trait_tracks):
    fh = tv(trait_tracks, "Future House", "lead_onsets")
    assert fh.mean() > 1.3 * tv(trait_tracks, "Progressive House", "lead_onsets").mean()
    assert fh.mean() > 1.3 * tv(trait_tracks, "Deep House", "lead_onsets").mean()
    # Deep House parts are long and legato: its bass and lead sound almost all the time.
    assert tv(trait_tracks, "Deep House", "music_sounding").min() > tv(trait_tracks, "Bass House", "music_sounding").max()


def test_swing_where_intended(trait_tracks):
    for g in ("Tech House", "Deep House"):
        assert tv(trait_tracks, g, "swing").min() > 0.12, g
    for (g, _), m in trait_tracks.items():
        if g != "Progressive House":
            continue
        closed = m.truth["analysis"]["sound"][g]["hats"]["pattern"]["closed"]
        assert any(v > 0 for v in closed[1::2]), "precondition: straight 16th hats to measure"
        assert abs(m.values["swing"]) < 0.1
    assert tv(trait_tracks, "Tech House", "swing").mean() > tv(trait_tracks, "Progressive House", "swing").mean() + 0.15


def test_sound_design_is_randomised_within_each_genre():
    """No constant fingerprint: key, progression, patterns and voice parameters vary by seed."""
    for g in GENRES:
        plans = [plan_track(g, seed=s) for s in range(6)]
        assert len({p["key"] for p in plans}) > 2, g
        assert len({str(p["sound"][g]["hats"]["pattern"]) for p in plans}) > 2, g
        assert len({p["sound"][g]["kick"]["pitch_hz"] for p in plans}) == 6, g
        if plans[0]["sound"][g]["bass"]:
            assert len({str(p["sound"][g]["bass"]["pattern"]) for p in plans}) > 2, g
