"""Genre mapping and look library in a clean Blender: shipped defaults, editing, user presets,
import/export, persistence in the .blend, and rejection of bad preset/mapping files."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, expect_error, install, result  # noqa: E402

import importlib  # noqa: E402
import json  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
work = os.environ["MSVFX_WORK"]
bad_dir = os.environ["MSVFX_BAD_DIR"]
P = importlib.import_module(addon.__name__ + ".core.presets")
io = addon.scene.presets_io
scene = bpy.context.scene
st = scene.msvfx

# --- shipped defaults
assert len(st.looks) == 0
bpy.ops.msvfx.presets_reset()
shipped_dir = os.path.join(os.path.dirname(addon.__file__), "presets", "looks")
shipped_files = sorted(os.listdir(shipped_dir))
assert len(shipped_files) == 8 and len(st.looks) == 8
assert all(look.source == "SHIPPED" for look in st.looks)
for f in shipped_files:  # the library holds exactly what the files say
    doc = P.load_preset(os.path.join(shipped_dir, f))
    assert io.look_to_dict(st.looks[doc["id"]]) == doc, f
assert [slot.name for slot in st.mapping] == list(addon.scene.props.GENRES)
default = P.load_mapping(os.path.join(os.path.dirname(shipped_dir), "mappings", "default.json"))
assert io.mapping_to_dict(st) == default

# --- edit the mapping (preset per genre, intensity, mode) and round-trip it through a file
st.mapping["Bass House"].preset = "bigroom"
st.mapping["Bass House"].intensity = 1.5
st.mapping_mode = "dominant"
st.crossfade_beats = 4
edited_mapping = io.mapping_to_dict(st)
mapping_file = os.path.join(work, "my_mapping.json")
bpy.ops.msvfx.mapping_export(filepath=mapping_file)
assert json.load(open(mapping_file)) == edited_mapping
bpy.ops.msvfx.presets_reset()
assert io.mapping_to_dict(st) == default
bpy.ops.msvfx.mapping_import(filepath=mapping_file)
assert io.mapping_to_dict(st) == edited_mapping

# --- duplicate a shipped look, edit its parameters, save it as a user preset
st.active_look_index = list(st.looks.keys()).index("deep_house")
bpy.ops.msvfx.look_duplicate()
look = st.active_look()
assert look.name == "deep_house_custom" and look.source == "BLEND"
look.label = "Deep - Foggier"
look.haze_density = 0.6
look.palettes["main"].colors[0].color = (1.0, 0.0, 0.5)
look.rules[0].amount = 0.75
look.rules[0].sections = {"drop"}
bpy.ops.msvfx.rule_add()
new_rule = look.rules[len(look.rules) - 1]
new_rule.event, new_rule.role = "drop_start", "camera"  # the role update picks a camera property
assert new_rule.prop in P.ROLE_PROPERTIES["camera"]
bpy.ops.msvfx.look_save_user()
user_dir = bpy.utils.extension_path_user(addon.__name__, path="looks")
user_file = os.path.join(user_dir, "deep_house_custom.json")
saved = P.load_preset(user_file)
assert saved["name"] == "Deep - Foggier" and saved["world"]["haze_density"] == 0.6
assert saved["palettes"]["main"][0] == "#FF0080"
assert saved["rules"][0]["amount"] == 0.75 and saved["rules"][0]["sections"] == ["drop"]
assert saved["rules"][-1]["event"] == "drop_start" and saved["rules"][-1]["role"] == "camera"
assert look.source == "USER"
# shipped looks are read-only
st.active_look_index = list(st.looks.keys()).index("bigroom")
expect_error(bpy.ops.msvfx.look_save_user, "shipped")
expect_error(bpy.ops.msvfx.look_remove, "shipped")

# a new .blend starts empty; reset loads shipped + user looks from disk
bpy.ops.wm.read_homefile(use_empty=True)
st = bpy.context.scene.msvfx
bpy.ops.msvfx.presets_reset()
assert len(st.looks) == 9 and st.looks["deep_house_custom"].source == "USER"
assert io.look_to_dict(st.looks["deep_house_custom"]) == saved

# --- export / import a look
st.active_look_index = list(st.looks.keys()).index("deep_house_custom")
look_file = os.path.join(work, "exported_look.json")
bpy.ops.msvfx.look_export(filepath=look_file)
assert P.load_preset(look_file) == saved
exported = json.load(open(look_file))
exported["id"], exported["name"] = "shared_look", "Shared Look"
with open(os.path.join(work, "shared_look.json"), "w") as fh:
    json.dump(exported, fh)
bpy.ops.msvfx.look_import(filepath=os.path.join(work, "shared_look.json"))
assert st.looks["shared_look"].source == "FILE" and st.active_look().name == "shared_look"
st.mapping["Deep House"].preset = "shared_look"
expect_error(bpy.ops.msvfx.look_remove, "used by Deep House")

# --- the mapping and the looks are saved in the .blend
blend = os.path.join(work, "looks.blend")
before = (io.mapping_to_dict(st), {lk.name: io.look_to_dict(lk) for lk in st.looks})
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.open_mainfile(filepath=blend)
st = bpy.context.scene.msvfx
assert (io.mapping_to_dict(st), {lk.name: io.look_to_dict(lk) for lk in st.looks}) == before

# --- bad files: rejected with file + field named, nothing changes
def snapshot():
    return json.dumps([io.mapping_to_dict(st), [io.look_to_dict(lk) for lk in st.looks]], sort_keys=True)


expected = json.load(open(os.path.join(bad_dir, "expected.json")))
rejected = {}
for name, fragments in sorted(expected.items()):
    path = os.path.join(bad_dir, name)
    op = bpy.ops.msvfx.look_import if name.startswith("preset_") else bpy.ops.msvfx.mapping_import
    before = snapshot()
    msg = expect_error(lambda: op(filepath=path), name, *fragments)
    assert snapshot() == before, f"{name} changed the library or mapping"
    assert "\n" not in msg.strip()
    rejected[name] = msg.strip()

result(looks=len(st.looks), rejected=rejected)
