"""DJ mixes step the tempo by as little as half a BPM between tracks; the grid must follow."""
import pytest

from mainstage.core.analysis.track import analyze_track
from mainstage.training.evaluation.scoring import score_timeline
from mainstage.training.synthhouse import render_set, write_track
from mainstage.core.timeline import load_timeline


@pytest.mark.parametrize("bpms", [(127.0, 126.5, 127.5), (122.0, 121.0, 123.0)])
def test_half_bpm_steps_are_separate_segments(tmp_path, bpms):
    res = render_set(["Deep House", "Tech House", "Future House"], seed=11, bpms=bpms,
                     structure="intro:8,build:4,drop:16,outro:8", xfade_bars=8)
    truth = load_timeline(write_track(res, tmp_path / "set.wav"))
    est = analyze_track(tmp_path / "set.wav", genre=False)
    got = [s["bpm"] for s in est["tempo"]["segments"]]
    assert len(got) == 3, got
    assert got == pytest.approx(list(bpms), abs=0.05)
    scores = score_timeline(est, truth)
    assert scores["beat_hit_rate"] >= 0.98, scores
    assert scores["beat_median_error_ms"] <= 15.0, scores
    assert scores["downbeat_hit_rate"] >= 0.98, scores
