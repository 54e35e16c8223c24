"""Property test: three Python y-websocket clients editing one room through the real server,
disconnecting, editing offline and reconnecting, always end up with the same document, and
so does a fresh client, before and after a server restart.

Hypothesis's stateful machinery is synchronous, so each machine owns an event loop and runs
every client operation (and the server itself, via ``run_server``) on it. Bounded: a few
examples of a few steps each, a fixed seed, and a time limit per settle.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Coroutine
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from pycrdt import Doc, Map, Text

from sync.protocol import Reader
from sync.settings import Settings
from tests.conftest import RunningServer, run_server
from tests.yclient import YClient

N_CLIENTS = 3
SHARED = "shared"
BLOCK_IDS = ("b0", "b1", "b2", "b3")
FIELDS = ("status", "tool", "x")
SETTLE_TIMEOUT = 15.0

clients_st = st.integers(0, N_CLIENTS - 1)
# ASCII only: pycrdt counts a Text's length in UTF-8 bytes, which would make the random
# positions below land inside characters (a test-side limitation, not the server's).
text_st = st.text(alphabet="abcxyz -", min_size=1, max_size=6)
value_st = st.one_of(st.sampled_from(("idle", "queued", "done", "")),
                     st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))


def doc_json(doc: Doc[Any]) -> dict[str, Any]:
    return {name: doc.get(name, type=Map).to_py() or {} for name in ("blocks", "edges", "meta")}


def state_vector(doc: Doc[Any]) -> dict[int, int]:
    """The doc's state vector as {client id: clock} (its byte order is not canonical)."""
    r = Reader(doc.get_state())
    out = {}
    for _ in range(r.uint()):
        cid = r.uint()
        out[cid] = r.uint()
    r.end()
    return out


async def create_room(base_url: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base_url}/api/rooms", json={"title": "Property"})
    assert r.status_code == 201, r.text
    return dict(r.json())


