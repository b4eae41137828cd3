"""The package's layout: layers that import only downwards (function-level imports included), no
import cycle, and a CLI that only parses, calls the API and hands the result to a renderer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "derivchain"

#: The layers, lowest first: a module may import from its own layer and the ones before it, never after.
LAYERS = (
    ("base", ("derivchain.errors", "derivchain.limits", "derivchain.record", "derivchain.memo", "derivchain.user_text",
              "derivchain.files", "derivchain.result")),
    ("symbolic", ("derivchain.symbolic",)),
    ("model", ("derivchain.model",)),
    ("engines", ("derivchain.engines",)),
    ("verification", ("derivchain.verification",)),
    ("renderers", ("derivchain.renderers",)),
    ("api", ("derivchain.api",)),
    ("cli", ("derivchain.cli", "derivchain.__main__", "derivchain")),
)


def layer_of(module: str) -> int:
    """The index in LAYERS of ``module`` (a package's own modules share its layer); fails for a module in none."""
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > len(best[1])):
                best = (i, p)
    assert best is not None, f"{module} is in no layer: add it to LAYERS in tests/test_layout.py"
    return best[0]


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
                for alias in node.names:  # "from . import api" names a module too
                    candidate = f"{target}.{alias.name}"
                    found.add(candidate if _exists(candidate) else target)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("derivchain")}
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module":
            # import_module(".x", __package__) with a constant name
            if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
                target = node.args[0].value
                if target.startswith("."):
                    target = package + target if target.count(".") == 1 else target
                if target.startswith("derivchain"):
                    found.add(target)
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


def test_every_module_is_in_a_layer():
    for module in _graph():
        layer_of(module)


def test_no_module_imports_from_a_layer_above_its_own():
    graph = _graph()
    wrong = [f"{m} ({LAYERS[layer_of(m)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})"
             for m, targets in sorted(graph.items()) for t in sorted(targets) if layer_of(t) > layer_of(m)]
    assert not wrong, "\n".join(wrong)


def test_the_layer_check_catches_an_upward_import(tmp_path):
    # The check above can fail: a model module importing a renderer is named.
    assert layer_of("derivchain.renderers.text") > layer_of("derivchain.model.network")
    assert layer_of("derivchain.verification.chains") > layer_of("derivchain.engines.backprop")
    with pytest.raises(AssertionError):
        layer_of("derivchain_elsewhere.x")


def test_no_import_cycle():
    graph = _graph()
    for top in ("derivchain", "derivchain.__main__"):  # the package's doors: above everything
        graph.pop(top)
    state: dict[str, int] = {}

    def visit(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack + [nxt]))
            if nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])


def test_nothing_below_the_renderers_imports_typer_or_rich():
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        if layer_of(name) >= layer_of("derivchain.renderers"):
            continue
        tree = ast.parse(path.read_text())
        used = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        used |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level}
        assert not used & {"typer", "rich"}, name


def _commands():
    """(name, function definition) of every command in cli.py (decorated with ``@app.command``)."""
    tree = ast.parse((PACKAGE / "cli.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "command" for d in node.decorator_list):
            yield node.name, node


def test_the_cli_only_parses_calls_the_api_and_renders():
    from derivchain import api

    source = (PACKAGE / "cli.py").read_text()
    tree = ast.parse(source)
    # Nothing of SymPy, and nothing of the layers below the API but the renderers' entry points and errors.
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(m.split(".")[0] in ("sympy", "mpmath") for m in modules)
    assert not {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} & {"sp", "sympy"}
    below = {m for m in modules if m.split(".")[0] in ("model", "engines", "verification", "symbolic")}
    assert not below, below
    commands = dict(_commands())
    assert len(commands) >= 10
    for name, node in commands.items():
        # Each command calls exactly one of the API's tasks; what else it calls of the API are its helpers.
        called = [c.func.attr for c in ast.walk(node) if isinstance(c, ast.Call) and isinstance(c.func, ast.Attribute)
                  and isinstance(c.func.value, ast.Name) and c.func.value.id == "api"]
        tasks = [c for c in called if c in api.TASKS]
        assert len(tasks) == 1, (name, called)
        assert all(c in api.TASKS or c in api.HELPERS for c in called), (name, called)
        # No loops or arithmetic of its own: the work is the API's.
        assert not any(isinstance(n, (ast.For, ast.While, ast.BinOp, ast.ListComp, ast.DictComp)) for n in ast.walk(node)), name


def test_every_subpackage_is_installed():
    # A regular (non-editable) install ships only the packages pyproject.toml names.
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {_module_name(p) for p in PACKAGE.rglob("__init__.py")}
    assert found <= listed, found - listed
