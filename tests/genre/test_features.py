"""Log-mel parity: numpy (runtime) and torch (training) against librosa, on real and synthetic audio."""
import numpy as np
import pytest
import soundfile as sf

librosa = pytest.importorskip("librosa")
torch = pytest.importorskip("torch")

from mainstage.core.genre import features as F  # noqa: E402
from mainstage.training.features.torch_mel import LogMel  # noqa: E402

TOL = 1e-4


def librosa_log_mel(y):
    S = librosa.feature.melspectrogram(y=y, sr=44100, n_fft=2048, hop_length=512, n_mels=224)
    return -librosa.power_to_db(S, ref=np.max, amin=1e-10, top_db=80.0) / 80.0


def _real_clips(files):
    out = []
    for f in files:
        audio, sr = sf.read(f, dtype="float32")
        y = F.prepare_audio(audio, sr)
        out.append((f.rsplit("/", 1)[-1], y[: 44100 * 6]))
    return out


def _synthetic_clips(synth_track):
    rng = np.random.default_rng(1)
    t = np.arange(44100 * 3) / 44100
    chirp = 0.5 * np.sin(2 * np.pi * (50 * t + 3000 * t**2)).astype(np.float32)
    noise = (0.1 * rng.standard_normal(44100 * 2)).astype(np.float32)
    quiet_start = np.concatenate([np.zeros(30000, np.float32), noise])  # exact digital silence, then noise
    toy, _, _ = synth_track(3, 125.0, bars=3)
    return [("chirp", chirp), ("noise", noise), ("silence+noise", quiet_start), ("toy", toy[:, 0].copy()),
            ("odd length", noise[:12345])]


def test_mel_filterbank_equals_librosa():
    ours = F.mel_filterbank()
    ref = librosa.filters.mel(sr=44100, n_fft=2048, n_mels=224)
    assert ours.shape == ref.shape == (224, 1025)
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("source", ["real", "synthetic"])
def test_numpy_and_torch_log_mel_match_librosa(source, real_loops, make_track):
    clips = _real_clips(real_loops) if source == "real" else _synthetic_clips(make_track)
    module = LogMel()
    for name, y in clips:
        ref = librosa_log_mel(y)
        ours = F.log_mel(y)
        assert ours.shape == ref.shape, name
        assert ours.dtype == np.float32
        err_np = np.abs(ours - ref).max()
        with torch.no_grad():
            ours_t = module(torch.from_numpy(y)[None])[0].numpy()
        err_t = np.abs(ours_t - ref).max()
        assert err_np < TOL, f"{name}: numpy differs from librosa by {err_np:.3g}"
        assert err_t < TOL, f"{name}: torch differs from librosa by {err_t:.3g}"
        assert 0.0 <= ours.min() <= 1e-6 and ours.max() <= 1.0  # 0 at the loudest cell, up to float32 rounding


def test_torch_batch_equals_single_clips(make_track):
    clips = [y[:44100 * 2] for _, y in _synthetic_clips(make_track)[:3]]
    batch = torch.from_numpy(np.stack(clips))
    module = LogMel()
    with torch.no_grad():
        out = module(batch).numpy()
        singles = [module(torch.from_numpy(c)[None])[0].numpy() for c in clips]
    for a, b in zip(out, singles):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_window_features_equal_separate_clips_inside_the_window(make_track):
    toy, _, _ = make_track(2, 128.0, bars=8)
    y = toy[:, 0].copy()
    mel_db = F.track_mel_db(y)
    starts = [0, 100, 333]
    length = 300
    win = F.window_features(mel_db, starts, length)
    assert win.shape == (3, 224, length)
    for w, s in zip(win, starts):
        clip = F.log_mel(y[s * 512:(s + length - 1) * 512 + 1])
        assert clip.shape[1] == length
        # Frames whose STFT support lies inside the clip are identical (edges see zero padding).
        np.testing.assert_allclose(w[:, 2:-2], clip[:, 2:-2], atol=TOL)
        assert w.min() == 0.0  # normalised to the window's own maximum


def test_window_features_pad_outside_the_track_with_silence():
    y = (0.1 * np.random.default_rng(0).standard_normal(44100)).astype(np.float32)
    mel_db = F.track_mel_db(y)
    win = F.window_features(mel_db, [-10, mel_db.shape[1] - 5], 20)
    assert np.all(win[0, :, :10] == 1.0) and np.all(win[1, :, 5:] == 1.0)
    assert win[0, :, 10:].min() == 0.0


def test_prepare_audio_downmixes_and_resamples():
    sr = 48000
    t = np.arange(sr) / sr
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.zeros_like(t)], axis=1)
    y = F.prepare_audio(stereo, sr)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - 44100) <= 1
    assert abs(np.abs(y[1000:-1000]).max() - 0.5) < 0.01


def test_bad_audio_and_parameters_are_refused():
    with pytest.raises(F.FeatureError):
        F.log_mel(np.array([0.0, np.nan, 0.0], dtype=np.float32))
    with pytest.raises(F.FeatureError):
        F.log_mel(np.zeros((10, 2), dtype=np.float32))
    with pytest.raises(F.FeatureError):
        F.log_mel(np.zeros(1000, np.float32), sr=22050)
    params = F.feature_params()
    F.check_feature_params(params)
    bad = dict(params, hop_length=256)
    with pytest.raises(F.FeatureError, match="hop_length"):
        F.check_feature_params(bad)


def test_mel_spectrogram_of_a_five_minute_track_is_computed_in_blocks():
    y = np.zeros(44100 * 300, dtype=np.float32)
    y[::4410] = 1.0
    S = F.mel_power(y)
    assert S.shape == (224, 1 + y.size // 512)
    np.testing.assert_allclose(S[:, 1000:1010], F.mel_power(y[:1100 * 512])[:, 1000:1010], rtol=1e-5)