class Peer:
    """One person's document, which outlives any connection it is synced over."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.doc: Doc[Any] = Doc()
        self.conn: YClient | None = None

    @property
    def blocks(self) -> Map[Any]:
        blocks: Map[Any] = self.doc.get("blocks", type=Map)
        return blocks

    def text(self) -> Text | None:
        block = self.blocks.get(SHARED)
        return None if block is None else block.get("text")


class SyncMachine(RuleBasedStateMachine):
    """Rules edit, disconnect and reconnect; ``settle`` checks every connected doc agrees."""

    server_settings: Settings  # set by the test before the machine runs
    counts: dict[str, int] = {}  # what the examples did, to check they did what we claim

    @classmethod
    def count(cls, what: str) -> None:
        cls.counts[what] = cls.counts.get(what, 0) + 1

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self._server_cm: contextlib.AbstractAsyncContextManager[RunningServer] | None = None
        self.srv: RunningServer | None = None
        self.peers = [Peer(i) for i in range(N_CLIENTS)]
        self.log: list[str] = []
        self.last_restart = 0
        try:
            self.srv = self.run(self._start_server())
            self.room = self.run(create_room(self.srv.base_url))
            for peer in self.peers:
                self.run(self._connect(peer))
            # One shared text block everyone knows about before the random part starts.
            self.run(self._edit(self.peers[0], self._make_block, SHARED, "seed"))
            self.run(self._settle())
        except BaseException:
            self.teardown_quietly()
            raise

    # --- plumbing -------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    async def _start_server(self) -> RunningServer:
        self._server_cm = run_server(self.server_settings)
        return await self._server_cm.__aenter__()

    async def _stop_server(self) -> None:
        cm, self._server_cm, self.srv = self._server_cm, None, None
        if cm is not None:
            await cm.__aexit__(None, None, None)

    def url(self, role: str = "edit") -> str:
        assert self.srv is not None
        return f"{self.srv.ws_url}/sync/{self.room['room']}?token={self.room[role + '_token']}"

    async def _connect(self, peer: Peer) -> None:
        assert peer.conn is None
        peer.conn = await YClient.connect(self.url(), peer.doc)

    async def _disconnect(self, peer: Peer, abrupt: bool) -> None:
        conn, peer.conn = peer.conn, None
        assert conn is not None
        if abrupt:  # the network goes away: no close handshake
            conn.doc.unobserve(conn._sub)
            conn.ws.transport.abort()
            if conn._task is not None:
                with contextlib.suppress(asyncio.CancelledError):
                    await conn._task
        else:
            await conn.close()

    async def _edit(self, peer: Peer, fn: Any, *args: Any) -> None:
        """Edit inside the loop (a connected client sends from its doc observer)."""
        before = peer.doc.get_state()
        with peer.doc.transaction():
            fn(peer, *args)
        if peer.doc.get_state() != before:
            self.count("edits" if peer.conn is not None else "offline edits")
        await asyncio.sleep(0)

    @staticmethod
    def _make_block(peer: Peer, block_id: str, text: str) -> None:
        block = Map({"kind": "text", "x": 0.0, "y": 0.0, "status": "idle"})
        peer.blocks[block_id] = block
        block["text"] = Text(text)

    def connected(self) -> list[Peer]:
        return [p for p in self.peers if p.conn is not None]

    async def _settle(self, timeout: float = SETTLE_TIMEOUT) -> None:
        """Wait until every connected doc (and the server's room) holds the same state."""
        deadline = time.monotonic() + timeout
        while True:
            problem = self._disagreement()
            if problem is None:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"no agreement after {timeout} s: {problem}\n"
                                     "steps:\n  " + "\n  ".join(self.log))
            await asyncio.sleep(0.02)

    def _disagreement(self) -> str | None:
        connected = self.connected()
        docs = [(f"client {p.index}", p.doc) for p in connected]
        assert self.srv is not None
        room = self.srv.services.rooms.rooms.get(self.room["room"])
        if connected and room is not None:
            docs.append(("server", room.doc))
        for p in connected:
            assert p.conn is not None
            if p.conn.closed is not None:
                return f"client {p.index} was closed by the server: {p.conn.closed}"
        if len(docs) < 2:
            return None
        name0, doc0 = docs[0]
        sv0, json0 = state_vector(doc0), doc_json(doc0)
        for name, doc in docs[1:]:
            if state_vector(doc) != sv0:
                return f"state vectors differ: {name0} {sv0} vs {name} {state_vector(doc)}"
            if doc_json(doc) != json0:
                return (f"contents differ: {name0} {json.dumps(json0)} vs "
                        f"{name} {json.dumps(doc_json(doc))}")
        return None

    async def _fresh_view(self) -> dict[str, Any]:
        fresh = await YClient.connect(self.url("view"))
        try:
            return doc_json(fresh.doc)
        finally:
            await fresh.close()

    # --- rules: edits (connected or not) ------------------------------------------------------

    @rule(i=clients_st, pos=st.integers(0, 1000), text=text_st)
    def insert_text(self, i: int, pos: int, text: str) -> None:
        peer = self.peers[i]

        def go(peer: Peer) -> None:
            t = peer.text()
            if t is not None:
                t.insert(pos % (len(t) + 1), text)

        self.log.append(f"insert_text({i}, {pos}, {text!r})")
        self.run(self._edit(peer, go))

    @rule(i=clients_st, pos=st.integers(0, 1000), length=st.integers(1, 5))
    def delete_text(self, i: int, pos: int, length: int) -> None:
        def go(peer: Peer) -> None:
            t = peer.text()
            if t is not None and len(t) > 0:
                start = pos % len(t)
                del t[start:min(len(t), start + length)]

        self.log.append(f"delete_text({i}, {pos}, {length})")
        self.run(self._edit(self.peers[i], go))

    @rule(i=clients_st, block=st.sampled_from(BLOCK_IDS), text=text_st)
    def add_block(self, i: int, block: str, text: str) -> None:
        self.log.append(f"add_block({i}, {block!r}, {text!r})")
        self.run(self._edit(self.peers[i], self._make_block, block, text))

    @rule(i=clients_st, block=st.sampled_from(BLOCK_IDS))
    def remove_block(self, i: int, block: str) -> None:
        def go(peer: Peer) -> None:
            if block in peer.blocks:
                del peer.blocks[block]

        self.log.append(f"remove_block({i}, {block!r})")
        self.run(self._edit(self.peers[i], go))

    @rule(i=clients_st, block=st.sampled_from((SHARED, *BLOCK_IDS)),
          key=st.sampled_from(FIELDS), value=value_st)
    def set_field(self, i: int, block: str, key: str, value: Any) -> None:
        def go(peer: Peer) -> None:
            target = peer.blocks.get(block)
            if target is not None:
                target[key] = value

        self.log.append(f"set_field({i}, {block!r}, {key!r}, {value!r})")
        self.run(self._edit(self.peers[i], go))

    @rule(i=clients_st, title=text_st)
    def set_title(self, i: int, title: str) -> None:
        def go(peer: Peer) -> None:
            peer.doc.get("meta", type=Map)["title"] = title

        self.log.append(f"set_title({i}, {title!r})")
        self.run(self._edit(self.peers[i], go))

    # --- rules: connections ---------------------------------------------------------------------

    @precondition(lambda self: any(p.conn is not None for p in self.peers))
    @rule(i=clients_st, abrupt=st.booleans())
    def disconnect(self, i: int, abrupt: bool) -> None:
        online = [p for p in self.peers if p.conn is not None]
        peer = online[i % len(online)]
        self.log.append(f"disconnect({peer.index}, abrupt={abrupt})")
        self.run(self._disconnect(peer, abrupt))

    @precondition(lambda self: any(p.conn is None for p in self.peers))
    @rule(i=clients_st)
    def reconnect(self, i: int) -> None:
        offline = [p for p in self.peers if p.conn is None]
        peer = offline[i % len(offline)]
        self.log.append(f"reconnect({peer.index})")
        self.count("reconnects")
        self.run(self._connect(peer))

    @precondition(lambda self: all(p.conn is None for p in self.peers))
    @rule()
    def wait_until_unloaded(self) -> None:
        """Everyone is offline: let the room leave memory, so the next joiner loads it."""
        self.log.append("wait_until_unloaded()")
        self.count("unloads")
        self.run(self._wait_unloaded())

    async def _wait_unloaded(self) -> None:
        assert self.srv is not None
        rooms = self.srv.services.rooms
        room_id = self.room["room"]
        async with asyncio.timeout(10):
            while room_id in rooms.rooms or room_id in rooms._unloading:
                await asyncio.sleep(0.02)

    @precondition(lambda self: len(self.log) - self.last_restart >= 6)
    @rule()
    def restart_server(self) -> None:
        """The server restarts under connected clients; they keep their docs, offline."""
        self.log.append("restart_server()")
        self.last_restart = len(self.log)
        self.count("restarts")
        self.run(self._restart())

    async def _restart(self) -> None:
        await self._stop_server()
        for peer in self.peers:
            conn, peer.conn = peer.conn, None
            if conn is not None:
                closed = await conn.wait_closed()
                assert closed.code == 1012, closed  # "server restarting"
                await conn.close()
        self.srv = await self._start_server()

    @precondition(lambda self: self.srv is not None)
    @rule()
    def settle(self) -> None:
        self.log.append("settle()")
        self.run(self._settle())

    @invariant()
    def connections_stay_open(self) -> None:
        for p in self.connected():
            assert p.conn is not None and p.conn.closed is None, (p.index, p.conn and p.conn.closed)

    # --- the end: everything exchanged, then fresh eyes, then a restart -------------------------

    def teardown(self) -> None:
        self.count("examples")
        try:
            for peer in self.peers:
                if peer.conn is None:
                    self.count("reconnects")
                    self.run(self._connect(peer))
            self.run(self._settle())
            want = doc_json(self.peers[0].doc)
            assert self.run(self._fresh_view()) == want, "a fresh client sees something else"
            for peer in self.peers:
                self.run(self._disconnect(peer, abrupt=False))
            self.run(self._stop_server())
            self.srv = self.run(self._start_server())
            after = self.run(self._fresh_view())
            assert after == want, (f"after a restart: {json.dumps(after)} != {json.dumps(want)}"
                                   "\nsteps:\n  " + "\n  ".join(self.log))
        finally:
            self.teardown_quietly()

    def teardown_quietly(self) -> None:
        async def close_all() -> None:
            for peer in self.peers:
                if peer.conn is not None:
                    with contextlib.suppress(Exception):
                        await self._disconnect(peer, abrupt=False)
            await self._stop_server()

        try:
            if not self.loop.is_closed():
                self.run(close_all())
        finally:
            if not self.loop.is_closed():
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.close()


PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=15,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_clients_editing_disconnecting_and_reconnecting_converge(settings: Settings) -> None:
    """docs/protocol.md [D6]."""
    SyncMachine.server_settings = settings
    SyncMachine.counts = {}
    run_state_machine_as_test(SyncMachine, settings=PROPERTY_SETTINGS)
    counts = SyncMachine.counts
    print("property run:", counts)
    # The examples really edited offline, came back, restarted the server and let the room
    # unload (else this would prove little).
    assert counts.get("examples", 0) >= 10, counts
    for what in ("offline edits", "reconnects", "restarts", "unloads"):
        assert counts.get(what, 0) >= 3, (what, counts)


@pytest.mark.timeout(120)
def test_scripted_offline_edits_across_unload_and_restart_converge(settings: Settings) -> None:
    """One fixed walk through the machine's rules: all three edit the same text offline,
    the room unloads, the server restarts under one of them, and everyone comes back. [D6]"""
    SyncMachine.server_settings = settings
    m = SyncMachine()
    try:
        m.insert_text(0, 0, "zero")
        m.disconnect(1, abrupt=True)  # client 1 drops without a close handshake
        m.insert_text(1, 2, "one")
        m.add_block(1, "b0", "made offline")
        m.settle()
        m.disconnect(0, abrupt=False)  # 0 was first of the online [0, 2]
        m.delete_text(0, 1, 3)
        m.set_field(0, "b0", "status", "done")  # b0 unknown to 0: a no-op
        m.disconnect(0, abrupt=False)  # the last online, client 2
        assert all(p.conn is None for p in m.peers)
        m.insert_text(2, 1000, "two")
        m.wait_until_unloaded()
        m.reconnect(1)  # loads the room from the store, adds 1's offline edits
        m.settle()
        m.restart_server()
        m.add_block(1, "b1", "after restart")
        m.set_title(0, "offline title")
        while any(p.conn is None for p in m.peers):
            m.reconnect(0)
        m.settle()
        texts = {str(p.text()) for p in m.peers}
        assert len(texts) == 1, texts
        text = texts.pop()
        assert "one" in text and "two" in text and "zero" not in text, text
        assert set(m.peers[2].blocks) == {SHARED, "b0", "b1"}
    except BaseException:
        m.teardown_quietly()
        raise
    m.teardown()
