"""Subcommands of the ``mainstage`` CLI, one module each (``add_arguments`` + ``run``).

Command modules import only the standard library at import time, so that
``mainstage --help`` stays fast and needs neither torch nor bpy.
"""
