"""``docs/protocol.md`` and the tests agree: every rule is checked by a test that cites it.

Rules are defined as ``- **[P6]** ...`` list items; a test cites one by naming its id in
brackets in its docstring. A rule no test cites is a promise nothing checks, and a citation
of a rule that does not exist points a reader at nothing (tldraw's sync-core keeps its
``SPEC.md`` and its tests together the same way).
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "docs" / "protocol.md"
TESTS = ROOT / "tests"
RULE_ID = re.compile(r"\[([A-Z][0-9]+)\]")
DEFINITION = re.compile(r"^- \*\*\[([A-Z][0-9]+)\]\*\*", re.MULTILINE)


def defined_rules() -> list[str]:
    return DEFINITION.findall(SPEC.read_text())


def citations() -> dict[str, set[str]]:
    """Rule id -> the tests (``path::name``) whose docstring cites it."""
    cited: dict[str, set[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        if "node_modules" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                    and node.name.startswith("test"):
                for rule in RULE_ID.findall(ast.get_docstring(node) or ""):
                    cited.setdefault(rule, set()).add(
                        f"{path.relative_to(ROOT)}::{node.name}")
    return cited


def test_each_rule_is_defined_once_and_the_spec_refers_only_to_defined_rules():
    rules = defined_rules()
    assert len(rules) > 40
    assert [r for r, n in Counter(rules).items() if n > 1] == []
    referred = set(RULE_ID.findall(SPEC.read_text()))
    assert sorted(referred - set(rules)) == []


def test_every_rule_is_cited_by_a_test():
    cited = citations()
    assert [r for r in defined_rules() if r not in cited] == []


def test_every_cited_rule_exists():
    rules = set(defined_rules())
    unknown = {rule: sorted(tests) for rule, tests in citations().items() if rule not in rules}
    assert unknown == {}
