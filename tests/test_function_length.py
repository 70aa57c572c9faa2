"""No function in topicbert/ is longer than a screen: a longer one is split, as training/loop.py's train was
into its setup and its step loop."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MOST_LINES = 80


def long_functions(source: str, name: str) -> list[str]:
    """'name:line function (N lines)' for each function or method in `source` over MOST_LINES lines, its
    decorators left out and its docstring counted."""
    return [f"{name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
            for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MOST_LINES]


def test_no_function_in_the_package_is_over_80_lines():
    offenders = [line for path in sorted((ROOT / "topicbert").rglob("*.py"))
                 for line in long_functions(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))]
    assert not offenders, f"functions over {MOST_LINES} lines: {'; '.join(offenders)}"


def test_the_rule_names_a_long_function_and_its_length():
    body = "".join(f"        x{i} = {i}\n" for i in range(MOST_LINES))
    source = f"def short():\n    return 1\n\n\nclass A:\n    def long(self):\n{body}"
    assert long_functions(source, "a.py") == [f"a.py:6 long ({MOST_LINES + 1} lines)"]
