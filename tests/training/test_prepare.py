"""The prepared feature cache (training/prepare.py) and clips cut from it (training/prepared_clips.py)."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from mainstage.core.genre import features as F
from mainstage.training.features.clip_cache import track_clips
from mainstage.training.features.clips import clip_frames
from mainstage.training.datasets.manifest import read_manifest
from mainstage.training.features.prepare import prepare_dataset, prepare_rows
from mainstage.training.features.prepared_clips import prepared_clip_spans, prepared_clipset
from mainstage.training.features.prepared_track import open_entry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from toy_audio import genre_helpers as _genre_helpers  # noqa: E402


@pytest.fixture(scope="module")
def prep_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("prep")
    return _genre_helpers().write_dataset(root / "data", genres=(0, 3), per_genre=2, bars=16)


def test_prepare_caches_by_content_and_reports_failures(prep_dataset, tmp_path):
    cache = tmp_path / "cache"
    first = prepare_dataset(str(prep_dataset), cache_dir=str(cache), drops="truth", jobs=2, progress=False)
    assert first["tracks"] == 4 and first["computed"] == 4 and first["cached"] == 0 and first["failed"] == []
    assert set(first) == {"tracks", "cached", "computed", "failed", "seconds"}
    again = prepare_dataset(str(prep_dataset), cache_dir=str(cache), drops="truth", progress=False)
    assert again["cached"] == 4 and again["computed"] == 0
    # A copy of the data under another name hits the same entries (key = file content).
    copy = tmp_path / "copy"
    shutil.copytree(prep_dataset.parent, copy)
    moved = prepare_dataset(str(copy / "manifest.csv"), cache_dir=str(cache), drops="truth", progress=False)
    assert moved["cached"] == 4
    hashes = json.loads((cache / "hashes.json").read_text())
    assert len(hashes) == 16  # audio + truth files of both copies, by (path, size, mtime)
    # Editing a file makes a new entry; a missing file is reported, not raised.
    rows = read_manifest(copy / "manifest.csv")
    with open(rows[0].path, "r+b") as fh:
        fh.seek(-4, os.SEEK_END)
        fh.write(b"\x00\x00\x80\x3f")
    os.remove(rows[1].path)
    res = prepare_dataset(str(copy / "manifest.csv"), cache_dir=str(cache), drops="truth", progress=False)
    assert res["computed"] == 1 and res["cached"] == 2
    assert len(res["failed"]) == 1 and str(rows[1].path) in res["failed"][0] and "does not exist" in res["failed"][0]
    assert "\n" not in res["failed"][0]


def test_broken_audio_is_a_collected_failure(prep_dataset, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(prep_dataset.parent, root)
    rows = read_manifest(root / "manifest.csv")
    rows[2].path.write_bytes(b"not audio at all")
    res = prepare_dataset(str(root / "manifest.csv"), cache_dir=str(tmp_path / "c"), drops="truth", jobs=2,
                          progress=False)
    assert res["computed"] == 3 and len(res["failed"]) == 1 and str(rows[2].path) in res["failed"][0]


def test_cached_features_match_the_runtime_path(prep_dataset, tmp_path):
    rows = read_manifest(prep_dataset)
    res = prepare_rows(rows, cache_dir=tmp_path, drops="truth", progress=False)
    track = res["tracks"][0]
    assert track.mel.dtype == np.float16 and track.mel.shape[0] == 224 and track.whole
    assert len(track.drops) == 1 and track.downbeats is not None
    # "Cut once" clips: the same spans as the per-clip cache of evaluation, features within fp16 rounding.
    feats, spans = track_clips(rows[0], seed=3, drops="truth")
    cs = prepared_clipset(rows, res["tracks"], [0], seed=3)
    assert [(s, e, d) for (s, e), d in zip(cs.spans, cs.in_drop)] == spans
    for a, b in zip(feats, cs.features):
        assert a.shape == b.shape and b.dtype == np.float16
        np.testing.assert_allclose(a.astype(np.float32), b.astype(np.float32), atol=2e-3)
    # Clips re-sampled per epoch: deterministic per (seed, epoch, track), different between epochs.
    def spans(epoch):
        return prepared_clipset(rows, res["tracks"], range(4), seed=3, epoch=epoch, per_drop=2).spans

    e1 = spans(1)
    assert e1 == spans(1) and e1 != spans(2)
    # Four bars on the grid, inside the drop.
    grid, (d0, d1) = track.downbeats, track.drops[0]
    for s, e in e1[:2]:
        assert np.min(np.abs(grid - s)) < 1e-9 and d0 - 1e-6 <= s and e <= d1 + 1e-6
        assert e - s == pytest.approx(4 * (grid[1] - grid[0]))
    # Part labels: a row with a per-bar part mixture gets per-clip labels, marked exact; the
    # track's label is kept beside them; rows without keep the track's label.
    n = len(grid)
    shares = np.zeros((n, 8))
    shares[: n // 2, 5] = 1.0
    shares[n // 2:, 6] = 1.0
    cs = prepared_clipset(rows, res["tracks"], [0, 2], seed=3, per_drop=4, outside=4, parts={0: (grid, shares)})
    ours = np.asarray(cs.track) == 0
    labels, track_labels = cs.label_matrix(), cs.track_label_matrix()
    np.testing.assert_allclose(track_labels[ours], np.tile(rows[0].label, (ours.sum(), 1)), atol=1e-6)
    np.testing.assert_allclose(labels[~ours], track_labels[~ours])
    for (s, e), lab in zip(np.asarray(cs.spans)[ours], labels[ours]):
        first = np.isclose(grid, s, atol=1e-6).nonzero()[0][0]
        share6 = np.mean(np.arange(first, first + 4) >= n // 2)
        assert lab[6] == pytest.approx(0.8 * share6, abs=1e-5) and lab.sum() == pytest.approx(1.0, abs=1e-5)
    assert cs.exact_mask().all()  # part-labelled clips and one-hot toy labels

def test_long_tracks_keep_drops_and_margins_only(prep_dataset, tmp_path, monkeypatch):
    from mainstage.training.features import prepare as P

    monkeypatch.setattr(P, "WHOLE_TRACK_MAX_S", 10.0)
    rows = read_manifest(prep_dataset)
    res = prepare_rows(rows[:1], cache_dir=tmp_path, drops="truth", progress=False)
    t = res["tracks"][0]
    fps = F.SAMPLE_RATE / F.HOP_LENGTH
    assert not t.whole and len(t.meta["segments"]) == 1
    a, b = t.meta["segments"][0]
    assert a == int(np.floor((t.drops[0][0] - P.MARGIN_S) * fps)) and t.mel.shape[1] == b - a
    whole = prepare_rows(rows[:1], cache_dir=tmp_path / "w", drops="truth", progress=False)["tracks"][0]
    first, n = clip_frames(t.drops[0][0] + 1.0, t.drops[0][0] + 8.0)
    np.testing.assert_array_equal(t.clip_features(first, n), whole.clip_features(first, n))
    assert t.covers(first, n) and not t.covers(0, n)
    # Outside clips are drawn only where frames are stored.
    spans = prepared_clip_spans(rows[0], t, seed=0, per_drop=2, outside=4)
    assert all(t.covers(*clip_frames(s, e)) for s, e, _ in spans)


def test_incomplete_entries_are_recomputed(prep_dataset, tmp_path):
    rows = read_manifest(prep_dataset)
    res = prepare_rows(rows[:1], cache_dir=tmp_path, drops="truth", progress=False)
    key = res["tracks"][0].key
    (tmp_path / "tracks" / f"{key}.json").unlink()  # as if killed before the entry was complete
    assert open_entry(tmp_path / "tracks", key) is None
    again = prepare_rows(rows[:1], cache_dir=tmp_path, drops="truth", progress=False)
    assert again["computed"] == 1 and again["tracks"][0] is not None


def test_mel_only_runs_reuse_chroma_entries(prep_dataset, tmp_path):
    pytest.importorskip("librosa")
    rows = read_manifest(prep_dataset)[:1]
    with_chroma = prepare_rows(rows, cache_dir=tmp_path, drops="truth", chroma=True, progress=False)
    t = with_chroma["tracks"][0]
    assert with_chroma["computed"] == 1 and t.chroma.shape == (2, 224, t.mel.shape[1])
    first, n = clip_frames(t.drops[0][0], t.drops[0][0] + 7.0)
    assert t.clip_features(first, n).shape == (3, 224, n)
    mel_only = prepare_rows(rows, cache_dir=tmp_path, drops="truth", chroma=False, progress=False)
    assert mel_only["cached"] == 1 and mel_only["computed"] == 0
    assert mel_only["tracks"][0].clip_features(first, n).shape == (1, 224, n)
