"""The package structure: imports run one way (core <- training, core <- blender_addon), no cycles.

Every module of the installed packages and of ``bench/`` and ``tools/`` is parsed, and each
import is resolved to a file of the repository: ``import``/``from`` statements at any depth
(lazy imports inside functions count) and string imports (``importlib.import_module("...")``,
``__import__("...")``, ``find_spec("...")``). See docs/architecture.md.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: Package folder -> its importable name.
PACKAGES = {"core": "mainstage.core", "training": "mainstage.training", "blender_addon": "mainstage.blender_addon"}
#: Which top-level folders each may import from (besides itself).
ALLOWED = {
    "core": set(),
    "training": {"core"},
    "blender_addon": {"core"},
    "bench": {"core", "training", "blender_addon"},
    "tools": {"core", "training", "blender_addon"},
    "tests": set(),  # nothing imports the tests
}
STRING_IMPORTERS = {"import_module", "__import__", "find_spec"}


def _sources():
    for top in ALLOWED.keys() - {"tests"}:
        for p in sorted((ROOT / top).rglob("*.py")):
            rel = p.relative_to(ROOT)  # rglob does not enter the blender_addon/core symlink
            if "__pycache__" not in rel.parts:
                yield rel


def _module_name(rel: Path) -> list[str]:
    """The dotted name of a source file, as parts (``core/genre/model.py`` -> mainstage.core.genre.model)."""
    parts = list(rel.with_suffix("").parts)
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    return ["mainstage", *parts] if parts[0] in PACKAGES else parts


def _file_of(name: list[str]) -> Path | None:
    """The repository file of a module name given as parts, or None when it is not ours."""
    if len(name) < 2 or name[0] != "mainstage" or name[1] not in PACKAGES:
        return None
    parts = name[1:]
    if parts[:2] == ["blender_addon", "core"]:  # the add-on's core is core/
        parts = parts[1:]
    base = ROOT.joinpath(*parts)
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand.relative_to(ROOT)
    return None


#: Modules of the test suite (a package folder of its own and its helpers on sys.path).
TEST_MODULES = {"tests", "conftest", "toy_audio", "synth_measures", "_harness", "show_fixtures"}


def _targets(rel: Path, node) -> list[list[str]]:
    """Module names (as parts) that one import node refers to."""
    here = _module_name(rel)
    pkg = here if rel.name == "__init__.py" else here[:-1]
    out = []
    if isinstance(node, ast.Import):
        out += [a.name.split(".") for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            if node.level - 1 >= len(pkg):
                return [["<outside the package>"]]
            base = pkg[: len(pkg) - (node.level - 1)]
            mod = [*base, *(node.module.split(".") if node.module else [])]
        else:
            mod = (node.module or "").split(".")
        for a in node.names:  # "from x import y": y may be a submodule
            sub = [*mod, a.name]
            out.append(sub if _file_of(sub) is not None else mod)
    elif isinstance(node, ast.Call):
        fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if fn in STRING_IMPORTERS and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and not node.args[0].value.startswith("."):
            out.append(node.args[0].value.split("."))
    return out


def _graph() -> dict[Path, set[Path]]:
    """``{source file: files it imports}``; imports of the tests appear as ``tests/<name>``."""
    graph: dict[Path, set[Path]] = {}
    for rel in _sources():
        edges = graph.setdefault(rel, set())
        for node in ast.walk(ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=str(rel))):
            for target in _targets(rel, node):
                if target[0] in TEST_MODULES or target[0] == "<outside the package>":
                    edges.add(Path("tests" if target[0] in TEST_MODULES else target[0], *target[1:]))
                elif (f := _file_of(target)) is not None and f != rel:
                    edges.add(f)
    return graph


GRAPH = _graph()


def test_the_graph_is_read():
    assert len(GRAPH) > 100
    assert Path("core/genre/model.py") in GRAPH[Path("core/genre/inference.py")]
    assert Path("core/timeline/__init__.py") in GRAPH[Path("blender_addon/show/summary.py")]  # through the symlink
    assert Path("core/genre/features.py") in GRAPH[Path("training/features/prepare.py")]
    assert Path("core/genre/inference.py") in GRAPH[Path("bench/bench_genre_inference.py")]


@pytest.mark.parametrize("top", sorted(ALLOWED.keys() - {"tests"}))
def test_imports_run_one_way(top):
    offenders = [f"{src} -> {dst}" for src, dsts in GRAPH.items() if src.parts[0] == top
                 for dst in sorted(dsts) if dst.parts[0] != top and dst.parts[0] not in ALLOWED[top]]
    assert not offenders, f"{top}/ may import only {sorted(ALLOWED[top]) or 'itself'}: {offenders}"


def test_the_addon_imports_core_as_its_own_subpackage():
    """The same ``from ..core import x`` works in the checkout (symlink) and in the built zip (copy)."""
    link = ROOT / "blender_addon" / "core"
    assert link.is_symlink() and link.resolve() == (ROOT / "core").resolve()
    offenders = []
    for rel in _sources():
        if rel.parts[0] != "blender_addon" or rel.parts[:2] == ("blender_addon", "headless"):
            continue
        for node in ast.walk(ast.parse((ROOT / rel).read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            offenders += [f"{rel}:{node.lineno} {n}" for n in names if n.split(".")[0] == "mainstage"]
    assert not offenders, offenders


def _cycles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on: set[Path] = set()
    out: list[list[Path]] = []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    assert not _cycles(GRAPH), _cycles(GRAPH)


def test_the_checks_can_fail():
    """A back-edge and a cycle planted in a copy of the graph are found."""
    g = {k: set(v) for k, v in GRAPH.items()}
    g[Path("core/genre/model.py")].add(Path("training/train.py"))
    assert [src for src, dsts in g.items() if src.parts[0] == "core"
            for dst in dsts if dst.parts[0] != "core"] == [Path("core/genre/model.py")]
    g[Path("core/hashing.py")].add(Path("core/genre/model.py"))
    g[Path("core/genre/model.py")].add(Path("core/hashing.py"))
    assert any(Path("core/hashing.py") in c for c in _cycles(g))


def test_the_addon_core_is_the_installed_core_in_a_checkout():
    """In a pip install, ``mainstage.blender_addon.core`` is ``mainstage.core``: one copy of each module."""
    import importlib
    import importlib.resources

    import mainstage.blender_addon  # noqa: F401  (installs the alias)
    import mainstage.core.errors
    import mainstage.core.genre.model

    for name in ("errors", "genre.model", "timeline", "schemas"):
        alias = importlib.import_module(f"mainstage.blender_addon.core.{name}")
        real = importlib.import_module(f"mainstage.core.{name}")
        assert alias is real, name
        assert real.__spec__.name == f"mainstage.core.{name}", name  # its own spec, not the alias's
    assert not hasattr(mainstage.core.errors, "__path__")  # a module stays a module
    assert importlib.resources.files("mainstage.core.schemas").joinpath("timeline.schema.json").is_file()


def test_every_import_of_our_namespace_resolves_to_a_file():
    """A relative import one level too deep (``from ...synthhouse`` for ``..synthhouse``) lands
    on a name that does not exist; lazy imports inside functions only fail when they run."""
    missing = []
    for rel in _sources():
        if rel.parts[0] not in PACKAGES:
            continue
        for node in ast.walk(ast.parse((ROOT / rel).read_text(encoding="utf-8"), filename=str(rel))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            for target in _targets(rel, node):
                if target == ["<outside the package>"] or (target[:2] == ["mainstage", "blender_addon"] and
                                                         target[2:3] == ["core"]):
                    continue
                if target[0] == "mainstage" and _file_of(target) is None and _file_of(target[:-1]) is None:
                    missing.append(f"{rel}:{node.lineno} {'.'.join(target)}")
    assert not missing, missing
