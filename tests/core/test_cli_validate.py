"""`mainstage validate` through the real console script."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mainstage.core.cli import main
from mainstage.core.timeline import save_timeline

sys.path.insert(0, str(Path(__file__).parent))
from test_timeline import make_doc  # noqa: E402


def test_valid_file_exit_zero(tmp_path, capsys):
    p = tmp_path / "ok.json"
    save_timeline(make_doc(), p)
    assert main(["validate", str(p)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK {p}") and "128.00 BPM" in out


def test_invalid_file_exit_nonzero_with_reason(tmp_path, capsys):
    doc = make_doc()
    doc["genre_windows"][0]["probs"] = [0.5] * 8
    p = tmp_path / "bad.json"
    p.write_text(json.dumps(doc))
    good = tmp_path / "ok.json"
    save_timeline(make_doc(), good)
    assert main(["validate", str(good), str(p)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"INVALID {p}: genre_windows[0].probs sums to 4, not 1 (tolerance 0.001)"]


def test_console_script_missing_file(tmp_path):
    exe = Path(sys.executable).with_name("mainstage")
    r = subprocess.run([str(exe), "validate", str(tmp_path / "nope.json")], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.strip() == f"INVALID {tmp_path / 'nope.json'}: no such file"
    assert "Traceback" not in r.stderr


def test_usage_error_exit_code():
    with pytest.raises(SystemExit) as info:
        main(["validate"])
    assert info.value.code == 2
