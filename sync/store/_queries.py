"""Named SQL blocks from the ``*.sql`` files beside this module (``-- name --`` headers),
parsed once at import: ``queries["get_room"]``."""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^-- ([a-z_][a-z0-9_]*) --$", re.MULTILINE)


def parse(text: str, into: dict[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {} if into is None else into
    parts = _HEADER.split(text)
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in out:
            raise ValueError(f"query {name} defined twice")
        out[name] = body.strip()
    return out


queries: dict[str, str] = {}
for _path in sorted(Path(__file__).parent.glob("*.sql")):
    parse(_path.read_text(), queries)
