"""Screenshots of every page at 1440x900, 1280x800, 1024x768 and phone size (390x844),
written to ``test-artifacts/screens/`` (not committed) so a person can look at them; and
what a machine can see in them: nothing wider than the window, and on the canvas every
top-bar control fully inside it and clear of the others."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ARTIFACTS
from tests.e2e.pages import SIZES, make_site, person, settled

pytestmark = pytest.mark.timeout(240)

SCREENS = ARTIFACTS / "screens"

OVERFLOW = """() => ({ page: document.documentElement.scrollWidth, window: innerWidth })"""

# Visible controls of the top bar whose boxes overlap another's or leave the window.
TOPBAR_CLASHES = """() => {
    const bar = document.querySelector('.topbar')
    if (!bar) return ['no top bar']
    const els = Array.from(bar.querySelectorAll(
        'a, button, input, .status-indicator, .badge, .follow-count, h1, .avatars > ul'))
        .filter((e) => !e.closest('.menu') && e.getClientRects().length)
        .filter((e) => getComputedStyle(e).visibility !== 'hidden')
        // a control inside another counts once: the avatars' list is one control (its
        // avatars overlap by design, as a stack)
        .filter((e, _, all) => !all.some((o) => o !== e && o.contains(e)))
    const box = (e) => e.getBoundingClientRect()
    const name = (e) => (e.getAttribute('aria-label') || e.textContent || e.className)
        .trim().slice(0, 30)
    const out = []
    for (const e of els) {
        const r = box(e)
        if (r.left < 0 || r.right > innerWidth + 0.5) out.push(`${name(e)} leaves the window`)
    }
    for (let i = 0; i < els.length; i++) {
        for (let j = i + 1; j < els.length; j++) {
            const a = box(els[i]), b = box(els[j])
            const x = Math.min(a.right, b.right) - Math.max(a.left, b.left)
            const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top)
            if (x > 0.5 && y > 0.5) out.push(`${name(els[i])} overlaps ${name(els[j])}`)
        }
    }
    return out
}"""


async def test_every_page_at_every_size_is_drawn_whole(app, browser):
    site = await make_site(app)
    SCREENS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for size in SIZES:
        ctx = await person(browser, "Ada", size)
        errors: list[str] = []
        for name, url in site.urls(app.base_url).items():
            page = await ctx.new_page()  # a new load each time, not a change of #token
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            await page.goto(url)
            await settled(page, name)
            await page.screenshot(path=str(SCREENS / f"{name}-{size}.png"))
            wide = await page.evaluate(OVERFLOW)
            if wide["page"] > wide["window"]:
                problems.append(f"{name} at {size}: {wide['page']} px wide in a "
                                f"{wide['window']} px window")
            if name.startswith("canvas"):
                problems += [f"{name} at {size}: {c}" for c in await page.evaluate(TOPBAR_CLASHES)]
            await page.close()
        assert not errors, (size, errors)
        await ctx.close()
    written = sorted(p.name for p in SCREENS.glob("*.png"))
    assert len([n for n in written if any(n.endswith(f"-{s}.png") for s in SIZES)]) >= 24
    assert not problems, "\n".join(problems)
