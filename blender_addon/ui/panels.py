"""Sidebar panels (View3D > Sidebar > Mainstage): analysis, result summary, genre looks."""

import textwrap

from bpy.app.translations import pgettext_iface as iface_
from bpy.types import Panel

from .. import deps, jobs, preferences
from ..scene import props

CATEGORY = "Mainstage"


def _wrapped(layout, text: str, icon: str = "NONE", width: int = 44) -> None:
    """A message over several label lines (already translated where it is a fixed text)."""
    lines = textwrap.wrap(text, width) or [""]
    col = layout.column(align=True)
    for i, line in enumerate(lines):
        col.label(text=line, icon=icon if i == 0 else "BLANK1", translate=False)


def _fmt(template: str, **values) -> str:
    """``template`` translated (Blender's interface translation), then filled in."""
    return iface_(template).format(**values)


def _mmss(t: float) -> str:
    return f"{int(t // 60)}:{int(t % 60):02d}"


class _Base:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = CATEGORY

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "msvfx")


class MSVFX_PT_main(_Base, Panel):
    bl_idname = "MSVFX_PT_main"
    bl_label = "Mainstage VFX"

    def draw(self, context):
        layout = self.layout
        st = context.scene.msvfx
        python = preferences.external_python()
        mode = preferences.analysis_mode()
        if deps.missing():
            box = layout.box()
            box.alert = not python
            _wrapped(box, deps.summary_line(python), icon="ERROR" if not python else "INFO")
            if not python:
                box.operator("preferences.addon_show", text="Open Preferences", icon="PREFERENCES").module = preferences.ADDON_ID
        layout.prop(st, "audio_path", text="")
        job = jobs.current()
        if job is not None:
            box = layout.box()
            box.label(text=_fmt("Analyzing {name}", name=job.label), icon="SORTTIME", translate=False)
            box.progress(factor=job.progress, type="BAR", text=f"{job.stage} {job.progress:.0%} ({job.elapsed:.0f} s)")
            box.operator("msvfx.cancel_analysis", text="Cancel", icon="CANCEL")
        else:
            row = layout.row()
            row.scale_y = 1.4
            row.enabled = bool(mode)
            row.operator("msvfx.analyze_track", text="Analyze Track", icon="PLAY_SOUND")
        if st.last_error:
            box = layout.box()
            box.alert = True
            _wrapped(box, st.last_error, icon="ERROR")
        elif st.last_info and job is None:
            _wrapped(layout, st.last_info, icon="INFO")
        row = layout.row(align=True)
        row.operator("msvfx.load_timeline", text="Load Timeline", icon="IMPORT")
        row.operator("msvfx.save_timeline", text="Save Timeline", icon="EXPORT")
        row.operator("msvfx.clear_analysis", text="", icon="TRASH")
        scene = context.scene
        if st.has_timeline and st.sync_fps > 0 and abs(scene.render.fps / scene.render.fps_base - st.sync_fps) > 1e-6:
            box = layout.box()
            box.alert = True
            _wrapped(box, _fmt("The markers and frame range were synced at {old:.3g} fps but the scene is at "
                               "{new:.3g} fps: they follow at the next scene update", old=st.sync_fps,
                               new=scene.render.fps / scene.render.fps_base), icon="ERROR")


