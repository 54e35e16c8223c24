"""Rooms load once, unload after their grace period, survive restarts, and never lose or
overwrite what was stored."""

from __future__ import annotations

import asyncio
import base64
import secrets

import asyncpg
import httpx
from pycrdt import Doc, Map

from server.capabilities import hash_token
from sync.store import PostgresStore, migrate
from tests.conftest import _with_database, run_server
from tests.yclient import YClient, eventually


async def new_room(srv) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{srv.base_url}/api/rooms", json={"title": "t"})
    assert r.status_code == 201
    return dict(r.json())


def url(srv, room, token=None):
    return f"{srv.ws_url}/sync/{room['room']}?token={token or room['edit_token']}"


def stored_doc(stored) -> Doc:
    d = Doc()
    for u in stored.all():
        d.apply_update(u)
    return d


async def test_ten_clients_joining_an_unloaded_room_at_once_all_sync(server):
    """docs/protocol.md [H4]."""
    room = await new_room(server)
    assert room["room"] not in server.services.rooms.rooms
    clients = await asyncio.gather(*(YClient.connect(url(server, room)) for _ in range(10)))
    assert server.services.rooms.stats.loads >= 1
    clients[0].add_text_block("b", "hi")
    for c in clients:
        await eventually(lambda c=c: c.block_text("b") == "hi")
    await asyncio.gather(*(c.close() for c in clients))


async def test_room_unloads_after_grace_and_reloads_with_everything(server):
    """docs/protocol.md [D5]."""
    room = await new_room(server)
    c = await YClient.connect(url(server, room))
    text = None
    c.add_text_block("b", "")
    text = c.doc.get("blocks", type=Map)["b"]["text"]
    for i in range(30):
        text += str(i)
    expected = "".join(str(i) for i in range(30))
    await eventually(lambda: server.services.rooms.rooms[room["room"]].doc.get(
        "blocks", type=Map)["b"]["text"].to_py() == expected)
    await c.close()  # last one out: the room unloads after the grace period
    await eventually(lambda: room["room"] not in server.services.rooms.rooms
                     and not server.services.rooms._unloading)
    stored = await server.services.store.load_document(room["room"])
    assert stored.updates == []  # compacted on unload
    assert str(stored_doc(stored).get("blocks", type=Map)["b"]["text"]) == expected
    again = await YClient.connect(url(server, room))
    assert again.block_text("b") == expected
    await again.close()


async def test_client_rejoining_during_unload_gets_everything(settings):
    """docs/protocol.md [D5]."""
    async with run_server(settings.replace(room_grace=0.0)) as srv:
        room = await new_room(srv)
        for i in range(5):
            c = await YClient.connect(url(srv, room))
            c.add_text_block(f"b{i}", f"round {i}")
            await eventually(lambda i=i: srv.services.rooms.rooms.get(room["room"]) is not None
                             and f"b{i}" in srv.services.rooms.rooms[room["room"]].doc.get(
                                 "blocks", type=Map))
            await c.close()
        last = await YClient.connect(url(srv, room))
        for i in range(5):
            assert last.block_text(f"b{i}") == f"round {i}"
        await last.close()


async def test_saved_state_vector_is_published_in_server_awareness(server):
    # Only to a client that asks (saved=1, as the web app does). Tried: a second client
    # connected without it, in the same room, through the same edits and renewals.
    """docs/protocol.md [S1]."""
    room = await new_room(server)
    c = await YClient.connect(url(server, room) + "&saved=1")
    stock = await YClient.connect(url(server, room))

    def saved(client: YClient) -> bytes | None:
        for state in client.awareness.values():
            info = state.get("arbor")
            if info:
                return base64.b64decode(info["saved"])
        return None

    c.add_text_block("b", "save me")
    await eventually(lambda: saved(c) == c.doc.get_state(),
                     message="the server to report the client's state as saved")
    stored = await server.services.store.load_document(room["room"])
    assert str(stored_doc(stored).get("blocks", type=Map)["b"]["text"]) == "save me"
    await eventually(lambda: stock.doc.get_state() == c.doc.get_state())
    stock.add_text_block("b2", "and me")
    await eventually(lambda: saved(c) == stock.doc.get_state(),
                     message="the stock client's edit to be reported stored")
    assert saved(stock) is None  # it never asked, so it was never told
    await c.close()
    await stock.close()


