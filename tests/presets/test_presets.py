"""Look presets and genre mappings (core/presets.py, presets/): format, validation, shipped looks."""
import colorsys
import copy
import json
from pathlib import Path

import pytest

from mainstage.core import presets as P
from mainstage.core import schemas
from mainstage.core.genres import GENRES, SLUGS
from mainstage.core.timeline import SECTION_LABELS

ROOT = Path(__file__).resolve().parents[2]
LOOKS_DIR = ROOT / "presets" / "looks"


@pytest.fixture(scope="module")
def looks():
    return P.load_looks_dir(LOOKS_DIR)


@pytest.fixture()
def good():
    return json.loads((LOOKS_DIR / "deep_house.json").read_text())


@pytest.fixture()
def mapping():
    return json.loads((ROOT / "presets" / "mappings" / "default.json").read_text())


def _hues(colors):
    return [colorsys.rgb_to_hsv(*P.hex_to_rgb(c))[0] * 360 for c in colors]


# --- shipped data

def test_one_shipped_look_per_genre_and_default_mapping(looks):
    assert len(looks) == 8
    for f in LOOKS_DIR.glob("*.json"):
        assert looks[f.stem]["id"] == f.stem
    mapping = P.shipped_mapping()
    assert set(mapping["genres"]) == set(GENRES)
    for genre, slot in mapping["genres"].items():
        assert slot["preset"] == SLUGS[genre] and looks[slot["preset"]]["genre"] == genre
        assert slot["intensity"] == 1.0
    assert P.shipped_looks() == looks and P.presets_dir() == ROOT / "presets"


def test_looks_follow_their_genre_character(looks):
    deep, bass, big, prog = looks["deep_house"], looks["bass_house"], looks["bigroom"], looks["progressive_house"]
    # Deep House: deep blues, the most haze, gentle (no strobe, no shake), slow colour changes
    assert all(190 <= h <= 250 for h in _hues(deep["palettes"]["main"]))
    assert deep["world"]["haze_density"] == max(lk["world"]["haze_density"] for lk in looks.values())
    assert deep["lighting"]["strobe"]["energy_scale"] == 0 and deep["camera"]["shake_m"] == 0
    assert max(r["amount"] for r in deep["rules"] if r["event"] == "beat") <= 0.3
    # Bass House: dark reds, hard fast strobes, the heaviest shake, on the kick
    assert all(h <= 20 or h >= 340 for h in _hues(bass["palettes"]["main"]))
    assert bass["lighting"]["strobe"]["energy_scale"] >= 5 and bass["lighting"]["strobe"]["rate_beats"] <= 0.25
    assert bass["camera"]["shake_m"] == max(lk["camera"]["shake_m"] for lk in looks.values())
    assert any(r["event"] == "beat" and r["property"] == "shake" for r in bass["rules"])
    # Bigroom: white flashes, lasers on the beat, the hugest drop hit
    assert "#FFFFFF" in big["palettes"]["drop"] and big["lighting"]["color_source"] == "white"
    assert any(r["role"] == "lasers" and r["event"] == "beat" for r in big["rules"])
    def drop_hit(lk):
        return max([r["amount"] for r in lk["rules"] if r["event"] == "drop_start" and r["property"] == "strength"] or [0])
    assert drop_hit(big) == max(drop_hit(lk) for lk in looks.values())
    # Progressive: warm gradients (slow crossfades), a long build-up ramp
    assert all(h <= 60 or h >= 290 for h in _hues(prog["palettes"]["main"]))
    assert prog["palette_cycle"]["blend_beats"] >= 4
    assert any(r["event"] == "build" and r["mode"] == "ramp" for r in prog["rules"])


def test_looks_are_clearly_different(looks):
    mains = {k: tuple(sorted(v["palettes"]["main"])) for k, v in looks.items()}
    assert len(set(mains.values())) == 8
    rules = {k: json.dumps(v["rules"], sort_keys=True) for k, v in looks.items()}
    assert len(set(rules.values())) == 8


def test_validation_fills_rule_defaults(good):
    rule = good["rules"][0]
    for key in ("mode", "every", "sections"):
        rule.pop(key)
    out = P.validate_preset(good, "x.json")
    assert out["rules"][0]["mode"] == "pulse" and out["rules"][0]["every"] == 1
    assert out["rules"][0]["sections"] == list(SECTION_LABELS)
    assert "mode" not in good["rules"][0]  # the input is not modified


# --- rejection: one line naming the file and the field

