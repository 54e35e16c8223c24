"""Server-owned awareness (presence) of one room.

Why not the stock ``pycrdt.Awareness`` relay: pycrdt-websocket forwards awareness frames
before parsing them, so invalid JSON reaches every client; any socket can overwrite or
remove another client's entry; a late joiner waits up to 15 s for peers' presence; and
stock y-websocket clients echo every change they see back, so a blind relay grows traffic
with the cube of the number of people. Here the server:

- parses every update and drops malformed ones (the caller closes that connection);
- drops the ``arbor`` field from every state a peer sends: only the server's own entry
  says what is saved;
- binds a client id to the connection that first claimed it: a connection claims one id
  (its own, in its first awareness message); entries for ids owned by someone else, which
  stock clients echo as a matter of course, are ignored and never relayed;
- keeps the current state of every peer and hands it to a joiner at once;
- coalesces changes: at most one message per recipient per tick, never echoing a
  person's own entry back to them;
- removes a connection's entries when it leaves, and any entry not renewed in time.

Clocks: the server keeps the clock it announces (``out``) apart from the owner's clock
(``in``). When a person reconnects, their client resumes with its old clock, lower than
the removal the others saw; the announced clock jumps past that removal so the others
accept the returning presence at once instead of after two renewals.

Awareness is never stored.
"""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
from collections.abc import Callable
from typing import Any

from . import jsontext
from .doc_schema import SERVER_AWARENESS_FIELD
from .errors import InputError
from .protocol import AwarenessEntry, write_bytes, write_uint

NULL = b"null"


@dataclasses.dataclass(slots=True)
class _State:
    in_clock: int
    out_clock: int
    raw: bytes  # JSON text; b"null" once removed
    owner: object  # None once released
    seen: float


@dataclasses.dataclass(frozen=True, slots=True)
class Changes:
    """One tick's changes: encoded entries with their owners."""

    entries: list[tuple[bytes, object]]

    def message_for(self, recipient: object, hide: object = None) -> bytes | None:
        """The awareness update ``recipient`` should get (never its own entries), leaving
        out those of ``hide`` (the server's, for a peer that did not ask for them)."""
        parts = [enc for enc, owner in self.entries
                 if owner is None or (owner != recipient and owner is not hide)]
        if not parts:
            return None
        return write_uint(len(parts)) + b"".join(parts)

    def owned_by(self, owners: Callable[[object], bool]) -> bytes | None:
        parts = [enc for enc, owner in self.entries if owners(owner)]
        if not parts:
            return None
        return write_uint(len(parts)) + b"".join(parts)

    def has(self, owner: object) -> bool:
        return any(o is owner for _, o in self.entries)

    def owners(self) -> set[object]:
        return {owner for _, owner in self.entries if owner is not None}


def _encode(cid: int, st: _State) -> bytes:
    return write_uint(cid) + write_uint(st.out_clock) + write_bytes(st.raw)


def _as_peer(raw: bytes, state: dict[str, Any]) -> bytes:
    """A peer's state as the room keeps and relays it: without the field only the server's
    own entry may carry (``arbor``: what is saved). The web app believes whatever entry
    says so, and a peer that forged it made everyone's unsaved work look saved."""
    if SERVER_AWARENESS_FIELD not in state:
        return raw  # as sent, byte for byte (the usual case: nothing to re-encode)
    del state[SERVER_AWARENESS_FIELD]
    return json.dumps(state, separators=(",", ":")).encode()  # ASCII: lone surrogates too


_names: dict[bytes, str | None] = {}  # presence state -> its user.name (see user_name)


def clean_name(raw: object, limit: int = 100) -> str | None:
    """A name a peer published, fit to show and to store: one line, no control, format or
    surrogate characters (a NUL in a presence name made the room's history unstorable:
    PostgreSQL's text refuses it), at most ``limit`` characters; None if nothing is left."""
    if not isinstance(raw, str):
        return None
    kept = "".join(" " if ch.isspace() else ch for ch in raw[:1000]
                   if ch.isspace() or not unicodedata.category(ch).startswith("C"))
    name = " ".join(kept.split())[:limit].strip()
    return name or None


def _name_in(raw: bytes) -> str | None:
    try:
        user = jsontext.loads(raw, max_bytes=len(raw)).get("user")
    except (InputError, AttributeError):
        return None
    return clean_name(user.get("name")) if isinstance(user, dict) else None


