"""Fixtures for the fakes. Import the ones a test module needs::

    from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .model_server import FakeModelServer
from .oidc_provider import FakeOidcProvider


@pytest.fixture(name="model_server")
async def model_server_fixture() -> AsyncIterator[FakeModelServer]:
    """A fresh fake OpenAI + Gemini server on a free port of 127.0.0.1."""
    async with FakeModelServer() as server:
        yield server


@pytest.fixture(name="oidc_provider")
async def oidc_provider_fixture() -> AsyncIterator[FakeOidcProvider]:
    """A fresh fake OpenID Connect provider (its own RSA key) on a free port of 127.0.0.1."""
    async with FakeOidcProvider() as provider:
        yield provider
