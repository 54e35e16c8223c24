"""Signing in with an OpenID Connect provider, end to end over real HTTP: the real server
(PostgreSQL, Redis) and a small provider the test starts (tests/fakes/oidc_provider.py),
each step taken as a browser would (redirect to the provider, back to the callback).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sync.settings import Secret, Settings
from tests.fakes.conftest_fixtures import oidc_provider_fixture  # noqa: F401
from tests.fakes.oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeOidcProvider
from tests.integration.test_gallery import Gallery, gallery_with, handle


def with_provider(settings: Settings, provider: FakeOidcProvider) -> Settings:
    return settings.replace(oidc_issuer=provider.url, oidc_client_id=CLIENT_ID,
                            oidc_client_secret=Secret(CLIENT_SECRET), oidc_name="Test ID")


@contextlib.asynccontextmanager
async def signin_gallery(settings: Settings, provider: FakeOidcProvider
                         ) -> AsyncIterator[Gallery]:
    async with gallery_with(with_provider(settings, provider)) as running:
        yield running


@pytest.fixture
async def gallery(settings: Settings, oidc_provider: FakeOidcProvider
                  ) -> AsyncIterator[Gallery]:
    async with signin_gallery(settings, oidc_provider) as running:
        yield running


async def to_provider(http: httpx.AsyncClient, provider: FakeOidcProvider, *,
                      link: bool = False) -> str:
    """Start a sign-in and let the provider answer: the callback URL it redirects to."""
    r = await http.get("/api/auth/oidc/start", params={"link": "1"} if link else None)
    assert r.status_code == 302, r.text
    assert r.headers["location"].startswith(f"{provider.url}/authorize?")
    r = await http.get(r.headers["location"])
    assert r.status_code == 302, r.text
    callback = r.headers["location"]
    assert callback.startswith(f"{str(http.base_url).rstrip('/')}/api/auth/oidc/callback?")
    return callback


async def sign_in(http: httpx.AsyncClient, provider: FakeOidcProvider, *,
                  link: bool = False) -> httpx.Response:
    """The whole round trip: the callback's answer."""
    return await http.get(await to_provider(http, provider, link=link))


async def handle_of(http: httpx.AsyncClient) -> str | None:
    r = await http.get("/api/identity")
    if r.status_code == 401:
        return None
    assert r.status_code == 200, r.text
    return str(r.json()["handle"])


async def test_info_says_whether_sign_in_is_configured(settings: Settings,
                                                        oidc_provider: FakeOidcProvider) -> None:
    async with gallery_with(settings) as plain:
        r = await (await plain.browser()).get("/api/auth/oidc")
        assert r.json() == {"configured": False, "name": None}
        r = await (await plain.browser()).get("/api/auth/oidc/start")
        assert r.status_code == 404 and "not set up" in r.text
    async with signin_gallery(settings, oidc_provider) as g:
        r = await (await g.browser()).get("/api/auth/oidc")
        assert r.json() == {"configured": True, "name": "Test ID"}


async def test_start_asks_for_a_code_with_pkce_state_and_nonce(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    http = await gallery.browser()
    r = await http.get("/api/auth/oidc/start")
    assert r.status_code == 302
    query = parse_qs(urlsplit(r.headers["location"]).query)
    assert query["response_type"] == ["code"] and query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 32 and len(query["nonce"][0]) >= 32
    assert query["redirect_uri"] == [f"{gallery.server.base_url}/api/auth/oidc/callback"]
    assert http.cookies.get("arbor_oidc_state") == query["state"][0]


async def test_a_new_account_claims_a_handle_then_signs_in_on_another_device(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    oidc_provider.switches.subject = "new-person"
    laptop = await gallery.browser()
    r = await sign_in(laptop, oidc_provider)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?claim=1", r.text
    assert await handle_of(laptop) is None  # no handle yet: the page asks for one
    name = handle()
    r = await laptop.post("/api/identity", json={"handle": name})
    assert r.status_code == 201, r.text
    assert await handle_of(laptop) == name

    phone = await gallery.browser()
    r = await sign_in(phone, oidc_provider)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?signed_in=1", r.text
    assert await handle_of(phone) == name
    # The phone has a secret of its own: the laptop's cookie still works too.
    assert phone.cookies["arbor_id"] != laptop.cookies["arbor_id"]
    assert await handle_of(laptop) == name


async def test_a_handle_links_a_provider_later_and_signs_in_without_its_recovery_link(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    name = handle()
    old_device = await gallery.person(name)
    oidc_provider.switches.subject = "linker"
    r = await sign_in(old_device, oidc_provider, link=True)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?linked=1", r.text
    assert await handle_of(old_device) == name

    new_device = await gallery.browser()  # the recovery link is lost: sign in instead
    r = await sign_in(new_device, oidc_provider)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?signed_in=1"
    assert await handle_of(new_device) == name


async def test_linking_needs_a_handle(gallery: Gallery) -> None:
    r = await (await gallery.browser()).get("/api/auth/oidc/start", params={"link": "1"})
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert "claim a handle" in r.text


async def test_an_account_linked_to_one_handle_is_not_linked_to_another(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    first, second = handle(), handle()
    oidc_provider.switches.subject = "shared"
    alice = await gallery.person(first)
    assert (await sign_in(alice, oidc_provider, link=True)).status_code == 303
    mallory = await gallery.person(second)
    r = await sign_in(mallory, oidc_provider, link=True)
    assert r.status_code == 409 and "already linked to another handle" in r.text
    r = await sign_in(await gallery.browser(), oidc_provider)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?signed_in=1"
