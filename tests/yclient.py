"""A small y-websocket client in Python (pycrdt + websockets) for driving the server in
tests. It speaks the same protocol as the browser's stock ``WebsocketProvider``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import websockets
from pycrdt import Doc, Map, Text
from websockets.asyncio.client import ClientConnection

from sync import protocol as p


class Closed(Exception):
    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"closed {code}: {reason}")
        self.code = code
        self.reason = reason


class YClient:
    def __init__(self, ws: ClientConnection, doc: Doc[Any] | None = None) -> None:
        self.ws = ws
        self.doc: Doc[Any] = doc or Doc()
        self.synced = asyncio.Event()
        self.awareness: dict[int, Any] = {}
        self.awareness_clocks: dict[int, int] = {}
        self.awareness_messages = 0
        self.received: list[bytes] = []
        self.closed: Closed | None = None
        self._applying = False
        self._sub = self.doc.observe(self._on_local)
        self._task: asyncio.Task[None] | None = None
        self.clock = 0

    @classmethod
    async def connect(cls, url: str, doc: Doc[Any] | None = None, *, sync: bool = True,
                      **kw: Any) -> YClient:
        ws = await websockets.connect(url, max_size=None, compression=None, **kw)
        client = cls(ws, doc)
        client._task = asyncio.get_running_loop().create_task(client._run())
        with contextlib.suppress(websockets.ConnectionClosed):
            await client.send(p.sync_step1(client.doc.get_state()))
        if sync:
            await client.wait_synced()
        return client

    async def wait_synced(self, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            await self.synced.wait()

    async def send(self, frame: bytes | str) -> None:
        await self.ws.send(frame)

    def _on_local(self, event: Any) -> None:
        if self._applying:
            return
        msg = p.sync_update(event.update)
        asyncio.get_running_loop().create_task(self._send_quiet(msg))

    async def _send_quiet(self, msg: bytes) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            await self.ws.send(msg)

    async def _run(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, str):
                    continue
                self.received.append(frame)
                msg = p.decode(frame) if frame[0] != p.MSG_AUTH else None
                if isinstance(msg, p.SyncStep1):
                    await self.send(p.sync_step2(self.doc.get_update(msg.state_vector)))
                elif isinstance(msg, (p.SyncStep2, p.SyncUpdate)):
                    self._applying = True
                    try:
                        self.doc.apply_update(msg.update)
                    finally:
                        self._applying = False
                    if isinstance(msg, p.SyncStep2):
                        self.synced.set()
                elif isinstance(msg, p.AwarenessMessage):
                    self.awareness_messages += 1
                    for e in p.decode_awareness(msg.payload, max_clock=p.MAX_SAFE_INTEGER):
                        if e.clock >= self.awareness_clocks.get(e.client_id, -1):
                            self.awareness_clocks[e.client_id] = e.clock
                            if e.state is None:
                                self.awareness.pop(e.client_id, None)
                            else:
                                self.awareness[e.client_id] = e.state
        except websockets.ConnectionClosed:
            return  # the connection ended: the finally below records how
        finally:
            rcvd = self.ws.protocol.close_rcvd
            self.closed = Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")

    async def set_awareness(self, state: dict[str, Any] | None,
                            client_id: int | None = None) -> None:
        self.clock += 1
        cid = self.doc.client_id if client_id is None else client_id
        raw = json.dumps(state).encode()
        await self.send(p.awareness(p.encode_awareness([(cid, self.clock, raw)])))

    async def wait_closed(self, timeout: float = 10) -> Closed:
        async with asyncio.timeout(timeout):
            while self.closed is None:
                await asyncio.sleep(0.01)
        return self.closed

    async def close(self) -> None:
        self.doc.unobserve(self._sub)
        await self.ws.close()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # --- canvas helpers ---------------------------------------------------------------

    def add_text_block(self, block_id: str, text: str, x: float = 0, y: float = 0) -> None:
        blocks = self.doc.get("blocks", type=Map)
        with self.doc.transaction():
            block = Map({"kind": "text", "x": float(x), "y": float(y), "status": "idle"})
            blocks[block_id] = block
            block["text"] = Text(text)

    def block_text(self, block_id: str) -> str | None:
        blocks = self.doc.get("blocks", type=Map)
        if block_id not in blocks:
            return None
        return str(blocks[block_id]["text"])

    def blocks(self) -> dict[str, Any]:
        return dict(self.doc.get("blocks", type=Map).to_py() or {})


async def eventually(check: Callable[[], Any], timeout: float = 10, interval: float = 0.02,
                     message: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy (or raise after ``timeout``)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = check()
            if asyncio.iscoroutine(last):
                last = await last
            if last:
                return last
        except (AssertionError, LookupError, AttributeError, TypeError):
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message} (last: {last!r})")
        await asyncio.sleep(interval)
