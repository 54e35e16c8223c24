"""Whole-checkpoint work off the event loop: previews (rendered once, cached) and the change
a restore makes, computed in child processes.

Why a process, not a thread: decoding a checkpoint is one call into pycrdt's native code
(``Doc.apply_update``) that holds the GIL from its start to its end, and so does encoding
the preview as JSON. From a worker thread, a 17 MB, 50,000-block checkpoint stalled the
event loop for the whole decode (2.2 s, the loop's longest gap, on the 2-core test
machine), exactly as on the loop itself: a thread gives the loop turns only between
Python bytecodes, and a decode is one. A child process has a GIL of its own.

What the event loop still does: fetch the checkpoint and stream it to the child through a
pipe, and read back bytes: the preview's JSON, or the restore's change as one Yjs update,
which the room then applies in one transaction (the room is not thread-safe; its writes
stay on the loop). It never walks the canvas.

Bounds, per server process:

- at most ``workers`` computations at once (a child process each, started on first use,
  replaced after a large one (see :data:`RETIRE_AFTER_BYTES`), and killed past
  :data:`TIMEOUT` seconds);
  a computation waiting for its turn has not fetched its checkpoint yet, and past
  :data:`MAX_WAITING` waiting computations a new one is refused (:class:`CheckpointBusyError`);
- a checkpoint never changes, so its preview is rendered once and kept in an LRU cache of
  at most ``cache_bytes``; requests for a preview being rendered share that rendering;
- the rate of requests is bounded at the edge (``server/api/history.py``).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Final

from . import _checkpoint_child as child
from .errors import ArborError, DocumentTooDeepError

log = logging.getLogger(__name__)

# Computations that may wait for a child at once (each is one request's coroutine; none
# holds a checkpoint while it waits). Past this the server answers 503: try again.
MAX_WAITING: Final = 32
# A child is replaced after this many computations, or after one whose input was at least
# RETIRE_AFTER_BYTES: what a large checkpoint made it allocate (some 370 MB for a 17 MB
# one) then goes back to the system instead of staying with an idle child.
TASKS_PER_CHILD: Final = 16
RETIRE_AFTER_BYTES: Final = 4 << 20
# Longest one computation may take (a 16 MB checkpoint takes a few seconds); past it the
# child is killed and the checkpoint reported unreadable.
TIMEOUT: Final = 120.0
# What a cached refusal (a checkpoint nested too deep) counts against the cache's size.
REFUSAL_BYTES: Final = 64
READ_LIMIT: Final = 1 << 20  # the pipe reader's buffer (answers are read whole)


class CheckpointBusyError(ArborError):
    """Too many checkpoint computations wait already on this server process."""

    def __init__(self, waiting: int) -> None:
        super().__init__("the server is busy reading other checkpoints; try again shortly")
        self.waiting = waiting


class CheckpointUnreadableError(ArborError):
    """The checkpoint could not be decoded (or its reader died or ran out of time)."""

    def __init__(self, detail: str = "this checkpoint cannot be read") -> None:
        super().__init__(detail)


class RestoreInProgressError(ArborError):
    """A restore of this room is already running on this server process."""

    def __init__(self, room_id: str) -> None:
        super().__init__("a restore of this canvas is already running; wait for it to finish")
        self.room_id = room_id


class _Child:
    """One child process and its pipes; one computation at a time."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.tasks = 0
        self.largest = 0  # the largest input it was given

    @classmethod
    async def start(cls) -> _Child:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "sync._checkpoint_child",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=READ_LIMIT,
            # Its own session: a Ctrl+C meant for the server's terminal does not interrupt
            # it mid-answer. It ends when its stdin does (see sync/_checkpoint_child.py).
            start_new_session=True)
        return cls(proc)

    async def call(self, op: bytes, *args: bytes) -> tuple[bytes, bytes]:
        stdin, stdout = self.proc.stdin, self.proc.stdout
        assert stdin is not None and stdout is not None
        self.tasks += 1
        self.largest = max(self.largest, sum(len(a) for a in args))
        stdin.write(op)
        for arg in args:
            stdin.write(child.LENGTH.pack(len(arg)))
            stdin.write(arg)
        await stdin.drain()
        head = await stdout.readexactly(1 + child.LENGTH.size)
        payload = await stdout.readexactly(child.LENGTH.unpack(head[1:])[0])
        return head[:1], payload

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    @property
    def reusable(self) -> bool:
        return self.alive and self.tasks < TASKS_PER_CHILD and self.largest < RETIRE_AFTER_BYTES

    async def stop(self) -> None:
        """Close its input (it exits when done) and wait; kill it if it does not."""
        if self.proc.stdin is not None and not self.proc.stdin.is_closing():
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(5):
                await self.proc.wait()
        except TimeoutError:
            self.kill()
            await self.proc.wait()

    def kill(self) -> None:
        if self.alive:
            self.proc.kill()


