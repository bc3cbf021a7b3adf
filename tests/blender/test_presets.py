"""Genre mapping and look presets in real Blender (installed zip): editing, user presets,
import/export, .blend persistence, and bad files rejected without changing anything."""

import copy
import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.blender

ROOT = Path(__file__).resolve().parents[2]


def write_bad_files(dest: Path) -> dict:
    """Broken preset and mapping files, with the fragments their error must name."""
    dest.mkdir()
    good = json.loads((ROOT / "presets" / "looks" / "bass_house.json").read_text())
    mapping = json.loads((ROOT / "presets" / "mappings" / "default.json").read_text())
    expected = {}

    def case(name, base, mutate, *fragments):
        doc = copy.deepcopy(base)
        mutate(doc)
        (dest / name).write_text(json.dumps(doc))
        expected[name] = list(fragments)

    case("preset_unknown_key.json", good, lambda d: d["lighting"].update(flicker=1), "lighting.flicker", "unknown key")
    case("preset_wrong_type.json", good, lambda d: d["world"].update(strength="bright"), "world.strength", "not of type")
    case("preset_out_of_range.json", good, lambda d: d["camera"].update(focal_mm=5000), "camera.focal_mm", "maximum")
    case("preset_code.json", good, lambda d: d.update(description="__import__('os').system('rm -rf ~')"),
         "description", "looks like code")
    case("preset_role_property.json", good, lambda d: d["rules"][0].update(role="world"), "rules[0].property")
    case("preset_missing_field.json", good, lambda d: d["camera"].pop("focal_mm"), "camera.focal_mm", "missing")
    case("mapping_unknown_genre.json", mapping, lambda d: d["genres"].update(Techno={"preset": "bigroom", "intensity": 1}),
         "genres.Techno", "unknown key")
    case("mapping_unknown_look.json", mapping, lambda d: d["genres"]["Bigroom"].update(preset="laser_show"),
         "genres.Bigroom.preset", "unknown look")
    case("mapping_intensity.json", mapping, lambda d: d["genres"]["Deep House"].update(intensity=5),
         "genres.Deep House.intensity", "maximum")
    case("mapping_code.json", mapping, lambda d: d.update(name="import os"), "name", "looks like code")
    case("mapping_version.json", mapping, lambda d: d.update(schema="mainstage.mapping/2"), "schema", "unsupported")
    (dest / "preset_not_json.json").write_text("{'id': 'x',}")
    expected["preset_not_json.json"] = ["not valid JSON"]
    (dest / "preset_nan.json").write_text(json.dumps(good).replace('"strength": 0.15', '"strength": NaN'))
    expected["preset_nan.json"] = ["NaN is not allowed"]
    (dest / "preset_duplicate_key.json").write_text(json.dumps(good)[:-1] + ', "id": "other"}')
    expected["preset_duplicate_key.json"] = ["duplicate key 'id'"]
    (dest / "expected.json").write_text(json.dumps(expected))
    return expected


def test_mapping_and_looks(blender, tmp_path):
    expected = write_bad_files(tmp_path / "bad")
    res = blender.run("presets.py", tmp_path / "home", MSVFX_WORK=tmp_path, MSVFX_BAD_DIR=tmp_path / "bad")
    assert res["looks"] == 10  # 8 shipped + the user's custom look + the imported one
    assert sorted(res["rejected"]) == sorted(expected)
    for name, msg in res["rejected"].items():
        assert str(tmp_path / "bad" / name) in msg
