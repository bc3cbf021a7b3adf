"""Label Studio import (``mainstage dataset import-labelstudio``) and ``mainstage dataset check``.

Runs on the paper's real Label Studio exports (``tests/data/reference/``, BSD-3-Clause), with
real, decodable placeholder audio (short OGG Vorbis / FLAC tones) written under the
tasks' names for a subset of the tasks, plus an edge-case export derived from the
real one (cancelled, missing, doubled, repeated and invalid annotations, duplicates).
"""
from __future__ import annotations

import copy
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from mainstage.core import cli
from mainstage.core.errors import InputFileError
from mainstage.core.genres import GENRES
from mainstage.training.datasets import labelstudio as LS
from mainstage.training.datasets.labelstudio_export import read_export, task_file_name
from mainstage.training.datasets.labelstudio_labels import task_label
from mainstage.training.datasets.manifest import read_manifest
from mainstage.training.datasets.names import artist_from_filename, name_order

REF = Path(__file__).resolve().parents[1] / "data" / "reference"
PARTITION = REF / "label-studio-partition-1-5.json"
PROJECT4 = REF / "label-studio-project-4-100-clean.json"
SR = 22050


def tone(path: Path, freq: float = 440.0, seconds: float = 0.25) -> Path:
    """Write a short real audio file (format from the extension)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR)
    return path


def tasks_of(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))


def by_upload(tasks: list[dict], suffix: str) -> dict:
    hits = [t for t in tasks if t["file_upload"].endswith(suffix)]
    assert len(hits) == 1, suffix
    return hits[0]


def run_cli(capsys, *argv) -> tuple[int, str, str]:
    rc = cli.main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def read_rows(manifest: Path) -> dict[str, dict[str, float]]:
    with open(manifest, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r["path"]: {g: float(r[g]) for g in GENRES} for r in rows}


# --- material --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def library(tmp_path_factory) -> dict:
    """Audio for 12 tasks of the two exports, named the ways users name files, plus one stray file."""
    root = tmp_path_factory.mktemp("ls")
    audio = root / "music"
    part, proj = tasks_of(PARTITION), tasks_of(PROJECT4)
    files = {
        # exact names (upload prefix removed), OGG Vorbis like the uploads
        "Agents_Of_Time_-_The_Mirage.ogg": by_upload(part, "Agents_Of_Time_-_The_Mirage.ogg"),
        "Axero_-_Waves_Radio_Edit.ogg": by_upload(part, "Axero_-_Waves_Radio_Edit.ogg"),
        "Calvo_-_Be_Alright.ogg": by_upload(part, "Calvo_-_Be_Alright.ogg"),
        "10_Percent_-_No_Signe.ogg": by_upload(proj, "10_Percent_-_No_Signe.ogg"),
        # the original names, before Label Studio replaced spaces and deleted "&"
        "sub/Arno Cost & Norman Doray - One Night.ogg": by_upload(part, "Arno_Cost___Norman_Doray_-_One_Night.ogg"),
        "sub/deeper/Chester Young - Smash.ogg": by_upload(part, "Chester_Young_-_Smash.ogg"),
        # case and Unicode normalisation
        "DROVE_-_CARRY_ON.OGG": by_upload(part, "Drove_-_Carry_On.ogg"),
        # another extension
        "Fondz_-_Somewhere_Extended_Mix.flac": by_upload(part, "Fondz_-_Somewhere_Extended_Mix.ogg"),
        # a name Label Studio truncated and suffixed with 7 random characters
        "Madistt & TwoFLags & Tom Beier & Daniel Czaja & Marius Kania & Julia Kasprzak - Trip.ogg":
            by_upload(part, "Julia__Z7oVwld.ogg"),
        "Blinders_-_Mind_Of_Mine.ogg": by_upload(part, "Blinders_-_Mind_Of_Mine.ogg"),
        "Tobu_-_Coming_For_You.ogg": by_upload(part, "Tobu_-_Coming_For_You.ogg"),
        "Honest_-_JLV.ogg": by_upload(proj, "Honest_-_JLV.ogg"),
    }
    for i, name in enumerate(files):
        tone(audio / name, 220.0 * (1 + i / 8))
    tone(audio / "not in any export - Stray.wav")
    (audio / "notes.txt").write_text("not audio")
    return {"root": root, "audio": audio, "files": files}


def expected_label(task: dict) -> np.ndarray:
    w = np.zeros(len(GENRES))
    for r in task["annotations"][0]["result"]:
        name = "Tech House" if r["from_name"] == "Techno" else r["from_name"]
        w[GENRES.index(name)] += r["value"]["number"]
    return w / w.sum()


@pytest.fixture(scope="module")
def imported(library, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("import")
    manifest, report = out / "data" / "manifest.csv", out / "report.json"
    rc = cli.main(["dataset", "import-labelstudio", str(PARTITION), str(PROJECT4), "--audio-dir", str(library["audio"]),
                   "-o", str(manifest), "--report", str(report), "-q"])
    assert rc == 0
    return {"manifest": manifest, "report": json.loads(report.read_text()), "rows": read_rows(manifest)}


# --- the real exports --------------------------------------------------------------------------------

def test_real_exports_read_as_label_studio_tasks():
    part, proj = read_export(PARTITION), read_export(PROJECT4)
    assert (len(part), len(proj)) == (355, 100)
    labels = [task_label(t) for t in part + proj]
    assert all(t.label is not None and t.used == 1 and t.cancelled == 0 for t in labels)
    np.testing.assert_allclose([t.label.sum() for t in labels], 1.0)
    # "Techno" is Tech House: the paper's exports have tracks labelled with it.
    assert sum(t.label[GENRES.index("Tech House")] > 0 for t in labels) > 10
    uploaded, name = task_file_name(part[0])
    assert uploaded == "c79030f3-Agents_Of_Time_-_The_Mirage.ogg" and name == "Agents_Of_Time_-_The_Mirage.ogg"


def test_manifest_rows_labels_and_paths(library, imported):
    rows, files = imported["rows"], library["files"]
    assert len(rows) == len(files)
    for name, task in files.items():
        rel = Path(os.path.relpath(library["audio"] / name, imported["manifest"].parent)).as_posix()
        assert rel in rows, name
        np.testing.assert_allclose([rows[rel][g] for g in GENRES], expected_label(task), atol=1e-9)
    # Techno -> Tech House (project 4, task 1: Future House 0.25, Techno 0.75).
    ten = next(v for k, v in rows.items() if k.endswith("10_Percent_-_No_Signe.ogg"))
    assert ten["Tech House"] == 0.75 and ten["Future House"] == 0.25
    # The manifest is in the project's format: read_manifest accepts it, files exist.
    parsed = read_manifest(imported["manifest"], allow_outside=True)  # audio beside, not under, the manifest
    assert len(parsed) == len(files) and all(r.path.is_file() for r in parsed)
    header = imported["manifest"].read_text().splitlines()[0].split(",")
    assert header == ["path", *GENRES]


def test_report_counts_rules_and_lists(library, imported):
    rep = imported["report"]
    c = rep["counts"]
    assert c["tasks"] == 455 and c["labelled"] == 455 and c["unlabelled"] == 0
    assert c["matched"] == c["rows"] == len(library["files"])
    assert c["unmatched"] == 455 - len(library["files"]) and len(rep["unmatched"]) == c["unmatched"]
    assert [Path(p).name for p in rep["audio_without_task"]] == ["not in any export - Stray.wav"]
    assert c["renormalised"] == 0 and c["duplicates"] == 0 and c["ambiguous"] == 0
    rules = {Path(m["audio"]).name: m["rule"] for m in rep["matched"]}
    assert rules["Agents_Of_Time_-_The_Mirage.ogg"] == "exact"
    assert rules["DROVE_-_CARRY_ON.OGG"] == "normalised"
    assert rules["Chester Young - Smash.ogg"] == "sanitised"
    assert rules["Arno Cost & Norman Doray - One Night.ogg"] == "loose"
    assert rules["Fondz_-_Somewhere_Extended_Mix.flac"] == "extension"
    assert rules[next(n for n in rules if n.startswith("Madistt"))] == "truncated"
    assert sum(rep["match_rules"].values()) == c["matched"]
    artists = {Path(m["audio"]).name: m["artist"] for m in rep["matched"]}
    assert artists["Arno Cost & Norman Doray - One Night.ogg"] == "arno cost"
    assert artists["Agents_Of_Time_-_The_Mirage.ogg"] == "agents of time"
    unmatched = {u["name"] for u in rep["unmatched"]}
    assert "Brooks_-_Hold_It_Down_Original_Mix.ogg" in unmatched  # upload prefix stripped in the report too


def test_summary_is_concise(library, imported, capsys, tmp_path):
    rc, out, err = run_cli(capsys, "dataset", "import-labelstudio", str(PARTITION), "--audio-dir",
                           str(library["audio"]), "-o", str(tmp_path / "m.csv"))
    assert rc == 0 and err == ""
    lines = out.strip().splitlines()
    assert len(lines) <= 10
    assert lines[0].startswith("read 355 tasks from 1 export(s): 355 labelled")
    assert any(line.startswith("unmatched: 345 labelled tasks have no audio file") for line in lines)
    assert any(line.startswith("audio without task: 3 files") for line in lines)  # 2 project-4 files + stray


def test_subprocess_console_run(library, tmp_path):
    manifest = tmp_path / "m.csv"
    proc = subprocess.run([sys.executable, "-m", "mainstage.core.cli", "dataset", "import-labelstudio", str(PROJECT4),
                           "--audio-dir", str(library["audio"]), "-o", str(manifest)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and manifest.is_file()
    assert len(read_manifest(manifest, allow_outside=True)) == 2


# --- awkward exports -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def awkward(library, tmp_path_factory) -> dict:
    """An export derived from the real one with every awkward case Label Studio can produce."""
    part = tasks_of(PARTITION)
    names = ["Agents_Of_Time_-_The_Mirage.ogg", "Axero_-_Waves_Radio_Edit.ogg", "Calvo_-_Be_Alright.ogg",
             "Blinders_-_Mind_Of_Mine.ogg", "Tobu_-_Coming_For_You.ogg", "Drove_-_Carry_On.ogg",
             "Chester_Young_-_Smash.ogg", "Brooks_-_Hold_It_Down_Original_Mix.ogg"]
    tasks = [copy.deepcopy(by_upload(part, n)) for n in names]
    agents, axero, calvo, blinders, tobu, drove, chester, brooks = tasks
    agents["annotations"] = []                                     # never annotated
    agents["predictions"] = [{"result": []}]
    axero["annotations"][0]["was_cancelled"] = True                # cancelled
    for r in calvo["annotations"][0]["result"]:                    # weights in percent: sum 100
        r["value"]["number"] *= 100
    second = copy.deepcopy(blinders["annotations"][0])             # two annotators
    for r in second["result"]:
        r["value"]["number"] = 1 if r["from_name"] == "Techno" else 0
    blinders["annotations"].append(second)
    tobu["annotations"][0]["result"].append(                      # a non-genre control
        {"from_name": "comment", "to_name": "audio", "type": "textarea", "value": {"text": ["nice"]}})
    tobu["annotations"][0]["result"].append(
        {"from_name": "Energy", "to_name": "audio", "type": "number", "value": {"number": 5}})
    drove["annotations"][0]["result"][0]["value"]["number"] = -1   # invalid weight
    dup = copy.deepcopy(chester)                                   # uploaded twice
    dup["id"] = 99999
    dup["file_upload"] = "0123abcd-Chester_Young_-_Smash.ogg"
    dup["data"]["audio"] = "/data/upload/10/0123abcd-Chester_Young_-_Smash.ogg"
    for r in dup["annotations"][0]["result"]:
        r["value"]["number"] = 1 if r["from_name"] == "Bigroom" else 0
    tasks.append(dup)
    path = tmp_path_factory.mktemp("awkward") / "export.json"
    path.write_text(json.dumps(tasks))
    out = path.parent / "manifest.csv"
    rep = LS.import_labelstudio(path, library["audio"], out)
    return {"tasks": dict(zip(names, tasks)), "dup": dup, "report": rep, "rows": read_rows(out), "manifest": out}


def test_unlabelled_tasks_are_reported_and_left_out(awkward):
    rep = awkward["report"]
    reasons = {u["name"]: u["reason"] for u in rep["unlabelled"]}
    assert set(reasons) == {"Agents_Of_Time_-_The_Mirage.ogg", "Axero_-_Waves_Radio_Edit.ogg", "Drove_-_Carry_On.ogg"}
    assert reasons["Agents_Of_Time_-_The_Mirage.ogg"].startswith("no annotations (1 model predictions")
    assert reasons["Axero_-_Waves_Radio_Edit.ogg"] == "all 1 annotations cancelled"
    assert "not a number >= 0" in reasons["Drove_-_Carry_On.ogg"]
    assert rep["counts"]["cancelled_annotations"] == 1 and rep["counts"]["unlabelled"] == 3
    assert not any("Agents" in p or "Axero" in p or "DROVE" in p for p in awkward["rows"])
    # Their audio is there: listed with the unlabelled task, not as "audio without a task".
    assert Path(next(u for u in rep["unlabelled"] if u["name"].startswith("Agents"))["audio"]).name == \
        "Agents_Of_Time_-_The_Mirage.ogg"
    without = {Path(p).name for p in rep["audio_without_task"]}
    assert "Agents_Of_Time_-_The_Mirage.ogg" not in without and "DROVE_-_CARRY_ON.OGG" not in without
    assert "not in any export - Stray.wav" in without


def test_renormalised_multi_annotated_duplicates_and_ignored_labels(awkward):
    rep, rows = awkward["report"], awkward["rows"]
    assert [(r["name"], r["sums"]) for r in rep["renormalised"]] == [("Calvo_-_Be_Alright.ogg", [100.0])]
    calvo = next(v for k, v in rows.items() if k.endswith("Calvo_-_Be_Alright.ogg"))
    np.testing.assert_allclose([calvo[g] for g in GENRES], expected_label(awkward["tasks"]["Calvo_-_Be_Alright.ogg"]))
    # Two annotations are averaged.
    blinders = next(v for k, v in rows.items() if k.endswith("Blinders_-_Mind_Of_Mine.ogg"))
    first = expected_label(awkward["tasks"]["Blinders_-_Mind_Of_Mine.ogg"])
    techno = np.eye(len(GENRES))[GENRES.index("Tech House")]
    np.testing.assert_allclose([blinders[g] for g in GENRES], (first + techno) / 2)
    assert [m["name"] for m in rep["multi_annotated"]] == ["Blinders_-_Mind_Of_Mine.ogg"]
    # The same track uploaded twice: one row, labels averaged, reported as disagreeing duplicates.
    assert len(rep["duplicates"]) == 1
    d = rep["duplicates"][0]
    assert d["audio"].endswith("Chester Young - Smash.ogg") and not d["labels_agree"]
    assert sorted(t["task"] for t in d["tasks"]) == sorted([awkward["tasks"]["Chester_Young_-_Smash.ogg"]["id"], 99999])
    chester = next(v for k, v in rows.items() if k.endswith("Chester Young - Smash.ogg"))
    bigroom = np.eye(len(GENRES))[GENRES.index("Bigroom")]
    np.testing.assert_allclose([chester[g] for g in GENRES],
                               (expected_label(awkward["tasks"]["Chester_Young_-_Smash.ogg"]) + bigroom) / 2)
    assert rep["unknown_labels"] == {"Energy": 1}
    assert len(rows) == 4 and len(read_manifest(awkward["manifest"], allow_outside=True)) == 4  # calvo, blinders, tobu, chester
    assert {u["name"] for u in rep["unmatched"]} == {"Brooks_-_Hold_It_Down_Original_Mix.ogg"}


def test_ambiguous_names_are_not_guessed(tmp_path):
    export = tmp_path / "e.json"
    export.write_text(json.dumps([{"id": 1, "data": {"audio": "/data/upload/1/deadbeef-A_-_B.ogg"},
                                   "annotations": [{"result": [{"from_name": "Bigroom", "value": {"number": 1}}]}]},
                                  {"id": 2, "data": {"audio": "/data/upload/1/deadbee0-C_-_D.ogg"},
                                   "annotations": [{"result": [{"from_name": "Deep House",
                                                                "value": {"number": 1}}]}]}]))
    tone(tmp_path / "a" / "A_-_B.flac")
    tone(tmp_path / "a" / "A_-_B.wav")
    tone(tmp_path / "a" / "C_-_D.ogg")
    rep = LS.import_labelstudio(export, tmp_path / "a", tmp_path / "m.csv")
    assert rep["counts"]["ambiguous"] == 1 and rep["counts"]["rows"] == 1
    amb = rep["unmatched"][0]
    assert amb["reason"].startswith("ambiguous") and sorted(amb["candidates"]) == ["a/A_-_B.flac", "a/A_-_B.wav"]


# --- errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("content, problem", [
    ("[{\"id\": 1, \"data\": ", "invalid JSON at line 1"),
    ("", "empty file"),
    ("{\"tasks\": []}", "not a Label Studio JSON export (expected a list of tasks, got a JSON object)"),
    ("[]", "the export holds no tasks"),
    ("[1, 2]", "task 1 is a JSON number"),
    ("[{\"id\": 7, \"audio\": \"x.ogg\", \"Bigroom\": 1}]", "task 1 (id 7) has no 'data' object"),
    ("[{\"data\": {\"audio\": \"x.ogg\"}, \"annotations\": {\"a\": 1}}]", "'annotations' is a JSON object"),
    ("[{\"data\": {\"audio\": \"x.ogg\"}, \"annotations\": [{\"result\": 3}]}]", "'result' is a JSON number"),
    ("[{\"data\": {\"audio\": \"x.ogg\"}, \"annotations\": [{\"result\": [{\"value\": {\"number\": NaN}}]}]}]",
     "invalid JSON"),
    ("[{\"data\": {\"text\": \"hello\"}, \"annotations\": []}]", "not a Label Studio audio export"),
])
def test_bad_exports_exit_1_with_one_line(library, tmp_path, capsys, content, problem):
    bad = tmp_path / "export.json"
    bad.write_text(content)
    out = tmp_path / "m.csv"
    rc, _, err = run_cli(capsys, "dataset", "import-labelstudio", str(bad), "--audio-dir", str(library["audio"]),
                         "-o", str(out))
    assert rc == 1
    assert err.count("\n") == 1 and err.startswith(f"mainstage dataset: error: {bad}: ")
    assert problem in err
    assert not out.exists()


def test_binary_and_missing_exports(library, tmp_path, capsys):
    binary = tmp_path / "x.json"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    rc, _, err = run_cli(capsys, "dataset", "import-labelstudio", str(binary), "--audio-dir", str(library["audio"]),
                         "-o", str(tmp_path / "m.csv"))
    assert rc == 1 and err == f"mainstage dataset: error: {binary}: not UTF-8 text, not a Label Studio JSON export\n"
    missing = tmp_path / "nope.json"
    rc, _, err = run_cli(capsys, "dataset", "import-labelstudio", str(missing), "--audio-dir", str(library["audio"]),
                         "-o", str(tmp_path / "m.csv"))
    assert rc == 1 and err == f"mainstage dataset: error: {missing}: no such file\n"


def test_missing_audio_dir_and_no_match(library, tmp_path, capsys):
    nodir = tmp_path / "no-such-dir"
    rc, _, err = run_cli(capsys, "dataset", "import-labelstudio", str(PARTITION), "--audio-dir", str(nodir),
                         "-o", str(tmp_path / "m.csv"))
    assert rc == 1 and err == f"mainstage dataset: error: {nodir}: no such audio folder\n"
    empty = tmp_path / "empty"
    tone(empty / "Somebody - Else.ogg")
    report = tmp_path / "r.json"
    rc, _, err = run_cli(capsys, "dataset", "import-labelstudio", str(PARTITION), "--audio-dir", str(empty),
                         "-o", str(tmp_path / "m.csv"), "--report", str(report))
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith(f"mainstage dataset: error: {empty}: no audio file matches any of the 355 labelled tasks")
    assert not (tmp_path / "m.csv").exists()
    assert json.loads(report.read_text())["counts"]["unmatched"] == 355  # the report is still written


# --- dataset check ---------------------------------------------------------------------------------

def test_check_describes_a_good_manifest(imported, capsys, tmp_path):
    report = tmp_path / "check.json"
    rc, out, err = run_cli(capsys, "dataset", "check", str(imported["manifest"]), "--probe", "--report", str(report),
                           "--allow-outside-paths")
    assert rc == 0 and err == ""
    assert out.splitlines()[0].startswith(f"{imported['manifest']}: 12 tracks (unassigned 12)")
    assert out.strip().endswith("ok")
    res = json.loads(report.read_text())
    assert res["missing_audio"] == [] and res["unreadable_audio"] == []
    assert sum(res["tracks_per_dominant_genre"].values()) == 12
    assert abs(sum(res["mean_label"].values()) - 1) < 1e-3


def test_check_reports_missing_and_unreadable_audio(imported, capsys, tmp_path):
    with open(imported["manifest"], newline="", encoding="utf-8") as fh:
        records = list(csv.reader(fh))
    root = tmp_path / "copy"
    root.mkdir()
    for i, rec in enumerate(records[1:4]):
        rec[0] = f"track{i} - x.ogg"
        if i == 0:
            tone(root / rec[0])
        elif i == 1:
            (root / rec[0]).write_text("not audio at all")
    manifest = root / "m.csv"
    with open(manifest, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(records[:4])
    rc, out, err = run_cli(capsys, "dataset", "check", str(manifest))
    assert rc == 1 and err == f"mainstage dataset: error: {manifest}: 1 of 3 audio files missing (track2 - x.ogg)\n"
    tone(root / "track2 - x.ogg")
    rc, out, err = run_cli(capsys, "dataset", "check", str(manifest), "--probe")
    assert rc == 1 and err.count("\n") == 1
    assert err.startswith(f"mainstage dataset: error: {manifest}: 1 audio files unreadable (first: track1 - x.ogg: ")


def test_check_rejects_bad_manifest(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,Bass House\n")
    rc, _, err = run_cli(capsys, "dataset", "check", str(bad))
    assert rc == 1 and err.startswith(f"mainstage dataset: error: {bad}: line 1: ") and err.count("\n") == 1


def test_prepare_runs_on_the_imported_manifest(imported, tmp_path, capsys):
    cache = tmp_path / "cache"
    rc, out, err = run_cli(capsys, "dataset", "prepare", str(imported["manifest"]), "--cache-dir", str(cache), "-q",
                           "--allow-outside-paths")
    assert rc == 0, err
    assert out.startswith(f"{imported['manifest']}: 12 tracks: 12 computed, 0 already cached, 0 failed")
    rc, out, err = run_cli(capsys, "dataset", "prepare", str(imported["manifest"]), "--cache-dir", str(cache), "-q",
                           "--allow-outside-paths")
    assert rc == 0 and ": 12 tracks: 0 computed, 12 already cached, 0 failed" in out


def test_prepare_rejects_bad_jobs(imported, tmp_path, capsys):
    rc, _, err = run_cli(capsys, "dataset", "prepare", str(imported["manifest"]), "--cache-dir", str(tmp_path),
                         "--jobs", "0")
    assert rc == 1 and err == "mainstage dataset: error: --jobs must be at least 1, got 0\n"


# --- names -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, artist", [
    ("c79030f3-Agents_Of_Time_-_The_Mirage.ogg", "agents of time"),
    ("b85b3557-Arno_Cost___Norman_Doray_-_One_Night.ogg", "arno cost"),
    ("85d4ea82-Asketa__Natan_Chaim___Aliii_-_Never.ogg", "asketa"),
    ("f5a06178-Madistt___TwoFLags___Tom_Beier___Daniel_Czaja___Marius_Kania___Julia__Z7oVwld.ogg", "madistt"),
    ("/music/Tiësto feat. Someone & Other - Title (Extended Mix).mp3", "tiesto"),
    ("TIESTO - Other.flac", "tiesto"),
    ("Alok x Ilkay Sencan - Car Keys.flac", "alok"),
    ("David Guetta & Sia - Titanium.ogg", "david guetta"),
    ("Martin Garrix, Dua Lipa - Scared To Be Lonely.mp3", "martin garrix"),
    ("ARTY vs. Someone - T.wav", "arty"),
    ("Axwell ft. Someone - T.wav", "axwell"),
    ("01 - Artist Name - Title.wav", "artist name"),
    ("07. Artist Name - Title.wav", "artist name"),
    ("Title only.mp3", None),
    ("Dash-in-title.mp3", None),
])
def test_artist_from_filename(name, artist):
    assert artist_from_filename(name) == artist


def test_name_order_of_the_real_exports():
    part = [task_file_name(t)[0] for t in read_export(PARTITION)]
    proj = [task_file_name(t)[0] for t in read_export(PROJECT4)]
    assert name_order(part) == "artist-title"
    assert name_order(proj) == "title-artist"  # project 4 names its files "Title - Artists"
    assert artist_from_filename(proj[0], name_order(proj)) == "no signe"
    assert artist_from_filename("Around_You_-_Bougenvilla___East_Dawn.ogg", "title-artist") == "bougenvilla"
    with pytest.raises(ValueError):
        artist_from_filename("A - B.ogg", "sideways")


def test_read_export_errors_are_input_file_errors(tmp_path):
    p = tmp_path / "e.json"
    p.write_text("{}")
    with pytest.raises(InputFileError) as err:
        read_export(p)
    assert str(err.value).startswith(f"{p}: not a Label Studio JSON export") and "\n" not in str(err.value)
