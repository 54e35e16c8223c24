"""One room in memory: its Yjs document, its peers, its presence.

Why not pycrdt-websocket's ``YRoom``: it broadcasts inside a task group, so one client
that drops mid-broadcast stops the room for everyone; it parses and relays awareness
blindly; it holds its start lock for the room's whole life (simultaneous joiners hang);
and closing it cancels store writes in flight. Here a room never awaits a peer: ``send``
only enqueues (each peer drains its own bounded queue), and persistence and fan-out plug in
as extensions with named hooks, so the room itself does no I/O at all.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import random
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from pycrdt import Doc

from . import protocol as p
from .awareness import AwarenessRegistry, Changes
from .errors import (
    CapabilityError,
    CapabilityReason,
    DocumentTooLargeError,
    ProtocolError,
    ProtocolReason,
)
from .stats import SyncStats
from .updates import UpdateFormatError, read_state_vector, read_update

log = logging.getLogger(__name__)

# Every Room object still alive, held or not: a diagnostic for leaks (``/metrics``).
ALIVE: weakref.WeakSet[Room] = weakref.WeakSet()


SAVED_EVERY = 1.0  # seconds: how often a busy room announces what it has stored
# The news may ride an update this much before it is due (so renewals come at most every
# SAVED_EVERY - RIDE_EARLY): clients that edit in time with the interval (the load
# generator's writers do, once a second) otherwise send their update a moment before
# it is due, and the news then needed a write of its own to every peer.
RIDE_EARLY = 0.25
# Up to this many peers, the "saved" news rides in the same write as a document update; in
# a bigger room it goes on its own (see Room.set_saved).
RIDE_MAX_PEERS = 16
# How long what the room sent is remembered for recognising clients' echoes (at least two
# ticks): a busy client process answers late, and an echo not recognised is decoded.
ECHO_WINDOW = 0.25
# A peer's sync step 1 after its first is answered at most this often (seconds), and never
# while an earlier answer to it is still queued: each answer encodes the document, and a
# client that asks again and again (stock clients ask once per connection) must not make
# the server encode or queue the document again and again.
STEP1_EVERY = 2.0
# Updates whose dependencies the room does not hold are dropped, and the peer asked (with
# a sync step 1, at most once a second) for what they build on; past this many in a row,
# the peer is closed: a stock client sends them only around a reconnect.
MISSING_MAX = 64


class Origin:
    """Where a change came from, when it is not a peer."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<origin {self.name}>"


LOAD = Origin("load")  # read from storage: neither stored again nor published
REMOTE = Origin("remote")  # another process's change via fan-out: relayed to peers only
LOCAL = Origin("local")  # a change made by this process (API, worker): stored and published
SERVER = Origin("server")  # owner of the server's own presence entry


class Peer(Protocol):
    """A connection in a room. ``send`` and ``close`` never block and never raise."""

    @property
    def can_write(self) -> bool: ...

    @property
    def wants_saved(self) -> bool:
        """Whether this peer asked for the server's own presence entry (see
        :meth:`Room.set_saved`); stock clients that did not are never sent it."""

    @property
    def answer_queued(self) -> bool:
        """Whether an answer to this peer's sync step 1 still waits in its send queue."""

    def send(self, message: bytes) -> None: ...

    def send_many(self, messages: tuple[bytes, ...]) -> None:
        """Send several messages in order (one socket write where possible). The room
        passes the same tuple to every peer of a broadcast."""

    def close(self, code: int, reason: str) -> None: ...


class RoomExtension(Protocol):
    """Something that plugs into a room (persistence, fan-out, metrics)."""

    def on_update(self, room: Room, update: bytes, origin: object) -> None: ...

    def on_awareness(self, room: Room, changes: Changes) -> None: ...

    def before_write(self, room: Room, size: int) -> None:
        """Raise to refuse a peer's write (e.g. a persistence backlog that is full)."""


