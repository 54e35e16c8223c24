"""Fixtures for the interop tests: Node processes running stock y-websocket clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.interop.node import NodeProcess


@pytest.fixture
async def node() -> AsyncIterator[Callable[[], Awaitable[NodeProcess]]]:
    """A factory of Node processes; every one started is killed when the test ends."""
    started: list[NodeProcess] = []

    async def spawn() -> NodeProcess:
        proc = await NodeProcess.start()
        started.append(proc)
        return proc

    try:
        yield spawn
    finally:
        for proc in started:
            await proc.close()
