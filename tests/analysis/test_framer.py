"""The streaming framer cuts any block split into the same frames as one call (librosa-style count)."""
import numpy as np
import pytest

from mainstage.core.analysis.onsets import _Framer
from mainstage.core.analysis.track import analyze_track


@pytest.mark.parametrize("total", [100, 3000, 4096, 10000, 44100])
@pytest.mark.parametrize("blocks", [[1], [7, 1], [4096, 5, 3], [50, 50, 50]])
def test_framer_block_splits_match_one_push(total, blocks):
    n_fft, hop = 2048, 512
    x = np.random.default_rng(total).standard_normal(total).astype(np.float32)
    ref = _Framer(n_fft, hop).push(x, last=True)
    assert ref.shape == (1 + total // hop, n_fft)
    f = _Framer(n_fft, hop)
    out, i, k = [], 0, 0
    while i < total:
        size = blocks[k % len(blocks)] if k < len(blocks) else max(1, total // 3)
        chunk = x[i:i + size]
        i += size
        k += 1
        out.append(f.push(chunk, last=i >= total))
    got = np.concatenate(out)
    np.testing.assert_array_equal(got, ref)


def test_short_track_with_tiny_last_block_analyses(tmp_path):
    """Regression: a 60 s track whose last decoded block was shorter than one chroma frame crashed
    the analysis (sliding_window_view on a too-short buffer)."""
    from mainstage.training.synthhouse import render_track, write_track

    path = tmp_path / "t.wav"
    write_track(render_track("Bass House", seed=3, duration_s=60.0), path)
    doc = analyze_track(path)
    assert 120 < doc["tempo"]["bpm"] < 135 and len(doc["beats"]) > 100
