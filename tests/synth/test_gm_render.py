"""The GM engine (training/gmrender): SynthHouse arrangements rendered by the real fluidsynth.

Short renders (10 bars, about 20 s of audio) keep each test to a few seconds.
"""
import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from mainstage.core.cli import main
from mainstage.core.genres import GENRES, SLUGS
from mainstage.core.timeline import load_timeline
from mainstage.training.gmrender import GMRenderError, plan_gm_track, render_gm_track
from mainstage.training.gmrender.midi import (
    BASS,
    CHORDS,
    DRUMS,
    LEAD,
    TPB,
    TUNED,
    build_midi,
)
from mainstage.training.gmrender.onsets import (
    attack_offsets_ms,
    kick_beats,
    kick_offsets_ms,
)
from mainstage.training.gmrender.programs import INSTRUMENTS
from mainstage.training.synthhouse import write_track
from mainstage.training.synthhouse.dataset import build_dataset, plan_items
from mainstage.training.synthhouse.plan import params_sha256

FLUIDR3 = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TIMGM = "/usr/share/sounds/sf2/TimGM6mb.sf2"
SHORT = "intro:2,build:2,drop:4,outro:2"
TINY = "intro:1,drop:2,outro:1"

needs_fluidsynth = pytest.mark.skipif(
    shutil.which("fluidsynth") is None or not Path(FLUIDR3).is_file() or not Path(TIMGM).is_file(),
    reason="needs fluidsynth, fluid-soundfont-gm and timgm6mb-soundfont (.ci/install-system-deps)")


@pytest.fixture(scope="module")
def bigroom():
    return render_gm_track("Bigroom", seed=3, structure=SHORT, soundfonts=FLUIDR3, stems=True)


@pytest.fixture(scope="module")
def tech():
    return render_gm_track("Tech House", seed=4, structure=SHORT, soundfonts=TIMGM, stems=True)


@needs_fluidsynth
def test_truth_has_the_synthhouse_layout_and_validates(bigroom, tmp_path):
    truth_path = write_track(bigroom, tmp_path / "gm.wav")
    doc = load_timeline(truth_path)  # schema + cross-field validation
    a = doc["analysis"]
    assert a["gm"]["engine"] == "fluidsynth" and a["gm"]["soundfont"] == "FluidR3_GM"
    assert len(doc["downbeats"]) == 10 and len(doc["beats"]) == 40
    assert [s["label"] for s in doc["sections"]] == ["intro", "build", "drop", "outro"]
    assert len(doc["drops"]) == 1 and doc["drops"][0]["start_s"] == pytest.approx(doc["downbeats"][4])
    bar = 4 * round(60e6 / a["bpm"]) / 1e6  # the MIDI file's integer tempo
    np.testing.assert_allclose(np.diff(doc["downbeats"]), bar, atol=1e-9)
    assert doc["track"]["duration_s"] == pytest.approx(10 * bar, abs=1 / 44100)
    one_hot = [float(g == "Bigroom") for g in GENRES]
    assert all(w["probs"] == one_hot for w in doc["genre_windows"]) and doc["genre_summary"] == one_hot
    # The truth's hash is that of the parameters, which planning alone reproduces.
    again = plan_gm_track("Bigroom", seed=3, structure=SHORT, soundfonts=FLUIDR3)
    assert doc["model"]["sha256"] == params_sha256(again)
    assert main(["validate", str(truth_path)]) == 0


@needs_fluidsynth
@pytest.mark.parametrize("which", ["bigroom", "tech"])
def test_kicks_line_up_with_the_truth_beats(which, request):
    res = request.getfixturevalue(which)
    gm = res.truth["analysis"]["gm"]
    # fluidsynth does start notes late (one 64-sample block plus the block phase, plus the
    # kit's own attack); without the compensation the kicks would sit that far behind.
    assert gm["latency_samples"] >= 64
    beats = kick_beats(res.truth)
    assert beats.size == 4 * 2 + 4 * 2 - 2 + 4 * 4 + 4 * 2  # intro, build (last bar half), drop, outro
    stem = attack_offsets_ms(res.stems["drums"], res.sr, beats)
    assert abs(np.median(stem)) < 1.5 and np.percentile(np.abs(stem), 90) < 3.0, stem
    mix = kick_offsets_ms(res.audio, res.sr, beats)
    assert mix.size == beats.size
    assert abs(np.median(mix)) < 5.0 and np.percentile(np.abs(mix), 90) < 10.0, mix


@needs_fluidsynth
def test_same_seed_gives_identical_audio(tech):
    again = render_gm_track("Tech House", seed=4, structure=SHORT, soundfonts=TIMGM)
    assert np.array_equal(again.audio, tech.audio)
    assert again.truth["model"]["sha256"] == tech.truth["model"]["sha256"]
    other = render_gm_track("Tech House", seed=5, structure=SHORT, soundfonts=TIMGM)
    assert other.audio.shape != tech.audio.shape or not np.array_equal(other.audio, tech.audio)


def _notes(mf, channel):
    """(absolute tick, note) of every note-on of one channel."""
    out = []
    for tr in mf.tracks:
        tick = 0
        for m in tr:
            tick += m.time
            if m.type == "note_on" and m.channel == channel:
                out.append((tick, m.note))
    return out


