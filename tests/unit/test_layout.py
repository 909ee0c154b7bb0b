"""The package is a layered house: no import circle between aibnb's modules, no module too large."""

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "aibnb"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the aibnb modules it imports (anywhere in its body, lazy imports included).

    A package's ``__init__`` is a node like any module: ``from aibnb.models import build_model`` is an
    arrow to the package, whose ``__init__`` imports its submodules, so a submodule that imports its own
    package's facade closes a circle (the one that fails at import time). The arrow every submodule has
    to its parent package (Python runs the ``__init__`` first) is not drawn: the facade importing its
    children is the package's normal shape.
    """
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                names = [f"{base}.{alias.name}" for alias in node.names]
                # ``from aibnb.data import cluttered`` imports the submodule (Python finds it even while the
                # package is half-initialised); only a name defined by the package's body needs its facade
                submodules = [t for t in names if t in files]
                targets = submodules if len(submodules) == len(names) else [base, *submodules]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            graph[module] |= {t for t in targets if t in files and t != module}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if not state.get(nxt) and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if not state.get(node) and (found := visit(node)):
            return found
    return None


def test_no_import_circle_in_aibnb():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_circle_finder_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


#: the only imports allowed inside a function: the book's extras (a library import must not need them)
#: and scikit-learn (a second to import; only the digits dataset uses it)
DEFERRED_IMPORTS = {"pandas", "myst_nb", "IPython", "matplotlib_inline", "sklearn"}


def imports_inside_functions(package: Path = PACKAGE) -> list[str]:
    """``path:line module`` of every import inside a function body of aibnb (``if TYPE_CHECKING``
    blocks sit at module level and are not counted)."""
    found = []
    for path in sorted(package.rglob("*.py")):
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom):
                    names = ["." * node.level + (node.module or "")]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                else:
                    continue
                found += [f"{path.relative_to(package.parent)}:{node.lineno} {n}" for n in names]
    return sorted(set(found))


def test_imports_sit_at_the_module_top():
    """The real dependency graph is the one at the top of each module: an import hidden in a function
    is either one of the deliberately deferred optional dependencies or a circle being papered over."""
    hidden = [f for f in imports_inside_functions() if f.split()[1].split(".")[0] not in DEFERRED_IMPORTS]
    assert not hidden, "imports inside functions (move them to the module top): " + ", ".join(hidden)


def test_the_hidden_import_finder_sees_package_and_relative_imports(tmp_path):
    (tmp_path / "mod.py").write_text(
        "import os\n\ndef f():\n    from aibnb import data\n    from . import x\n    import pandas\n"
    )
    found = imports_inside_functions(tmp_path)
    assert sorted(f.split()[1] for f in found) == [".", "aibnb", "pandas"]


#: "about 450 lines": one idea per module; a module that grows past this holds two
MAX_MODULE_LINES = 460


def test_no_module_holds_several_ideas_by_size():
    sizes = {p.relative_to(PACKAGE.parent).as_posix(): len(p.read_text().splitlines())
             for p in PACKAGE.rglob("*.py")}
    large = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not large, f"modules over {MAX_MODULE_LINES} lines (split them by idea): {large}"


def test_the_package_lists_and_loads_each_of_its_pieces():
    """``aibnb``'s docstring table and ``__all__`` name every top-level module and package, and each
    loads on first use (``aibnb.vib`` without ``import aibnb.vib``); an unknown name is refused."""
    aibnb = importlib.import_module("aibnb")
    pieces = {p.stem for p in PACKAGE.glob("*.py")} | {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    pieces -= {"__init__", "__main__"}
    assert set(aibnb.__all__) - {"__version__"} == pieces
    lines = aibnb.__doc__.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("====")]
    table = {line.split()[0] for line in lines[rules[0] + 1 : rules[1]]}
    assert pieces <= table, f"the docstring's table lacks {sorted(pieces - table)}"
    assert aibnb.vib.__name__ == "aibnb.vib"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        aibnb.nope  # noqa: B018 - the module's __getattr__ is what is tested
