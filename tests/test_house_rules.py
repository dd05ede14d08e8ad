"""House rules on the project's own packages: no import circle and no module over 400 lines.

Read from the source with ``ast``, not by importing it: an import inside a function or under
``TYPE_CHECKING`` counts like any other, since both only hide a circle from the interpreter.
An import resolves to the module it names: ``from pkg import mod`` to ``pkg.mod`` when that is
a module, else (a name that ``pkg/__init__.py`` defines or re-exports) to ``pkg``. The parent
packages every import runs anyway are not edges of their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipelines", "transforms", "hostedsuite_emulator", "bench")
MAX_LINES = 400


def find_modules(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under ``packages`` (a package's
    ``__init__.py`` under the package's own name)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "__pycache__" in parts:
                continue
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _known_prefix(name: str, known: dict[str, Path]) -> str | None:
    """The longest dotted prefix of ``name`` that is one of the project's modules."""
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imported_modules(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its source."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: list[str | None] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets += [_known_prefix(alias.name, known) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                # level 1 is the current package, each further dot one package up
                parents = package.split(".")
                parents = parents[: len(parents) - (node.level - 1)]
                base = ".".join([*parents, base] if base else parents)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets.append(submodule if submodule in known else _known_prefix(base, known))
    return {t for t in targets if t is not None and t != name}


def import_circles(known: dict[str, Path]) -> list[list[str]]:
    """Every group of modules that import one another (a strongly connected component of the
    import graph with more than one module), each sorted, the groups sorted."""
    graph = {name: sorted(imported_modules(name, path, known)) for name, path in known.items()}
    # Tarjan's algorithm, iterative: no recursion limit to mind
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, int]] = [(start, 0)]
        while work:
            node, next_edge = work.pop()
            if next_edge == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            if next_edge < len(edges):
                work.append((node, next_edge + 1))
                target = edges[next_edge]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                group: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(groups)


def long_modules(known: dict[str, Path], max_lines: int = MAX_LINES) -> dict[str, int]:
    """Module -> its line count, for the modules over ``max_lines`` lines."""
    counts = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in known.items()
    }
    return {name: lines for name, lines in sorted(counts.items()) if lines > max_lines}


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles(package: str) -> None:
    # the whole project's graph: a circle may run through another package
    circles = [
        group
        for group in import_circles(find_modules(ROOT, PACKAGES))
        if any(m == package or m.startswith(f"{package}.") for m in group)
    ]
    listed = "\n".join(" <-> ".join(group) for group in circles)
    assert not circles, f"import circles through {package} (imports in functions count):\n{listed}"


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_over_400_lines(package: str) -> None:
    long = long_modules(find_modules(ROOT, (package,)))
    listed = ", ".join(f"{name} ({lines} lines)" for name, lines in long.items())
    assert not long, f"modules over {MAX_LINES} lines: {listed}"


# --- the checks themselves, on small packages written here ----------------------------------


def _write(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def test_finds_circles_hidden_in_functions_and_type_checking(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            # a <-> b through an import inside a function
            "pkg/a.py": "def f():\n    from . import b\n",
            "pkg/b.py": "from .a import f\n",
            # c <-> d <-> e through TYPE_CHECKING and an absolute import of a subpackage module
            "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.d\n",
            "pkg/d.py": "from .sub.e import g\n",
            "pkg/sub/__init__.py": "",
            "pkg/sub/e.py": "from ..c import h\n",
            # no circle: f imports g only; g imports nothing of the project
            "pkg/f.py": "import json\nfrom pkg import g\n",
            "pkg/g.py": "import os\n",
            # no circle: a submodule importing its package's __init__, which imports nothing
            "pkg/h.py": "from pkg import nothing_defined_elsewhere\n",
        },
    )
    circles = import_circles(find_modules(tmp_path, ("pkg",)))
    assert circles == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d", "pkg.sub.e"]]


def test_finds_a_circle_through_a_packages_init(tmp_path: Path) -> None:
    # helper imports a name from the package, whose __init__ imports api, which imports
    # helper: pkg -> pkg.api -> pkg.helper -> pkg
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "from .api import run\n",
            "pkg/api.py": "def run():\n    from . import helper\n",
            "pkg/helper.py": "from pkg import run\n",
        },
    )
    assert import_circles(find_modules(tmp_path, ("pkg",))) == [["pkg", "pkg.api", "pkg.helper"]]


def test_finds_modules_over_the_limit(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "pkg/__init__.py": "x = 1\n" * 401,
            "pkg/short.py": "x = 1\n" * 400,
            "pkg/long.py": "x = 1\n" * 402,
        },
    )
    assert long_modules(find_modules(tmp_path, ("pkg",))) == {"pkg": 401, "pkg.long": 402}
