"""Attacks on signing in with an OpenID Connect provider (``/api/auth/oidc/callback``).

A provider (tests/fakes/oidc_provider.py) started by the test answers with an id token
that is wrong in one way each: signed with a key it never published, made for another
application, expired, or for another sign-in (nonce); and callbacks are replayed or
carried to another browser. Each is refused with an HTML page (status 400) that says in
words what went wrong, with no stack trace, and nothing is signed in: no identity cookie,
no account waiting to be claimed, and the account stays unlinked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from sync.settings import Settings
from tests.fakes.conftest_fixtures import oidc_provider_fixture  # noqa: F401
from tests.fakes.oidc_provider import FakeOidcProvider
from tests.integration.test_gallery import Gallery
from tests.integration.test_oidc import handle_of, sign_in, signin_gallery, to_provider


@pytest.fixture
async def gallery(settings: Settings, oidc_provider: FakeOidcProvider
                  ) -> AsyncIterator[Gallery]:
    async with signin_gallery(settings, oidc_provider) as running:
        yield running


async def refused(g: Gallery, http: httpx.AsyncClient, r: httpx.Response, words: str,
                  provider: FakeOidcProvider) -> None:
    """A clear 400 page, and nothing signed in (nor waiting to be claimed, nor linked)."""
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert words in r.text, r.text
    assert "Traceback" not in r.text and "Error" not in r.text
    set_cookies = " ".join(r.headers.get_list("set-cookie"))
    assert "arbor_id=" not in set_cookies and "arbor_oidc_pending=" not in set_cookies
    assert await handle_of(http) is None
    # The account is still nobody's: an honest sign-in now is asked to claim a handle.
    provider.switches.forge = provider.switches.expired = False
    provider.switches.audience = provider.switches.nonce = provider.switches.issuer = None
    r = await sign_in(await g.browser(), provider)
    assert r.status_code == 303 and r.headers["location"] == "/gallery?claim=1", r.text


async def someone_linked(g: Gallery, provider: FakeOidcProvider) -> str:
    """A person whose handle is linked to the provider's ``victim`` account."""
    provider.switches.subject = "victim"
    http = await g.person()
    r = await sign_in(http, provider, link=True)
    assert r.status_code == 303, r.text
    name = await handle_of(http)
    assert name is not None
    return name


