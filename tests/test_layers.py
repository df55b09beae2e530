"""The package's layers, checked over its import graph (the contract README's Development
section states): a module imports only from its own layer or lower ones, and no modules import
each other in a cycle. A new module must be given a layer here."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "speechkit"

# lowest first
LAYERS: list[set[str]] = [
    {"_version", "errors", "faults", "matching", "settings", "documents", "safe_pickle", "pool", "engine",
     "testing", "csvsafe", "atomic", "layout", "lexicon", "regions"},
    {"clean", "decode", "segment", "query"},
    {"sources", "metadata", "store", "pgstore", "pgsearch", "storage", "dedup"},
    {"pipeline"},
    {"ingest", "index", "home"},
    {"search", "corpus"},
    {"trends", "keyness", "topics", "themes", "diff", "plots", "report"},
    {"workspace"},
    {"cli", "serve", "__main__", "__init__"},
]


def _module_of(path: Path) -> str:
    rel = path.relative_to(PACKAGE).with_suffix("")
    return ".".join(rel.parts)


def _graph() -> dict[str, set[str]]:
    """module -> the package modules it imports (submodules of `clean` count as `clean`)."""
    modules = {_module_of(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        here = name.split(".")
        package = here if path.name == "__init__.py" else here[:-1]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[: len(package) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                    targets = [mod] + [f"{mod}.{a.name}".strip(".") for a in node.names]
                elif (node.module or "").startswith("speechkit"):
                    mod = node.module[len("speechkit"):].strip(".")
                    targets = [mod] + [f"{mod}.{a.name}".strip(".") for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name[len("speechkit"):].strip(".") for a in node.names if a.name.startswith("speechkit.")]
            for t in targets:
                if t in modules or f"{t}.__init__" in modules:
                    graph[name].add(t)
    return graph


def _layer(module: str) -> int:
    top = module.split(".")[0] or "__init__"
    for i, layer in enumerate(LAYERS):
        if top in layer:
            return i
    raise AssertionError(f"speechkit/{module.replace('.', '/')}.py has no layer in tests/test_layers.py")


def test_every_module_has_a_layer():
    for path in PACKAGE.rglob("*.py"):
        _layer(_module_of(path))


def test_no_module_imports_a_higher_layer():
    upward = []
    for module, imported in _graph().items():
        for target in imported:
            if _layer(target) > _layer(module):
                upward.append(f"{module} -> {target}")
    assert not upward, upward


def test_no_import_cycles_between_modules():
    # within `clean`, the package's __init__ re-exports its steps: that is one module
    graph = {m.split(".")[0] if m.startswith("clean") else m:
             {t.split(".")[0] if t.startswith("clean") else t for t in ts} for m, ts in _graph().items()}
    merged: dict[str, set[str]] = defaultdict(set)
    for m, ts in graph.items():
        merged[m] |= {t for t in ts if t != m}
    seen: dict[str, int] = {}
    cycle: list[str] = []

    def visit(node: str, path: list[str]) -> bool:
        seen[node] = 1
        for nxt in merged.get(node, ()):
            if seen.get(nxt) == 1:
                cycle.extend([*path, node, nxt])
                return True
            if nxt not in seen and visit(nxt, [*path, node]):
                return True
        seen[node] = 2
        return False

    for node in list(merged):
        if node not in seen and visit(node, []):
            break
    assert not cycle, " -> ".join(cycle)


def test_every_default_is_written_once_in_defaults_cfg():
    import dataclasses

    from speechkit.settings import _D, Settings
    fields = {f.name for f in dataclasses.fields(Settings)} - {"home"}
    assert set(_D) == fields
    assert all(str(getattr(Settings(), name)) == str(type(getattr(Settings(), name))(_D[name])) for name in fields)


def test_the_store_interface_is_all_that_the_package_asks_of_a_store():
    """Both backends implement exactly `DocumentStore` (same methods, same parameters), and no
    module reaches past it (SQL, the connection)."""
    import inspect

    from speechkit.pgstore import PgStore
    from speechkit.store import DocumentStore, Store

    declared = {n for n in vars(DocumentStore) if not n.startswith("_") and callable(getattr(DocumentStore, n))}
    for backend, own in ((Store, {"query", "transaction"}), (PgStore, {"transaction"})):
        public = {n for n in dir(backend) if not n.startswith("_") and callable(getattr(backend, n))}
        assert public - declared == own, backend  # their own: for tests, and used inside the class
        assert declared <= public, backend
        for name in declared:
            assert inspect.signature(getattr(backend, name)).parameters.keys() == \
                inspect.signature(getattr(DocumentStore, name)).parameters.keys(), (backend, name)
    reaching = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "store.py":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("query", "transaction", "db", "path"):
                owner = node.value
                name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
                if name == "store":
                    reaching.append(f"{path.name}:{node.lineno} store.{node.attr}")
    assert not reaching
    used = set()
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py":  # there `store` is the setting, a string
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, (ast.Name, ast.Attribute)):
                owner = node.value.id if isinstance(node.value, ast.Name) else node.value.attr
                if owner == "store":
                    used.add(node.attr)
    assert used <= declared | {"META", "close"}, used - declared
