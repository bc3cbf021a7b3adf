"""The sidebar panels and UI lists draw in every state without errors, and everything they show
or offer exists: each property is a real RNA property of its data, each button a registered
operator with the properties set on it. Headless Blender has no window to draw into, so the
draw code runs against a layout that records and checks every call."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _harness import bpy, install, result  # noqa: E402

import types  # noqa: E402

addon = install(os.environ["MSVFX_FULL_ZIP"])
track = os.environ["MSVFX_TRACK"]
truth = os.environ["MSVFX_TRUTH"]


class OpProps:
    """What ``layout.operator`` returns: setting a property checks that the operator has it."""

    def __init__(self, idname, log):
        self.__dict__["_rna"] = getattr(bpy.ops, idname.split(".")[0]).__getattr__(idname.split(".")[1]).get_rna_type()
        self.__dict__["_log"] = log

    def __setattr__(self, name, value):
        assert name in self._rna.properties, f"operator {self._rna.identifier} has no property {name!r}"
        self._log.append(("opprop", name, value))


class Layout:
    """Records UILayout calls and checks their arguments against Blender's RNA."""

    def __init__(self, log):
        self.log = log
        self.enabled = True
        self.alert = False
        self.scale_y = 1.0

    def _child(self, *_a, **_k):
        return Layout(self.log)

    row = column = box = split = _child

    def label(self, text="", icon="NONE", **_k):
        assert isinstance(text, str)
        if icon != "NONE":
            assert icon in bpy.types.UILayout.bl_rna.functions["label"].parameters["icon"].enum_items, icon
        self.log.append(("label", text))

    def separator(self, **_k):
        pass

    def _check_prop(self, data, name):
        assert name in data.bl_rna.properties, f"{data.bl_rna.identifier} has no property {name!r}"

    def prop(self, data, name, text=None, icon="NONE", expand=False, **_k):
        self._check_prop(data, name)
        self.log.append(("prop", data.bl_rna.identifier, name))

    def prop_search(self, data, name, search_data, search_name, text=None, icon="NONE", **_k):
        self._check_prop(data, name)
        self._check_prop(search_data, search_name)
        self.log.append(("prop_search", name, search_name))

    def operator(self, idname, text=None, icon="NONE", **_k):
        props = OpProps(idname, self.log)
        self.log.append(("operator", idname, text))
        return props

    def progress(self, factor=0.0, type="BAR", text=""):
        assert 0.0 <= factor <= 1.0
        self.log.append(("progress", round(factor, 3), text))

    def template_list(self, listtype, list_id, data, propname, active_data, active_propname, rows=5, **_k):
        ul = getattr(bpy.types, listtype)
        self._check_prop(data, propname)
        self._check_prop(active_data, active_propname)
        items = getattr(data, propname)
        for i, item in enumerate(items):
            ul.draw_item(types.SimpleNamespace(), bpy.context, Layout(self.log), data, item, 0, active_data,
                         active_propname, i)
        if hasattr(ul, "filter_items"):
            me = types.SimpleNamespace(filter_name="", bitflag_filter_item=1 << 30)
            flags, _order = ul.filter_items(me, bpy.context, data, propname)
            assert len(flags) == len(items)
        self.log.append(("template_list", listtype, len(items)))


def draw_all():
    """Draw every panel whose poll passes; returns the recorded calls."""
    log = []
    for cls in addon.ui.panels.CLASSES:
        if not cls.poll(bpy.context):
            continue
        me = types.SimpleNamespace(layout=Layout(log), **{k: getattr(cls, k) for k in ("_draw_palettes", "_draw_rules")
                                                           if hasattr(cls, k)})
        cls.draw(me, bpy.context)
        log.append(("panel", cls.bl_idname))
    return log


def texts(log):
    return [e[1] for e in log if e[0] == "label"] + [e[2] for e in log if e[0] == "progress"]


st = bpy.context.scene.msvfx
states = {}
# empty scene: audio field, analyze button, load/save, "load shipped looks"
log = draw_all()
ops = {e[1] for e in log if e[0] == "operator"}
assert {"msvfx.analyze_track", "msvfx.load_timeline", "msvfx.save_timeline", "msvfx.presets_reset"} <= ops
assert ("prop", "MSVFX_SceneState", "audio_path") in log
states["empty"] = len(log)

# running job: progress bar and cancel button instead of the analyze button
st.audio_path = track
bpy.ops.msvfx.analyze_track()
log = draw_all()
ops = {e[1] for e in log if e[0] == "operator"}
assert "msvfx.cancel_analysis" in ops and "msvfx.analyze_track" not in ops
assert any(e[0] == "progress" for e in log)
addon.jobs.current().cancel()
addon.jobs.current().thread.join(30)
while addon.jobs.drain() is not None:
    pass
bpy.app.timers.unregister(addon.jobs.drain)
states["running"] = len(log)

# an error is shown in the panel
log = draw_all()
assert any("cancelled" in t for t in texts(log))

# a timeline with genres: tempo, bars, drops, genre bars, sections with their genre
bpy.ops.msvfx.load_timeline(filepath=truth)
log = draw_all()
shown = texts(log)
assert any("BPM" in t and "bars" in t for t in shown), shown
assert any(t.startswith("Bass House") and "%" in t for t in shown), shown
assert sum(1 for e in log if e[0] == "progress") == 8  # one bar per genre
assert any("DROP 1" in t for t in shown)
# mapping list (8 genres), look library, and the editor on every tab, shipped and editable
genre_rows = [e for e in log if e[0] == "template_list" and e[1] == "MSVFX_UL_genre_mapping"]
assert genre_rows == [("template_list", "MSVFX_UL_genre_mapping", 8)]
assert sum(1 for e in log if e[0] == "prop_search") == 8
bpy.ops.msvfx.look_duplicate()
look = st.active_look()
look.active_rule_index = 0
for source in ("SHIPPED", "BLEND"):
    look.source = source
    for tab in ("palettes", "materials", "lighting", "world", "camera", "rules"):
        look.editor_tab = tab
        log = draw_all()
        props = {e[2] for e in log if e[0] == "prop" and e[1] == "MSVFX_Look"}
        groups = [attr for _p, attr, _k, _l, g in addon.scene.props.LOOK_FIELDS if g == tab]
        assert set(groups) <= props, (tab, set(groups) - props)
        if tab == "rules":
            assert ("prop", "MSVFX_Rule", "amount") in log and ("template_list", "MSVFX_UL_rules", len(look.rules)) in log
        if tab == "palettes":
            assert sum(1 for e in log if e[0] == "prop" and e[1] == "MSVFX_Color") == sum(len(p.colors) for p in look.palettes)
        states[f"{source}-{tab}"] = len(log)

# a missing-libraries warning names what is missing (simulated by hiding jsonschema from the check)
addon.deps._cache["jsonschema"] = False
log = draw_all()
assert any("jsonschema" in t for t in texts(log)) and ("operator", "preferences.addon_show", "Open Preferences") in log
addon.deps.refresh()

result(states=states)
