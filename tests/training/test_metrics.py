"""Genre metrics against scikit-learn and hand-computed values."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support, top_k_accuracy_score

from mainstage.training.evaluation import metrics as M


def _onehot(idx, k=8):
    out = np.zeros((len(idx), k))
    out[np.arange(len(idx)), idx] = 1.0
    return out


@pytest.fixture
def case():
    """Hand-made: 10 rows, 4 genres present, one tie (goes to the later genre), one soft label."""
    labels = _onehot([0, 0, 0, 1, 1, 2, 2, 2, 2, 5])
    labels[9] = 0.0
    labels[9, [3, 5]] = 0.5          # tie between genre 3 and 5 -> 5 (the later)
    labels[0] = 0.0
    labels[0, [0, 1]] = [0.7, 0.3]   # soft: sharpened to 0
    pred_idx = [0, 1, 0, 1, 2, 2, 2, 0, 7, 5]
    probs = np.full((10, 8), 0.02) + np.random.default_rng(0).uniform(0, 0.01, (10, 8))  # no ties
    probs[np.arange(10), pred_idx] = 0.6
    probs[0, 1] = 0.3                 # second guess of row 0 is its secondary genre
    probs[3, 0] = 0.3
    probs /= probs.sum(axis=1, keepdims=True)
    return labels, probs, np.array([0, 0, 0, 1, 1, 2, 2, 2, 2, 5]), np.array(pred_idx)


def test_paper_metrics_match_sklearn(case):
    labels, probs, y_true, y_pred = case
    m = M.genre_metrics(labels, probs)
    assert m["n"] == 10
    assert m["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    for avg in ("weighted", "macro"):
        # Macro: over the genres present in the labels (absent genres would only add zeros).
        lab = np.arange(8) if avg == "weighted" else np.unique(y_true)
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=lab, average=avg, zero_division=0)
        assert m[f"precision_{avg}"] == pytest.approx(p)
        assert m[f"recall_{avg}"] == pytest.approx(r)
        assert m[f"f1_{avg}"] == pytest.approx(f)
    assert np.array_equal(np.array(m["confusion"]), confusion_matrix(y_true, y_pred, labels=np.arange(8)))
    assert m["support"] == np.bincount(y_true, minlength=8).tolist()
    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=np.arange(8), average=None, zero_division=0)
    assert np.allclose(m["per_class"]["f1"], f) and np.allclose(m["per_class"]["precision"], p)


def test_top2_kl_and_tie_rule(case):
    labels, probs, y_true, _ = case
    m = M.genre_metrics(labels, probs)
    assert m["top2"] == pytest.approx(top_k_accuracy_score(y_true, probs, k=2, labels=np.arange(8)))
    t = labels / labels.sum(axis=1, keepdims=True)
    kl = np.sum(np.where(t > 0, t * np.log(np.where(t > 0, t, 1) / probs), 0), axis=1).mean()
    assert m["kl"] == pytest.approx(kl)
    # The tie row (0.5 / 0.5 between genres 3 and 5) counts as genre 5: predicted 5 -> correct.
    assert M.label_classes(labels)[9] == 5


def test_ece_by_hand():
    # Confidences 0.9 (bin 14: (0.8667, 0.9333]) twice, one right one wrong -> |0.5 - 0.9| * 2/4;
    # confidence 0.5 (bin 7: (0.4667, 0.5333]) twice, both right -> |1 - 0.5| * 2/4.
    probs = np.array([[0.9, 0.1], [0.9, 0.1], [0.5, 0.5], [0.5, 0.5]])
    y = np.array([0, 1, 0, 0])
    assert M.expected_calibration_error(y, probs, n_bins=15) == pytest.approx(0.4 * 0.5 + 0.5 * 0.5)
    # Perfectly calibrated one-hot predictions that are right: ECE 0.
    assert M.expected_calibration_error([0, 1], np.eye(2)) == pytest.approx(0.0)
    # A confidence of exactly 1/15 falls in the first bin (right-closed bins).
    p = np.full((1, 15), 1 / 15)
    assert M.expected_calibration_error([0], p) == pytest.approx(1 - 1 / 15)


def test_track_level_is_mean_over_clips():
    labels = _onehot([1, 1, 1, 4, 4])
    probs = _onehot([1, 1, 2, 2, 4]) * 0.8 + 0.2 / 8
    track = np.array([7, 7, 7, 3, 3])
    tp, tl, ids = M.track_predictions(probs, labels, track)
    assert ids.tolist() == [3, 7]
    assert np.allclose(tp[1], probs[:3].mean(axis=0)) and np.allclose(tl[1], labels[0])
    m = M.track_metrics(probs, labels, track)
    # Track 7: mean says genre 1 (right); track 3: a 2/4 tie in the mean -> argmax 2 (first) is wrong.
    assert m["n"] == 2 and m["accuracy"] == pytest.approx(0.5)
    # Weights: only the clip of genre 4 counts for track 3 -> right.
    w = np.array([1, 1, 1, 0, 1.0])
    assert M.track_metrics(probs, labels, track, w)["accuracy"] == pytest.approx(1.0)


def test_empty_and_bad_shapes():
    assert M.genre_metrics(np.zeros((0, 8)), np.zeros((0, 8))) == {"n": 0}
    with pytest.raises(ValueError):
        M.genre_metrics(np.ones((3, 8)), np.ones((2, 8)))
    with pytest.raises(ValueError):
        M.confusion_matrix([0, 9], [0, 1])


def test_confusion_png_written_atomically(tmp_path):
    cm = confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], labels=np.arange(8))
    out = tmp_path / "cm.png"
    M.write_confusion_png(out, cm, "title")
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert [p.name for p in tmp_path.iterdir()] == ["cm.png"]  # no temporary left behind
    with pytest.raises(ValueError):
        M.write_confusion_png(tmp_path / "bad.png", np.ones((2, 3)))
    assert not (tmp_path / "bad.png").exists()
