"""Named SQL blocks from ``queries.sql``, parsed once at import (``-- name --`` headers)."""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^-- ([a-z_][a-z0-9_]*) --$", re.MULTILINE)


def parse(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    out: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in out:
            raise ValueError(f"query {name} defined twice")
        out[name] = body.strip()
    return out


queries = parse((Path(__file__).parent / "queries.sql").read_text())
