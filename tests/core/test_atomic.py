import os
import stat

import pytest

from mainstage.core.atomic import atomic_open, atomic_path, write_json_atomic


def test_failed_write_leaves_target_and_folder_clean(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_new_file_gets_umask_mode_and_replaced_file_keeps_its_mode(tmp_path):
    new = tmp_path / "new.json"
    write_json_atomic(new, {"a": 1})
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~mask
    kept = tmp_path / "kept.json"
    kept.write_text("{}")
    os.chmod(kept, 0o640)
    write_json_atomic(kept, {"b": 2})
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_temporary_path_keeps_suffix(tmp_path):
    with atomic_path(tmp_path / "a.wav") as tmp:
        assert tmp.suffix == ".wav" and tmp.parent == tmp_path
        tmp.write_bytes(b"x")
    assert (tmp_path / "a.wav").read_bytes() == b"x"
