"""Models, prompts and spend in the browser: a block's model choice, a tool prompt edited
by one person and seen by another, the estimate before a run, and the spend panel after."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import connected, expect, new_room, open_canvas, shot
from tests.e2e.helpers import add_text_block, node, node_ids, select_block

pytestmark = pytest.mark.timeout(90)


async def test_model_prompt_estimate_and_spend_across_two_people(app, browser):
    room = await new_room(app)
    _, a = await open_canvas(browser, room.url(app.base_url), "Ada")
    _, b = await open_canvas(browser, room.url(app.base_url), "Ben")
    await connected(a)
    await connected(b)
    root = await add_text_block(a, "a red fox in snow", at=(250, 300))

    # A block's model choice is in the document: the other person sees it.
    picker = node(a, root).get_by_role("combobox", name="Model")
    await picker.select_option("offline:text")
    await expect(node(b, root).get_by_role("combobox", name="Model")).to_have_value(
        "offline:text")

    # Ada edits the twist prompt; an unknown placeholder is refused before it is saved.
    await a.get_by_role("button", name="Prompts").click()
    await a.get_by_role("combobox", name="Tool", exact=True).select_option("twist")
    editor = a.get_by_role("textbox", name="Template")
    await editor.fill("PIRATE {colour} {input}")
    await expect(a.get_by_role("alert")).to_contain_text("unknown placeholder {colour}")
    await editor.fill("PIRATE VERSION: {input}")
    await expect(a.get_by_role("alert")).to_have_count(0)
    await expect(a.get_by_label("Differences from the default")).to_contain_text(
        "PIRATE VERSION: {input}")
    # Ben sees it live, with how it differs from the default.
    await b.get_by_role("button", name="Prompts").click()
    await b.get_by_role("combobox", name="Tool", exact=True).select_option("twist")
    await expect(b.get_by_role("textbox", name="Template")).to_have_value("PIRATE VERSION: {input}")
    await expect(b.get_by_label("Differences from the default")).to_contain_text("PIRATE")
    await b.get_by_role("button", name="Close the prompts").click()
    await a.get_by_role("button", name="Close the prompts").click()

    # Before running, the menu shows what a run would use and cost.
    await select_block(a, root)
    await a.get_by_role("button", name="Tools ▾").click()
    twist = a.get_by_role("menuitem", name=re.compile(r"^Twist \d"))
    await twist.hover()
    await expect(a.get_by_test_id("estimate")).to_contain_text(
        re.compile(r"Twist: up to [\d,]+ tokens with Offline text \(no model\), free"))
    before = set(await node_ids(a))
    await twist.click()
    await expect(a.locator(".react-flow__node")).to_have_count(len(before) + 1)
    (out,) = [i for i in await node_ids(a) if i not in before]
    await expect(node(b, out).locator(".status-label")).to_have_text("Done · Twist")
    await expect(node(b, out)).to_contain_text("PIRATE VERSION: a red fox in snow")
    await expect(node(b, out).get_by_role("combobox", name="Model")).to_have_value("offline:text")

    # The spend panel counts the run for Ada, by tool and model.
    await b.get_by_role("button", name="Spend").click()
    panel = b.get_by_role("region", name="Spend of this canvas")
    await expect(panel.get_by_test_id("spend-total")).to_contain_text("$0")
    await expect(panel).to_contain_text("(1 run;")
    await expect(panel.get_by_role("row", name=re.compile("^Ada"))).to_contain_text("1 run")
    # Tools and models by their names, never their ids.
    await expect(panel.get_by_role("row", name=re.compile("^Twist"))).to_be_visible()
    offline = re.compile(r"^Offline text \(no model\)")
    await expect(panel.get_by_role("row", name=offline)).to_be_visible()
    await expect(panel).not_to_contain_text("offline:text")
    await shot(b, "models-spend")
    assert not a.errors and not b.errors  # type: ignore[attr-defined]


async def test_view_link_has_no_keys_button(app, browser):
    room = await new_room(app)
    _, v = await open_canvas(browser, room.url(app.base_url, room.view_token), "Cy")
    await connected(v)
    await expect(v.get_by_role("button", name="Spend")).to_be_visible()
    await expect(v.get_by_role("button", name="Keys")).to_have_count(0)
