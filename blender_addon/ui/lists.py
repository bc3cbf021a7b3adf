"""UI lists: the genre mapping, the look library and a look's keyframe rules."""

from bpy.types import UIList

_SOURCE_ICONS = {"SHIPPED": "LOCKED", "USER": "USER", "FILE": "IMPORT", "BLEND": "BLENDER"}


class MSVFX_UL_genre_mapping(UIList):
    """The eight genres, each with its look and intensity."""

    bl_idname = "MSVFX_UL_genre_mapping"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        st = context.scene.msvfx
        row = layout.row(align=True)
        split = row.split(factor=0.34, align=True)
        split.label(text=item.name, translate=False)
        sub = split.split(factor=0.62, align=True)
        known = item.preset in st.looks
        cell = sub.row(align=True)
        cell.alert = not known
        cell.prop_search(item, "preset", st, "looks", text="", icon="NONE" if known else "ERROR")
        sub.prop(item, "intensity", text="")


class MSVFX_UL_looks(UIList):
    """The looks stored in this .blend."""

    bl_idname = "MSVFX_UL_looks"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=item.label or item.name, icon=_SOURCE_ICONS.get(item.source, "NONE"), translate=False)
        row.label(text=item.name, translate=False)

    def filter_items(self, context, data, propname):
        items = getattr(data, propname)
        flags = [self.bitflag_filter_item] * len(items)
        if self.filter_name:
            needle = self.filter_name.lower()
            flags = [self.bitflag_filter_item if needle in (it.name + " " + it.label).lower() else 0 for it in items]
        return flags, []


class MSVFX_UL_rules(UIList):
    """A look's keyframe rules, one line each."""

    bl_idname = "MSVFX_UL_rules"

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.alert = not item.is_consistent()
        sign = "+" if item.amount >= 0 else ""
        row.label(text=f"{item.event} -> {item.role}.{item.prop} {sign}{item.amount:.2g} ({item.mode})",
                  icon="ERROR" if row.alert else "KEYFRAME", translate=False)


CLASSES = (MSVFX_UL_genre_mapping, MSVFX_UL_looks, MSVFX_UL_rules)
