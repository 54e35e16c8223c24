"""Accessibility: axe-core finds no serious or critical violation on any page (home, canvas
through an edit and a view link, gallery, post, profile); every button has a name,
keyboard focus is visible, and the main text colours reach a 4.5:1 contrast on what is
behind them."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import ROOT, connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import add_text_block, drag_pane, select_block, viewport
from tests.e2e.pages import make_site, person, settled

pytestmark = pytest.mark.timeout(90)

UNNAMED_BUTTONS = """() => Array.from(
        document.querySelectorAll('button, [role=button], [role^=menuitem]'))
    .filter((b) => b.offsetParent !== null || b.getClientRects().length)
    .filter((b) => {
        const by = (b.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean)
            .map((id) => document.getElementById(id)?.textContent ?? '').join(' ')
        const name = (b.getAttribute('aria-label') || by || b.textContent ||
            b.getAttribute('title') || '').trim()
        return !name
    })
    .map((b) => b.outerHTML.slice(0, 120))"""

COLOURS = """(selectors) => {
    const rgb = (s) => (s.match(/[\\d.]+/g) || []).map(Number)
    const bg = (el) => {
        for (let e = el; e; e = e.parentElement) {
            const c = rgb(getComputedStyle(e).backgroundColor)
            if (c.length >= 3 && (c.length < 4 || c[3] > 0.9)) return c.slice(0, 3)
        }
        return [255, 255, 255]
    }
    const out = []
    for (const sel of selectors) {
        for (const el of Array.from(document.querySelectorAll(sel)).slice(0, 3)) {
            if (!el.textContent.trim()) continue
            out.push({ sel, fg: rgb(getComputedStyle(el).color).slice(0, 3), bg: bg(el) })
        }
    }
    return out
}"""

MAIN_TEXT = [
    ".title-input", ".status-indicator", ".status-indicator .muted", "button", "button.primary",
    ".block-kind", ".text-view", ".status-label", ".job-tool", ".job-status", ".story-meta",
    ".story-text", ".menu-title", ".followers", ".badge", ".toast", ".follow-banner",
    ".react-flow__edge-text", ".muted",
]


AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"

# axe-core's serious and critical violations on the page as it is now, one line each.
AXE_RUN = """async () => {
    const r = await axe.run(document, { resultTypes: ['violations'] })
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
        .map((v) => `${v.id} (${v.impact}) x${v.nodes.length}: ${v.help}: ` +
             v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | '))
}"""


async def axe_violations(page) -> list[str]:
    found: list[str] = await page.evaluate(AXE_RUN)
    return found


async def test_axe_finds_nothing_serious_on_any_page(app, browser):
    """Every page, and the canvas with its panel, menus and dialogs open."""
    if not AXE.is_file():
        pytest.skip("axe-core is not installed (cd web && npm ci)")
    site = await make_site(app)
    ctx = await person(browser, "Ada", "1280x800")
    await ctx.add_init_script(path=str(AXE))  # before the page's own scripts; CSP allows it
    found: dict[str, list[str]] = {}
    for name, url in site.urls(app.base_url).items():
        page = await ctx.new_page()
        await page.goto(url)
        await settled(page, name)
        found[name] = await axe_violations(page)
        if name == "canvas-edit":
            await page.get_by_role("button", name=re.compile("^History")).click()
            await expect(page.get_by_role("region", name="History")).to_be_visible()
            await page.locator(".react-flow__node").first.locator(".block-head").click()
            await page.get_by_role("button", name="Tools ▾").click()
            found["canvas-edit, history and tools menu"] = await axe_violations(page)
            await page.keyboard.press("Escape")
            await page.get_by_role("button", name="Share").click()
            found["canvas-edit, share dialog"] = await axe_violations(page)
        await page.close()
    await ctx.close()
    bad = {k: v for k, v in found.items() if v}
    assert not bad, "\n".join(f"{k}: {line}" for k, v in bad.items() for line in v)


def luminance(c: list[float]) -> float:
    def ch(v: float) -> float:
        v = v / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (ch(x) for x in c)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: list[float], b: list[float]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_contrast_formula():
    assert round(contrast([0, 0, 0], [255, 255, 255]), 1) == 21.0
    white = [255, 255, 255]
    assert contrast([119, 119, 119], white) < 4.5 < contrast([118, 118, 118], white)


async def check_page(page, state: str, seen: dict[str, float]) -> None:
    unnamed = await page.evaluate(UNNAMED_BUTTONS)
    assert not unnamed, f"buttons without an accessible name ({state}): {unnamed}"
    for c in await page.evaluate(COLOURS, MAIN_TEXT):
        ratio = contrast(c["fg"], c["bg"])
        key = f"{c['sel']} {c['fg']} on {c['bg']}"
        seen[key] = ratio
        assert ratio >= 4.5, f"{state}: {key} has contrast {ratio:.2f} < 4.5"


@pytest.mark.offline_delay(0.02)
async def test_buttons_are_named_focus_is_visible_and_text_is_readable(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    bid = await add_text_block(a, "an owl at dusk", at=(250, 300))
    await select_block(a, bid)
    await a.get_by_role("button", name="Tools ▾").click()
    await a.get_by_role("menuitem", name=re.compile(r"^Expand \d")).click()
    await expect(a.locator(".status-label").filter(has_text="Done")).to_have_count(1)
    seen: dict[str, float] = {}
    await check_page(a, "canvas", seen)
    await a.get_by_role("button", name="Tools ▾").click()
    await check_page(a, "tools menu", seen)
    await a.keyboard.press("Escape")
    await a.get_by_role("button", name="Ben", exact=True).click()
    await check_page(a, "avatar menu", seen)
    await a.get_by_role("menuitem", name="Watch Ben\u2019s branch").click()
    await a.get_by_role("button", name="You: Ada").click()
    await check_page(a, "own menu", seen)
    await a.keyboard.press("Escape")
    await a.get_by_role("button", name=re.compile("^Queue")).click()
    await b.get_by_role("button", name="Ada", exact=True).click()
    await b.get_by_role("menuitem", name="Watch Ada\u2019s branch").click()
    await expect(b.locator(".story-step")).to_have_count(2)
    await check_page(a, "side panels", seen)
    await check_page(b, "watching", seen)
    await a.get_by_role("button", name="Share").click()
    await check_page(a, "share dialog", seen)
    await shot(a, "a11y-share")
    await a.keyboard.press("Escape")
    lowest = sorted(seen.items(), key=lambda kv: kv[1])[:12]
    print("\n" + "\n".join(f"{r:5.2f}  {k}" for k, r in lowest))

    # Keyboard focus is visible: every stop of the first Tabs draws an outline.
    await a.locator("body").click(position={"x": 5, "y": 790})
    checked = 0
    for _ in range(14):
        await a.keyboard.press("Tab")
        style = await a.evaluate("""() => { const e = document.activeElement
            const s = getComputedStyle(e)
            const path = e.querySelector?.('.react-flow__edge-path')
            return { tag: e.tagName,
                     label: e.getAttribute('aria-label') || e.textContent.slice(0, 30),
                     outline: s.outlineStyle, width: parseFloat(s.outlineWidth),
                     shadow: s.boxShadow,
                     stroke: path ? getComputedStyle(path).stroke : null } }""")
        if style["tag"] == "BODY":  # past the last stop, the browser's own UI
            continue
        checked += 1
        visible = ((style["outline"] != "none" and style["width"] >= 2) or style["shadow"] != "none"
                   or style["stroke"] == "rgb(247, 144, 9)")  # an edge: drawn in the focus colour
        assert visible, f"no visible focus on {style}"
    assert checked >= 8, f"only {checked} keyboard stops"
    await shot(a, "a11y-focus")


async def test_spotlight_asks_everyone_to_follow_and_each_can_decline(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    _, c = await open_canvas(browser, room.url(app.base_url), "Cy")
    for p in (a, b, c):
        await connected(p)
    await add_text_block(a, "look here", at=(250, 300))
    await a.get_by_role("button", name="You: Ada").click()
    await a.get_by_role("menuitemcheckbox", name="Spotlight me").click()
    await expect(a.get_by_role("button", name="Spotlight on")).to_be_visible()
    for p in (b, c):
        await expect(p.get_by_role("status").filter(has_text="Following Ada")).to_be_visible()
    # Cy declines; Ben keeps following and tracks Ada's pan, Cy does not.
    await c.get_by_role("button", name="Stop following").click()
    cy_view = await viewport(c)
    await drag_pane(a, -250, -150)
    va = await viewport(a)

    async def ben_tracks() -> bool:
        vb = await viewport(b)
        return abs(vb["x"] - va["x"]) <= 2 and abs(vb["y"] - va["y"]) <= 2

    await poll(ben_tracks)
    assert await viewport(c) == cy_view
    await expect(c.get_by_role("status").filter(has_text="Following Ada")).to_have_count(0)
    await shot(b, "spotlight-b")
