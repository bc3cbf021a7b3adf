"""Mainstage VFX for Blender: analyse a house track (beats, drops, sections, genres), keep the
analysis in the .blend, put the music's structure on the timeline, map genres to looks and
drive a stage with them (keyframes, materials, lights, camera), rendered to video with audio.

View3D > Sidebar > Mainstage. See docs/blender.md.

``bpy`` and the Blender modules are imported in :func:`register` only, so the bpy-free
parts (:mod:`.choreo`, :mod:`.color`, the ``mainstage render`` command) import without
Blender.
"""

_unregister_classes = None


def _classes():
    from . import (ops_analyze, ops_presets, ops_show, ops_timeline, panels, preferences, props,  # noqa: F401
                   ui_lists)
    return (
        *props.CLASSES,
        *preferences.CLASSES,
        *ops_analyze.CLASSES,
        *ops_timeline.CLASSES,
        *ops_presets.CLASSES,
        *ops_show.CLASSES,
        *ui_lists.CLASSES,
        *panels.CLASSES,
    )


def register():
    global _unregister_classes
    import bpy

    from . import handlers, props
    reg, _unregister_classes = bpy.utils.register_classes_factory(_classes())
    reg()
    props.register_pointers()
    handlers.register()


def unregister():
    from . import handlers, jobs, props
    jobs.shutdown()
    handlers.unregister()
    props.unregister_pointers()
    if _unregister_classes is not None:
        _unregister_classes()
