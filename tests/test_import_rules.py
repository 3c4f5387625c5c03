"""Layering rule (BRIEF.md, STYLE.md rule 4): the domain, the hardware layer and
the database layer never import Textual, so they run headless (CLI, replay,
services) and the console stays a thin front end.

Checked statically: every ``.py`` file under ``attendant/core``, ``hardware``
and ``db`` is parsed with :mod:`ast` and its ``import`` / ``from ... import``
statements (at any depth, including inside functions) are inspected.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEXTUAL_FREE = ("attendant/core", "hardware", "db")
FORBIDDEN = ("textual",)


def imported_modules(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, module) of every import in ``source``; relative imports give their dotted tail."""
    tree = ast.parse(source, filename=filename)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__" and node.args:
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append((node.lineno, arg.value))
    return found


def python_files() -> list[Path]:
    files = [path for folder in TEXTUAL_FREE for path in sorted((ROOT / folder).rglob("*.py"))]
    assert files, "no source files found: wrong ROOT?"
    return files


def test_the_checker_sees_textual_imports():
    source = "import textual\nfrom textual.app import App\ndef f():\n    import textual.widgets as w\n"
    assert [m for _l, m in imported_modules(source, "<t>")] == ["textual", "textual.app", "textual.widgets"]


@pytest.mark.parametrize("path", python_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_layer_never_imports_textual(path: Path):
    offending = [
        f"{path.relative_to(ROOT)}:{line}: imports {module}"
        for line, module in imported_modules(path.read_text(encoding="utf-8"), str(path))
        if module.split(".")[0] in FORBIDDEN
    ]
    assert not offending, "\n".join(offending)
