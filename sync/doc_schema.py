"""The canvas document: Yjs root keys, block fields and statuses.

These names are the contract between the web app, the server and the workers.
``web/src/sync/schema.ts`` mirrors them; a test checks that the two lists match.
"""

from __future__ import annotations

from typing import Final

# Version of the document layout below. Stored in ``meta.schemaVersion``; bumped by one
# for each migration of the layout.
SCHEMA_VERSION: Final = 1
# Version of the wire protocol as spoken by Arbor clients (``?protocol=`` on the socket).
PROTOCOL_VERSION: Final = 1

# Root shared types.
BLOCKS: Final = "blocks"
EDGES: Final = "edges"
META: Final = "meta"
ROOT_KEYS: Final = (BLOCKS, EDGES, META)

# Block fields.
BLOCK_FIELDS: Final = (
    "kind", "x", "y", "w", "h", "text", "image", "status", "jobId", "tool", "error",
    "progress", "author", "createdAt", "model",
)
BLOCK_KINDS: Final = ("text", "image")
IMAGE_FIELDS: Final = ("key", "width", "height", "mime", "thumbKey")
STATUSES: Final = ("idle", "queued", "running", "done", "error", "cancelled")

# Edge fields.
EDGE_FIELDS: Final = ("source", "target", "tool")

# Meta fields.
META_FIELDS: Final = ("title", "createdAt", "schemaVersion", "prompts")

# Awareness: the fields a person's client publishes, and the one the server publishes.
AWARENESS_FIELDS: Final = ("user", "cursor", "viewport", "selection", "following", "spotlight")
SERVER_AWARENESS_FIELD: Final = "arbor"