class MSVFX_PT_summary(_Base, Panel):
    bl_idname = "MSVFX_PT_summary"
    bl_label = "Track"
    bl_parent_id = "MSVFX_PT_main"

    @classmethod
    def poll(cls, context):
        return super().poll(context) and context.scene.msvfx.has_timeline

    def draw(self, context):
        layout = self.layout
        st = context.scene.msvfx
        col = layout.column(align=True)
        col.label(text=st.track_file.replace("\\", "/").rsplit("/", 1)[-1], icon="SOUND", translate=False)
        tempo = _fmt("{bpm:.1f} BPM", bpm=st.bpm) if st.bpm else iface_("no tempo found")
        col.label(text=_fmt("{tempo}  |  {bars} bars  |  {time}", tempo=tempo, bars=st.n_bars,
                            time=_mmss(st.duration_s)), translate=False)
        drops = _fmt("{n} drop", n=st.n_drops) if st.n_drops == 1 else _fmt("{n} drops", n=st.n_drops)
        col.label(text=_fmt("{drops}  |  {n} sections", drops=drops, n=len(st.sections)), translate=False)
        if st.has_genres:
            box = layout.box()
            box.label(text="Genres (whole track)", icon="SEQ_HISTOGRAM")
            order = sorted(range(len(props.GENRES)), key=lambda i: -st.genre_summary[i])
            for i in order:
                p = st.genre_summary[i]
                row = box.row()
                row.progress(factor=p, type="BAR", text=f"{props.GENRES[i]}  {p:.0%}")
            if st.model_name:
                box.label(text=_fmt("model: {name}", name=st.model_name), translate=False)
        else:
            layout.label(text="No genre analysis in this timeline", icon="INFO")
        if len(st.sections):
            box = layout.box()
            box.label(text="Sections", icon="SEQ_STRIP_META")
            for sec in st.sections:
                row = box.row()
                split = row.split(factor=0.42)
                split.label(text=f"{_mmss(sec.start_s)} {sec.name}", translate=False)
                split.label(text=f"{sec.genre} {sec.genre_prob:.0%}" if sec.genre else "-", translate=False)


class MSVFX_PT_mapping(_Base, Panel):
    bl_idname = "MSVFX_PT_mapping"
    bl_label = "Genre Looks"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        st = context.scene.msvfx
        if len(st.mapping) != len(props.GENRES) or not len(st.looks):
            layout.label(text="No looks in this .blend yet", icon="INFO")
            layout.operator("msvfx.presets_reset", text="Load Shipped Looks", icon="PRESET")
            return
        layout.template_list("MSVFX_UL_genre_mapping", "", st, "mapping", st, "active_mapping_index",
                             rows=len(props.GENRES))
        row = layout.row(align=True)
        row.prop(st, "mapping_mode", expand=True)
        layout.prop(st, "crossfade_beats")
        row = layout.row(align=True)
        row.operator("msvfx.mapping_import", text="Import", icon="IMPORT")
        row.operator("msvfx.mapping_export", text="Export", icon="EXPORT")
        row.operator("msvfx.presets_reset", text="Reset", icon="LOOP_BACK")


class MSVFX_PT_show(_Base, Panel):
    bl_idname = "MSVFX_PT_show"
    bl_label = "Show"

    def draw(self, context):
        layout = self.layout
        st = context.scene.msvfx
        layout.operator("msvfx.build_stage", text="Build Stage", icon="LIGHT_SPOT")
        col = layout.column(align=True)
        for prop in ("role_lights", "role_pulse", "role_screens", "role_lasers", "role_camera"):
            col.prop(st, prop)
        row = layout.row(align=True)
        row.scale_y = 1.3
        row.enabled = st.has_timeline
        row.operator("msvfx.apply_show", text="Apply Looks", icon="KEYINGSET")
        row.operator("msvfx.clear_show", text="", icon="TRASH")
        row = layout.row(align=True)
        row.prop(st, "drive_mode", text="")
        row.prop(st, "palette_tint", slider=True)
        row.prop(st, "flash_cap", toggle=True, icon="LIGHT_SUN")
        layout.prop(st, "trait_shaping", slider=True)
        row = layout.row(align=True)  # music values for the user's own drivers, shaders and node trees
        row.enabled = st.has_timeline
        row.operator("msvfx.bake_music_values", text="Bake Music Values", icon="DRIVER")
        row.operator("msvfx.clear_music_values", text="", icon="X")
        if st.show_stale:
            box = layout.box()
            box.alert = True
            _wrapped(box, iface_("The frame rate changed after Apply Looks: click Apply Looks again"), icon="ERROR")
        elif st.show_info:
            _wrapped(layout, st.show_info, icon="INFO")
        box = layout.box()
        box.prop(st, "render_path", text="")
        row = box.row()
        row.prop(st, "render_engine")
        row.prop(st, "render_glow")
        box.prop(st, "render_quality")
        box.operator("msvfx.render_video", text="Render Video", icon="RENDER_ANIMATION")


