"""A room's own model endpoint must not reach inside the server's network, however the
address is spelled.

The attacker is a room's editor: ``PUT /api/rooms/R/keys/openai`` with a ``base_url`` of
their choosing makes the worker send the room's model calls (with the room's key, and the
canvas's text) there. Spelled plainly, internal addresses were refused; spelled as IPv6
forms that carry an IPv4 address (NAT64, 6to4, IPv4-compatible ...) or as deprecated IPv6
ranges, they were saved, and the worker would have called them. The check is made when the
URL is set (400, naming why) and again by the worker at every connection (a name can be
re-pointed after it was saved, and URLs saved before a check existed are still stored).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from sync.settings import Settings
from tests.conftest import run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.yclient import YClient, eventually

ROOM_KEY = "sk-room-" + "h" * 24

# (id naming the spelling, host as written in the URL, a word the refusal must name)
INTERNAL_SPELLINGS = [
    ("nat64-of-loopback", "[64:ff9b::7f00:1]", "NAT64"),
    ("nat64-of-cloud-metadata", "[64:ff9b::a9fe:a9fe]", "169.254.169.254"),
    ("local-use-nat64", "[64:ff9b:1::a00:1]", "local-use NAT64"),
    ("6to4-of-loopback", "[2002:7f00:1::]", "6to4"),
    ("6to4-of-private", "[2002:a00:1::1]", "10.0.0.1"),
    ("ipv4-compatible-loopback", "[::127.0.0.1]", "IPv4-compatible"),
    ("ipv4-mapped-loopback", "[::ffff:127.0.0.1]", "IPv4-mapped"),
    ("ipv4-translated-loopback", "[::ffff:0:127.0.0.1]", "IPv4-translated"),
    ("teredo-of-loopback", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", "Teredo"),
    ("site-local", "[fec0::1]", "site-local"),
    ("documentation-v6", "[2001:db8::1]", "documentation"),
    ("benchmarking-v4", "198.18.0.1", "benchmarking"),
    ("shared-address-space", "100.64.0.1", "shared address space"),
    ("unspecified", "0.0.0.0", "this network"),
    ("multicast-v6", "[ff02::1]", "multicast"),
]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_room(http: httpx.AsyncClient) -> dict[str, str]:
    r = await http.post("/api/rooms", json={"title": "addresses"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def put_openai_key(http: httpx.AsyncClient, room: dict[str, str],
                         base_url: str) -> httpx.Response:
    return await http.put(f"/api/rooms/{room['room']}/keys/openai",
                          headers=auth(room["edit_token"]),
                          json={"api_key": ROOM_KEY, "base_url": base_url})


async def key_is_set(http: httpx.AsyncClient, room: dict[str, str]) -> bool:
    listed = (await http.get(f"/api/rooms/{room['room']}/keys",
                             headers=auth(room["edit_token"]))).json()
    return bool(listed["openai"]["set"])


@pytest.mark.parametrize(("host", "named"), [(h, n) for _, h, n in INTERNAL_SPELLINGS],
                         ids=[i for i, _, _ in INTERNAL_SPELLINGS])
async def test_a_base_url_spelling_an_internal_address_is_refused(settings, host, named):
    """Attack: save a room base URL whose host is an internal address in another
    spelling, so that the worker calls a service inside the network."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_openai_key(http, room, f"http://{host}:8000/v1")
        assert r.status_code == 400, r.text
        problem = r.json()
        assert problem["type"].endswith("#bad_base_url")
        assert "public endpoint" in problem["detail"] and named in problem["detail"], problem
        assert ROOM_KEY not in r.text
        assert not await key_is_set(http, room), "the refused key was saved"


async def test_a_nat64_spelling_of_a_public_address_is_accepted(settings):
    """Decoding is not refusing every form: NAT64 of a public address (how an IPv6-only
    network reaches IPv4 services) is a public endpoint and is saved."""
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        r = await put_openai_key(http, room, "https://[64:ff9b::808:808]/v1")
        assert r.status_code == 200, r.text
        assert await key_is_set(http, room)


async def _saved_then_run(settings: Settings, url: str) -> tuple[dict[str, Any], str]:
    """Save ``url`` through a server that allows private base URLs (as if the set-time
    check had passed: a name public then, or a URL saved before the check knew the form),
    then run a job through a worker that does not. Returns the final job and the error
    shown on the output block."""
    server_settings = settings.replace(allow_private_base_urls=True, offline_delay=0.002)
    worker_settings = settings.replace(allow_private_base_urls=False, offline_delay=0.002)
    async with run_server(server_settings) as srv, run_worker(worker_settings), \
            httpx.AsyncClient(base_url=srv.base_url) as http:
        room = await new_room(http)
        editor = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}"
                                       f"?token={room['edit_token']}")
        try:
            editor.add_text_block("p", "a heron")
            r = await put_openai_key(http, room, url)
            assert r.status_code == 200, r.text
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers=auth(room["edit_token"]),
                                json={"tool": "expand", "inputs": ["p"],
                                      "params": {"model": "openai:gpt-4.1-mini"}})
            assert r.status_code == 202, r.text
            job_id = r.json()["job_id"]

            async def final():
                j = (await http.get(f"/api/rooms/{room['room']}/jobs/{job_id}",
                                    headers=auth(room["view_token"]))).json()
                return j if j["status"] in ("done", "error", "cancelled") else None

            job = await eventually(final, timeout=30, message="the job to end")
            out = job["outputs"][0]
            await eventually(lambda: (editor.blocks().get(out) or {}).get("status") == "error",
                             timeout=5, message="the block to show the refusal")
            return job, str(editor.blocks()[out].get("error"))
        finally:
            await editor.close()


async def test_the_worker_refuses_a_saved_nat64_spelling_of_loopback(settings, model_server):
    """Attack: a base URL ``http://[64:ff9b::7f00:1]:PORT/v1`` already stored (saved before
    the set-time check knew the form). Behind a NAT64 gateway it is 127.0.0.1. The worker
    refuses it at connect time, at once and for good, and says why."""
    url = f"http://[64:ff9b::7f00:1]:{model_server.port}/v1"
    job, block_error = await _saved_then_run(settings, url)
    assert job["status"] == "error", job
    assert "inside the server's network" in job["error"] and "NAT64" in job["error"], job
    assert job["attempt"] == 1, "a refusal is not worth a retry"
    assert "inside the server's network" in block_error
    assert model_server.requests == []


async def test_the_worker_refuses_a_name_that_resolves_to_loopback_when_it_connects(
        settings, model_server):
    """Attack (DNS rebinding): a name that was public when the URL was saved now resolves
    to loopback (``localhost`` stands for it). The worker resolves the name itself,
    refuses, and connects nowhere: the fake model server on 127.0.0.1 sees no request."""
    url = f"http://localhost:{model_server.port}/v1"
    job, block_error = await _saved_then_run(settings, url)
    assert job["status"] == "error", job
    assert "localhost now resolves to 127.0.0.1" in job["error"] and "loopback" in job["error"], job
    assert job["attempt"] == 1
    assert "inside the server's network" in block_error
    assert model_server.requests == []
