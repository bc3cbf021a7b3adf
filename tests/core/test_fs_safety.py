"""Atomic writes replace only regular files: symlinks are written through, the rest refused.

No test touches a node under /dev: device nodes are made with os.mknod in tmp_path
(this suite runs as root), FIFOs with os.mkfifo.
"""
import os
import stat
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.atomic import atomic_path, write_json_atomic
from mainstage.core.errors import MainstageError


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mainstage.core.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd)


def clicks(path, seconds=8.0, bpm=128.0, sr=22050):
    """A click track: something `analyze` finds a tempo in."""
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    for t in np.arange(0, seconds, 60.0 / bpm):
        i = int(t * sr)
        y[i:i + 200] += np.hanning(200).astype(np.float32) * 0.8
    sf.write(str(path), y, sr)
    return path


def one_error_line(r, *needles):
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


@pytest.mark.parametrize("kind", ["fifo", "directory", "char_device"])
def test_atomic_write_refuses_non_regular_target(tmp_path, kind):
    target = tmp_path / "out.json"
    if kind == "fifo":
        os.mkfifo(target)
        test = stat.S_ISFIFO
    elif kind == "directory":
        target.mkdir()
        test = stat.S_ISDIR
    else:  # a null device of our own, in tmp_path
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        test = stat.S_ISCHR
    with pytest.raises(MainstageError) as info:
        write_json_atomic(target, {"a": 1})
    assert str(info.value).startswith(f"{target}: ") and "\n" not in str(info.value)
    assert test(os.lstat(target).st_mode)  # still what it was
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]  # no temporary left


def test_dev_null_is_refused_without_being_touched():
    from mainstage.core.atomic import resolve_target

    before = os.lstat("/dev/null")
    with pytest.raises(MainstageError, match=r"^/dev/null: is a character device"):
        resolve_target("/dev/null")
    after = os.lstat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino


def test_symlink_is_written_through_to_its_target(tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    real = real_dir / "data.json"
    real.write_text("old")
    os.chmod(real, 0o640)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    write_json_atomic(link, {"new": True})
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text().strip() == '{\n "new": true\n}'
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real_dir.iterdir()) == ["data.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "real"]


def test_dangling_symlink_creates_its_target(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "made.json")
    write_json_atomic(link, [1])
    assert link.is_symlink() and (tmp_path / "made.json").read_text().strip() == "[\n 1\n]"


def test_symlink_loop_target_is_one_line(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.symlink_to(b)
    b.symlink_to(a)
    with pytest.raises(MainstageError, match="symlink loop"):
        write_json_atomic(a, {})
    assert a.is_symlink() and b.is_symlink()


def test_symlink_to_fifo_is_refused(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    link = tmp_path / "out.json"
    link.symlink_to(fifo)
    with pytest.raises(MainstageError, match="FIFO"):
        with atomic_path(link) as tmp:
            tmp.write_text("x")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and link.is_symlink()


@pytest.mark.parametrize("kind", ["fifo", "char_device", "directory"])
def test_analyze_out_onto_non_regular_file(tmp_path, kind):
    track = clicks(tmp_path / "t.wav")
    out = tmp_path / "node"
    if kind == "fifo":
        os.mkfifo(out)
        test = stat.S_ISFIFO
    elif kind == "char_device":
        os.mknod(out, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # a /dev/full of our own
        test = stat.S_ISCHR
    else:
        out.mkdir()
        test = stat.S_ISDIR
    r = cli("analyze", track, "--no-genre", "--no-cache", "-o", out)
    one_error_line(r, f"{out}: ", "not a regular file")
    assert test(os.lstat(out).st_mode)


def test_analyze_out_through_symlink(tmp_path):
    track = clicks(tmp_path / "t.wav")
    keep = tmp_path / "keep"
    keep.mkdir()
    real = keep / "timeline.json"
    real.write_text("{}")
    link = tmp_path / "out.json"
    link.symlink_to(real)
    r = cli("analyze", track, "--no-genre", "--no-cache", "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and '"tempo"' in real.read_text()
    assert sorted(p.name for p in keep.iterdir()) == ["timeline.json"]


def test_remove_stale_temps_only_of_dead_processes(tmp_path):
    from mainstage.core.atomic import remove_stale_temps

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".mix.{dead.pid}.abcdefgh.tmp.wav"
    live = tmp_path / f".mix.{os.getpid()}.ijklmnop.tmp.wav"
    other = tmp_path / f".other.{dead.pid}.qrstuvwx.tmp.wav"
    user = tmp_path / ".mix.wav"  # not ours: no pid, no random part
    for p in (stale, live, other, user):
        p.write_bytes(b"x")
    assert remove_stale_temps(tmp_path, "mix.wav") == [stale]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (live, other, user))
    assert remove_stale_temps(tmp_path) == [other]