class MSVFX_PT_looks(_Base, Panel):
    bl_idname = "MSVFX_PT_looks"
    bl_label = "Look Library"
    bl_parent_id = "MSVFX_PT_mapping"

    @classmethod
    def poll(cls, context):
        return super().poll(context) and len(context.scene.msvfx.looks) > 0

    def draw(self, context):
        layout = self.layout
        st = context.scene.msvfx
        row = layout.row()
        row.template_list("MSVFX_UL_looks", "", st, "looks", st, "active_look_index", rows=5)
        col = row.column(align=True)
        col.operator("msvfx.look_duplicate", text="", icon="DUPLICATE")
        col.operator("msvfx.look_remove", text="", icon="REMOVE")
        col.separator()
        col.operator("msvfx.look_import", text="", icon="IMPORT")
        col.operator("msvfx.look_export", text="", icon="EXPORT")
        col.operator("msvfx.look_save_user", text="", icon="FILE_TICK")
        look = st.active_look()
        if look is None:
            return
        box = layout.box()
        if look.source == "SHIPPED":
            box.label(text="Shipped look: duplicate it to edit", icon="LOCKED")
        body = box.column()
        body.enabled = look.source != "SHIPPED"
        body.prop(look, "label")
        body.prop(look, "name", text="Id")
        body.prop(look, "genre")
        body.prop(look, "description", text="")
        body.row().prop(look, "editor_tab", expand=True)
        tab = look.editor_tab
        if tab == "palettes":
            self._draw_palettes(body, look)
        elif tab == "materials":
            for m in look.materials:
                sub = body.box()
                sub.label(text=m.name.title())
                sub.prop(m, "base_color")
                sub.prop(m, "color_source")
                sub.prop(m, "emission_strength")
                row = sub.row(align=True)
                row.prop(m, "roughness")
                row.prop(m, "metallic")
        elif tab == "rules":
            self._draw_rules(body, look)
        for _path, attr, kind, label, group in props.LOOK_FIELDS:
            if group == tab and tab != "palettes":
                body.prop(look, attr, text=label, expand=(kind == "set"))

    @staticmethod
    def _draw_palettes(layout, look):
        for _path, attr, _kind, label, group in props.LOOK_FIELDS:
            if group == "palettes":
                layout.prop(look, attr, text=label)
        for pal in look.palettes:
            row = layout.row(align=True)
            row.label(text=pal.name.title())
            for i, c in enumerate(pal.colors):
                row.prop(c, "color", text="")
            op = row.operator("msvfx.palette_color_add", text="", icon="ADD")
            op.palette = pal.name
            op = row.operator("msvfx.palette_color_remove", text="", icon="REMOVE")
            op.palette, op.index = pal.name, len(pal.colors) - 1

    @staticmethod
    def _draw_rules(layout, look):
        row = layout.row()
        row.template_list("MSVFX_UL_rules", "", look, "rules", look, "active_rule_index", rows=4)
        col = row.column(align=True)
        col.operator("msvfx.rule_add", text="", icon="ADD")
        col.operator("msvfx.rule_remove", text="", icon="REMOVE")
        if not 0 <= look.active_rule_index < len(look.rules):
            return
        r = look.rules[look.active_rule_index]
        box = layout.box()
        if not r.is_consistent():
            box.alert = True
            box.label(text="Property/mode does not fit this role/event", icon="ERROR")
        box.prop(r, "event")
        row = box.row(align=True)
        row.prop(r, "role", text="")
        row.prop(r, "prop", text="")
        box.prop(r, "amount")
        box.prop(r, "mode")
        row = box.row(align=True)
        row.prop(r, "attack_beats")
        row.prop(r, "hold_beats")
        row.prop(r, "decay_beats")
        box.prop(r, "curve")
        box.prop(r, "every")
        box.row().prop(r, "sections", expand=True)


CLASSES = (MSVFX_PT_main, MSVFX_PT_summary, MSVFX_PT_show, MSVFX_PT_mapping, MSVFX_PT_looks)
