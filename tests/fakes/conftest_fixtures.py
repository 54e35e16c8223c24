"""Fixtures for the fakes. Import the ones a test module needs::

    from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .model_server import FakeModelServer


@pytest.fixture(name="model_server")
async def model_server_fixture() -> AsyncIterator[FakeModelServer]:
    """A fresh fake OpenAI + Gemini server on a free port of 127.0.0.1."""
    async with FakeModelServer() as server:
        yield server
