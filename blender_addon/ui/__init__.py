"""Operators, panels and lists: what the user sees in the 3D viewport sidebar."""
