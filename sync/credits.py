"""Who grew a post: the people whose blocks are in its lineage, by the names they showed
when it was published (issue 23: "grown by Alice with Bob").

A block records its ``author`` (the id of the person whose browser made it). Names are not
in the document: a person's name is what their presence (awareness) says while they are
connected. So at publishing time the names are read from the room's presence; an author
who is not connected then has no name to show and is counted among ``others``. The names
are kept with the post, so renaming oneself later changes no credit given before.

Everything here came from peers, so it is cleaned before it is stored or shown: one line,
no control or format characters, at most :data:`MAX_NAME` characters, and at most
:data:`MAX_NAMES` names (the rest counted as others).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Final

from pycrdt import Doc, Map

from . import awareness, jsontext
from .doc_schema import BLOCKS
from .errors import InputError
from .lineage import Step

MAX_NAME: Final = 50
MAX_NAMES: Final = 12
MAX_AUTHOR_ID: Final = 200


@dataclasses.dataclass(frozen=True, slots=True)
class Credits:
    names: tuple[str, ...] = ()
    others: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"names": list(self.names), "others": self.others}


def clean_name(raw: object) -> str | None:
    """A presence name fit to show and store (see :func:`sync.awareness.clean_name`), at
    most :data:`MAX_NAME` characters, or None if nothing of it is left."""
    return awareness.clean_name(raw, MAX_NAME)


def presence_names(states: Iterable[bytes]) -> dict[str, str]:
    """``user.id`` -> ``user.name`` of each presence state that holds both."""
    out: dict[str, str] = {}
    for raw in states:
        try:
            user = jsontext.loads(raw, what="a presence state").get("user")
        except (InputError, AttributeError):
            continue
        if not isinstance(user, dict) or not isinstance(user.get("id"), str):
            continue
        name = clean_name(user.get("name"))
        if name is not None and len(user["id"]) <= MAX_AUTHOR_ID:
            out.setdefault(user["id"], name)
    return out


def credits_of(doc: Doc[Any], steps: list[Step], names: dict[str, str]) -> Credits:
    """The lineage's authors, the published block's first, then root first; each once."""
    blocks = doc.get(BLOCKS, type=Map)
    authors: list[str] = []
    for step in [*steps[-1:], *steps[:-1]]:
        block = blocks.get(step.block_id)
        author = block.get("author") if isinstance(block, Map) else None
        if isinstance(author, str) and author and author not in authors:
            authors.append(author[:MAX_AUTHOR_ID])
    shown: list[str] = []
    others = 0
    for author in authors:
        name = names.get(author)
        if name is None or len(shown) >= MAX_NAMES:
            others += 1
        elif name not in shown:
            shown.append(name)
    return Credits(tuple(shown), others)


__all__ = ["MAX_NAME", "MAX_NAMES", "Credits", "clean_name", "credits_of", "presence_names"]
