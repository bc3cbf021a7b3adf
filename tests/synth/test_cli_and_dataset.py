"""`mainstage synth` and `mainstage synth-dataset` through the CLI entry point."""
import csv

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.cli import main
from mainstage.core.genres import GENRES
from mainstage.training.synthhouse.dataset import MANIFEST_HEADER, plan_items
from mainstage.core.timeline import load_timeline

TINY = "intro:1,drop:2,outro:1"


def test_synth_writes_audio_and_truth(tmp_path, capsys):
    out = tmp_path / "t.wav"
    assert main(["synth", "--genre", "Bass House", "--seed", "7", "--structure", "intro:2,drop:4,outro:2", "-o", str(out)]) == 0
    msg = capsys.readouterr().out.strip()
    assert msg.startswith(f"wrote {out} (") and msg.endswith(f"and {tmp_path / 't.truth.json'}")
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (44100, 2, "PCM_16")
    doc = load_timeline(tmp_path / "t.truth.json")
    assert doc["analysis"]["seed"] == 7 and len(doc["downbeats"]) == 8
    assert main(["validate", str(tmp_path / "t.truth.json")]) == 0


def test_synth_mixture_bpm_bars_and_24_bit(tmp_path):
    out = tmp_path / "m.flac"
    rc = main(["synth", "--genre", "Progressive House:0.7,Future House:0.3", "--bpm", "126", "--bars", "12",
               "--bit-depth", "24", "-o", str(out)])
    assert rc == 0
    assert sf.info(str(out)).subtype == "PCM_24"
    doc = load_timeline(tmp_path / "m.truth.json")
    assert doc["tempo"]["bpm"] == 126 and len(doc["downbeats"]) == 12
    probs = doc["genre_windows"][0]["probs"]
    assert probs[GENRES.index("Progressive House")] == pytest.approx(0.7)
    assert probs[GENRES.index("Future House")] == pytest.approx(0.3)


def test_synth_duration_option(tmp_path):
    assert main(["synth", "--genre", "Deep House", "--bpm", "120", "--duration", "24", "-o", str(tmp_path / "d.wav")]) == 0
    assert load_timeline(tmp_path / "d.truth.json")["track"]["duration_s"] == pytest.approx(24.0)


def test_synth_set_with_mixture_entries(tmp_path):
    out = tmp_path / "mix.wav"
    rc = main(["synth", "--set", "Progressive House:0.7,Future House:0.3;Bass House", "--seed", "1",
               "--structure", "intro:2,drop:4,outro:2", "--xfade-bars", "2", "-o", str(out)])
    assert rc == 0
    doc = load_timeline(tmp_path / "mix.truth.json")
    assert len(doc["analysis"]["tracks"]) == 2 and len(doc["downbeats"]) == 2 * 8 - 2
    assert doc["genre_windows"][0]["probs"][GENRES.index("Progressive House")] == pytest.approx(0.7)
    assert doc["genre_windows"][-1]["probs"][GENRES.index("Bass House")] == 1.0


