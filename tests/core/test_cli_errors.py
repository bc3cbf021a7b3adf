"""Ordinary OS errors through the real CLI: one line naming the file and the reason, exit 1.

How each error is made real here (the suite runs as root, for whom a read-only mode
bit means nothing):

- permission denied: the command runs without the capabilities that let root ignore
  file modes (``setpriv --bounding-set=-dac_override,-dac_read_search``), against a
  folder of mode 0555 or a file of mode 0000;
- no space left on device: the command runs in a private mount namespace
  (``unshare -m``) on a 64 KiB tmpfs that is filled first;
- file name too long: a 300-byte name (NAME_MAX is 255);
- symlink loop / is a directory: made in tmp_path.
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).parent))
from test_fs_safety import clicks, one_error_line  # noqa: E402

CMD = [sys.executable, "-m", "mainstage.core.cli"]
NO_DAC = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]


def cli(*args, no_dac=False):
    """Run the CLI; ``no_dac``: as root that must obey file modes like any user."""
    return subprocess.run([*(NO_DAC if no_dac else []), *CMD, *map(str, args)], capture_output=True, text=True)


def read_only_dir(path: Path) -> Path:
    path.mkdir()
    os.chmod(path, 0o555)
    return path


def in_full_tmpfs(mnt: Path, *args):
    """Run the CLI with a filled 64 KiB tmpfs mounted at ``mnt`` (private to the command)."""
    mnt.mkdir()
    script = ('mount -t tmpfs -o size=64k tmpfs "$1" && (dd if=/dev/zero of="$1/fill" bs=4096 2>/dev/null; true) '
              '&& shift && exec "$@"')
    return subprocess.run(["unshare", "-m", "sh", "-c", script, "sh", str(mnt), *CMD, *map(str, args)],
                          capture_output=True, text=True)


def test_analyze_permission_denied(tmp_path):
    track = clicks(tmp_path / "t.wav")
    ro = read_only_dir(tmp_path / "ro")
    out = ro / "t.timeline.json"
    r = cli("analyze", track, "--no-genre", "--no-cache", "-o", out, no_dac=True)
    one_error_line(r, f"{out}: permission denied", str(track))
    assert list(ro.iterdir()) == []


def test_synth_permission_denied(tmp_path):
    ro = read_only_dir(tmp_path / "ro")
    out = ro / "a.wav"
    r = cli("synth", "--genre", "Bass House", "--bars", "8", "-o", out, no_dac=True)
    one_error_line(r, f"mainstage synth: error: {out}: permission denied")
    assert list(ro.iterdir()) == []


def test_analyze_unreadable_track_permission_denied(tmp_path):
    track = clicks(tmp_path / "t.wav")
    os.chmod(track, 0o000)
    r = cli("analyze", track, "--no-genre", "--no-cache", "-o", tmp_path / "o.json", no_dac=True)
    one_error_line(r, f"{track}: cannot read: permission denied")


def test_synth_no_space_left(tmp_path):
    mnt = tmp_path / "full"
    r = in_full_tmpfs(mnt, "synth", "--genre", "Bass House", "--bars", "8", "-o", mnt / "a.wav")
    one_error_line(r, f"mainstage synth: error: {mnt / 'a.wav'}: no space left on device")
    assert "LibsndfileError" not in r.stderr


def test_analyze_no_space_left(tmp_path):
    track = clicks(tmp_path / "t.wav")
    mnt = tmp_path / "full"
    r = in_full_tmpfs(mnt, "analyze", track, "--no-genre", "--no-cache", "-o", mnt / "t.json")
    one_error_line(r, f"{mnt / 't.json'}: no space left on device")


def test_file_name_too_long(tmp_path):
    track = clicks(tmp_path / "t.wav")
    long_json = tmp_path / ("x" * 300 + ".json")
    r = cli("analyze", track, "--no-genre", "--no-cache", "-o", long_json)
    one_error_line(r, "file name too long")
    r = cli("synth", "--genre", "Bass House", "--bars", "8", "-o", tmp_path / ("y" * 300 + ".wav"))
    one_error_line(r, "mainstage synth: error: ", "file name too long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.wav"]


def test_synth_onto_directory(tmp_path):
    d = tmp_path / "a.wav"
    d.mkdir()
    r = cli("synth", "--genre", "Bass House", "--bars", "8", "-o", d)
    one_error_line(r, f"mainstage synth: error: {d}: is a directory")
    assert d.is_dir() and list(d.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["a.wav"]


def test_synth_truth_path_is_directory(tmp_path):
    (tmp_path / "a.truth.json").mkdir()
    r = cli("synth", "--genre", "Bass House", "--bars", "8", "-o", tmp_path / "a.wav")
    one_error_line(r, f"{tmp_path / 'a.truth.json'}: is a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.truth.json"]  # no audio without its truth


def test_symlink_loop_is_not_no_such_file(tmp_path):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    a.symlink_to(b)
    b.symlink_to(a)
    r = cli("analyze", a, "--no-genre", "--no-cache", "-o", tmp_path / "o.json")
    one_error_line(r, f"{a}: symlink loop")
    assert "no such file" not in r.stderr


def test_nan_audio_names_the_file(tmp_path):
    y = np.sin(np.arange(44100 * 5) / 10.0).astype(np.float32)
    y[1000] = np.nan
    track = tmp_path / "nan.wav"
    sf.write(str(track), y, 44100, subtype="FLOAT")
    r = cli("analyze", track, "--no-cache", "-o", tmp_path / "o.json")
    one_error_line(r, f"{track}: ", "NaN or infinite")
    assert all(str(track) in line for line in r.stderr.splitlines() if "NaN" in line)


def test_other_commands_os_error_one_line(tmp_path):
    """`dataset check --report` into a read-only folder: cli.main's OSError path."""
    a = tmp_path / "a.wav"
    clicks(a)
    manifest = tmp_path / "m.csv"
    from mainstage.core.genres import GENRES

    manifest.write_text("path," + ",".join(GENRES) + "\n" + "a.wav," + ",".join(["1"] + ["0"] * 7) + "\n")
    ro = read_only_dir(tmp_path / "ro")
    r = cli("dataset", "check", manifest, "--report", ro / "r.json", no_dac=True)
    one_error_line(r, f"{ro / 'r.json'}: permission denied")
