"""The real `arbor` command in its own process: SIGTERM stores everything, migrations
run once under concurrency, /healthz answers."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys

import httpx
from pycrdt import Doc, Map

from sync.store import PostgresStore
from tests.yclient import YClient, eventually


def free_port() -> int:
    """A port free now for a server process started next, outside the kernel's ephemeral
    range: a port the kernel handed out for port 0 is also what it hands out as the local
    port of new outgoing connections (to PostgreSQL, Redis), so one of those made while the
    process starts (seconds, for `arbor dev`) could take it before the process binds it."""
    low, high = _ephemeral_range()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20000, 32000) if low >= 32000 else rng.randrange(10000, low)
        if low <= port <= high:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:  # no luck: any port the kernel offers
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


async def start_serve(settings, **env_extra: str) -> tuple[asyncio.subprocess.Process, str]:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url.reveal(),
        "REDIS_URL": settings.redis_url.reveal(),
        "ARBOR_REDIS_PREFIX": settings.redis_prefix,
        "ARBOR_DATA_DIR": str(settings.data_dir),
        "ARBOR_RATE_ROOMS_PER_MIN_IP": "100000",
        "ARBOR_RATE_ROOMS_BURST_IP": "100000",
        **env_extra,
    }
    if "PYTHONMALLOC" not in env_extra:
        env.pop("PYTHONMALLOC", None)  # arbor serve chooses (see the allocator test)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "serve", "--port", str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"{base}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(up, timeout=30, interval=0.1, message="arbor serve to answer /healthz")
    return proc, base


async def test_sigterm_stores_every_accepted_update_and_closes_with_1012(settings):
    # A flush interval far longer than the test: only the shutdown path can store these.
    """docs/protocol.md [C4] [D5]."""
    proc, base = await start_serve(settings, ARBOR_FLUSH_INTERVAL_MS="600000",
                                   ARBOR_COMPACT_AFTER_UPDATES="1000000")
    try:
        async with httpx.AsyncClient() as http:
            room = (await http.post(f"{base}/api/rooms", json={})).json()
        ws = base.replace("http", "ws")
        a = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['edit_token']}")
        b = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['edit_token']}")
        a.add_text_block("t", "")
        text = a.doc.get("blocks", type=Map)["t"]["text"]
        for i in range(100):
            text += f"{i};"
        expected = "".join(f"{i};" for i in range(100))
        await eventually(lambda: b.block_text("t") == expected)  # accepted by the server
        proc.send_signal(signal.SIGTERM)
        closed = await a.wait_closed(timeout=30)
        assert closed.code == 1012
        # uvicorn re-raises the signal after its graceful shutdown
        assert await asyncio.wait_for(proc.wait(), 60) in (0, -signal.SIGTERM)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = (await proc.stdout.read()).decode() if proc.stdout else ""
    assert "Traceback" not in output, output
    store = await PostgresStore.connect(settings.database_url.reveal())
    try:
        stored = await store.load_document(room["room"])
    finally:
        await store.close()
    d = Doc()
    for u in stored.all():
        d.apply_update(u)
    assert str(d.get("blocks", type=Map)["t"]["text"]) == expected


async def test_ordinary_disconnects_log_no_traceback(settings):
    proc, base = await start_serve(settings)
    try:
        async with httpx.AsyncClient() as http:
            room = (await http.post(f"{base}/api/rooms", json={})).json()
        ws = base.replace("http", "ws")
        for _ in range(5):
            c = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['edit_token']}")
            c.add_text_block("x", "y")
            c.ws.transport.abort()  # vanish mid-session
        c = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['edit_token']}")
        await c.close()
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), 60)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    output = (await proc.stdout.read()).decode() if proc.stdout else ""
    assert "Traceback" not in output and "Exception in ASGI" not in output, output
    # uvicorn logs each websocket's URL: the link token in it must not reach the log
    assert "[accepted]" in output
    assert room["edit_token"] not in output, output


async def test_serve_runs_under_the_c_allocator_unless_told_otherwise(settings):
    # Tried: PYTHONMALLOC unset (arbor serve runs itself again, same PID, under glibc's
    # malloc, which gives memory back after rooms close; see server/cli.py) and
    # PYTHONMALLOC=pymalloc (kept as given).
    for given, expected in ((None, b"PYTHONMALLOC=malloc"), ("pymalloc", b"PYTHONMALLOC=pymalloc")):
        extra = {} if given is None else {"PYTHONMALLOC": given}
        proc, _ = await start_serve(settings, **extra)
        try:
            with open(f"/proc/{proc.pid}/environ", "rb") as f:
                environ = f.read().split(b"\0")
            assert expected in environ, (given, [e for e in environ if b"MALLOC" in e])
        finally:
            proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), 30)