class AwarenessRegistry:
    def __init__(self, *, timeout: float, now: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self._now = now
        self._states: dict[int, _State] = {}
        self._owned: dict[object, set[int]] = {}
        self._dirty: set[int] = set()

    # --- input ------------------------------------------------------------------------

    def apply(self, owner: object, entries: list[AwarenessEntry], *,
              max_ids: int | None = 1) -> bool:
        """Apply entries sent by ``owner``; returns whether anything changed.

        ``max_ids`` is how many ids this owner may claim (one for a browser connection,
        ``None`` for another server process relaying its own clients).
        """
        changed = False
        now = self._now()
        owned = self._owned.setdefault(owner, set())
        for e in entries:
            st = self._states.get(e.client_id)
            if st is not None and st.owner is not None and st.owner != owner:
                continue  # an echo of someone else's presence, or a forgery: never parsed
            state = e.state  # checks the JSON
            raw = NULL if state is None else _as_peer(e.raw, state)
            if st is None or st.owner is None:
                if raw == NULL or (max_ids is not None and len(owned) >= max_ids):
                    continue
                owned.add(e.client_id)
                if st is None:
                    self._states[e.client_id] = _State(e.clock, e.clock, raw, owner, now)
                else:
                    st.owner = owner
                    st.in_clock = e.clock
                    st.out_clock = max(st.out_clock + 1, e.clock)
                    st.raw = raw
                    st.seen = now
                self._dirty.add(e.client_id)
                changed = True
                continue
            if st.owner != owner or e.clock < st.in_clock:
                continue  # an echo of someone else's presence, a forgery, or stale
            if e.clock == st.in_clock and raw == st.raw:
                continue  # a duplicate: nothing to tell anyone
            st.seen = now
            st.out_clock += max(1, e.clock - st.in_clock)
            st.in_clock = e.clock
            st.raw = raw
            if raw == NULL:  # the owner withdrew its presence: the id is free again
                st.owner = None
                owned.discard(e.client_id)
            self._dirty.add(e.client_id)
            changed = True
        if not owned:
            del self._owned[owner]
        return changed

    def set_own(self, owner: object, client_id: int, raw: bytes,
                announce: bool = True) -> bytes:
        """Set an entry this process owns outright (the server's own presence). With
        ``announce``, the next tick's changes include it; without, the caller sends the
        returned awareness update (this entry alone) itself."""
        st = self._states.get(client_id)
        now = self._now()
        if st is None:  # clock 1: a stock client ignores a new id's entry at clock 0
            self._states[client_id] = _State(1, 1, raw, owner, now)
            self._owned.setdefault(owner, set()).add(client_id)
        else:
            st.in_clock += 1
            st.out_clock += 1
            st.raw = raw
            st.seen = now
        if announce:
            self._dirty.add(client_id)
        return write_uint(1) + _encode(client_id, self._states[client_id])

    def remove_owner(self, owner: object) -> bool:
        """A connection left: its entries become ``null`` for everyone."""
        ids = self._owned.pop(owner, set())
        for cid in ids:
            st = self._states.get(cid)
            if st is not None:
                self._release(cid, st)
        return bool(ids)

    def _release(self, cid: int, st: _State) -> None:
        if st.raw != NULL:
            st.out_clock += 1
            st.raw = NULL
            self._dirty.add(cid)
        if st.owner is not None:
            owned = self._owned.get(st.owner)
            if owned is not None:
                owned.discard(cid)
                if not owned:
                    del self._owned[st.owner]
        st.owner = None

    def expire(self) -> bool:
        """Release entries not renewed within the timeout (a peer that died silently)."""
        now = self._now()
        deadline = now - self.timeout
        changed = False
        for cid, st in list(self._states.items()):
            if st.owner is not None and st.seen < deadline:
                self._release(cid, st)
                changed = True
            elif st.owner is None and st.seen < deadline - self.timeout and cid not in self._dirty:
                del self._states[cid]  # long-released tombstone
        return changed

    # --- output -----------------------------------------------------------------------

    def has_changes(self) -> bool:
        return bool(self._dirty)

    def take_changes(self) -> Changes | None:
        if not self._dirty:
            return None
        entries = []
        for cid in self._dirty:
            st = self._states.get(cid)
            if st is not None:
                entries.append((_encode(cid, st), st.owner))
        self._dirty.clear()
        return Changes(entries) if entries else None

    def for_newcomer(self, recipient: object, hide: object = None) -> bytes | None:
        """Every entry, for a connection that just joined, at clocks it will accept.

        A stock client that reconnects has dropped the others' entries but kept their
        clocks, and takes an entry only at a newer clock: sent as they were, the others
        stayed invisible to it until each renewed (up to 15 s). So every announced clock
        moves one past what anyone was sent; the others need not hear of it, as each
        entry's next change goes out past that clock too."""
        for st in self._states.values():
            st.out_clock += 1
        return self.full_state(recipient=recipient, hide=hide)

    def full_state(self, recipient: object = None, hide: object = None) -> bytes | None:
        parts = [_encode(cid, st) for cid, st in self._states.items()
                 if st.raw != NULL and st.owner != recipient
                 and (hide is None or st.owner is not hide)]
        if not parts:
            return None
        return write_uint(len(parts)) + b"".join(parts)

    def states(self) -> dict[int, bytes]:
        return {cid: st.raw for cid, st in self._states.items() if st.raw != NULL}

    def user_name(self, owner: object) -> str | None:
        """The display name ``owner`` publishes in its presence (``user.name``), if any.

        Asked on every document update (for the history's authors), so each presence
        state is parsed once, not once per update."""
        for cid in self._owned.get(owner, ()):
            st = self._states.get(cid)
            if st is None or st.raw == NULL:
                continue
            raw = st.raw
            if raw in _names:
                name = _names[raw]
            else:
                name = _name_in(raw)
                if len(_names) >= 4096:
                    _names.clear()
                _names[raw] = name
            if name is not None:
                return name
        return None

    def owner_of(self, client_id: int) -> object:
        st = self._states.get(client_id)
        return None if st is None else st.owner

    def remote_owned(self, is_remote: Callable[[object], bool]) -> list[int]:
        return [cid for cid, st in self._states.items()
                if st.owner is not None and is_remote(st.owner)]