class _PeerState:
    """What the room remembers of one peer beyond its presence: when its sync step 1 was
    last answered, and its run of updates with missing dependencies."""

    __slots__ = ("answered_at", "asked_at", "missing")

    def __init__(self) -> None:
        self.answered_at = float("-inf")
        self.asked_at = float("-inf")
        self.missing = 0


class Room:
    def __init__(self, room_id: str, *, max_doc_bytes: int, awareness_timeout: float,
                 awareness_tick: float, process_id: str = "",
                 stats: SyncStats | None = None) -> None:
        self.id = room_id
        self.doc: Doc[Any] = Doc()
        self.max_doc_bytes = max_doc_bytes
        self.awareness_tick = awareness_tick
        self.awareness = AwarenessRegistry(timeout=awareness_timeout)
        self.peers: dict[Peer, float] = {}  # each with when it joined (see is_echo)
        self.subscribers = 0  # peers that want the server's own entry (wants_saved)
        self.extensions: list[RoomExtension] = []
        self.holders = 0
        self.size = 0
        self._size_counted = 0  # self.size when it was last recounted from the document
        # each client's next clock in the document (what it holds), kept from every change
        # it integrates, so a peer's update is checked against it in time of the update's
        # size (see sync/updates.py), never of the document's
        self.clocks: dict[int, int] = {}
        self._version = 0  # counts changes: keys the shared answer to a sync step 1
        self._answer: tuple[int, bytes, bytes] | None = None  # (version, state vector, reply)
        self._peer_state: dict[Peer, _PeerState] = {}
        # What a peer's update was read to insert, while it is applied (see _note_clocks);
        # not used once another process's update may have left something pending, which a
        # later update can integrate along with its own.
        self._ends_hint: dict[int, int] | None = None
        self._pending_possible = False
        self.process_id = process_id
        self.server_client_id = int.from_bytes(os.urandom(4), "big") >> 1
        self.saved_state = b"\x00"
        self.state_after = b"\x00"
        self.updates_in = 0
        self.authors: set[str] = set()  # who changed the room since its last checkpoint
        self.stats = stats or SyncStats()
        self._origin: object = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._last_tick = 0.0
        self._server_presence_at = 0.0
        self._saved_handle: asyncio.TimerHandle | None = None
        self._saved_due = False  # saved_state is newer than the server's published entry
        self._update_at = 0.0  # when the last document update was broadcast
        # awareness updates sent in the last ticks, newest last, each tick's with when it
        # began (see is_echo): each with the one peer it went to, or the peers it did not
        self._sent: deque[tuple[float, dict[bytes, Peer | frozenset[Peer]]]] = deque(
            [(0.0, {})])
        self._sub = self.doc.observe(self._observe)
        ALIVE.add(self)

    # --- document ---------------------------------------------------------------------

    def load(self, updates: Iterable[bytes]) -> None:
        """Apply stored state before anyone joins; nothing is stored or published again."""
        self._origin = LOAD
        try:
            for update in updates:  # a transaction each: see sync/store/postgres.py _merge
                with self.doc.transaction(origin=LOAD):
                    self.doc.apply_update(update)
        finally:
            self._origin = None
        self.size = self._size_counted = len(self.doc.get_update())
        self.clocks = read_state_vector(self.doc.get_state())

    def apply_remote(self, update: bytes) -> None:
        """A change another process accepted: relay to our peers only."""
        if not self._pending_possible:
            try:
                self._pending_possible = read_update(update).missing(self.clocks) is not None
            except UpdateFormatError:
                self._pending_possible = True
        self._apply(update, REMOTE)

    def transact(self, edit: Callable[[Doc[Any]], Any], origin: object = LOCAL,
                 author: str = "Arbor") -> Any:
        """Make a change on the server side (API, worker): stored and published."""
        self.authors.add(author)
        self._origin = origin
        try:
            with self.doc.transaction(origin=origin):
                return edit(self.doc)
        finally:
            self._origin = None

    def _apply(self, update: bytes, origin: object) -> None:
        # The origin travels in self._origin (read by _observe), not through pycrdt: a
        # transaction of our own around apply_update would cost a third more per update.
        self._origin = origin
        try:
            self.doc.apply_update(update)
        except ValueError as exc:
            raise ProtocolError(ProtocolReason.BAD_UPDATE, f"not a Yjs update: {exc}") from None
        finally:
            self._origin = None

    def _observe(self, event: Any) -> None:
        origin = self._origin
        if origin is LOAD:
            return
        update: bytes = event.update
        self.state_after = event.after_state  # the doc cannot be read inside an observer
        self.size += len(update)
        self._version += 1
        if self._ends_hint is not None:
            self._raise_clocks(self._ends_hint)
        else:
            self._note_clocks(update)
        self.updates_in += 1
        message = p.sync_update(update)
        now = time.monotonic()
        self._update_at = now
        rider = None
        if (self._saved_due and now - self._server_presence_at >= SAVED_EVERY - RIDE_EARLY
                and len(self.peers) <= RIDE_MAX_PEERS):
            rider = self._ride_server_presence(now)
        sent = 0
        if rider is None:
            for peer in self.peers:
                if peer is not origin:
                    peer.send(message)
                    sent += 1
        else:
            pair = (message, rider)
            for peer in self.peers:
                if not peer.wants_saved:
                    if peer is not origin:
                        peer.send(message)
                        sent += 1
                elif peer is not origin:
                    peer.send_many(pair)
                    sent += 1
                else:
                    peer.send(rider)
            self.stats.awareness_out += self.subscribers
        stats = self.stats
        stats.updates_in += 1
        stats.bytes_in += len(update)
        stats.messages_out += sent
        stats.bytes_out += sent * len(message)
        for ext in self.extensions:
            ext.on_update(self, update, origin)

    def _note_clocks(self, integrated: bytes) -> None:
        """Move each client's clock past what a change integrated."""
        try:
            ends = read_update(integrated).ends
        except UpdateFormatError:  # not expected of pycrdt's own encoding: count afresh
            log.warning("room %s: an integrated update could not be read", self.id)
            self.clocks = read_state_vector(self.doc.get_state())
            return
        self._raise_clocks(ends)

    def _raise_clocks(self, ends: dict[int, int]) -> None:
        clocks = self.clocks
        for client, end in ends.items():
            if end > clocks.get(client, 0):
                clocks[client] = end

    # --- peers ------------------------------------------------------------------------

    def join(self, peer: Peer) -> None:
        self.peers[peer] = time.monotonic()
        peer.send(p.sync_step1(self.doc.get_state()))
        if peer.wants_saved:
            self.subscribers += 1
            # The joiner gets the server's entry, current, in its first awareness message
            # (the others learn of the new clock at the next renewal).
            self.awareness.set_own(SERVER, self.server_client_id, self._server_presence(),
                                   announce=False)
        state = self.awareness.for_newcomer(peer, hide=None if peer.wants_saved else SERVER)
        if state is not None:
            peer.send(p.awareness(state))

    def leave(self, peer: Peer) -> None:
        self._peer_state.pop(peer, None)
        if self.peers.pop(peer, None) is not None:
            if peer.wants_saved:
                self.subscribers -= 1
            if self.awareness.remove_owner(peer):
                self._schedule_awareness()

    def receive(self, peer: Peer, msg: p.Message) -> None:
        """Handle one decoded message from a peer. Raises to have the peer closed."""
        if isinstance(msg, p.SyncStep1):
            self._answer_step1(peer, msg.state_vector)
        elif isinstance(msg, (p.SyncStep2, p.SyncUpdate)):
            self._peer_update(peer, msg.update)
        elif isinstance(msg, p.AwarenessMessage):
            entries = p.decode_awareness(msg.payload)
            if self.awareness.apply(peer, entries):
                self._schedule_awareness()
        elif isinstance(msg, p.QueryAwareness):
            state = self.awareness.full_state(recipient=peer,
                                              hide=None if peer.wants_saved else SERVER)
            if state is not None:
                peer.send(p.awareness(state))

    def _state(self, peer: Peer) -> _PeerState:
        state = self._peer_state.get(peer)
        if state is None:
            state = self._peer_state[peer] = _PeerState()
        return state

    def _answer_step1(self, peer: Peer, state_vector: bytes) -> None:
        """Answer a peer's sync step 1 with what it lacks. Encoding that costs a pass over
        the document, so: one answer is shared by everyone who asks with the same state
        vector while the document is unchanged (a wave of fresh joiners asks the same), and
        a peer that asks again is answered at most every :data:`STEP1_EVERY` seconds and
        not while its last answer still waits to be sent (what it lacks meanwhile reaches
        it as updates anyway)."""
        state = self._state(peer)
        now = time.monotonic()
        if state.answered_at > float("-inf") and (
                now - state.answered_at < STEP1_EVERY or peer.answer_queued):
            self.stats.step1_dropped += 1
            return
        state.answered_at = now
        cached = self._answer
        if cached is not None and cached[0] == self._version and cached[1] == state_vector:
            peer.send(cached[2])
            return
        try:
            update = self.doc.get_update(state_vector)
        except ValueError:
            raise ProtocolError(ProtocolReason.BAD_UPDATE, "bad state vector") from None
        reply = p.sync_step2(update)
        self._answer = (self._version, state_vector, reply)
        peer.send(reply)

    def _peer_update(self, peer: Peer, update: bytes) -> None:
        """Check a peer's update against what the room holds, in time of the update's own
        size (never of the document's), and apply it.

        - From a view link, an update that adds nothing the room lacks (what a stock
          client sends back in its sync step 2: at most its whole delete set) is dropped
          unapplied; one that adds anything closes the connection (4403). Nothing is ever
          applied, to the document or to a copy of it.
        - An update whose dependencies the room does not hold is dropped, never kept
          pending (pending data counted nowhere, yet stored and sent to every joiner), and
          the peer is asked for what it builds on with a sync step 1: a stock client
          answers with all the room lacks, in one update that does apply.
        - The document cap counts what the update adds."""
        if update == p.EMPTY_UPDATE:
            return
        try:
            summary = read_update(update)
        except UpdateFormatError as exc:
            raise ProtocolError(ProtocolReason.BAD_UPDATE, f"not a Yjs update: {exc}") from None
        if not peer.can_write:
            if summary.adds_nothing(self.clocks):
                return
            raise CapabilityError(CapabilityReason.READ_ONLY,
                                  "this is a view link: changes are not accepted")
        missing = summary.missing(self.clocks)
        state = self._peer_state.get(peer)
        if missing is not None:
            self._missing_dependency(peer, missing)
            return
        if state is not None:
            state.missing = 0
        if self.size + len(update) > self.max_doc_bytes:
            self._recount()
            if self.size + len(update) > self.max_doc_bytes:
                raise DocumentTooLargeError(self.size + len(update), self.max_doc_bytes)
        for ext in self.extensions:
            ext.before_write(self, len(update))
        # Read whole and checked, it integrates whole: what it inserts is what the room
        # then holds (unless something pending from another process comes along with it).
        self._ends_hint = None if self._pending_possible else summary.ends
        try:
            self._apply(update, peer)
        finally:
            self._ends_hint = None
        self.authors.add(self.awareness.user_name(peer) or "someone")

    def _missing_dependency(self, peer: Peer, missing: tuple[int, int]) -> None:
        state = self._state(peer)
        state.missing += 1
        self.stats.updates_missing += 1
        if state.missing > MISSING_MAX:
            raise ProtocolError(
                ProtocolReason.MISSING_DEPENDENCIES,
                f"{state.missing} updates in a row build on changes this canvas does not "
                f"have (client {missing[0]} clock {missing[1]})")
        now = time.monotonic()
        if now - state.asked_at >= 1.0:
            state.asked_at = now
            peer.send(p.sync_step1(self.doc.get_state()))

    def _recount(self) -> None:
        """Count the document's encoded size afresh (the running figure overcounts:
        overwritten and merged content). That is a pass over the document, so it is done
        only once the running figure grew by a sixteenth of the cap since the last count:
        a peer writing at the cap cannot make every message cost a pass."""
        if self.size - self._size_counted < self.max_doc_bytes // 16:
            return
        self.size = self._size_counted = len(self.doc.get_update())

    def close_peers(self, code: int, reason: str,
                    which: Callable[[Peer], bool] | None = None) -> int:
        n = 0
        for peer in list(self.peers):
            if which is None or which(peer):
                peer.close(code, reason)
                n += 1
        return n

    # --- presence ---------------------------------------------------------------------

    def apply_remote_awareness(self, owner: object, payload: bytes) -> None:
        # another server's announcement: its clocks may be past a peer's bound (not past
        # what a browser holds), since that server counted on from the owner's
        entries = p.decode_awareness(payload, max_clock=p.MAX_SAFE_INTEGER)
        if self.awareness.apply(owner, entries, max_ids=None):
            self._schedule_awareness()

    def set_saved(self, state_vector: bytes) -> None:
        """Record the state vector known to be stored and tell the peers, about once per
        :data:`SAVED_EVERY`. A busy room is stored four times a second, and telling every
        peer each time cost as many socket writes as the edits themselves.

        In a small busy room the news rides along with the next document update (one
        write per peer carries both), from :data:`RIDE_EARLY` before it is due; a timer
        sends it on its own when the room goes quiet. In a room of more than
        :data:`RIDE_MAX_PEERS` it always goes on its own, through the awareness tick: there
        one more write per peer and second is little next to the updates' writes, while a
        client process holding many of the room's connections (as the load generator
        does; a browser holds one) decoded the news on every connection before it reached
        the update it waited for; in the one-room benchmark that set the p99 (see the
        README).

        Only peers that asked for the entry (``wants_saved``: the web app connects with
        ``saved=1``) are told. A stock client cannot use it, and it echoes every awareness
        update it receives, so each renewal cost every such client a message both ways
        (in bench (b), about a tenth of the server's CPU)."""
        if state_vector == self.saved_state:
            return
        self.saved_state = state_vector
        if not self.subscribers:
            return  # nobody asked; whoever joins and asks gets it current (see join)
        self._saved_due = True
        now = time.monotonic()
        due = self._server_presence_at + SAVED_EVERY
        rides = len(self.peers) <= RIDE_MAX_PEERS
        if due <= now and (not rides or now - self._update_at >= SAVED_EVERY):
            self._publish_server_presence()
        elif self._saved_handle is None:
            # In a small room, if no update carries it within half a second to a second of
            # being due, it goes alone. The wait is drawn at random: every room stored in
            # one batch gets here at the same moment, and a fixed wait sent all their news
            # (and drew all their clients' echoes) in the same millisecond, which set the
            # latency tail of 200 busy rooms starting together (see the README).
            wait = SAVED_EVERY * (0.5 + random.random() / 2) if rides else 0.0
            self._saved_handle = asyncio.get_running_loop().call_later(
                max(due - now, 0) + wait, self._publish_server_presence)

    def _server_presence(self) -> bytes:
        state = {"arbor": {"server": self.process_id,
                           "saved": base64.b64encode(self.saved_state).decode()}}
        return json.dumps(state, separators=(",", ":")).encode()

    def _publish_server_presence(self) -> None:
        """Renew the server's entry through the ordinary (ticked) awareness broadcast."""
        if self._saved_handle is not None:
            self._saved_handle.cancel()
            self._saved_handle = None
        self._saved_due = False
        self.awareness.set_own(SERVER, self.server_client_id, self._server_presence())
        self._server_presence_at = time.monotonic()
        self._schedule_awareness()

    def _ride_server_presence(self, now: float) -> bytes:
        """Renew the server's entry and return the awareness message that says so, to be
        sent with a document update (not through the tick)."""
        if self._saved_handle is not None:
            self._saved_handle.cancel()
            self._saved_handle = None
        self._saved_due = False
        self._server_presence_at = now
        message = p.awareness(self.awareness.set_own(
            SERVER, self.server_client_id, self._server_presence(), announce=False))
        self._remembered(now, fresh=False)[message] = frozenset()  # to everyone
        return message

    def is_echo(self, message: bytes, peer: Peer) -> bool:
        """Whether ``message`` is, byte for byte, an awareness update this room sent to
        ``peer`` in the last :data:`ECHO_WINDOW` (and at least the last two ticks). Stock
        clients send every awareness update they receive straight back (with 100 people
        moving, over 80 % of what arrives). What a peer was sent holds none of its own
        entries, so sending it back changes nothing: it is dropped before it is decoded.

        Only what was sent since the peer joined counts: a person who reconnects sends
        their own entry again, byte for byte what the room sent the others before they
        left, and that is no echo (their presence came back only after a renewal)."""
        joined = self.peers.get(peer)
        if joined is None:
            return False
        for at, sent in reversed(self._sent):
            if at < joined:
                return False
            to = sent.get(message)
            if to is not None:
                return peer not in to if isinstance(to, frozenset) else to is peer
        return False

    def _remembered(self, now: float, *, fresh: bool) -> dict[bytes, Peer | frozenset[Peer]]:
        """Where to note what is sent now (see is_echo): a new tick's own record (or, for a
        message sent between ticks, the newest record unless it is a tick old), with what
        is past :data:`ECHO_WINDOW` forgotten. Bounded even in a room whose clients never
        change their awareness, where no tick comes to turn the records over."""
        history = self._sent
        if fresh or history[-1][0] < now - self.awareness_tick:
            history.append((now, {}))
        while len(history) > 2 and history[0][0] < now - ECHO_WINDOW:
            history.popleft()
        return history[-1][1]

    def housekeeping(self) -> None:
        """Called every few seconds: expire silent peers, renew the server's presence."""
        if self.awareness.expire():
            self._schedule_awareness()
        if self.subscribers and time.monotonic() - self._server_presence_at > 15:
            self._publish_server_presence()

    def _schedule_awareness(self) -> None:
        if self._tick_handle is not None:
            return
        delay = self._last_tick + self.awareness_tick - time.monotonic()
        if delay <= 0:
            self.flush_awareness()
        else:
            loop = asyncio.get_running_loop()
            self._tick_handle = loop.call_later(delay, self.flush_awareness)

    def flush_awareness(self) -> None:
        self._tick_handle = None
        self._last_tick = now = time.monotonic()
        changes = self.awareness.take_changes()
        if changes is None:
            return
        owners = changes.owners()
        shared = changes.message_for(None)
        shared_msg = p.awareness(shared) if shared is not None else None
        plain_msg = shared_msg  # for peers that did not ask for the server's entry
        if changes.has(SERVER):
            plain = changes.message_for(None, hide=SERVER)
            plain_msg = p.awareness(plain) if plain is not None else None
        sent = self._remembered(now, fresh=True)
        not_to = frozenset(owners)
        if shared_msg is not None:
            sent[shared_msg] = not_to  # type: ignore[assignment]
        if plain_msg is not None:
            sent[plain_msg] = not_to  # type: ignore[assignment]
        out = 0
        for peer in self.peers:
            if peer in owners:
                own = changes.message_for(peer, hide=None if peer.wants_saved else SERVER)
                if own is not None:
                    own_msg = p.awareness(own)
                    sent[own_msg] = peer
                    peer.send(own_msg)
                    out += 1
            else:
                msg = shared_msg if peer.wants_saved else plain_msg
                if msg is not None:
                    peer.send(msg)
                    out += 1
        self.stats.awareness_out += out
        for ext in self.extensions:
            ext.on_awareness(self, changes)

    def dispose(self) -> None:
        if self._saved_handle is not None:
            self._saved_handle.cancel()
            self._saved_handle = None
        if self._tick_handle is not None:
            self._tick_handle.cancel()
            self._tick_handle = None
        self.doc.unobserve(self._sub)
        self.extensions.clear()
