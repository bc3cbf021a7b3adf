"""``mainstage`` subcommands that need Blender (``bpy`` is imported inside ``run`` only)."""