@needs_fluidsynth
def test_genre_traits_reach_the_midi():
    big = plan_gm_track("Bigroom", seed=2, structure=SHORT, soundfonts=FLUIDR3)
    full = build_midi(big)["full"]
    drop_bars = [i for i, b in enumerate(big["bars"]) if b["section"] == "drop"]
    kicks = {t for t, n in _notes(full, DRUMS) if n in big["gm"]["sounds"]["Bigroom"]["kick_notes"]}
    for i in drop_bars:  # four on the floor, exactly on the grid
        assert {TPB + i * 4 * TPB + b * TPB for b in range(4)} <= kicks
    assert 126 <= big["bpm"] <= 130
    assert _notes(full, TUNED) and not _notes(full, BASS) and _notes(full, LEAD)  # the pitched kick is the bass

    tech = plan_gm_track("Tech House", seed=2, structure=SHORT, soundfonts=FLUIDR3)
    tfull = build_midi(tech)["full"]
    assert not _notes(tfull, LEAD) and not _notes(tfull, CHORDS) and _notes(tfull, BASS)
    off_grid = [t for t, n in _notes(tfull, DRUMS) if (t - TPB) % (TPB // 4)]
    assert off_grid  # swing (and humanising) move the off-16ths off the straight grid

    slap = plan_gm_track("Slap House", seed=2, structure=SHORT, soundfonts=FLUIDR3)
    b = slap["gm"]["sounds"]["Slap House"]["bass"]
    assert (b["bank"], b["program"]) in {(c[0], c[1]) for c in INSTRUMENTS["slap"]}
    bass = _notes(build_midi(slap)["full"], BASS)
    ticks = {t for t, _ in bass}
    assert any((t, n + 12) in bass for t, n in bass) and len(bass) > len(ticks)  # the octave layer

    deep = plan_gm_track("Deep House", seed=2, structure=SHORT, soundfonts=FLUIDR3)
    chords = _notes(build_midi(deep)["full"], CHORDS)
    starts = np.unique([t for t, _ in chords], return_counts=True)[1]
    assert chords and starts.max() >= 3  # chords, not single notes

    fut = plan_gm_track("Future House", seed=2, structure=SHORT, soundfonts=FLUIDR3)
    bends = [m for tr in build_midi(fut)["bass"].tracks for m in tr if m.type == "pitchwheel" and m.pitch > 0]
    assert bends  # the bouncy bass dives into its notes


@needs_fluidsynth
def test_dataset_writes_gm_tracks_per_genre_and_skips_complete_ones(tmp_path):
    out = tmp_path / "ds"
    kw = {"structure": TINY, "val_fraction": 0, "test_fraction": 0, "gm_tracks_per_genre": 1, "soundfonts": [TIMGM],
          "progress": False}
    info = build_dataset(out, 0, jobs=2, **kw)  # the process pool renders GM tracks too
    assert (info["tracks"], info["gm_tracks"], info["rendered"], info["skipped"]) == (8, 8, 8, 0)
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["path"] for r in rows) == sorted(f"audio/gm_{SLUGS[g]}_0000.wav" for g in GENRES)
    for r in rows:
        genre = next(g for g in GENRES if r["path"] == f"audio/gm_{SLUGS[g]}_0000.wav")
        assert [float(r[g]) for g in GENRES] == [float(g == genre) for g in GENRES]
        doc = load_timeline(out / r["truth"])
        assert doc["analysis"]["gm"]["soundfont"] == "TimGM6mb" and doc["analysis"]["genres"] == {genre: 1.0}
        assert doc["track"]["file"] == Path(r["path"]).name
    again = build_dataset(out, 0, **kw)
    assert (again["rendered"], again["skipped"]) == (0, 8)
    victim = out / rows[0]["path"]
    before = victim.read_bytes()
    victim.unlink()
    third = build_dataset(out, 0, **kw)
    assert (third["rendered"], third["skipped"]) == (1, 7) and victim.read_bytes() == before


def test_gm_items_leave_the_synthhouse_items_unchanged():
    plain = plan_items(3, 0.5, seed=4)
    both = plan_items(3, 0.5, seed=4, gm_tracks_per_genre=2, gm_mixtures=0.5)
    assert both[:len(plain)] == plain
    gm = both[len(plain):]
    assert len(gm) == 8 * 2 + 8 and {it.engine for it in gm} == {"fluidsynth"}
    assert gm[0].name == "gm_progressive_house_0000" and gm[-1].name == "gm_mix_0007"
    assert {it.split for it in gm} == {"train", "val", "test"}
    assert plan_items(3, 0.5, seed=4, gm_tracks_per_genre=2, gm_mixtures=0.5) == both


def test_missing_soundfont_is_a_one_line_error_naming_it(tmp_path, capsys):
    missing = tmp_path / "NoSuch_GM.sf2"
    with pytest.raises(GMRenderError) as info:
        render_gm_track("Deep House", seed=1, structure=TINY, soundfonts=missing)
    msg = str(info.value)
    assert "\n" not in msg and str(missing) in msg and "soundfont not found" in msg
    bogus = tmp_path / "bogus.sf2"
    bogus.write_bytes(b"not a soundfont at all")
    with pytest.raises(GMRenderError, match="not a SoundFont file"):
        plan_gm_track("Deep House", seed=1, structure=TINY, soundfonts=[bogus])
    out = tmp_path / "ds"
    rc = main(["synth-dataset", "--tracks-per-genre", "1", "--gm-tracks-per-genre", "1", "--soundfont", str(missing),
               "--structure", TINY, "-o", str(out)])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and str(missing) in err
    assert not any(out.rglob("*.wav"))  # checked before anything is rendered

