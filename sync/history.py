"""A room's history: automatic checkpoints of its whole state, and restoring one.

Restoring never rewinds the CRDT: it writes the old content over the current one as a new
change that everyone sees (and that a later restore can take back — a checkpoint of the
state just before is taken first). Shared texts are rewritten in place, so editors bound
to them stay bound.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from typing import Any

import asyncpg
from pycrdt import Array, Doc, Map, Text, XmlElement, XmlFragment, XmlText

from . import doc_schema as schema
from . import jsontext
from .errors import DocumentTooDeepError
from .store import queries


@dataclasses.dataclass(frozen=True, slots=True)
class Restore:
    """On the checkpoint kept just before a restore: who restored (a display name, or
    None), and which checkpoint (its id, and when it was kept: a history thinned since
    still says "Ada restored 18:05")."""

    by: str | None
    to: int | None
    to_created_at: dt.datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"by": self.by, "to": self.to, "to_created_at":
                self.to_created_at.isoformat() if self.to_created_at else None}


@dataclasses.dataclass(frozen=True, slots=True)
class Checkpoint:
    id: int
    room_id: str
    reason: str
    authors: list[str]
    size: int
    created_at: dt.datetime
    restore: Restore | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "authors": self.authors,
                "size": self.size, "created_at": self.created_at.isoformat(),
                "restore": self.restore.to_json() if self.restore else None}


def _authors(value: Any) -> list[str]:
    """A checkpoint's stored authors (a JSON list of names), through the bounded reader."""
    if isinstance(value, str):
        value = jsontext.loads(value, what="a checkpoint's authors", max_bytes=len(value))
    return [str(a) for a in value] if isinstance(value, list) else []


def _checkpoint(row: Any) -> Checkpoint:
    restore = None
    if row["reason"] == "before_restore":
        restore = Restore(row["restored_by"], row["restored_to"], row["restored_to_at"])
    return Checkpoint(row["id"], row["room_id"], row["reason"], _authors(row["authors"]),
                      row["size"], row["created_at"], restore)


class CheckpointStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(self, room_id: str, data: bytes, reason: str, authors: list[str], *,
                     restoring: Checkpoint | None = None,
                     restored_by: str | None = None) -> Checkpoint:
        """Keep ``data`` as a checkpoint. Before a restore, ``restoring`` is the checkpoint
        about to be restored and ``restored_by`` who asked: kept with it, so the history
        can say who restored which version."""
        row = await self.pool.fetchrow(
            queries["insert_checkpoint"], room_id, reason, json.dumps(sorted(authors)),
            len(data), data, restored_by, restoring.id if restoring else None,
            restoring.created_at if restoring else None)
        await self.thin(room_id)
        return _checkpoint(row)

    async def thin(self, room_id: str) -> int:
        """Drop the room's older checkpoints down to the newest of each hour (1 to 7 days
        back), day (to 30 days) and week (before): a room in use for months keeps a few
        hundred, not one per 10 minutes of activity, each a whole copy of its document.
        How many were dropped."""
        status = await self.pool.execute(queries["thin_checkpoints"], room_id)
        return int(status.rsplit(" ", 1)[-1])

    async def list(self, room_id: str, limit: int = 500) -> list[Checkpoint]:
        rows = await self.pool.fetch(queries["list_checkpoints"], room_id, limit)
        return [_checkpoint(r) for r in rows]

    async def get(self, room_id: str, checkpoint_id: int) -> tuple[Checkpoint, bytes] | None:
        row = await self.pool.fetchrow(queries["get_checkpoint"], room_id, checkpoint_id)
        if row is None:
            return None
        return _checkpoint(row), bytes(row["data"])

    async def info(self, room_id: str, checkpoint_id: int) -> Checkpoint | None:
        """The checkpoint without its data (a preview served from the cache needs none)."""
        row = await self.pool.fetchrow(queries["get_checkpoint_info"], room_id, checkpoint_id)
        return None if row is None else _checkpoint(row)


# How deeply maps and arrays may nest in a checkpoint the server previews or restores.
# Arbor's own canvas nests four levels (blocks > block > image > field); a peer can write
# any depth, and walking it recursively (pycrdt's ``to_py``, our ``_assign``) raised
# RecursionError: a 500 on preview and restore. Past some thousands of levels, pycrdt's own
# string conversion overflows the native stack and takes the process down.
MAX_DEPTH = 64


def _check_depth(doc: Doc[Any], limit: int = MAX_DEPTH) -> None:
    """Raise :class:`DocumentTooDeepError` if the canvas's maps and arrays nest deeper than
    ``limit``; walks without recursion, and never past ``limit`` levels."""
    stack: list[tuple[Any, int]] = [(doc.get(key, type=Map), 1) for key in schema.ROOT_KEYS]
    while stack:
        node, level = stack.pop()
        if isinstance(node, Map):
            children: Any = node.values()
        elif isinstance(node, Array):
            children = iter(node)
        elif isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        for child in children:
            if isinstance(child, Map | Array | dict | list):
                if level >= limit:
                    raise DocumentTooDeepError(limit)
                stack.append((child, level + 1))


def _plain(value: Any) -> Any:
    """``value`` as JSON can carry it (the depth was checked): maps and arrays as objects
    and lists, texts as strings; what JSON cannot carry (binary, NaN, infinities, XML and
    subdocuments, which Arbor never writes) as ``null``."""
    if isinstance(value, Map):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, Array):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, Text):
        return str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    return None


def preview(data: bytes) -> dict[str, Any]:
    """The canvas a checkpoint holds, as plain JSON (texts as strings);
    :class:`DocumentTooDeepError` for one nested past :data:`MAX_DEPTH`."""
    doc: Doc[Any] = Doc()
    doc.apply_update(data)
    _check_depth(doc)
    return {key: _plain(doc.get(key, type=Map)) for key in schema.ROOT_KEYS}


def restore_into(doc: Doc[Any], data: bytes) -> None:
    """Make ``doc``'s content equal to the state in ``data``, as ordinary edits.

    A state from before ``meta.prompts`` existed restores as an empty map, not as no map:
    the map stays the one every creator shares (see ``doc_schema.PROMPTS_CLIENT_ID``)."""
    old: Doc[Any] = Doc()
    old.apply_update(data)
    old.apply_update(schema.prompts_map_update())
    _check_depth(old)  # before any change: a refused restore changes nothing
    with doc.transaction():
        for key in schema.ROOT_KEYS:
            _assign(doc.get(key, type=Map), old.get(key, type=Map))


def _assign(target: Map[Any], source: Map[Any]) -> None:
    for key in [k for k in target.keys() if k not in source]:
        del target[key]
    for key, value in source.items():
        current = target.get(key)
        if isinstance(value, Map):
            if not isinstance(current, Map):
                target[key] = Map()
                current = target[key]
            _assign(current, value)
        elif isinstance(value, Text):
            text = str(value)
            if isinstance(current, Text):
                if str(current) != text:
                    del current[0:len(current)]
                    current += text
            else:
                target[key] = Text(text)
        else:
            plain = _plain(value) if isinstance(value, Array) else value
            if isinstance(plain, Doc | XmlFragment | XmlElement | XmlText):  # not Arbor's
                plain = None
            if current != plain:
                target[key] = plain