class CheckpointWork:
    """The process's checkpoint readers, their queue, and the preview cache."""

    def __init__(self, *, workers: int = 1, cache_bytes: int = 64 << 20) -> None:
        self.workers = max(1, workers)
        self.cache_bytes = cache_bytes
        self._slots = asyncio.Semaphore(self.workers)
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._cache: collections.OrderedDict[int, bytes | DocumentTooDeepError] = (
            collections.OrderedDict())
        self.cached_bytes = 0
        self._rendering: dict[int, asyncio.Task[bytes]] = {}
        self._stopping: set[asyncio.Task[None]] = set()  # children being retired
        self._restoring: set[str] = set()  # rooms with a restore in progress
        self.closed = False
        self.waiting = 0  # computations waiting for a child
        self.running = 0  # computations a child is doing now
        self.previews_rendered = 0  # previews computed (not served from the cache)
        self.preview_hits = 0  # previews served from the cache or a shared rendering
        self.restores_prepared = 0
        self.child_failures = 0  # children that died, or were killed past TIMEOUT

    # --- previews --------------------------------------------------------------------

    async def preview(self, checkpoint_id: int, load: Callable[[], Awaitable[bytes]]) -> bytes:
        """The canvas of checkpoint ``checkpoint_id`` as JSON bytes; ``load`` fetches the
        checkpoint's data (called only if it must be rendered, once a child is free).
        The caller has checked that the checkpoint is one the request may see."""
        cached = self._cache.get(checkpoint_id)
        if cached is not None:
            self._cache.move_to_end(checkpoint_id)
            self.preview_hits += 1
            if isinstance(cached, DocumentTooDeepError):
                raise DocumentTooDeepError(cached.limit)
            return cached
        task = self._rendering.get(checkpoint_id)
        if task is None:
            self._check_queue()
            self.waiting += 1  # now, not when the task first runs: the bound is exact
            task = asyncio.get_running_loop().create_task(self._render(checkpoint_id, load))
            self._rendering[checkpoint_id] = task
            task.add_done_callback(lambda t: self._rendered(checkpoint_id, t))
        else:
            self.preview_hits += 1
        # Shielded: a requester that goes away does not cancel what others wait for.
        return await asyncio.shield(task)

    async def _render(self, checkpoint_id: int, load: Callable[[], Awaitable[bytes]]) -> bytes:
        async with self._turn(counted=True) as reader:
            data = await load()
            self.previews_rendered += 1
            try:
                body = await self._run(reader, child.PREVIEW, data)
            except DocumentTooDeepError as exc:
                self._keep(checkpoint_id, exc, REFUSAL_BYTES)
                raise
        self._keep(checkpoint_id, body, len(body))
        return body

    def _rendered(self, checkpoint_id: int, task: asyncio.Task[bytes]) -> None:
        self._rendering.pop(checkpoint_id, None)
        if not task.cancelled():
            task.exception()  # retrieved here: requesters that left do not see it

    def _keep(self, checkpoint_id: int, value: bytes | DocumentTooDeepError,
              size: int) -> None:
        """Cache ``value`` (least recently used entries go first); one larger than the
        whole cache is served but not kept."""
        if size > self.cache_bytes:
            return
        self._cache[checkpoint_id] = value
        self.cached_bytes += size
        while self.cached_bytes > self.cache_bytes:
            _, old = self._cache.popitem(last=False)
            self.cached_bytes -= (REFUSAL_BYTES if isinstance(old, DocumentTooDeepError)
                                  else len(old))

    # --- restores --------------------------------------------------------------------

    @contextlib.contextmanager
    def restoring(self, room_id: str) -> Iterator[None]:
        """Hold this process's one restore of ``room_id`` (:class:`RestoreInProgressError`
        if another holds it): a restore decodes the whole canvas and checkpoint and may
        rewrite the canvas for everyone in it; two at once of one room double that for
        nothing (the second overwrites the first)."""
        if room_id in self._restoring:
            raise RestoreInProgressError(room_id)
        self._restoring.add(room_id)
        try:
            yield
        finally:
            self._restoring.discard(room_id)

    async def restore_change(self, current: bytes, data: bytes) -> bytes:
        """The update that makes a document whose state is ``current`` hold checkpoint
        ``data``'s content (see :func:`sync._checkpoint_child.restore_change`);
        :class:`DocumentTooDeepError` for a checkpoint nested too deep."""
        self._check_queue()
        async with self._turn() as reader:
            self.restores_prepared += 1
            return await self._run(reader, child.RESTORE, current, data)

    # --- the children ----------------------------------------------------------------

    def _check_queue(self) -> None:
        if self.closed:
            raise CheckpointBusyError(self.waiting)
        if self.waiting >= MAX_WAITING:
            raise CheckpointBusyError(self.waiting)

    @contextlib.asynccontextmanager
    async def _turn(self, *, counted: bool = False) -> AsyncIterator[_Child]:
        """Wait for a free child (counted in ``waiting``, already if ``counted``), and
        hold it."""
        if not counted:
            self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        reader: _Child | None = None
        try:
            reader = self._idle.pop() if self._idle else await _Child.start()
            self._busy.add(reader)
            yield reader
        finally:
            if reader is not None:
                self._busy.discard(reader)
                if reader.reusable and not self.closed:
                    self._idle.append(reader)
                else:
                    stopping = asyncio.get_running_loop().create_task(reader.stop())
                    self._stopping.add(stopping)
                    stopping.add_done_callback(self._stopping.discard)
            self._slots.release()

    async def _run(self, reader: _Child, op: bytes, *args: bytes) -> bytes:
        self.running += 1
        try:
            async with asyncio.timeout(TIMEOUT):
                status, payload = await reader.call(op, *args)
        except (TimeoutError, OSError, asyncio.IncompleteReadError) as exc:
            # It died (killed, out of memory) or hangs: never use it again.
            self.child_failures += 1
            reader.kill()
            log.error("a checkpoint reader process failed (%s); a new one starts next time",
                      type(exc).__name__)
            raise CheckpointUnreadableError() from None
        except BaseException:  # cancelled mid-answer: its pipe is out of step, drop it
            reader.kill()
            raise
        finally:
            self.running -= 1
        if status == child.DONE:
            return payload
        if status == child.TOO_DEEP:
            raise DocumentTooDeepError(int(payload))
        log.warning("a checkpoint could not be read: %s", payload.decode("utf-8", "replace"))
        raise CheckpointUnreadableError()

    async def close(self) -> None:
        """Stop every child (one busy with a computation is killed: its server is going)."""
        self.closed = True
        for reader in self._busy:
            reader.kill()
        readers, self._idle = [*self._idle, *self._busy], []
        await asyncio.gather(*(r.stop() for r in readers), *self._stopping,
                             return_exceptions=True)


__all__ = [
    "MAX_WAITING",
    "CheckpointBusyError",
    "CheckpointUnreadableError",
    "CheckpointWork",
    "RestoreInProgressError",
]
