"""The add-on's ``.core`` in a development install: the installed ``mainstage.core`` itself.

The add-on imports the runtime as ``from ..core import timeline``. In the built
extension ``core/`` is a copy inside the add-on folder. In a checkout ``blender_addon/core``
is a symlink to ``../core`` (so editors and type checkers resolve those imports), and
``pip install -e .`` also installs that folder as ``mainstage.core``. Importing it a
second time as ``mainstage.blender_addon.core`` would make two copies of every module
(two ``MainstageError`` classes the CLI could not catch as one, two model caches), so
this finder maps every ``mainstage.blender_addon.core[.X]`` onto ``mainstage.core[.X]``.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

CANONICAL = "mainstage.core"


class _CoreAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, alias: str):
        self.alias = alias
        self._specs: dict[str, object] = {}

    def find_spec(self, name, path=None, target=None):
        if name != self.alias and not name.startswith(self.alias + "."):
            return None
        module = importlib.import_module(CANONICAL + name[len(self.alias):])
        self._specs[name] = module.__spec__
        return importlib.util.spec_from_loader(name, self, is_package=hasattr(module, "__path__"))

    def create_module(self, spec):
        return sys.modules[self._specs[spec.name].name]

    def exec_module(self, module):
        # The import system set the alias spec on the canonical module; give it its own back.
        module.__spec__ = self._specs.pop(module.__spec__.name)


def alias_core(addon_package: str) -> None:
    """Make ``<addon_package>.core`` (and its submodules) resolve to :data:`CANONICAL`."""
    alias = f"{addon_package}.core"
    if not any(isinstance(f, _CoreAlias) and f.alias == alias for f in sys.meta_path):
        sys.meta_path.insert(0, _CoreAlias(alias))