async def test_callback_refuses_an_id_token_signed_with_another_key(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """A forged id token: right claims and key id, signed with a key the provider never
    published (what someone who can answer the token request, but lacks the key, sends)."""
    oidc_provider.switches.subject = "forged"
    oidc_provider.switches.forge = True
    http = await gallery.browser()
    r = await sign_in(http, oidc_provider)
    await refused(gallery, http, r, "signature is not the provider", oidc_provider)


async def test_callback_refuses_a_forged_token_for_a_linked_account(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """A forged id token naming an account that is linked to someone's handle: it must not
    sign the forger in as them."""
    await someone_linked(gallery, oidc_provider)
    oidc_provider.switches.forge = True
    http = await gallery.browser()
    r = await sign_in(http, oidc_provider)
    assert r.status_code == 400 and "signature is not the provider" in r.text
    assert "arbor_id=" not in " ".join(r.headers.get_list("set-cookie"))
    assert await handle_of(http) is None


async def test_callback_refuses_an_id_token_for_another_application(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """A genuine id token the provider made for another application (its ``aud``), as a
    malicious site that people sign in to could replay at us."""
    oidc_provider.switches.subject = "other-app"
    oidc_provider.switches.audience = "some-other-client"
    http = await gallery.browser()
    r = await sign_in(http, oidc_provider)
    await refused(gallery, http, r, "made for another application", oidc_provider)


async def test_callback_refuses_an_expired_id_token(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """An id token whose ``exp`` passed an hour and more ago."""
    oidc_provider.switches.subject = "late"
    oidc_provider.switches.expired = True
    http = await gallery.browser()
    r = await sign_in(http, oidc_provider)
    await refused(gallery, http, r, "has expired", oidc_provider)


async def test_callback_refuses_an_id_token_with_another_nonce(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """An id token minted for another sign-in (its nonce is not the one this flow sent)."""
    oidc_provider.switches.subject = "nonce"
    oidc_provider.switches.nonce = "a-nonce-from-another-sign-in"
    http = await gallery.browser()
    r = await sign_in(http, oidc_provider)
    await refused(gallery, http, r, "nonce differs", oidc_provider)


async def test_callback_refuses_an_id_token_from_another_issuer(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """An id token whose ``iss`` is another provider's."""
    oidc_provider.switches.subject = "elsewhere"
    oidc_provider.switches.issuer = "https://accounts.example.com"
    http = await gallery.browser()
    r = await sign_in(http, oidc_provider)
    await refused(gallery, http, r, "issued by another provider", oidc_provider)


async def test_callback_refuses_a_replayed_state(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """A callback URL (code and state) used a second time, with the browser's state
    cookie put back as it was: the state is spent, so nothing happens again."""
    name = await someone_linked(gallery, oidc_provider)
    http = await gallery.browser()
    callback = await to_provider(http, oidc_provider)
    state = http.cookies["arbor_oidc_state"]
    r = await http.get(callback)
    assert r.status_code == 303 and await handle_of(http) == name

    again = await gallery.browser()
    again.cookies.set("arbor_oidc_state", state)
    r = await again.get(callback)
    assert r.status_code == 400 and "already been used or has expired" in r.text
    assert "arbor_id=" not in " ".join(r.headers.get_list("set-cookie"))
    assert await handle_of(again) is None
    assert oidc_provider.token_requests == 2  # the spent code never reached the provider


async def test_callback_refuses_a_sign_in_started_in_another_browser(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """Login CSRF: an attacker starts a sign-in, stops at the callback and makes a victim's
    browser open it (so the victim would act as the attacker's account)."""
    await someone_linked(gallery, oidc_provider)
    attacker = await gallery.browser()
    callback = await to_provider(attacker, oidc_provider)
    victim = await gallery.browser()
    r = await victim.get(callback)
    assert r.status_code == 400 and "not started in this browser" in r.text
    assert await handle_of(victim) is None
    # The attacker's own flow is untouched by the attempt (its state was not spent).
    assert (await attacker.get(callback)).status_code == 303


async def test_callback_refuses_a_forged_state(
        gallery: Gallery, oidc_provider: FakeOidcProvider) -> None:
    """A callback with a state this server never handed out (cookie set to match)."""
    http = await gallery.browser()
    http.cookies.set("arbor_oidc_state", "made-up-state")
    r = await http.get("/api/auth/oidc/callback",
                       params={"code": "anything", "state": "made-up-state"})
    assert r.status_code == 400 and "already been used or has expired" in r.text
    assert oidc_provider.token_requests == 0
    assert await handle_of(http) is None


async def test_start_is_rate_limited_per_address(settings: Settings,
                                                 oidc_provider: FakeOidcProvider) -> None:
    """A script starting sign-ins in a loop (each start keeps state in Redis for ten
    minutes): past the per-address rate it gets 429 and no more state is kept."""
    limited = settings.replace(rate_rooms_per_min_ip=1.0, rate_rooms_burst_ip=2)
    async with signin_gallery(limited, oidc_provider) as g:
        redis, pattern = g.server.services.arq, f"{limited.redis_prefix}oidc:state:*"
        before = {k async for k in redis.scan_iter(match=pattern)}  # other tests' flows
        script = await g.browser()
        for _ in range(2):
            assert (await script.get("/api/auth/oidc/start")).status_code == 302
        r = await script.get("/api/auth/oidc/start")
        assert r.status_code == 429 and "Too many sign-ins" in r.text
        assert "location" not in r.headers and "arbor_oidc_state=" not in " ".join(
            r.headers.get_list("set-cookie"))
        assert len({k async for k in redis.scan_iter(match=pattern)} - before) == 2
        # Another address is not held up by this one.
        assert (await (await g.browser()).get("/api/auth/oidc/start")).status_code == 302
