"""Augmentations (training/augment.py), stored track-level splits (training/splits.py) and track batches."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mainstage.core.genre import features as F  # noqa: E402
from mainstage.core.errors import InputFileError  # noqa: E402
from mainstage.training.features import augment as A  # noqa: E402
from mainstage.training.datasets import splits as S  # noqa: E402
from mainstage.training.run.batches import plan_track_batches  # noqa: E402
from mainstage.training.features.clips import ClipSet  # noqa: E402
from mainstage.training.run.distributed import bag_shard, shard_bounds  # noqa: E402
from mainstage.training.datasets.manifest import TrackRow  # noqa: E402
from mainstage.training.datasets.names import artist_from_filename  # noqa: E402


def _db(seed=0, b=3, t=120):
    """Realistic mel dB images (a loud part and quiet cells far below)."""
    rng = np.random.default_rng(seed)
    db = rng.uniform(-60, 20, size=(b, 224, t)).astype(np.float32)
    db[:, 180:, :] -= 70  # quiet high bands: partly below the 80 dB floor
    return db


def _features(db):
    return np.stack([F.window_features(d, [0], d.shape[1])[0] for d in db])[:, None]


def test_constant_gain_is_a_no_op_and_varying_gain_matches_recomputed_features():
    db = _db()
    x = torch.from_numpy(_features(db))
    same = A.apply_gain(x.clone(), torch.full((3, 1, 1), 9.0))
    torch.testing.assert_close(same, x, atol=1e-5, rtol=0)
    t = db.shape[2]
    g = (np.linspace(-5, 4, t)[None, None, :] + np.linspace(3, -3, 224)[None, :, None]).astype(np.float32)
    g = np.broadcast_to(g, db.shape)
    want = _features(db + g)
    got = A.apply_gain(x.clone(), torch.from_numpy(np.ascontiguousarray(g))).numpy()
    above = x.numpy() < 1.0  # cells above the floor: the exact result
    np.testing.assert_allclose(got[above], want[above], atol=2e-5)
    assert np.all(got[~above] == 1.0) and got.min() >= 0.0 and got.max() <= 1.0
    assert np.isclose(got.reshape(3, -1).min(axis=1), 0.0).all()  # each clip re-normalised to its maximum


def test_random_gain_changes_the_clip_and_is_shardable():
    x = torch.from_numpy(_features(_db(1, b=5)))
    whole = A.random_gain(x.clone(), np.random.default_rng(7), max_db=6.0)
    assert not torch.allclose(whole, x)
    parts = [A.random_gain(x[r.start:r.stop].clone(), np.random.default_rng(7), max_db=6.0, rows=r)
             for r in (range(0, 2), range(2, 5))]
    torch.testing.assert_close(torch.cat(parts), whole)


def test_spec_augment_masks_with_silence_and_is_shardable():
    x = torch.zeros(4, 1, 224, 100)
    whole = A.spec_augment(x.clone(), np.random.default_rng(3))
    assert (whole == 1.0).any() and set(torch.unique(whole).tolist()) <= {0.0, 1.0}
    parts = [A.spec_augment(x[r.start:r.stop].clone(), np.random.default_rng(3), rows=r)
             for r in (range(0, 2), range(2, 4))]
    torch.testing.assert_close(torch.cat(parts), whole)


def test_mixup_mixes_pairs_and_their_labels():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((6, 1, 8, 10), dtype=np.float32))
    y = torch.eye(8)[[0, 1, 2, 3, 4, 5]]
    xm, ym = A.mixup(x.clone(), y.clone(), np.random.default_rng(5), alpha=0.4)
    lam = A.mixup_pairs(6, np.random.default_rng(5), 0.4)
    assert np.all(lam >= 0.5)
    torch.testing.assert_close(ym.sum(1), torch.ones(6))
    for k, l in enumerate(lam):
        a, b = 2 * k, 2 * k + 1
        torch.testing.assert_close(xm[a], float(l) * x[a] + (1 - float(l)) * x[b])
        assert float(ym[a, a]) == pytest.approx(l, abs=1e-6) and float(ym[a, b]) == pytest.approx(1 - l, abs=1e-6)
    parts = [A.mixup(x[r.start:r.stop].clone(), y[r.start:r.stop].clone(), np.random.default_rng(5), rows=r)
             for r in (range(0, 4), range(4, 6))]
    torch.testing.assert_close(torch.cat([p[0] for p in parts]), xm)
    with pytest.raises(ValueError, match="even"):
        A.mixup(x[1:3].clone(), y[1:3].clone(), np.random.default_rng(5), rows=range(1, 3))


def test_shards_cover_the_batch_at_even_or_bag_boundaries():
    for n in (1, 5, 8, 31):
        for world in (1, 2, 3, 4):
            rs = [shard_bounds(n, world, r) for r in range(world)]
            assert rs[0].start == 0 and rs[-1].stop == n
            assert all(a.stop == b.start for a, b in zip(rs, rs[1:]))
            assert all(r.start % 2 == 0 for r in rs if r.start < n)
    bag = np.array([0, 0, 0, 1, 1, 2, 3, 3, 3, 3])
    rs = [bag_shard(bag, 2, r) for r in range(2)]
    assert rs[0].start == 0 and rs[0].stop == rs[1].start and rs[1].stop == 10
    assert bag[rs[0].stop - 1] != bag[rs[1].start]


# --- splits -----------------------------------------------------------------------------

def _rows(n_per_genre=6, genres=(0, 3, 5), artists=None):
    rows = []
    for g in genres:
        for i in range(n_per_genre):
            label = np.zeros(8)
            label[g] = 1.0
            name = f"c79030f3-{artists[i % len(artists)]} - Track {g}-{i}.mp3" if artists else f"g{g}_{i}.wav"
            rows.append(TrackRow(path=Path("/data") / name, label=label))
    return rows


def test_split_is_stratified_seeded_and_keeps_fixed_rows():
    rows = _rows()
    rows[4].split = "test"
    sp = S.split_tracks(rows, (0.6, 0.2, 0.2), seed=1)
    assert sorted(sum(sp.values(), [])) == list(range(len(rows))) and 4 in sp["test"]
    for name in ("train", "val", "test"):
        assert {int(np.argmax(rows[i].label)) for i in sp[name]} == {0, 3, 5}
    assert S.split_tracks(rows, (0.6, 0.2, 0.2), seed=1) == sp != S.split_tracks(rows, (0.6, 0.2, 0.2), seed=2)


def test_artist_grouping_keeps_an_artist_in_one_split():
    artists = ["DJ Alpha", "Beta feat. Gamma", "Delta & Echo", "Foxtrot", "Golf", "Hotel"]
    rows = _rows(12, artists=artists)
    assert artist_from_filename(rows[1].path.name) == "beta"
    assert artist_from_filename("c79030f3-Delta & Echo - X.mp3") == "delta"
    assert artist_from_filename("no separator.wav") is None
    sp = S.split_tracks(rows, (0.6, 0.2, 0.2), seed=0, group_by_artist=True)
    where = {}
    for name, idx in sp.items():
        for i in idx:
            where.setdefault(artist_from_filename(rows[i].path.name), set()).add(name)
    assert all(len(v) == 1 for v in where.values())
    assert sorted(sum(sp.values(), [])) == list(range(len(rows)))
    # a fixed row pulls its artist's other tracks into its split
    rows[0].split = "val"
    sp2 = S.split_tracks(rows, (0.6, 0.2, 0.2), seed=0, group_by_artist=True)
    alpha = [i for i, r in enumerate(rows) if artist_from_filename(r.path.name) == "dj alpha"]
    assert set(alpha) <= set(sp2["val"])


def test_artist_grouping_reads_title_artist_collections():
    """Collections named "Title - Artist" (the paper's project-4 export) group by the artist side."""
    artists = ["Alpha & Bravo", "Charlie x Delta", "Echo, Foxtrot", "Golf & Hotel"]
    rows = []
    for i in range(24):
        label = np.zeros(8)
        label[i % 3] = 1.0
        name = f"0a1b2c3d-Song {i} (Club Mix) - {artists[i % len(artists)]}.mp3"
        rows.append(TrackRow(path=Path("/data") / name, label=label))
    sp = S.split_tracks(rows, (0.5, 0.25, 0.25), seed=3, group_by_artist=True)
    where = {}
    for name, idx in sp.items():
        for i in idx:
            where.setdefault(i % len(artists), set()).add(name)
    assert len(where) == len(artists) and all(len(v) == 1 for v in where.values())


def test_splits_are_stored_reused_and_remade_when_the_manifest_changes(tmp_path):
    rows = _rows()
    path = tmp_path / "splits.json"
    sp = S.load_or_make_splits(rows, path, (0.6, 0.2, 0.2), seed=0)
    doc = json.loads(path.read_text())
    entry = doc["splits"][S.split_key((0.6, 0.2, 0.2), 0, False)]
    assert entry["indices"] == sp and entry["manifest_sha256"] == S.manifest_rows_hash(rows)
    # A stored split wins over recomputation (its indices are used as stored).
    entry["indices"]["train"], entry["indices"]["val"] = sp["val"], sp["train"]
    path.write_text(json.dumps(doc))
    swapped = S.load_or_make_splits(rows, path, (0.6, 0.2, 0.2), seed=0)
    assert swapped["train"] == sp["val"]
    # Another seed is another entry in the same file.
    S.load_or_make_splits(rows, path, (0.6, 0.2, 0.2), seed=5)
    assert len(json.loads(path.read_text())["splits"]) == 2
    # A changed manifest is detected and the split made again.
    rows[0].label = np.roll(rows[0].label, 1)
    told = []
    again = S.load_or_make_splits(rows, path, (0.6, 0.2, 0.2), seed=0, log=told.append)
    assert told and "manifest changed" in told[0]
    assert again == S.split_tracks(rows, (0.6, 0.2, 0.2), seed=0)
    path.write_text("{not json")
    with pytest.raises(InputFileError, match="cannot read splits file"):
        S.load_or_make_splits(rows, path)


def test_track_batches_cover_every_clip_once_in_single_track_bags():
    """The track-level loss's batches: bags hold one track's drop (or non-drop) clips only."""
    clips = ClipSet()
    rng = np.random.default_rng(0)
    for t in range(7):
        for k in range(int(rng.integers(1, 12))):
            clips.features.append(np.zeros((1, 4, 4), np.float16))
            clips.labels.append(np.eye(8)[t % 8])
            clips.track.append(t)
            clips.spans.append((k, k + 1))
            clips.in_drop.append(bool(k % 3))
    plan = plan_track_batches(clips, batch_size=8, bag_size=3, rng=np.random.default_rng(5))
    idx = np.concatenate([i for i, _ in plan])
    assert sorted(idx.tolist()) == list(range(len(clips)))
    tracks, drops = np.asarray(clips.track), np.asarray(clips.in_drop)
    for i, bag in plan[:-1]:
        assert len(i) >= 8
    for i, bag in plan:
        for b in np.unique(bag):
            members = i[bag == b]
            assert 1 <= members.size <= 3
            assert len(set(tracks[members])) == 1 and len(set(drops[members])) == 1
    again = plan_track_batches(clips, batch_size=8, bag_size=3, rng=np.random.default_rng(5))
    assert all((a[0] == b[0]).all() and (a[1] == b[1]).all() for a, b in zip(plan, again))


def test_random_eq_is_a_gain_curve_and_a_low_cut_removes_the_lows():
    freqs = A.mel_centres()
    g = A.eq_curves(np.array([[150.0, 24.0, 0.0, 0.0, 0.0, 100.0, 0.0, 5000.0]]), freqs)[0]
    assert np.interp(75.0, freqs, g) == pytest.approx(-24.0, abs=1.5)  # one octave below: the slope
    assert abs(np.interp(1000.0, freqs, g)) < 0.01
    db = _db(2, b=6)
    x = torch.from_numpy(_features(db))
    whole = A.random_eq(x.clone(), np.random.default_rng(11), p=1.0)
    changed = [not torch.allclose(whole[i], x[i]) for i in range(6)]
    assert all(changed)
    parts = [A.random_eq(x[r.start:r.stop].clone(), np.random.default_rng(11), p=1.0, rows=r)
             for r in (range(0, 4), range(4, 6))]
    torch.testing.assert_close(torch.cat(parts), whole)
    low = A.random_eq(x.clone(), np.random.default_rng(0), p=0.0)
    torch.testing.assert_close(low, x)  # p = 0: untouched


def test_random_noise_fills_the_floor_at_the_drawn_snr_and_is_shardable():
    db = _db(3, b=4)
    db[:, :, :40] = -200.0  # digital silence at the start of every clip
    x = torch.from_numpy(_features(db))
    assert (x[:, 0, :, :40] == 1.0).all()
    whole = A.random_noise(x.clone(), np.random.default_rng(5), p=1.0, snr_db=(20.0, 20.0))
    # the silent stretch now holds noise (below the floor before, above it now) ...
    assert (whole[:, 0, :, :40] < 1.0).float().mean() > 0.5
    # ... about 20 dB below the clip's power: check through the power it stands for
    p_sig = torch.pow(10.0, -8.0 * x[:, 0].double()).masked_fill(x[:, 0] >= 1.0, 0.0).sum(dim=(1, 2))
    p_all = torch.pow(10.0, -8.0 * whole[:, 0].double()).sum(dim=(1, 2))
    ratio = (p_all / p_sig).numpy()  # both relative to their own maximum: compare via the noise-only cells
    assert np.all(ratio > 0)
    gap = whole[:, 0, :, :40].double()
    noise_db = 10 * torch.log10(torch.pow(10.0, -8.0 * gap).mean(dim=(1, 2)) * 224 * 120)
    total_db = 10 * torch.log10(p_all)
    assert np.all(np.abs((total_db - noise_db).numpy() - 20.0) < 4.0)
    parts = [A.random_noise(x[r.start:r.stop].clone(), np.random.default_rng(5), p=1.0, snr_db=(20.0, 20.0), rows=r)
             for r in (range(0, 1), range(1, 4))]
    torch.testing.assert_close(torch.cat(parts), whole)


def test_random_warp_shifts_bands_by_the_pitch_and_is_shardable():
    freqs = A.mel_centres()
    x = torch.ones(1, 1, 224, 64)
    band = int(np.argmin(np.abs(freqs - 1000.0)))
    x[0, 0, band] = 0.0  # one loud band at 1 kHz
    rng_vals = np.array([[0.0, 1.0, 0.5, 0.0]])  # on, +max semitones, no stretch

    class Fixed:
        def uniform(self, size):
            return np.broadcast_to(rng_vals, size).copy()

    y = A.random_warp(x.clone(), Fixed(), p=1.0, max_semitones=2.0, max_stretch=0.08)
    peak = int(torch.argmin(y[0, 0, :, 0]))
    assert freqs[peak] == pytest.approx(1000.0 * 2 ** (2 / 12), rel=0.03)
    # a stretch keeps the loud band and resamples time: an impulse moves away from frame 10
    z = torch.ones(1, 1, 224, 100)
    z[0, 0, :, 10] = 0.0
    slow = A.random_warp(z.clone(), type("S", (), {"uniform": lambda self, size: np.array([[0.0, 0.5, 1.0, 0.0]])})(),
                         p=1.0, max_stretch=0.08)
    assert int(torch.argmin(slow[0, 0, 50])) != 10
    x = torch.from_numpy(_features(_db(4, b=5)))
    whole = A.random_warp(x.clone(), np.random.default_rng(2), p=1.0)
    assert not torch.allclose(whole, x) and whole.min() >= 0 and whole.max() <= 1
    parts = [A.random_warp(x[r.start:r.stop].clone(), np.random.default_rng(2), p=1.0, rows=r)
             for r in (range(0, 2), range(2, 5))]
    torch.testing.assert_close(torch.cat(parts), whole)
