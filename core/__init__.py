"""Mainstage VFX core: audio in, a timeline out (pure Python, no bpy, no torch)."""
__version__ = "0.1.0"
