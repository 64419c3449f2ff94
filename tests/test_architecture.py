"""The layout reads as the architecture: imports go only downward through the layers, nothing imports in a
circle, no step imports an engine, no engine names a step, and no module grows past about 400 lines.

Every import is counted, the ones inside functions too (a lazy import is still a dependency).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "notus_data"
#: Lower layers first; a module may import its own layer or a lower one. The first prefix that matches counts.
LAYERS = [
    (
        "core",
        (
            "__init__",
            "errors",
            "report",
            "schema",
            "normalize",
            "formats",
            "stats",
            "length",
            "draws",
            "critique",
            "progress",
            "synthetic",
            "sources",
        ),
    ),
    ("io", ("io",)),
    ("decontamination", ("decontamination",)),
    ("steps", ("steps",)),
    ("engines", ("engines",)),
    ("pipeline", ("pipeline",)),
    ("jobs", ("jobs", "card", "plots", "recipes", "review", "train")),
    ("cli", ("cli",)),
]
MAX_LINES = 420


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(p for p in parts if p != "__init__") or "__init__"


def layer(module: str) -> int:
    """The layer of ``module``: the one with the longest prefix of its name (``sources.pairs`` before ``sources``)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        for rank, (_, prefixes) in enumerate(LAYERS):
            if ".".join(parts[:n]) in prefixes:
                return rank
    raise AssertionError(f"notus_data.{module} is in no layer: add it to LAYERS in {__file__}")


def imports(path: Path) -> set[str]:
    """The notus_data modules ``path`` imports (relative to the package), anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("notus_data"):
            base = node.module.removeprefix("notus_data").lstrip(".")
            for alias in node.names:  # `from notus_data.io import sources` imports a module
                candidate = f"{base}.{alias.name}" if base else alias.name
                found.add(candidate if resolves(candidate) else base or "__init__")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("notus_data"):
                    found.add(alias.name.removeprefix("notus_data").lstrip(".") or "__init__")
    return found


def resolves(module: str) -> bool:
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
GRAPH = {name: {m for m in imports(path) if m != name} for name, path in MODULES.items()}


def test_every_import_goes_down_the_layers():
    wrong = [
        f"notus_data.{a} ({LAYERS[layer(a)][0]}) imports notus_data.{b} ({LAYERS[layer(b)][0]})"
        for a, deps in GRAPH.items()
        for b in deps
        if layer(b) > layer(a)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle():
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH.get(node, ())):
            if dep not in MODULES:
                continue
            if state.get(dep) == 1:
                cycle = stack[stack.index(dep) :] + [dep]
                pytest.fail("import cycle: " + " -> ".join(f"notus_data.{m}" for m in cycle))
            if dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(MODULES):
        if module not in state:
            visit(module)


def test_steps_import_no_engine_and_engines_name_no_step():
    for name, deps in GRAPH.items():
        if name.startswith("steps"):
            assert not [d for d in deps if d.startswith(("engines", "pipeline"))], name
    step_classes = set()
    for name, path in MODULES.items():
        if name.startswith("steps"):
            step_classes |= set(re.findall(r"^class (\w+Step)\b", path.read_text(), flags=re.M))
    assert len(step_classes) >= 7
    for name, path in MODULES.items():
        if name.startswith("engines") or name == "pipeline":
            text = path.read_text()
            named = sorted(c for c in step_classes if re.search(rf"\b{c}\b", text))
            assert not named, f"notus_data.{name} names the steps {named}"


def test_no_module_is_longer_than_about_400_lines():
    long = {
        name: n for name, path in MODULES.items() if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, long
