"""Deeply nested JSON is refused in one line wherever untrusted JSON is read (issue 15):
timelines (`validate`), genre-model metadata (`analyze --model`), truth files, Label Studio
exports, and the text the add-on keeps in a .blend."""
from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from mainstage.core.errors import InputFileError
from mainstage.core.genre.model import default_model_path
from mainstage.core.jsonfile import MAX_DEPTH, loads, nesting_depth, parse_json
from mainstage.core.timeline import new_timeline

CLI = [sys.executable, "-m", "mainstage.core.cli"]


def deep(n: int) -> str:
    return "[" * n + "]" * n


def reference_depth(obj) -> int:
    """Depth by an explicit stack (the parsed object, no recursion)."""
    best, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, (list, dict)):
            best = max(best, d)
            stack.extend((v, d + 1) for v in (o.values() if isinstance(o, dict) else o))
    return best


def timeline_text(extra: str | None = None) -> str:
    """A valid timeline's JSON; ``extra`` (raw JSON text) goes into ``analysis.x``."""
    doc = new_timeline(file="t.wav", duration_s=10.0, sample_rate=44100, sha256="0" * 64, bpm=120.0,
                       tempo_segments=[{"start_s": 0.0, "end_s": 10.0, "bpm": 120.0}],
                       beats=np.arange(20) * 0.5, downbeats=np.arange(5) * 2.0, analysis={"x": "@"})
    return json.dumps(doc).replace('"@"', extra if extra is not None else "1")


def test_depth_counts_brackets_outside_strings_only():
    rng = random.Random(3)
    strings = ['a"[', "\\", "}{", 'x\\"]', '\\\\"[[', "é[ü]", "\u2028"]

    def gen(d):
        r = rng.random()
        if d > 7 or r < 0.3:
            return rng.choice(strings + [1, None, 2.5])
        if r < 0.65:
            return [gen(d + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(strings) + str(i): gen(d + 1) for i in range(rng.randint(0, 3))}

    for _ in range(400):
        o = gen(0)
        for ascii_only in (True, False):
            assert nesting_depth(json.dumps(o, ensure_ascii=ascii_only)) == reference_depth(o)
    assert nesting_depth(deep(100_000)) == 100_000
    assert nesting_depth('{"k": "[[[[\\\\"}') == 1 and nesting_depth("") == 0


def test_limit_is_enforced_before_parsing():
    assert parse_json(deep(MAX_DEPTH), "x") is not None
    with pytest.raises(InputFileError, match=f"nested {MAX_DEPTH + 1} levels deep"):
        parse_json(deep(MAX_DEPTH + 1), "x.json")
    for n in (900, 100_000):
        with pytest.raises(ValueError, match=f"nested {n} levels deep"):
            loads(deep(n))
    with pytest.raises(ValueError):
        loads('{"bpm": NaN}')  # the add-on's stored text: NaN is refused too


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=300)


def one_line(proc: subprocess.CompletedProcess, *fragments: str, limit: int = 400) -> None:
    err = proc.stderr.strip()
    assert proc.returncode == 1, (proc.returncode, proc.stdout, err)
    lines = [l for l in (proc.stdout + proc.stderr).strip().splitlines() if l.strip()]
    assert len(lines) == 1 and "Traceback" not in err and len(lines[0]) < limit, lines[:3]
    for f in fragments:
        assert f in lines[0], lines[0]


@pytest.mark.parametrize("n", [200, 900, 100_000])
def test_validate_refuses_deep_timeline(tmp_path, n):
    path = tmp_path / "deep.timeline.json"
    path.write_text(timeline_text(deep(n)))
    one_line(run("validate", path), str(path), "levels deep")


def test_validate_message_is_short_for_a_huge_value(tmp_path):
    path = tmp_path / "schema.timeline.json"
    doc = json.loads(timeline_text())
    doc["schema"] = "x" * 200_000
    path.write_text(json.dumps(doc))
    one_line(run("validate", path), str(path), "unsupported schema version")


def test_deep_model_metadata_is_one_line(tmp_path):
    model = tmp_path / "m.onnx"
    shutil.copy(default_model_path(), model)
    model.with_suffix(".json").write_text(deep(100_000))
    track = tmp_path / "a.wav"
    sf.write(track, np.zeros(44100, np.float32), 44100)
    one_line(run("analyze", track, "--model", model, "-o", tmp_path / "a.timeline.json"),
             str(model.with_suffix(".json")), "levels deep")


def test_deep_truth_file_is_one_line(tmp_path):
    from mainstage.training.features.drops import load_truth

    truth = tmp_path / "t.truth.json"
    truth.write_text('{"drops": ' + deep(100_000) + "}")
    with pytest.raises(InputFileError, match="levels deep") as err:
        load_truth(truth)
    assert str(truth) in str(err.value)


def test_deep_label_studio_export_is_one_line(tmp_path):
    export = tmp_path / "export.json"
    export.write_text("[" + '{"data": ' + deep(100_000) + "}]")
    (tmp_path / "audio").mkdir()
    one_line(run("dataset", "import-labelstudio", export, "--audio-dir", tmp_path / "audio", "-o",
                 tmp_path / "m.csv"), str(export), "levels deep")
    assert not (tmp_path / "m.csv").exists()
