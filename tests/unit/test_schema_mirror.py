"""web/src/sync/schema.ts mirrors sync/doc_schema.py: same names, same order."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sync import doc_schema

SCHEMA_TS = Path(__file__).resolve().parents[2] / "web" / "src" / "sync" / "schema.ts"

LISTS = (
    "ROOT_KEYS", "BLOCK_FIELDS", "BLOCK_KINDS", "IMAGE_FIELDS", "STATUSES", "EDGE_FIELDS",
    "META_FIELDS", "AWARENESS_FIELDS",
)
SCALARS = ("SERVER_AWARENESS_FIELD", "SCHEMA_VERSION", "PROTOCOL_VERSION", "PROMPTS_CLIENT_ID",
           "TEXT_W", "TEXT_H")

_CONST = re.compile(r"^export const (\w+)\s*=\s*(.+?)(?:\s+as const)?\s*$", re.S)


def _ts_constants(source: str) -> dict[str, object]:
    """Top-level ``export const NAME = <literal>`` values (string/number lists, scalars)."""
    source = re.sub(r"//[^\n]*", "", source)
    found: dict[str, object] = {}
    for statement in re.split(r"\n(?=export |function |type |interface )", source):
        m = _CONST.match(statement.strip())
        if m is None:
            continue
        name, literal = m.group(1), m.group(2).strip()
        try:
            found[name] = ast.literal_eval(literal)
        except (ValueError, SyntaxError):
            continue  # not a plain literal (objects, expressions): not part of the mirror
    return found


@pytest.fixture(scope="module")
def ts() -> dict[str, object]:
    return _ts_constants(SCHEMA_TS.read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", LISTS)
def test_list_matches(ts: dict[str, object], name: str) -> None:
    assert name in ts, f"{name} is missing from web/src/sync/schema.ts"
    assert list(ts[name]) == list(getattr(doc_schema, name))  # type: ignore[call-overload]


@pytest.mark.parametrize("name", SCALARS)
def test_scalar_matches(ts: dict[str, object], name: str) -> None:
    assert name in ts, f"{name} is missing from web/src/sync/schema.ts"
    assert ts[name] == getattr(doc_schema, name)


def test_parser_reads_lists_and_rejects_a_difference() -> None:
    sample = "export const A = ['x', 'y'] as const\nexport const B = 2\n"
    parsed = _ts_constants(sample)
    assert parsed == {"A": ["x", "y"], "B": 2}
    assert parsed["A"] != ["x", "y", "z"]
