"""A canvas's own base URL is reached at public addresses only, checked when the worker
connects (worker/providers/public_only.py): a name re-pointed inside the network after it
was saved (DNS rebinding) is refused before any request goes out."""

from __future__ import annotations

import ipaddress

import httpx2
import openai
import pytest

from sync.addresses import is_internal
from sync.settings import Secret
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import DEFAULT_REPLY, FakeModelServer
from worker.providers import ProviderError, TextRequest
from worker.providers.openai import OpenAIProvider
from worker.providers.public_only import (
    InternalAddressError,
    PublicOnlyBackend,
    internal_address,
    public_only_client,
)

KEY = "sk-room-" + "r" * 24


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.0.0.8", "172.16.5.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    # IPv6 forms carrying an internal IPv4 address, and IPv6 ranges Python 3.11 calls global
    "64:ff9b::7f00:1", "64:ff9b:1::a00:1", "2002:7f00:1::", "::127.0.0.1", "::ffff:0:7f00:1",
    "2001:0:4136:e378:8000:63bf:80ff:fffe", "fec0::1", "5f00::1", "4000::1",
    "198.18.0.1", "192.0.0.9", "192.88.99.1",
])
def test_addresses_inside_the_network_are_internal(address: str) -> None:
    assert is_internal(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"])
def test_public_addresses_are_not(address: str) -> None:
    assert not is_internal(ipaddress.ip_address(address))


async def test_a_name_that_resolves_to_loopback_is_refused_before_connecting(
        model_server: FakeModelServer) -> None:
    with pytest.raises(InternalAddressError) as info:
        await PublicOnlyBackend().connect_tcp("localhost", model_server.port, timeout=5)
    assert info.value.host == "localhost"
    assert is_internal(ipaddress.ip_address(info.value.address))
    with pytest.raises(InternalAddressError):
        await PublicOnlyBackend().connect_tcp("169.254.169.254", 80, timeout=5)
    assert model_server.requests == []


async def test_the_sdk_through_a_room_provider_gets_a_clear_permanent_error(
        model_server: FakeModelServer) -> None:
    """What a job sees: the base URL was public when it was saved, now it is loopback."""
    url = f"http://localhost:{model_server.port}/v1"
    provider = OpenAIProvider(Secret(KEY), url, timeout=5, public_only=True)
    try:
        model = next(m.id for m in provider.models() if "text" in m.kinds)
        with pytest.raises(ProviderError) as info:
            async for delta in provider.stream_text(TextRequest(model, "hi")):
                pytest.fail(f"text arrived from an internal address: {delta!r}")
    finally:
        await provider.aclose()
    err = info.value
    assert err.kind == "bad_request" and not err.transient
    assert "localhost" in str(err) and "inside the server's network" in str(err)
    assert model_server.requests == [], "a request reached the internal address"


async def test_the_guarded_client_carries_requests_to_an_address_it_allows(
        model_server: FakeModelServer) -> None:
    """The same client, refusing only 10/8 here, reaches the fake server over loopback: the
    connection to the checked address carries the SDK's streaming request."""
    ten = ipaddress.ip_network("10.0.0.0/8")
    http = public_only_client(5, refuse=lambda a: a in ten)
    client = openai.AsyncOpenAI(api_key=KEY, base_url=f"http://localhost:{model_server.port}/v1",
                                max_retries=0, http_client=http)
    try:
        stream = await client.chat.completions.create(
            model="gpt-4.1-mini", messages=[{"role": "user", "content": "hi"}], stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        with pytest.raises(httpx2.ConnectError) as info:
            await http.get("http://10.1.2.3/v1/models")
        refused = internal_address(info.value)
        assert refused is not None and refused.address == "10.1.2.3"
    finally:
        await client.close()
    assert text == DEFAULT_REPLY
    assert len(model_server.requests) == 1
    assert model_server.requests[0].headers["host"] == f"localhost:{model_server.port}"
