"""The default prompts keep diffusion.garden's intent, and text answers have room to finish.

What each default asks of a model is checked on the rendered prompt (what the model
receives); the offline model answers each default the way its tool means (it reads the
instruction paragraph), so every tool works with no API key."""

from __future__ import annotations

import json

import pytest

from sync.models import ModelInfo, estimate_units
from sync.tools import (
    IMAGE_JSON_KEYS,
    TEXT_MAX_TOKENS,
    TOOLS,
    ToolInput,
    render,
    validate_params,
)
from worker.providers.base import ImageInput, TextRequest
from worker.providers.offline import LABEL, offline_text

TEXT_TOOLS = sorted(t.name for t in TOOLS.values() if t.output == "text" and t.uses_model)
PROMPT = ToolInput("text", "a lighthouse keeper feeding gulls in a storm")
PICTURE = ToolInput("image", "")


def prompt_of(tool: str) -> str:
    inputs = [PICTURE] if "image" in TOOLS[tool].input_kinds and tool != "run" else [PROMPT]
    if tool == "combine":
        inputs = [PROMPT, ToolInput("text", "a lantern festival")]
    return render(tool, None, inputs, text="Name the gulls" if tool == "run" else "")


def test_image_to_json_asks_for_every_part_of_an_exhaustive_record():
    out = prompt_of("image_to_json")
    for key in IMAGE_JSON_KEYS:
        assert f'"{key}"' in out, key
    for part in ("position", "attributes", "exactly as written", "relate", "camera",
                 "lens", "#rrggbb", "however small", "JSON only"):
        assert part in out, part
    assert "{" in out and "{{" not in out  # literal braces reach the model single


def test_describe_asks_for_a_full_description_with_any_visible_text():
    out = prompt_of("describe").lower()
    for part in ("in full", "where each one is in the frame", "visible text",
                 "quoted exactly", "light", "style"):
        assert part in out, part


def test_reimagine_moves_the_idea_to_another_era_world_or_medium_keeping_its_core():
    out = prompt_of("reimagine")
    assert "another reality: any" in out and "a lighthouse keeper" in out
    for part in ("medieval", "cyberpunk", "woodcut", "Keep the core of the idea",
                 "parallel universe"):
        assert part in out, part
    chosen = render("reimagine", None, [PROMPT], params={"style": "1920s noir"})
    assert "another reality: 1920s noir" in chosen


def test_expand_keeps_the_prompts_style_and_tone():
    out = prompt_of("expand")
    assert "about 120 words" in out and "a lighthouse keeper" in out
    for part in ("keep its voice", "playful", "without changing the idea"):
        assert part in out, part


@pytest.mark.parametrize("tool", TEXT_TOOLS)
def test_text_tools_answer_up_to_a_long_default_and_the_estimate_reserves_it(tool):
    """A low default (it was 800) cut long descriptions and JSON off midway."""
    params = validate_params(tool, {})
    assert params["max_tokens"] == TEXT_MAX_TOKENS >= 4096
    info = ModelInfo("openai:gpt-4.1-mini", "GPT-4.1 mini", "openai",
                     frozenset({"text", "vision"}))
    units = estimate_units(TOOLS[tool], info, 400, 0, params)
    assert units["output_tokens"] == TEXT_MAX_TOKENS
    assert TextRequest("m", "p").max_tokens == TEXT_MAX_TOKENS


@pytest.mark.parametrize("tool", TEXT_TOOLS)
def test_offline_model_answers_every_default_prompt_as_its_tool_means(tool):
    images = [ImageInput(b"\x89PNG fake", "image/png")] if tool in ("describe",
                                                                      "image_to_json") else []
    answer = offline_text(TextRequest("offline:text", prompt_of(tool), images=images))
    if tool == "image_to_json":
        data = json.loads(answer)
        assert tuple(data) == IMAGE_JSON_KEYS
        assert data["summary"].startswith(LABEL)
        return
    assert answer.startswith(LABEL)
    stand_in = "This is a stand-in answer"
    assert (stand_in in answer) == (tool == "run"), answer
