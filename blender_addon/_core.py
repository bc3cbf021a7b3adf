"""Access to the Mainstage core library (``core/``) from the add-on.

The built extension carries a copy of ``core/`` as its subpackage ``<extension>.core``
(core imports itself only relatively, so the copy works there). In a development checkout
the add-on folder has no such copy and the editable install ``mainstage.core`` is used.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

#: True when the extension carries its own copy of core (the built zip).
VENDORED = (Path(__file__).resolve().parent / "core" / "__init__.py").is_file()
#: Absolute package name of core as imported here.
CORE_PACKAGE = f"{__package__}.core" if VENDORED else "mainstage.core"


def module(name: str = "") -> ModuleType:
    """Import ``core.<name>`` (or core itself for ``""``) from the vendored copy or the dev install.

    Raises
    ------
    ImportError
        When core, or a library the module needs, is not importable.
    """
    return importlib.import_module(f"{CORE_PACKAGE}.{name}" if name else CORE_PACKAGE)


def core_root() -> Path:
    """Folder of the core package in use."""
    return Path(module().__file__).resolve().parent