@pytest.mark.parametrize("mutate, fragments", [
    (lambda d: d.update(extra=1), ["extra: unknown key"]),
    (lambda d: d["world"].update(haze=0.2), ["world.haze: unknown key"]),
    (lambda d: d["world"].update(strength="2"), ["world.strength", "not of type 'number'"]),
    (lambda d: d["world"].update(strength=True), ["world.strength", "not of type 'number'"]),
    (lambda d: d["lighting"].update(energy_w=-1), ["lighting.energy_w", "minimum"]),
    (lambda d: d["lighting"]["strobe"].update(duty=1.0), ["lighting.strobe.duty", "maximum"]),
    (lambda d: d["palettes"].update(main=[]), ["palettes.main", "should be non-empty"]),
    (lambda d: d["palettes"].update(main=["blue"]), ["palettes.main[0]", "sRGB colour"]),
    (lambda d: d.update(id="Deep House!"), ["id", "lowercase"]),
    (lambda d: d.update(description="eval(open('/etc/passwd').read())"), ["description", "looks like code"]),
    (lambda d: d.update(name="os.system"), ["name", "looks like code"]),
    (lambda d: d.update(description="${jndi:ldap://x}"), ["description", "looks like code"]),
    (lambda d: d.update(description="<b>bold</b>"), ["description", "plain text"]),
    (lambda d: d["rules"][0].update(role="camera"), ["rules[0].property", "is not one of"]),
    (lambda d: d["rules"][0].update(mode="ramp"), ["rules[0].event", "is not one of"]),
    (lambda d: d["rules"][0].update(property="palette_step", amount=1.5), ["rules[0].amount", "integer"]),
    (lambda d: d["rules"][0]["envelope"].pop("decay_beats"), ["rules[0].envelope.decay_beats", "missing"]),
    (lambda d: d["rules"].extend([d["rules"][0]] * 64), ["rules", "too long"]),
    (lambda d: d.update(schema="mainstage.preset/0"), ["schema", "unsupported version"]),
])
def test_bad_presets_are_rejected(good, mutate, fragments):
    doc = copy.deepcopy(good)
    mutate(doc)
    with pytest.raises(P.PresetError) as exc:
        P.validate_preset(doc, "looks/bad.json")
    msg = str(exc.value)
    assert msg.startswith("looks/bad.json: ") and "\n" not in msg
    for frag in fragments:
        assert frag in msg, msg


@pytest.mark.parametrize("text, fragment", [
    ("", "empty file"),
    ("[1, 2]", "must be a JSON object"),
    ('{"schema": "mainstage.preset/1", "schema": "x"}', "duplicate key 'schema'"),
    ('{"a": Infinity}', "Infinity is not allowed"),
    ("{'a': 1}", "not valid JSON"),
    ("[" * 100000, "not valid JSON"),
])
def test_bad_json_is_rejected(tmp_path, text, fragment):
    f = tmp_path / "bad.json"
    f.write_text(text)
    with pytest.raises(P.PresetError, match=fragment) as exc:
        P.load_preset(f)
    assert str(f) in str(exc.value)


def test_file_checks(tmp_path):
    with pytest.raises(P.PresetError, match="no such file"):
        P.load_preset(tmp_path / "nope.json")
    with pytest.raises(P.PresetError, match="is a directory"):
        P.load_preset(tmp_path)
    big = tmp_path / "big.json"
    big.write_text('{"a": "' + "x" * P.MAX_FILE_BYTES + '"}')
    with pytest.raises(P.PresetError, match="too large"):
        P.load_preset(big)
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(P.PresetError, match="not a text file"):
        P.load_preset(binary)


def test_mapping_validation(mapping):
    assert P.validate_mapping(mapping, "m.json", known_presets=[SLUGS[g] for g in GENRES]) == mapping
    bad = copy.deepcopy(mapping)
    del bad["genres"]["Tech House"]
    with pytest.raises(P.PresetError, match=r"m.json: genres.Tech House: required field is missing"):
        P.validate_mapping(bad, "m.json")
    bad = copy.deepcopy(mapping)
    bad["genres"]["Techno"] = bad["genres"].pop("Tech House")
    with pytest.raises(P.PresetError, match="genres.Techno: unknown key"):
        P.validate_mapping(bad, "m.json")
    bad = copy.deepcopy(mapping)
    bad["genres"]["Bigroom"]["preset"] = "missing_look"
    with pytest.raises(P.PresetError, match="genres.Bigroom.preset: unknown look 'missing_look'"):
        P.validate_mapping(bad, "m.json", known_presets=[SLUGS[g] for g in GENRES])
    P.validate_mapping(bad, "m.json")  # without a list of known looks only the format is checked
    bad = copy.deepcopy(mapping)
    bad["mode"] = "random"
    with pytest.raises(P.PresetError, match="mode"):
        P.validate_mapping(bad, "m.json")


def test_save_is_validated_and_atomic(tmp_path, good):
    out = tmp_path / "mine.json"
    P.save_preset(good, out)
    assert P.load_preset(out) == P.validate_preset(good)
    before = out.read_text()
    bad = copy.deepcopy(good)
    bad["camera"]["focal_mm"] = 1e6
    with pytest.raises(P.PresetError, match="camera.focal_mm"):
        P.save_preset(bad, out)
    assert out.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine.json"]


def test_schema_vocabulary():
    assert set(P.ROLE_PROPERTIES) == set(P.ROLES)
    assert set().union(*P.ROLE_PROPERTIES.values()) == set(P.PROPERTIES)
    assert set(P.SPAN_EVENTS) <= set(P.EVENTS)
    assert P.field_range("preset", "lighting.energy_w") == (0, 100000)
    assert P.field_range("preset", "material.roughness") == (0, 1)
    assert P.field_range("mapping", "slot.intensity") == (0, 2)
    assert P.hex_to_rgb(P.rgb_to_hex((0.2, 0.4, 1.0))) == pytest.approx((0.2, 0.4, 1.0), abs=1 / 255)


def test_section_labels_are_one_vocabulary():
    """Presets and timelines name sections with the timeline's labels."""
    assert schemas.schema("preset")["$defs"]["section_label"]["enum"] == list(SECTION_LABELS)
    timeline_sections = schemas.schema("timeline")["properties"]["sections"]["items"]
    assert timeline_sections["properties"]["label"]["enum"] == list(SECTION_LABELS)

