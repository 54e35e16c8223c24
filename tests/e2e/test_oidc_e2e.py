"""Signing in through the test OpenID Connect provider from the gallery's handle dialog:
a first sign-in asks for a handle (and links the account to it), a sign-in in another
browser is that handle at once."""

from __future__ import annotations

import contextlib
import re
import secrets

import pytest
from playwright.async_api import Browser

from sync.settings import Settings
from tests.e2e.conftest import expect, shot
from tests.e2e.test_a11y import axe_violations
from tests.e2e.test_gallery_e2e import claim
from tests.e2e.test_gallery_place_e2e import gallery_page
from tests.fakes.conftest_fixtures import oidc_provider_fixture  # noqa: F401
from tests.fakes.oidc_provider import FakeOidcProvider
from tests.integration.test_oidc import with_provider

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def e2e_settings(settings: Settings, oidc_provider: FakeOidcProvider) -> Settings:
    return with_provider(settings.replace(offline_delay=0.01), oidc_provider)


async def test_sign_in_with_the_provider_claims_a_handle_then_signs_in_elsewhere(
        app, browser: Browser, oidc_provider: FakeOidcProvider) -> None:
    name = "o_" + secrets.token_hex(4)
    oidc_provider.switches.subject = f"subject-{name}"
    async with contextlib.AsyncExitStack() as stack:
        ctx, page, errors = await gallery_page(browser, app.base_url)
        stack.push_async_callback(ctx.close)
        await page.get_by_role("button", name="Pick a handle").click()
        dialog = page.get_by_role("dialog")
        button = dialog.get_by_role("link", name="Sign in with Test ID")
        await expect(button).to_be_visible()
        assert await axe_violations(page) == []
        await shot(page, "oidc-claim-dialog")
        await button.click()
        # Through the provider and back: this account has no handle yet, so pick one.
        await expect(page.get_by_role("dialog").get_by_role("heading", name="Pick a handle")
                     ).to_be_visible()
        await claim(page, name)
        await expect(page.get_by_role("link", name=f"@{name}")).to_be_visible()

        ctx2, other, errors2 = await gallery_page(browser, app.base_url, width=390, height=844)
        stack.push_async_callback(ctx2.close)
        await other.get_by_role("button", name="Pick a handle").click()
        await other.get_by_role("link", name="Sign in with Test ID").click()
        await expect(other.get_by_role("link", name=f"@{name}")).to_be_visible()
        await expect(other.get_by_role("dialog")).to_have_count(0)
        await shot(other, "oidc-signed-in-phone")
        assert errors == [] and errors2 == []


async def test_a_handle_links_the_provider_from_edit_profile(
        app, browser: Browser, oidc_provider: FakeOidcProvider) -> None:
    """Claimed by handle, linked from "Edit profile", then signed in on a new device (the
    recovery link is not needed)."""
    name = "l_" + secrets.token_hex(4)
    oidc_provider.switches.subject = f"subject-{name}"
    async with contextlib.AsyncExitStack() as stack:
        ctx, page, errors = await gallery_page(browser, app.base_url)
        stack.push_async_callback(ctx.close)
        await page.get_by_role("button", name="Pick a handle").click()
        await claim(page, name)
        await page.goto(f"{app.base_url}/u/{name}")
        await page.get_by_role("button", name="Edit profile").click()
        dialog = page.get_by_role("dialog", name="Edit your profile")
        link = dialog.get_by_role("link", name="Link your Test ID account")
        await expect(link).to_be_visible()
        assert await axe_violations(page) == []
        await shot(page, "oidc-link-from-profile")
        await link.click()
        await expect(page).to_have_url(re.compile(r"/gallery(\?|$)"))  # back, linked
        await expect(page.get_by_role("link", name=f"@{name}")).to_be_visible()

        ctx2, other, errors2 = await gallery_page(browser, app.base_url)
        stack.push_async_callback(ctx2.close)
        await other.get_by_role("button", name="Pick a handle").click()
        await other.get_by_role("link", name="Sign in with Test ID").click()
        await expect(other.get_by_role("link", name=f"@{name}")).to_be_visible()
        assert errors == [] and errors2 == []
