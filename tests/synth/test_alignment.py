"""Audio lines up with the truth: kick onsets on the beats, the loudest regions are the drops."""
import numpy as np
import pytest
import synth_measures as sm


def _kick_beats(truth):
    """Truth beats where the generator says a kick hits (all 4 beats, or the first 2 in "half" bars)."""
    beats = np.array(truth["beats"]).reshape(-1, 4)
    hits = [beats[i][:2 if bar["roles"]["kick"] == "half" else 4]
            for i, bar in enumerate(truth["analysis"]["bars"]) if "kick" in bar["roles"]]
    return np.concatenate(hits)


@pytest.mark.parametrize("genre", ["Deep House", "Bigroom", "Tech House"])
def test_librosa_onsets_hit_truth_kicks_within_20ms(drop_tracks, genre):
    import librosa

    res = drop_tracks[genre]
    y = res.audio.mean(axis=1).astype(np.float32)
    onsets = librosa.onset.onset_detect(y=y, sr=res.sr, hop_length=256, units="time")
    kicks = _kick_beats(res.truth)
    assert kicks.size > 100
    dist = np.min(np.abs(kicks[:, None] - onsets[None, :]), axis=1)
    assert np.mean(dist <= 0.020) >= 0.9, f"only {np.mean(dist <= 0.020):.0%} of kicks have an onset within 20 ms"
    # Drumless breakdown beats stay in the truth grid (every quarter note).
    assert len(res.truth["beats"]) == 4 * len(res.truth["downbeats"])
    assert kicks.size < len(res.truth["beats"])


@pytest.mark.parametrize("genre", ["Deep House", "Bigroom", "Tech House"])
def test_paper_drop_rule_finds_the_truth_drops(drop_tracks, genre):
    res = drop_tracks[genre]
    truth = [(d["start_s"], d["end_s"]) for d in res.truth["drops"]]
    found = sm.drop_rule(res.audio, res.sr)
    assert len(found) == len(truth) == 2, (found, truth)
    for f, t in zip(found, truth):
        assert sm.iou(f, t) > 0.85, (f, t)


def test_builds_rise_into_drops_and_drops_are_loudest(drop_tracks):
    for res in drop_tracks.values():
        sr, secs = res.sr, res.truth["sections"]
        bar_s = 240.0 / res.truth["tempo"]["bpm"]

        def rms(a, b):
            seg = res.audio[int(a * sr):int(b * sr)].astype(np.float64)
            return 10 * np.log10(np.mean(seg ** 2))

        drop_db = min(rms(s["start_s"], s["end_s"]) for s in secs if s["label"] == "drop")
        for s in secs:
            if s["label"] != "drop":
                assert rms(s["start_s"], s["end_s"]) < drop_db - 2.0, s["label"]
            if s["label"] == "build":
                first = rms(s["start_s"], s["start_s"] + bar_s)
                last = rms(s["end_s"] - bar_s, s["end_s"])
                assert last > first + 3.0, "build does not rise"
