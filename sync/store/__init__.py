"""PostgreSQL storage: named queries, migrations, the store."""

from __future__ import annotations

from ._queries import queries
from .migrate import migrate
from .postgres import Compaction, PostgresStore, RoomRecord, StoredDocument

__all__ = ["Compaction", "PostgresStore", "RoomRecord", "StoredDocument", "migrate", "queries"]
