"""Blender without its interface: the ``render`` and ``preview`` commands of the ``mainstage`` CLI.

Tooling of the command line (the ``bpy`` module in a normal Python), not part of the
built extension. :mod:`.renderer` drives the add-on in-process; the ``*_command``
modules are the subcommands registered in ``pyproject.toml``.
"""
