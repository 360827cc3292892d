"""The package layering the architecture promises, checked on the source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

RISKD = Path(__file__).resolve().parents[1] / "riskd"


def _imports(path: Path) -> Iterator[str]:
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module


def _top_level(path: Path) -> str:
    return path.relative_to(RISKD).parts[0].removesuffix(".py")


def _edges() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in RISKD.rglob("*.py"):
        source = _top_level(path)
        for module in _imports(path):
            parts = module.split(".")
            if len(parts) > 1 and parts[0] == "riskd" and parts[1] != source:
                edges.setdefault(source, set()).add(parts[1])
    return edges


def _cycle_through(start: str, edges: dict[str, set[str]]) -> list[str] | None:
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, trail = stack.pop()
        for after in edges.get(node, ()):
            if after == start:
                return [*trail, start]
            if after not in seen:
                seen.add(after)
                stack.append((after, [*trail, after]))
    return None


def test_riskd_top_level_packages_import_no_cycle() -> None:
    edges = _edges()
    cycles = [cycle for start in edges if (cycle := _cycle_through(start, edges))]
    assert cycles == []


def test_core_imports_nothing_of_riskd_outside_core() -> None:
    outside = {
        f"{path.name}: {module}"
        for path in (RISKD / "core").rglob("*.py")
        for module in _imports(path)
        if module.startswith("riskd.") and not module.startswith("riskd.core")
    }
    assert outside == set()


def test_only_the_cli_imports_ray_or_actors_and_it_does_so_lazily() -> None:
    offenders = set()
    for path in RISKD.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lazy_allowed = path == RISKD / "cli.py"
        top = set(tree.body)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            else:
                continue
            for name in names:
                if name.split(".")[0] in ("ray", "actors") and (node in top or not lazy_allowed):
                    offenders.add(f"{path.relative_to(RISKD)}: {name}")
    assert offenders == set()
