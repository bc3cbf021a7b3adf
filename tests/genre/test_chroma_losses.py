"""Chroma channels, the soft/hard loss, class weights and the metrics."""
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("librosa")

from mainstage.core.genre import features as F  # noqa: E402
from mainstage.core.genre import chroma  # noqa: E402
from mainstage.training.run import calibration, losses  # noqa: E402
from mainstage.training.evaluation import metrics  # noqa: E402


def test_chroma_channels_shape_range_and_alignment(make_track):
    audio, _, _ = make_track(4, 120.0, bars=2)
    y = audio[:, 0].copy()
    ch = chroma.chroma_channels(y)
    assert ch.shape == (2, 224, F.n_frames(y.size))
    assert ch.dtype == np.float32
    assert 0.0 <= ch.min() and ch.max() <= 1.0 + 1e-6
    full = chroma.clip_features(y)
    assert full.shape == (3, 224, F.n_frames(y.size))
    np.testing.assert_allclose(full[0], F.log_mel(y))
    # The toy tone is a square wave at A + 4*5 semitones: the strongest chroma rows differ
    # from a flat image, and CQT and VQT chroma agree roughly on where the energy is.
    assert ch[0].std() > 0.05
    assert np.corrcoef(ch[0].mean(axis=1), ch[1].mean(axis=1))[0, 1] > 0.5


def test_resize_rows_keeps_constant_bins_and_order():
    c = np.arange(12, dtype=np.float32)[:, None] * np.ones((1, 5), np.float32)
    r = chroma.resize_rows(c)
    assert r.shape == (224, 5)
    assert np.all(np.diff(r[:, 0]) >= 0)
    assert r[0, 0] == 0 and r[-1, 0] == 11


def test_missing_librosa_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "librosa", None)
    with pytest.raises(chroma.ChromaUnavailableError, match="librosa"):
        chroma.chroma_channels(np.zeros(44100, np.float32))


def test_soft_cross_entropy_is_kl_plus_entropy():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 8, generator=gen)
    t = torch.softmax(torch.randn(5, 8, generator=gen), dim=-1)
    ce = losses.soft_cross_entropy(logits, t)
    p = torch.softmax(logits, -1).numpy()
    kl = metrics.kl_divergence(t.numpy(), p).mean()
    h = -(t.numpy() * np.log(t.numpy())).sum(axis=1).mean()
    assert abs(float(ce) - (kl + h)) < 1e-5


def test_class_weights_change_the_loss():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 8, generator=gen)
    t = torch.from_numpy(losses.prepare_targets(np.eye(8)[[0, 0, 0, 0, 1, 2]], "soft"))
    w = torch.from_numpy(losses.class_weights(t.numpy()))
    assert w[0] < w[1] == w[2] and float(w[3:].sum()) == 0.0
    plain = losses.soft_cross_entropy(logits, t)
    weighted = losses.soft_cross_entropy(logits, t, w)
    assert abs(float(plain) - float(weighted)) > 1e-3
    # The weighted loss is the per-class weighted sum, as documented.
    logp = torch.log_softmax(logits, -1)
    manual = -(w * t * logp).sum(dim=1).mean()
    assert abs(float(weighted) - float(manual)) < 1e-6


def test_hard_labels_sharpen_with_ties_to_the_later_genre():
    labels = np.array([[0.5, 0.5, 0, 0, 0, 0, 0, 0],
                       [0.2, 0.3, 0.5, 0, 0, 0, 0, 0],
                       [0, 0, 0, 0.4, 0, 0, 0, 0.4]])
    hard = losses.prepare_targets(labels, "hard")
    assert hard.argmax(axis=1).tolist() == [1, 2, 7]
    assert np.all(hard.sum(axis=1) == 1) and set(np.unique(hard)) == {0.0, 1.0}
    soft = losses.prepare_targets(labels, "soft")
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(soft[2, 3], 0.5, rtol=1e-6)
    with pytest.raises(ValueError):
        losses.prepare_targets(labels, "fuzzy")
    with pytest.raises(ValueError):
        losses.prepare_targets(np.zeros((1, 8)), "soft")


def test_metrics_use_sharpened_labels_and_report_top2_and_kl():
    truth = np.array([[0.6, 0.4, 0, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0, 0, 0, 0]])
    pred = np.array([[0.3, 0.6, 0.1, 0, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0, 0, 0], [0, 0.1, 0.9, 0, 0, 0, 0, 0]])
    m = metrics.genre_metrics(truth, pred)
    assert m["accuracy"] == pytest.approx(2 / 3)  # row 3's tie goes to genre 2, predicted right
    assert m["top2"] == 1.0
    assert m["top2_overlap"] == pytest.approx((1 + 1 + 1) / 3)
    assert m["kl"] > 0
    untied = truth[:2]
    perfect = metrics.genre_metrics(untied, untied)
    assert perfect["kl"] == pytest.approx(0.0, abs=1e-6) and perfect["f1_weighted"] == 1.0


def test_temperature_fit_recovers_the_temperature_that_made_the_targets():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(400, 8)) * 3
    z = logits / 2.5
    targets = np.exp(z - z.max(axis=1, keepdims=True))
    targets /= targets.sum(axis=1, keepdims=True)
    assert calibration.fit_temperature(logits, targets) == pytest.approx(2.5, rel=1e-3)


def test_clip_loss_covers_the_rows_marked_exact():
    """With a track loss, the clip loss covers clips with exact labels: one-hot ones, or those marked (part labels)."""
    import torch

    from mainstage.training.run.losses import batch_share_loss, soft_cross_entropy

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 8, generator=g)
    targets = torch.full((4, 8), 1 / 8)
    targets[0] = torch.eye(8)[2]
    bag = torch.tensor([0, 0, 1, 1])
    default = batch_share_loss(logits, targets, 4, 1, bag=bag, n_bags=2, n_single=1, track_weight=0.5)
    marked = torch.tensor([True, False, True, False])
    explicit = batch_share_loss(logits, targets, 4, 1, bag=bag, n_bags=2, n_single=2, track_weight=0.5, single=marked)
    track = batch_share_loss(logits, targets, 4, 1, bag=bag, n_bags=2, n_single=0, track_weight=1.0)
    clip_default = soft_cross_entropy(logits[:1], targets[:1], reduction="sum") / 1
    clip_marked = soft_cross_entropy(logits[marked], targets[marked], reduction="sum") / 2
    assert float(default) == pytest.approx(0.5 * float(clip_default) + 0.5 * float(track), rel=1e-5)
    assert float(explicit) == pytest.approx(0.5 * float(clip_marked) + 0.5 * float(track), rel=1e-5)
    assert float(explicit) != pytest.approx(float(default), rel=1e-3)
