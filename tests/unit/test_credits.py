"""The credit line of a post (sync/credits.py): who is named, in which order, how many
are only counted, and what a presence name is cleaned to."""

from __future__ import annotations

import json

from pycrdt import Doc, Map

from sync.credits import MAX_NAMES, clean_name, credits_of, presence_names
from sync.lineage import Step


def doc_with(authors: list[str]) -> tuple[Doc, list[Step]]:  # type: ignore[type-arg]
    doc: Doc = Doc()  # type: ignore[type-arg]
    blocks = doc.get("blocks", type=Map)
    steps = []
    for n, author in enumerate(authors):
        blocks[f"b{n}"] = Map({"kind": "text", "author": author})
        steps.append(Step(f"b{n}", "text", None, "", None, ()))
    return doc, steps


def test_the_published_blocks_author_comes_first_then_root_first_each_once() -> None:
    doc, steps = doc_with(["u-bob", "u-cy", "u-bob", "", "u-alice"])
    names = {"u-alice": "Alice", "u-bob": "Bob", "u-cy": "Cy"}
    assert credits_of(doc, steps, names).to_json() == {"names": ["Alice", "Bob", "Cy"],
                                                       "others": 0}


def test_authors_without_a_name_are_counted_and_names_are_bounded() -> None:
    authors = [f"u-{n}" for n in range(MAX_NAMES + 3)]
    doc, steps = doc_with([*authors, "u-gone"])
    credits = credits_of(doc, steps, {a: a.upper() for a in authors})
    assert len(credits.names) == MAX_NAMES
    assert credits.others == 4  # three beyond the bound, and the one with no name


def test_presence_names_read_user_id_and_name_and_skip_the_rest() -> None:
    states = [json.dumps({"user": {"id": "u-a", "name": " Ann\n\tLee "}}).encode(),
              json.dumps({"user": {"id": "u-b"}}).encode(), b"not json", b"[1]",
              json.dumps({"user": {"id": 5, "name": "x"}}).encode()]
    assert presence_names(states) == {"u-a": "Ann Lee"}


def test_clean_name_drops_controls_and_format_characters() -> None:
    assert clean_name("\u202eA\u0000B\u200b") == "AB"
    assert clean_name("\u0000 ") is None
    assert clean_name(7) is None
    assert clean_name("y" * 500) == "y" * 50
