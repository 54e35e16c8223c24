"""Tools where the block is: the selected block's toolbar, run again in place, right-click
menus, the kind of block a dropped connection makes, images chosen from files, Esc and the
keyboard, and the bugs around models and empty blocks."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Page

from tests.e2e.conftest import Room, connected, expect, new_room, open_canvas, poll, shot
from tests.e2e.helpers import add_text_block, doc_state, empty_spot, node, node_ids, select_block
from tests.e2e.test_a11y import check_page
from tests.fakes.model_server import png_bytes

pytestmark = pytest.mark.timeout(120)

BIG = {"width": 1440, "height": 900}
SMALL = {"width": 1024, "height": 768}
TEXT_TOOLS = ["Run", "Expand", "Twist", "Reimagine", "Split", "Generate image", "Variations"]


def toolbar(page: Page):
    return page.get_by_role("toolbar", name=re.compile("^Tools for"))


async def tool_names(page: Page) -> list[str]:
    names: list[str] = await toolbar(page).locator(".tool-wrap > button").all_inner_texts()
    return names


async def new_blocks(page: Page, before: set[str], n: int = 1) -> list[str]:
    await expect(page.locator(".react-flow__node")).to_have_count(len(before) + n)
    return [i for i in await node_ids(page) if i not in before]


async def jobs(app, room: Room) -> list[dict]:
    async with httpx.AsyncClient(base_url=app.base_url) as http:
        r = await http.get(f"/api/rooms/{room.room}/jobs",
                           headers={"Authorization": f"Bearer {room.view_token}"})
        return list(r.json()["jobs"])


async def set_text(page: Page, block_id: str, text: str) -> None:
    """Replace a block's text through the page's document (typing a list into the editor
    continues its markers)."""
    await page.evaluate("""([id, text]) => {
        const t = window.arbor.blocks.get(id).get('text')
        window.arbor.doc.transact(() => { t.delete(0, t.length); t.insert(0, text) })
    }""", [block_id, text])


def image_file(name: str = "photo.png") -> dict:
    return {"name": name, "mimeType": "image/png", "buffer": png_bytes(name, (240, 180))}


async def test_a_text_blocks_toolbar_offers_its_tools_and_refuses_an_empty_prompt(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=BIG)
    await connected(a)
    before = set(await node_ids(a))
    await a.locator(".react-flow__pane").dblclick(position={"x": 300, "y": 350})
    (bid,) = await new_blocks(a, before)
    # A new, empty block: its tools are there, and each says why it cannot run yet.
    await expect(toolbar(a)).to_be_visible()
    assert await tool_names(a) == TEXT_TOOLS
    expand = toolbar(a).get_by_role("button", name="Expand", exact=True)
    await expect(expand).to_be_disabled()
    await expect(expand).to_have_accessible_description("Write a prompt first")
    await expand.hover()
    await expect(a.get_by_role("tooltip", name="Write a prompt first").first).to_be_visible()
    await shot(a, "block-toolbar-empty-1440")
    before_click = set(await node_ids(a))
    await expand.click(force=True)  # disabled: nothing runs
    assert set(await node_ids(a)) == before_click and await jobs(app, room) == []
    # Typing a prompt enables the tools, live.
    await node(a, bid).locator(".cm-content").click()
    await a.keyboard.type("a lighthouse in fog")
    await expect(expand).to_be_enabled()
    await a.keyboard.press("Escape")
    await expand.click()
    (out,) = await new_blocks(a, before_click)
    await expect(node(a, out).locator(".status-label")).to_have_text("Done · Expand")
    # The output is selected; its toolbar offers to run it again.
    await expect(toolbar(a).get_by_role("button", name="Run again")).to_be_visible()
    await shot(a, "block-toolbar-output-1440")
    await a.set_viewport_size(SMALL)
    await select_block(a, bid)
    await expect(toolbar(a)).to_be_visible()
    await shot(a, "block-toolbar-1024")
    box, bar = await node(a, bid).bounding_box(), await toolbar(a).bounding_box()
    assert box and bar and bar["y"] + bar["height"] <= box["y"] + 2, (box, bar)  # beside, not over
    assert not a.errors  # type: ignore[attr-defined]


async def test_run_again_remakes_the_output_in_place_for_everyone(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    root = await add_text_block(a, "a paper boat", at=(250, 300))
    await select_block(a, root)
    before = set(await node_ids(a))
    await toolbar(a).get_by_role("button", name="Twist", exact=True).click()
    (out,) = await new_blocks(a, before)
    await expect(node(b, out).locator(".status-label")).to_have_text("Done · Twist")
    first_job = (await doc_state(a))["blocks"][out]
    edges = (await doc_state(a))["edges"]
    await toolbar(a).get_by_role("button", name="Run again").click()

    async def two_jobs() -> bool:
        js = await jobs(app, room)
        return len(js) == 2 and all(j["status"] == "done" for j in js)
    try:
        await poll(two_jobs)
    except AssertionError:
        raise AssertionError((await jobs(app, room),
                              await a.locator(".toast").all_inner_texts())) from None
    js = await jobs(app, room)
    assert [j["outputs"] for j in js] == [[out], [out]]
    assert js[0]["params"] == js[1]["params"] and js[0]["inputs"] == js[1]["inputs"] == [root]
    for page in (a, b):
        await expect(node(page, out).locator(".status-label")).to_have_text("Done · Twist")
        await expect(page.locator(".react-flow__node")).to_have_count(2)
    state = await doc_state(b)
    assert state["edges"] == edges and state["blocks"][out]["text"].count("[offline]") == 1
    assert first_job["text"].count("[offline]") == 1
    await shot(b, "run-again-b")
    assert not a.errors and not b.errors  # type: ignore[attr-defined]


async def test_an_image_is_chosen_from_files_and_offers_its_own_tools(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=BIG)
    await connected(a)
    before = set(await node_ids(a))
    await a.locator(".react-flow__pane").click(position={"x": 400, "y": 400})
    await a.keyboard.press("i")
    (img,) = await new_blocks(a, before)
    choose = node(a, img).get_by_role("button", name="Choose an image…")
    async with a.expect_file_chooser() as chooser:
        await choose.click()
    await (await chooser.value).set_files(image_file())
    await expect(node(a, img).locator(".image-area img")).to_be_visible()
    await select_block(a, img)
    names = await tool_names(a)
    assert {"Describe", "Image to JSON"} <= set(names) and "Expand" not in names, names
    variations = toolbar(a).get_by_role("button", name="Variations", exact=True)
    await expect(variations).to_be_disabled()
    await expect(variations).to_have_accessible_description("Select a text prompt with it")
    await shot(a, "block-toolbar-image-1440")
    before = set(await node_ids(a))
    await toolbar(a).get_by_role("button", name="Describe", exact=True).click()
    (out,) = await new_blocks(a, before)
    await expect(node(a, out).locator(".status-label")).to_have_text("Done · Describe")
    # The canvas menu uploads too: a new image block where it was opened.
    x, y = await empty_spot(a)
    await a.mouse.click(x, y, button="right")
    menu = a.get_by_role("menu", name="Canvas")
    before = set(await node_ids(a))
    async with a.expect_file_chooser() as chooser:
        await menu.get_by_role("menuitem", name="Upload an image…").click()
    await (await chooser.value).set_files(image_file("second.png"))
    (up,) = await new_blocks(a, before)
    await expect(node(a, up).locator(".image-area img")).to_be_visible()
    assert not a.errors  # type: ignore[attr-defined]


async def test_two_selected_blocks_offer_combine(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    one = await add_text_block(a, "a fox", at=(250, 250))
    two = await add_text_block(a, "a winter forest", at=(250, 520))
    await select_block(a, one)
    await node(a, two).locator(".block-head").click(modifiers=["Shift"])
    await expect(toolbar(a)).to_have_attribute("aria-label", "Tools for the 2 selected blocks")
    assert await tool_names(a) == ["Run", "Combine", "Generate image", "Variations"]
    before = set(await node_ids(a))
    edges = (await doc_state(a))["edges"]
    await toolbar(a).get_by_role("button", name="Combine", exact=True).click()
    (out,) = await new_blocks(a, before)
    await expect(node(a, out).locator(".status-label")).to_have_text("Done · Combine")
    assert (await doc_state(a))["edges"] == edges + 2
    await shot(a, "block-toolbar-combine")


async def test_split_runs_with_a_model_picked_and_pickers_offer_their_kind(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    bid = await add_text_block(a, "a list", at=(250, 300))
    await set_text(a, bid, "- a gull\n- a storm\n- a lighthouse")
    picker = node(a, bid).get_by_role("combobox", name="Text model")
    options = await picker.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert "offline:text" in options and "offline:image" not in options, options
    await picker.select_option("offline:text")
    await select_block(a, bid)
    before = set(await node_ids(a))
    await toolbar(a).get_by_role("button", name="Split", exact=True).click()

    async def split_done() -> bool:
        texts = sorted(b["text"] for b in (await doc_state(a))["blocks"].values())
        return {"a gull", "a storm", "a lighthouse"} <= set(texts)
    await poll(split_done)
    await expect(a.locator(".toast.error")).to_have_count(0)
    assert [j["status"] for j in await jobs(app, room)] == ["done"]
    assert len(set(await node_ids(a)) - before) >= 3
    # An image block's picker offers image models only.
    await a.locator(".react-flow__pane").click(position={"x": 700, "y": 150})
    await a.keyboard.press("i")
    img = a.locator(".react-flow__node-image").first
    image_models = await img.get_by_role("combobox", name="Image model").locator(
        "option").evaluate_all("os => os.map(o => o.value)")
    assert "offline:image" in image_models and "offline:text" not in image_models


async def test_right_click_menus_add_duplicate_delete_and_publish(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=BIG)
    await connected(a)
    # The canvas's menu: keyboard moves, Esc closes; "Add an image block here" adds it there.
    x, y = 500, 420
    await a.mouse.click(x, y, button="right")
    menu = a.get_by_role("menu", name="Canvas")
    await expect(menu).to_be_visible()
    items = menu.get_by_role("menuitem")
    await expect(items).to_have_text([re.compile("^Add a text block here"),
                                      re.compile("^Add an image block here"),
                                      re.compile("^Paste"), "Upload an image…"])
    await expect(items.nth(0)).to_be_focused()
    await a.keyboard.press("ArrowDown")
    await expect(items.nth(1)).to_be_focused()
    await a.keyboard.press("ArrowUp")
    await a.keyboard.press("ArrowUp")
    await expect(items.nth(3)).to_be_focused()
    await shot(a, "context-menu-canvas-1440")
    await a.keyboard.press("Escape")
    await expect(menu).to_have_count(0)
    await a.mouse.click(x, y, button="right")
    before = set(await node_ids(a))
    await a.keyboard.press("ArrowDown")
    await a.keyboard.press("Enter")
    (img,) = await new_blocks(a, before)
    box = await node(a, img).bounding_box()
    assert box and abs(box["x"] + box["width"] / 2 - x) < 30 and abs(
        box["y"] + box["height"] / 2 - y) < 30, box
    # A block's menu: its tools, duplicate, delete; publish for an image with an image.
    bid = await add_text_block(a, "an owl", at=(250, 250))
    await node(a, bid).locator(".block-head").click(button="right")
    bmenu = a.get_by_role("menu", name="Block actions")
    await expect(bmenu.get_by_role("menuitem", name="Expand")).to_be_visible()
    await shot(a, "context-menu-block-1440")
    before = set(await node_ids(a))
    await bmenu.get_by_role("menuitem", name=re.compile("^Duplicate")).click()
    (copy,) = await new_blocks(a, before)
    await expect(node(a, copy)).to_contain_text("an owl")
    await node(a, copy).locator(".block-head").click(button="right")
    await a.get_by_role("menu", name="Block actions").get_by_role(
        "menuitem", name=re.compile("^Delete")).click()
    await expect(node(a, copy)).to_have_count(0)
    await node(a, img).locator(".block-head").click(button="right")
    publish = a.get_by_role("menu", name="Block actions").get_by_role(
        "menuitem", name=re.compile("^Publish"))
    await expect(publish).to_be_disabled()
    await expect(publish).to_contain_text("Add an image first")
    await a.keyboard.press("Escape")
    async with a.expect_file_chooser() as chooser:
        await node(a, img).get_by_role("button", name="Choose an image…").click()
    await (await chooser.value).set_files(image_file())
    await expect(node(a, img).locator(".image-area img")).to_be_visible()
    await node(a, img).locator(".block-head").click(button="right")
    await a.get_by_role("menu", name="Block actions").get_by_role(
        "menuitem", name=re.compile("^Publish")).click()
    await expect(a.get_by_role("dialog")).to_be_visible()
    assert not a.errors  # type: ignore[attr-defined]


async def test_a_connection_dropped_on_empty_canvas_asks_text_or_image(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=BIG)
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben", viewport=BIG)
    await connected(a)
    await connected(b)
    bid = await add_text_block(a, "a kite", at=(250, 300))
    handle = node(a, bid).locator(".react-flow__handle.source")
    hb = await handle.bounding_box()
    assert hb
    edges = (await doc_state(a))["edges"]

    async def drop_connection() -> None:
        await a.mouse.move(hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2)
        await a.mouse.down()
        await a.mouse.move(hb["x"] + 320, hb["y"] + 40, steps=12)
        await a.mouse.up()

    await drop_connection()
    menu = a.get_by_role("menu", name="New connected block")
    await expect(menu.get_by_role("menuitem")).to_have_text([re.compile("^Text"),
                                                             re.compile("^Image")])
    await shot(a, "connect-menu-1440")
    await a.keyboard.press("Escape")  # nothing is made
    await expect(menu).to_have_count(0)
    assert (await doc_state(a))["edges"] == edges and len(await node_ids(a)) == 1
    await drop_connection()
    before = set(await node_ids(a))
    await menu.get_by_role("menuitem", name=re.compile("^Image")).click()
    (made,) = await new_blocks(a, before)
    await expect(node(b, made)).to_have_class(re.compile("react-flow__node-image"))
    assert (await doc_state(b))["edges"] == edges + 1


async def test_the_toolbar_works_by_keyboard_and_esc_clears_the_selection(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    await connected(a)
    bid = await add_text_block(a, "a moth", at=(250, 300))
    await select_block(a, bid)
    await expect(node(a, bid)).to_be_focused()
    # Tab from the selected block enters its toolbar; arrows move; Enter runs.
    await a.keyboard.press("Tab")
    await expect(toolbar(a).get_by_role("button", name="Run", exact=True)).to_be_focused()
    await a.keyboard.press("ArrowRight")
    expand = toolbar(a).get_by_role("button", name="Expand", exact=True)
    await expect(expand).to_be_focused()
    await a.keyboard.press("Escape")  # back to the block, still selected
    await expect(node(a, bid)).to_be_focused()
    await expect(node(a, bid)).to_have_class(re.compile(r"\bselected\b"))
    await a.keyboard.press("Tab")
    await a.keyboard.press("ArrowRight")
    before = set(await node_ids(a))
    await a.keyboard.press("Enter")
    (out,) = await new_blocks(a, before)
    await expect(node(a, out).locator(".status-label")).to_have_text("Done · Expand")
    # The block menu opens from the keyboard and gives focus back when closed.
    await select_block(a, bid)
    await a.keyboard.press("Shift+F10")
    menu = a.get_by_role("menu", name="Block actions")
    await expect(menu.get_by_role("menuitem").first).to_be_focused()
    await a.keyboard.press("Escape")
    await expect(menu).to_have_count(0)
    await expect(node(a, bid)).to_be_focused()
    # Esc clears the selection (every selected block, wherever focus is), and the toolbar
    # goes with it.
    one = await add_text_block(a, "a lamp", at=(250, 560))
    await select_block(a, bid)
    await node(a, one).locator(".block-head").click(modifiers=["Shift"])
    await expect(a.locator(".react-flow__node.selected")).to_have_count(2)
    await a.evaluate("() => document.activeElement.blur()")
    await a.keyboard.press("Escape")
    await expect(a.locator(".react-flow__node.selected")).to_have_count(0)
    await expect(toolbar(a)).to_have_count(0)
    assert not a.errors  # type: ignore[attr-defined]


async def test_toolbar_and_menus_are_named_readable_and_fit_a_phone(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=SMALL)
    await connected(a)
    bid = await add_text_block(a, "a heron", at=(250, 300))
    await select_block(a, bid)
    seen: dict[str, float] = {}
    await check_page(a, "block toolbar", seen)
    await node(a, bid).locator(".block-head").click(button="right")
    await check_page(a, "block menu", seen)
    await a.keyboard.press("Escape")
    await a.mouse.click(700, 600, button="right")
    await check_page(a, "canvas menu", seen)
    await a.keyboard.press("Escape")
    # At phone size the toolbar wraps to the screen instead of running off it.
    await a.set_viewport_size({"width": 390, "height": 844})
    await select_block(a, bid)
    bar = await toolbar(a).bounding_box()
    assert bar and bar["x"] >= 0 and bar["x"] + bar["width"] <= 390, bar
    await shot(a, "block-toolbar-390")
    assert not a.errors  # type: ignore[attr-defined]


async def test_paste_from_the_canvas_menu_makes_a_text_block_there(app, browser):
    room = await new_room(app)
    ctx, a = await open_canvas(browser, room.url(app.base_url), "Ada", viewport=BIG)
    await ctx.grant_permissions(["clipboard-read", "clipboard-write"], origin=app.base_url)
    await connected(a)
    await a.evaluate("() => navigator.clipboard.writeText('a pasted idea')")
    await a.mouse.click(600, 500, button="right")
    before = set(await node_ids(a))
    await a.get_by_role("menu", name="Canvas").get_by_role("menuitem", name=re.compile(
        "^Paste")).click()
    (bid,) = await new_blocks(a, before)
    await expect(node(a, bid)).to_contain_text("a pasted idea")
    await expect(node(a, bid)).to_have_class(re.compile(r"\bselected\b"))
    assert not a.errors  # type: ignore[attr-defined]
