"""Mainstage VFX for Blender: analyze a house track (beats, drops, sections, genres), keep the
analysis in the .blend, put the music's structure on the timeline, map genres to looks and
drive a stage with them (keyframes, materials, lights, camera), rendered to video with audio.

View3D > Sidebar > Mainstage. See docs/blender.md.

Sub-packages by role: :mod:`.ui` (operators, panels, lists), :mod:`.scene` (what is
written into the .blend: properties, stage, keys, sync, render), :mod:`.show` (bpy-free
planning of the show) and :mod:`.core` (the Mainstage runtime, vendored whole in the
built extension). ``bpy`` is imported in :func:`register` only, so the bpy-free parts
import without Blender.
"""
if __name__ == "mainstage.blender_addon":
    # Installed with pip beside mainstage.core (a checkout): the add-on's ``.core`` is that
    # same package, not a second copy of it (see _dev_core.py). In the built extension
    # ``core/`` is a real folder inside the add-on and this does nothing.
    from . import _dev_core

    _dev_core.alias_core(__name__)

_unregister_classes = None

#: Interface translations, ``{locale: {(context, message): translation}}``, registered with
#: Blender's translation system (labels use ``bpy.app.translations.pgettext_iface``); none
#: are shipped yet: add a locale here, e.g. ``"de_DE": {("*", "Analyze Track"): "Track analysieren"}``.
TRANSLATIONS: dict = {}


def _classes():
    from . import preferences
    from .scene import props
    from .ui import lists, ops_analyze, ops_inputs, ops_presets, ops_show, ops_timeline, panels
    return (
        *props.CLASSES,
        *preferences.CLASSES,
        *ops_analyze.CLASSES,
        *ops_timeline.CLASSES,
        *ops_presets.CLASSES,
        *ops_show.CLASSES,
        *ops_inputs.CLASSES,
        *lists.CLASSES,
        *panels.CLASSES,
    )


def register():
    global _unregister_classes
    import bpy

    from . import handlers
    from .scene import props
    reg, _unregister_classes = bpy.utils.register_classes_factory(_classes())
    reg()
    props.register_pointers()
    handlers.register()
    bpy.app.translations.register(__name__, TRANSLATIONS)


def unregister():
    import bpy

    from . import handlers, jobs
    from .scene import props
    try:
        bpy.app.translations.unregister(__name__)
    except (ValueError, RuntimeError):
        pass  # not registered (a failed register)
    jobs.shutdown()
    handlers.unregister()
    props.unregister_pointers()
    if _unregister_classes is not None:
        _unregister_classes()
