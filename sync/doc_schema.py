"""The canvas document: Yjs root keys, block fields and statuses.

These names are the contract between the web app, the server and the workers.
``web/src/sync/schema.ts`` mirrors them; a test checks that the two lists match.
"""

from __future__ import annotations

from typing import Any, Final

from pycrdt import Doc, Map, Text

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
# A new text block's size (the web app's ``DEFAULT_SIZE.text``): the first prompt block of
# a new canvas has it, as does a block someone adds.
TEXT_W: Final = 260
TEXT_H: Final = 150
IMAGE_FIELDS: Final = ("key", "width", "height", "mime", "thumbKey")
STATUSES: Final = ("idle", "queued", "running", "done", "error", "cancelled")

# Edge fields.
EDGE_FIELDS: Final = ("source", "target", "tool")

# Meta fields.
META_FIELDS: Final = ("title", "createdAt", "schemaVersion", "prompts")
# The Yjs client id that creates the ``meta.prompts`` map. Whoever creates it (the server
# in a new room's first state, a browser in a room made before that) makes the same item,
# this client's clock 0, so two people creating it at once make one map between them, and
# neither first edit is lost in a map that the other's replaces.
PROMPTS_CLIENT_ID: Final = 1

# Awareness: the fields a person's client publishes, and the one the server publishes.
AWARENESS_FIELDS: Final = ("user", "cursor", "viewport", "selection", "following", "spotlight",
                            "restored")
SERVER_AWARENESS_FIELD: Final = "arbor"


def text_of(value: Any) -> str:
    """A document value read as text: a string or a shared text as it is, anything else as
    ``""``. A peer can put a map or an array where text belongs, nested thousands deep, and
    turning such a value into a string recurses in pycrdt's native code until the stack
    overflows and the process dies (at about 20,000 levels): never ``str()`` a value read
    from a document without knowing it is text."""
    return str(value) if isinstance(value, str | Text) else ""


def kind_of(block: Map[Any]) -> str:
    """A block's kind as a string (``"text"`` when it is missing or not a string)."""
    kind = block.get("kind", "text")
    return kind if isinstance(kind, str) else "text"


def finished_image(block: Any, job_id: str) -> bool:
    """Whether ``block`` holds a finished image of job ``job_id``: an attempt of the job made
    and stored it. A retry of the job keeps it, and marking the job's blocks (queued again,
    failed, cancelled) leaves it done. A block a "run again" names is marked ``queued``
    when that job is made, so its old image is made anew."""
    if not isinstance(block, Map) or block.get("jobId") != job_id:
        return False
    image = block.get("image")
    return (block.get("status") == "done" and isinstance(image, dict | Map)
            and bool(image.get("key")))


def prompts_map_update() -> bytes:
    """The update that creates an empty ``meta.prompts``, the same bytes from every creator."""
    doc: Doc[Any] = Doc(client_id=PROMPTS_CLIENT_ID)
    doc.get(META, type=Map)["prompts"] = Map()
    return doc.get_update()