async def test_compaction_keeps_every_update_written_while_it_runs(server):
    """docs/protocol.md [D4]."""
    store: PostgresStore = server.services.store
    room = await new_room(server)
    writer = Doc()
    blocks = writer.get("blocks", type=Map)
    updates = []
    writer.observe(lambda e: updates.append(e.update))
    for i in range(60):
        blocks[f"k{i}"] = float(i)

    async def append_all():
        for u in updates:
            await store.append_update(room["room"], u)

    async def compact_often():
        for _ in range(15):
            await store.compact(room["room"])
            await asyncio.sleep(0)

    await asyncio.gather(append_all(), compact_often(), compact_often())
    await store.compact(room["room"])
    d = stored_doc(await store.load_document(room["room"]))
    assert d.get("blocks", type=Map).to_py() == {f"k{i}": float(i) for i in range(60)}


async def test_failed_load_closes_with_1011_and_never_overwrites(settings, database_url):
    """docs/protocol.md [H4] [C3]."""
    base = database_url
    name = f"arbor_loadfail_{secrets.token_hex(3)}"
    conn = await asyncpg.connect(base)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    dsn = _with_database(base, name)
    await migrate(dsn)
    s = settings.replace(database_url=type(settings.database_url)(dsn),
                         redis_prefix=settings.redis_prefix + name + ":")
    try:
        async with run_server(s) as srv:
            room = await new_room(srv)
            c = await YClient.connect(url(srv, room))
            c.add_text_block("b", "precious")
            await srv.services.rooms.flush_all()
            await eventually(lambda: bool(srv.services.rooms.writers[room["room"]].is_idle()))
            await c.close()
            await eventually(lambda: room["room"] not in srv.services.rooms.rooms
                             and not srv.services.rooms._unloading)
            admin = await asyncpg.connect(dsn)
            await admin.execute("ALTER TABLE room_updates RENAME TO room_updates_away")
            try:
                failed = await YClient.connect(url(srv, room), sync=False)
                closed = await failed.wait_closed()
                assert closed.code == 1011
                assert "could not be loaded" in closed.reason
                assert room["room"] not in srv.services.rooms.rooms  # nothing cached
            finally:
                await admin.execute("ALTER TABLE room_updates_away RENAME TO room_updates")
                await admin.close()
            ok = await YClient.connect(url(srv, room))
            assert ok.block_text("b") == "precious"
            await ok.close()
    finally:
        conn = await asyncpg.connect(base)
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


async def test_two_processes_share_a_room_through_redis(settings):
    """docs/protocol.md [F1] [F3]."""
    async with run_server(settings) as one, run_server(settings) as two:
        room = await new_room(one)
        a = await YClient.connect(url(one, room))
        b = await YClient.connect(url(two, room))
        a.add_text_block("from_a", "hello")
        await eventually(lambda: b.block_text("from_a") == "hello")
        b.add_text_block("from_b", "hi back")
        await eventually(lambda: a.block_text("from_b") == "hi back")
        await a.set_awareness({"user": {"name": "Ann"}})
        await eventually(lambda: any(s.get("user", {}).get("name") == "Ann"
                                     for s in b.awareness.values()))
        await a.close()
        await eventually(lambda: a.doc.client_id not in b.awareness)
        await b.close()


async def test_rotating_links_closes_old_sockets_on_every_process(settings):
    """docs/protocol.md [F5] [C8]."""
    async with run_server(settings) as one, run_server(settings) as two:
        room = await new_room(one)
        editor_one = await YClient.connect(url(one, room))
        viewer_two = await YClient.connect(url(two, room, room["view_token"]))
        async with httpx.AsyncClient() as http:
            r = await http.post(f"{one.base_url}/api/rooms/{room['room']}/links/rotate",
                                headers={"Authorization": f"Bearer {room['edit_token']}"})
        assert r.status_code == 200
        fresh = r.json()
        assert fresh["edit_token"] != room["edit_token"]
        assert (await editor_one.wait_closed()).code == 4401
        assert (await viewer_two.wait_closed()).code == 4401
        old = await YClient.connect(url(two, room), sync=False)
        assert (await old.wait_closed()).code == 4401
        new = await YClient.connect(url(two, room, fresh["edit_token"]))
        assert new.closed is None
        await new.close()
        record = await one.services.store.get_room(room["room"])
        assert record.edit_token_hash == hash_token(fresh["edit_token"])


async def test_healthz_counts_rooms_held_and_still_storing(server):
    room = await new_room(server)
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        c = await YClient.connect(url(server, room))
        body = (await http.get("/healthz")).json()
        assert (body["rooms"], body["unloading"]) == (1, 0)
        await c.close()

        async def settled() -> bool:
            body = (await http.get("/healthz")).json()
            return (body["rooms"], body["unloading"]) == (0, 0)

        deadline = asyncio.get_running_loop().time() + 10
        while not await settled():
            assert asyncio.get_running_loop().time() < deadline, "the room never unloaded"
            await asyncio.sleep(0.05)