@pytest.mark.parametrize("argv,needle", [
    (["--genre", "Bass Hose"], "unknown genre 'Bass Hose'"),
    (["--genre", "Bigroom", "--structure", "intro:4,chorus:2"], "unknown section 'chorus'"),
    (["--genre", "Bigroom", "--bpm", "500"], "bpm must be between"),
    (["--set", "Bigroom,Nope"], "unknown genre 'Nope'"),
])
def test_synth_bad_input_one_line_error_exit_1(tmp_path, capsys, argv, needle):
    out = tmp_path / "x.wav"
    assert main(["synth", *argv, "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mainstage synth: error: ") and needle in err
    assert not out.exists()


def test_synth_bad_extension(tmp_path, capsys):
    assert main(["synth", "--genre", "Bigroom", "-o", str(tmp_path / "x.mp3")]) == 1
    assert "unsupported audio extension '.mp3'" in capsys.readouterr().err


def test_synth_usage_errors_exit_2(tmp_path):
    with pytest.raises(SystemExit) as info:
        main(["synth", "--genre", "Bigroom", "--bars", "8", "--duration", "10", "-o", str(tmp_path / "x.wav")])
    assert info.value.code == 2


def _read_manifest(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


def test_dataset_manifest_truth_and_resume(tmp_path, capsys):
    d = tmp_path / "ds"
    argv = ["synth-dataset", "--tracks-per-genre", "1", "--mixtures", "0.25", "-o", str(d), "--seed", "3",
            "--structure", TINY, "--val-fraction", "0", "--test-fraction", "0"]
    assert main(argv) == 0
    assert "10 tracks: 10 rendered, 0 already complete" in capsys.readouterr().out
    header, rows = _read_manifest(d / "manifest.csv")
    assert tuple(header) == MANIFEST_HEADER == ("path", *GENRES, "split", "truth")
    assert len(rows) == 10
    mixes = 0
    for row in rows:
        path, probs, split, truth = row[0], np.array(row[1:9], dtype=float), row[9], row[10]
        assert path.startswith("audio/") and path.endswith(".wav") and (d / path).is_file()
        assert truth == f"truth/{path[6:-4]}.truth.json"
        assert split == "train"
        assert probs.sum() == pytest.approx(1.0, abs=1e-5)
        doc = load_timeline(d / truth)
        np.testing.assert_allclose(doc["genre_summary"], probs, atol=1e-5)
        assert doc["track"]["file"] == path[6:]
        if path.startswith("audio/mix_"):
            mixes += 1
            nz = np.count_nonzero(probs)
            assert nz in (2, 3) and 0.5 <= probs.max() <= 0.8
    assert mixes == 2
    # Resume: nothing to do; a deleted audio file and a broken truth file are redone.
    assert main(argv) == 0
    assert "10 rendered" not in capsys.readouterr().out
    first, second = d / rows[0][0], d / rows[1][10]
    first_bytes = first.read_bytes()
    first.unlink()
    second.write_text("{}")
    assert main(argv) == 0
    assert "10 tracks: 2 rendered, 8 already complete" in capsys.readouterr().out
    assert first.read_bytes() == first_bytes


def test_dataset_split_is_by_track_stratified_and_seeded():
    items = plan_items(10, 0.5, seed=1, val_fraction=0.2, test_fraction=0.1)
    assert len(items) == 80 + 40 and len({it.name for it in items}) == len(items)
    for gi, g in enumerate(GENRES):
        group = [it.split for it in items if int(np.argmax(it.weights)) == gi]  # stratum: dominant genre
        assert len(group) >= 10
        assert group.count("test") == round(len(group) * 0.1) and group.count("val") == round(len(group) * 0.2)
    again = plan_items(10, 0.5, seed=1, val_fraction=0.2, test_fraction=0.1)
    assert again == items
    other = plan_items(10, 0.5, seed=2, val_fraction=0.2, test_fraction=0.1)
    assert [it.split for it in other] != [it.split for it in items]
    assert len({it.seed for it in items}) == len(items)


def test_dataset_parallel_jobs_give_identical_files(tmp_path):
    from mainstage.training.synthhouse.dataset import build_dataset

    a = build_dataset(tmp_path / "a", 1, structure="drop:1", jobs=1, val_fraction=0, test_fraction=0)
    b = build_dataset(tmp_path / "b", 1, structure="drop:1", jobs=2, val_fraction=0, test_fraction=0)
    assert a["rendered"] == b["rendered"] == 8
    for f in sorted((tmp_path / "a" / "audio").iterdir()):
        assert f.read_bytes() == (tmp_path / "b" / "audio" / f.name).read_bytes()
    assert (tmp_path / "a" / "manifest.csv").read_text() == (tmp_path / "b" / "manifest.csv").read_text()


def test_dataset_bad_options(tmp_path, capsys):
    assert main(["synth-dataset", "--tracks-per-genre", "1", "-o", str(tmp_path / "d"), "--structure", "drop:x"]) == 1
    assert "whole number" in capsys.readouterr().err
    assert main(["synth-dataset", "--tracks-per-genre", "1", "-o", str(tmp_path / "e"), "--val-fraction", "0.7",
                 "--test-fraction", "0.5"]) == 1
    assert "sum to < 1" in capsys.readouterr().err
