"""The package's layout: no import cycle (function-level imports included), one-way dependencies, a short CLI."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "derivchain"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every derivchain module ``path`` imports, at any level of the file (inside functions too)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("derivchain"):
                # "from . import api" names a module too
                for alias in node.names:
                    candidate = f"{target}.{alias.name}"
                    found.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("derivchain")}
    return {m for m in found if m != name and _exists(m)}


def _exists(module: str) -> bool:
    rel = Path(*module.split("."))
    return (PACKAGE.parent / rel).with_suffix(".py").exists() or (PACKAGE.parent / rel / "__init__.py").exists()


def _graph() -> dict[str, set[str]]:
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        # A package's __init__ is imported with any of its modules: ignore edges to the parents.
        graph[name] = {m for m in _imports(path) if not name.startswith(m + ".")}
    return graph


def test_no_import_cycle():
    graph = _graph()
    for top in ("derivchain", "derivchain.__main__"):  # the package's doors: above everything
        graph.pop(top)
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(nxt_ := node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [nxt]))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[nxt_] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_nothing_below_the_renderers_imports_typer_or_rich():
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if name in ("derivchain.cli",) or name.startswith("derivchain.render"):
            continue
        tree = ast.parse(path.read_text())
        used = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        used |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        assert not used & {"typer", "rich"}, name


def test_the_model_and_engines_do_not_import_the_renderers():
    graph = _graph()
    below = [m for m in graph if m not in ("derivchain", "derivchain.__main__", "derivchain.cli", "derivchain.api", "derivchain.export",
                                            "derivchain.diagram") and not m.startswith("derivchain.render")]
    for m in below:
        assert not any(t.startswith("derivchain.render") or t in ("derivchain.cli", "derivchain.api") for t in graph[m]), m


def test_cli_is_short_and_has_no_sympy():
    source = (PACKAGE / "cli.py").read_text()
    assert len(source.splitlines()) <= 300
    tree = ast.parse(source)
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m.split(".")[0] in ("sympy", "mpmath") for m in modules)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & {"sp", "sympy"}


def test_every_subpackage_is_installed():
    # A regular (non-editable) install ships only the packages pyproject.toml names.
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, found - listed
