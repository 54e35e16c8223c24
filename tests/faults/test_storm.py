"""Reconnect storm: many clients in many rooms across two processes; one process restarts
while PostgreSQL briefly refuses room loads. Clients come back with jittered backoff; a
little later each process holds exactly the rooms that have clients, and once everyone
leaves, no room (and little memory) is left behind.

The size is ``ARBOR_STORM_CLIENTS`` (default 2000) over ``ARBOR_STORM_ROOMS`` (200).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time

import httpx
import pytest
import websockets

from sync import protocol as p
from sync.settings import Secret
from tests.faults.test_faults import UnixAwareProxy, pg_target, proxied
from tests.integration.test_process import start_serve
from tests.yclient import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CLIENTS = int(os.environ.get("ARBOR_STORM_CLIENTS", "2000"))
ROOMS = int(os.environ.get("ARBOR_STORM_ROOMS", "200"))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def metric(base: str, name: str) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{base}/metrics")).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(name)


class Client:
    """A bare y-websocket peer: syncs, then listens; reconnects with jittered backoff."""

    def __init__(self, ports: list[int], room: dict[str, str], first: int | None) -> None:
        self.ports = ports
        self.room = room
        self.first = first  # the port of its first connection, if pinned
        self.port: int | None = None  # where it is connected and synced, if anywhere
        self.attempts = 0
        self.delays: list[tuple[int, float]] = []  # (attempt, delay)
        self.refused = 0
        self.codes: list[int | None] = []
        self.closed_at: list[float] = []

    async def run(self, live: set[int], stop: asyncio.Event) -> None:
        while not stop.is_set():
            port = self.first or (random.choice(sorted(live)) if live else self.ports[0])
            self.first = None
            url = (f"ws://127.0.0.1:{port}/sync/{self.room['room']}"
                   f"?token={self.room['edit_token']}")
            with contextlib.suppress(OSError, websockets.WebSocketException, TimeoutError):
                async with websockets.connect(url, compression=None, open_timeout=20,
                                              max_size=None) as ws:
                    try:
                        await ws.send(p.sync_step1(b"\x00"))
                        async for frame in ws:
                            if isinstance(frame, bytes) and frame[:2] == b"\x00\x01":
                                self.port = port
                                self.attempts = 0
                            if stop.is_set():
                                break
                    except websockets.ConnectionClosed as closed:
                        code = closed.rcvd.code if closed.rcvd is not None else None
                        self.codes.append(code)
                        self.closed_at.append(time.monotonic())
                        if code == 1011:
                            self.refused += 1
            self.port = None
            if stop.is_set():
                return
            delay = min(8.0, 0.25 * 2 ** self.attempts) * (0.5 + random.random())
            self.delays.append((self.attempts, delay))
            self.attempts += 1
            await asyncio.sleep(delay)


def tally(clients: list[Client]) -> dict[int | None, int]:
    codes: dict[int | None, int] = {}
    for c in clients:
        for code in c.codes:
            codes[code] = codes.get(code, 0) + 1
    return codes


async def test_reconnect_storm_leaves_exactly_the_rooms_with_clients(settings, database_url):
    """docs/protocol.md [H4] [D5]."""
    proxy = await UnixAwareProxy(pg_target(database_url)).start()
    s = settings.replace(database_url=Secret(proxied(database_url, proxy.port)))
    # Every client here comes from one address, and after the restart most of them are on
    # one process: the per-address socket limit is for real people, lifted here.
    env = {"ARBOR_ROOM_GRACE_SECONDS": "1", "ARBOR_RATE_ROOMS_BURST_IP": "100000",
           "ARBOR_WS_CONNECTIONS_PER_IP": "0", "ARBOR_LOG_LEVEL": "WARNING"}
    servers = [await start_serve(s, **env) for _ in range(2)]
    ports = [int(base.rsplit(":", 1)[1]) for _, base in servers]
    live = set(ports)
    stop = asyncio.Event()
    try:
        base0 = servers[0][1]
        async with httpx.AsyncClient(timeout=30) as http:
            rooms = [(await http.post(f"{base0}/api/rooms", json={})).json()
                     for _ in range(ROOMS)]
        baseline = [rss_mb(proc.pid) for proc, _ in servers]
        # A tenth of the rooms start with all their clients on process 0: when it goes, those
        # rooms must load on process 1 while PostgreSQL refuses, and the loads fail.
        pinned = max(1, ROOMS // 10)
        clients = [Client(ports, rooms[i % ROOMS], ports[0] if i % ROOMS < pinned else None)
                   for i in range(CLIENTS)]
        tasks = [asyncio.get_running_loop().create_task(c.run(live, stop)) for c in clients]
        started = time.monotonic()
        await eventually(lambda: all(c.port is not None for c in clients), timeout=240,
                         interval=0.5, message="every client to sync")
        print(f"{CLIENTS} clients in {ROOMS} rooms synced in {time.monotonic() - started:.1f}s")

        # Restart process 0 while PostgreSQL refuses connections for a moment.
        proc0, _ = servers[0]
        live.discard(ports[0])
        cut_at = time.monotonic()
        proxy.cut()
        proc0.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc0.wait(), 120)
        exited_at = time.monotonic()
        await asyncio.sleep(2)  # clients refused while rooms cannot load
        proxy.restore()
        firsts = [t for c in clients for t in c.closed_at]
        print(f"process 0 exited {exited_at - cut_at:.2f}s after the cut; first close "
              f"{min(firsts) - cut_at if firsts else -1:.2f}s")
        servers[0] = await start_serve(s, **env)
        ports[0] = int(servers[0][1].rsplit(":", 1)[1])
        for c in clients:
            c.ports = ports
        live.add(ports[0])
        started = time.monotonic()
        await eventually(lambda: all(c.port is not None for c in clients), timeout=240,
                         interval=0.5, message="every client to come back")
        print(f"all back {time.monotonic() - started:.1f}s after the restart; "
              f"{sum(c.refused for c in clients)} refused while loads failed")
        print("close codes seen:", tally(clients))
        assert sum(c.refused for c in clients) > 0, "no room load failed during the cut"
        first = [d for c in clients for a, d in c.delays if a == 0]
        # Jitter: clients retrying for the first time spread over [0.5, 1.5) x the base.
        assert max(first) - min(first) > 0.2, "no jitter"

        async def rooms_match() -> bool:
            for port, (_, base) in zip(ports, servers, strict=True):
                with_clients = {c.room["room"] for c in clients if c.port == port}
                if await metric(base, "arbor_rooms") != len(with_clients):
                    return False
            return True

        await eventually(rooms_match, timeout=60, interval=0.5,
                         message="each process to hold exactly the rooms with clients")

        stop.set()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

        async def all_unloaded() -> bool:
            return all([await metric(base, "arbor_rooms") == 0 for _, base in servers])

        await eventually(all_unloaded, timeout=60, interval=0.5)

        async def no_room_objects_left() -> bool:
            return all([await metric(base, "arbor_room_objects") == 0 for _, base in servers])

        # Nothing keeps a room alive once it unloaded (Hocuspocus leaked one per refused
        # connection): the objects themselves are collected, not just forgotten.
        await eventually(no_room_objects_left, timeout=60, interval=1.0)
        after = [rss_mb(proc.pid) for proc, _ in servers]
        print(f"RSS MB: process 0 (restarted) {after[0]:.0f}; process 1 baseline "
              f"{baseline[1]:.0f} -> {after[1]:.0f}")
        assert after[1] - baseline[1] < 150, "the surviving process kept its rooms' memory"
    finally:
        stop.set()
        for proc, _ in servers:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in servers:
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        await proxy.stop()
