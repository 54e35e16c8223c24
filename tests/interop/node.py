"""Drive ``client.js`` (stock yjs + y-websocket clients in Node) from async tests.

One :class:`NodeProcess` is one ``node client.js`` process holding one or more named
clients; :class:`JSClient` is one of those clients. Commands are JSON lines answered by
id; events (synced, close, awareness...) are collected and can be awaited with a timeout.
Processes are always killed by :meth:`NodeProcess.close` (the ``node`` fixture does it).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "client.js"


class NodeError(Exception):
    """A Node client failed, answered an error, or did not answer in time."""


def node_available() -> str | None:
    """Why the Node clients cannot run here, or None when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    for pkg in ("yjs", "y-websocket", "y-protocols", "ws"):
        if not (HERE / "node_modules" / pkg).is_dir():
            return f"tests/interop/node_modules/{pkg} is missing: run `make node-deps`"
    return None


class NodeProcess:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._event_added = asyncio.Event()
        self._reader = asyncio.get_running_loop().create_task(self._read())
        self._err_reader = asyncio.get_running_loop().create_task(self._read_err())

    @classmethod
    async def start(cls) -> NodeProcess:
        reason = node_available()
        if reason is not None:
            raise NodeError(reason)
        proc = await asyncio.create_subprocess_exec(
            "node", str(SCRIPT), cwd=str(HERE),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE, limit=16 * 1024 * 1024)
        self = cls(proc)
        await self.wait_event(lambda e: e.get("event") == "ready", timeout=10)
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            try:
                msg = json.loads(line)
            except ValueError:
                self.stderr.append(f"[stdout, not JSON] {line!r}")
                continue
            if "id" in msg and "event" not in msg:
                fut = self._pending.pop(msg["id"], None)
                if fut is not None and not fut.done():
                    if msg.get("ok"):
                        fut.set_result(msg.get("result"))
                    else:
                        fut.set_exception(NodeError(msg.get("error", "?")))
            else:
                self.events.append(msg)
                self._event_added.set()
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(NodeError("node exited: " + self.stderr_text()))
        self._pending.clear()
        self._event_added.set()

    async def _read_err(self) -> None:
        assert self.proc.stderr is not None
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self.stderr.append(line.decode(errors="replace").rstrip())

    def stderr_text(self) -> str:
        return "\n".join(self.stderr[-40:])

    async def cmd(self, cmd: str, timeout: float = 15, **args: Any) -> Any:
        if self.proc.returncode is not None or self._reader.done():
            raise NodeError(f"node is not running (rc={self.proc.returncode}): "
                            + self.stderr_text())
        assert self.proc.stdin is not None
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        line = json.dumps({"id": rid, "cmd": cmd, **args}) + "\n"
        self.proc.stdin.write(line.encode())
        await self.proc.stdin.drain()
        try:
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise NodeError(f"no answer to {cmd} within {timeout} s; stderr:\n"
                            + self.stderr_text()) from None
        finally:
            self._pending.pop(rid, None)

    async def wait_event(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 10,
                         start: int = 0) -> dict[str, Any]:
        """The first event (from index ``start``) matching ``pred``, waiting up to ``timeout``."""
        i = start
        async with asyncio.timeout(timeout):
            while True:
                while i < len(self.events):
                    if pred(self.events[i]):
                        return self.events[i]
                    i += 1
                if self._reader.done():
                    raise NodeError("node exited: " + self.stderr_text())
                self._event_added.clear()
                await self._event_added.wait()

    def client(self, name: str) -> JSClient:
        return JSClient(self, name)

    async def close(self) -> None:
        proc = self.proc
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), 10)
        for task in (self._reader, self._err_reader):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class JSClient:
    """One named stock y-websocket client inside a :class:`NodeProcess`."""

    def __init__(self, process: NodeProcess, name: str) -> None:
        self.process = process
        self.name = name

    async def cmd(self, cmd: str, timeout: float = 15, **args: Any) -> Any:
        return await self.process.cmd(cmd, timeout=timeout, client=self.name, **args)

    async def connect(self, url: str, room: str, token: str | None,
                      awareness: dict[str, Any] | None = None, *, wait: bool = True) -> None:
        """``url`` is the server's websocket base (``ws://host:port``)."""
        args: dict[str, Any] = {"url": f"{url}/sync", "room": room}
        if token is not None:
            args["token"] = token
        if awareness:
            args["awareness"] = awareness
        await self.cmd("connect", **args)
        if wait:
            await self.wait_synced()

    async def wait_synced(self, timeout: float = 10) -> None:
        await self.cmd("wait_synced", timeout=timeout + 2, timeout_ms=int(timeout * 1000))

    async def create_block(self, block: str, text: str = "", x: float = 0, y: float = 0,
                           kind: str = "text") -> None:
        await self.cmd("create_block", block=block, text=text, x=x, y=y, kind=kind)

    async def insert(self, block: str, index: int, text: str) -> None:
        await self.cmd("insert", block=block, index=index, text=text)

    async def delete(self, block: str, index: int, length: int) -> None:
        await self.cmd("delete", block=block, index=index, length=length)

    async def set(self, key: str, value: Any, *, block: str | None = None,
                  map: str = "meta") -> None:
        if block is not None:
            await self.cmd("set", block=block, key=key, value=value)
        else:
            await self.cmd("set", map=map, key=key, value=value)

    async def set_awareness(self, **fields: Any) -> None:
        await self.cmd("awareness", fields=fields)

    async def clear_awareness(self) -> None:
        await self.cmd("awareness", state=None)

    async def text(self, block: str) -> str:
        return str(await self.cmd("text", block=block))

    async def dump(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.cmd("dump")
        return result

    async def doc_json(self) -> dict[str, Any]:
        d = await self.dump()
        return {"blocks": d["blocks"], "edges": d["edges"], "meta": d["meta"]}

    async def state_vector(self) -> bytes:
        return base64.b64decode((await self.dump())["state_vector"])

    async def peers_awareness(self) -> dict[int, Any]:
        """Awareness states this client sees, other than its own and the server's."""
        d = await self.dump()
        own = d["client_id"]
        return {int(k): v for k, v in d["awareness"].items()
                if int(k) != own and not (isinstance(v, dict) and "arbor" in v)}

    async def disconnect(self) -> None:
        await self.cmd("disconnect")

    async def reconnect(self, url: str | None = None) -> None:
        if url is None:
            await self.cmd("reconnect")
        else:
            await self.cmd("reconnect", url=f"{url}/sync")

    async def undo(self) -> None:
        await self.cmd("undo")

    async def destroy(self) -> None:
        await self.cmd("destroy")

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.process.events
                if e.get("client") == self.name and (kind is None or e.get("event") == kind)]

    async def wait_event(self, kind: str, pred: Callable[[dict[str, Any]], bool] | None = None,
                         timeout: float = 10) -> dict[str, Any]:
        return await self.process.wait_event(
            lambda e: e.get("client") == self.name and e.get("event") == kind
            and (pred is None or pred(e)), timeout=timeout)
