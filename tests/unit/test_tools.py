from __future__ import annotations

import json

import pytest

from sync.errors import ArborError
from sync.tools import (
    MAX_INPUTS,
    TOOLS,
    ToolError,
    ToolInput,
    catalog_json,
    get_tool,
    render,
    split_text,
    validate_inputs,
    validate_params,
    validate_template,
)

EXPECTED = {
    "run", "expand", "twist", "reimagine", "combine", "split", "describe", "image_to_json",
    "generate_image", "variations",
}


def test_catalog_lists_every_tool_once_in_a_json_shape():
    catalog = catalog_json()
    assert [t["name"] for t in catalog] == list(TOOLS)
    assert set(TOOLS) == EXPECTED
    json.dumps(catalog)  # JSON-able as is
    for entry in catalog:
        assert set(entry) >= {"name", "label", "description", "inputs", "output", "outputs",
                              "params", "template"}
        assert set(entry["inputs"]) >= {"kinds", "min", "max"}
        assert 0 <= entry["inputs"]["min"] <= entry["inputs"]["max"] <= MAX_INPUTS
        assert entry["output"] in ("text", "image")
        for p in entry["params"]:
            assert {"name", "type", "default"} <= set(p)
            assert p["type"] in ("int", "float", "str", "enum")


def test_catalog_outputs_and_input_rules():
    by = {t["name"]: t for t in catalog_json()}
    assert by["variations"]["outputs"] == 4
    assert by["split"]["outputs"] == 0
    assert by["split"]["template"] is None
    assert by["combine"]["inputs"]["min"] == 2
    assert by["describe"]["inputs"]["kinds"] == ["image"]
    assert by["image_to_json"]["output"] == "text"
    assert by["generate_image"]["output"] == "image"
    assert {t["outputs"] for n, t in by.items() if n not in ("variations", "split")} == {1}
    size = next(p for p in by["generate_image"]["params"] if p["name"] == "size")
    assert size["type"] == "enum" and "1024x1024" in size["choices"]


def test_tool_error_is_an_arbor_error_with_a_kind():
    with pytest.raises(ArborError) as info:
        get_tool("paint")
    assert isinstance(info.value, ToolError)
    assert info.value.kind == "unknown_tool"
    assert "paint" in str(info.value)


def test_every_default_template_validates():
    for spec in TOOLS.values():
        if spec.template is not None:
            validate_template(spec, spec.template)


def test_template_with_unknown_placeholder_is_refused_naming_it():
    with pytest.raises(ToolError) as info:
        validate_template("expand", "Make {input} better in {colour} and {mood}")
    assert info.value.kind == "unknown_placeholder"
    assert info.value.names == ("colour", "mood")
    assert "{colour}" in str(info.value) and "{mood}" in str(info.value)
    assert "{input}" in str(info.value)  # says what is allowed


def test_template_placeholder_of_another_tools_param_is_refused():
    with pytest.raises(ToolError) as info:
        validate_template("twist", "{input} in the style of {style}")
    assert info.value.names == ("style",)
    validate_template("reimagine", "{input} in the style of {style}")


def test_template_with_unbalanced_brace_is_refused():
    with pytest.raises(ToolError) as info:
        validate_template("run", "hello {text")
    assert info.value.kind == "bad_template"


def test_template_with_format_spec_is_refused():
    with pytest.raises(ToolError) as info:
        validate_template("run", "{text!r}")
    assert info.value.kind == "bad_template"
    with pytest.raises(ToolError):
        validate_template("run", "{count:>5}")


def test_template_with_attribute_access_is_refused():
    with pytest.raises(ToolError) as info:
        validate_template("run", "{text.__class__}")
    assert info.value.kind == "unknown_placeholder"


def test_empty_template_is_refused():
    with pytest.raises(ToolError) as info:
        validate_template("run", "   ")
    assert info.value.kind == "bad_template"


def test_template_for_split_is_refused():
    with pytest.raises(ToolError) as info:
        validate_template("split", "{input}")
    assert info.value.kind == "bad_template"


def test_render_fills_placeholders_and_params():
    out = render("reimagine", "Redo {input} as {style}; note: {text}",
                 [ToolInput("text", " a lighthouse ")], text="at dusk",
                 params={"style": "linocut"})
    assert out == "Redo a lighthouse as linocut; note: at dusk"


def test_render_joins_several_inputs_numbered_and_counts_images():
    inputs = [ToolInput("text", "a fox"), ToolInput("image", "ignored prompt"),
              ToolInput("text", "a moon")]
    assert render("combine", "{count}|{input}|{inputs}", inputs) == "3|a fox|1. a fox\n\n2. a moon"


def test_render_run_uses_block_text_and_inputs_as_context():
    assert render("run", None, [], text="Name three birds") == "Name three birds"
    out = render("run", None, [ToolInput("text", "we like owls")], text="Name three birds")
    assert out == "Name three birds\n\nContext:\nwe like owls"


def test_render_uses_default_template_and_default_params():
    out = render("expand", None, [ToolInput("text", "a red kite")])
    assert "a red kite" in out and "120 words" in out


def test_render_keeps_escaped_braces():
    assert render("run", "{{literal}} {text}", [], text="x") == "{literal} x"


def test_render_with_bad_param_is_refused():
    with pytest.raises(ToolError) as info:
        render("expand", None, [ToolInput("text", "x")], params={"words": 5})
    assert info.value.kind == "bad_param"


def test_params_defaults_filled():
    params = validate_params("generate_image", {})
    assert params == {"model": "", "size": "1024x1024", "seed": 0}
    assert validate_params("split", {}) == {}


def test_params_values_kept_and_converted():
    params = validate_params("twist", {"temperature": 1, "max_tokens": 100.0})
    assert params["temperature"] == 1.0 and isinstance(params["temperature"], float)
    assert params["max_tokens"] == 100 and isinstance(params["max_tokens"], int)


def test_unknown_param_is_refused_naming_it():
    with pytest.raises(ToolError) as info:
        validate_params("expand", {"words": 50, "colour": "red"})
    assert info.value.kind == "unknown_param"
    assert info.value.names == ("colour",)
    assert "colour" in str(info.value)


def test_param_above_max_is_refused_naming_it():
    with pytest.raises(ToolError) as info:
        validate_params("expand", {"temperature": 3.5})
    assert info.value.kind == "bad_param"
    assert info.value.names == ("temperature",)
    assert "temperature" in str(info.value) and "at most 2" in str(info.value)


def test_param_below_min_is_refused():
    with pytest.raises(ToolError) as info:
        validate_params("variations", {"seed": -1})
    assert info.value.names == ("seed",)


def test_param_of_wrong_type_is_refused():
    for bad in ("7", True, None, 2.5):
        with pytest.raises(ToolError) as info:
            validate_params("expand", {"words": bad})
        assert info.value.kind == "bad_param", bad


def test_param_nan_is_refused():
    with pytest.raises(ToolError):
        validate_params("run", {"temperature": float("nan")})


def test_enum_param_outside_choices_is_refused():
    with pytest.raises(ToolError) as info:
        validate_params("generate_image", {"size": "13x13"})
    assert info.value.names == ("size",)
    assert "1024x1024" in str(info.value)


def test_str_param_too_long_is_refused():
    with pytest.raises(ToolError) as info:
        validate_params("reimagine", {"style": "x" * 201})
    assert "characters" in str(info.value)


def test_inputs_accepted():
    validate_inputs("combine", ["text", "image"])
    validate_inputs("run", [])
    validate_inputs("generate_image", ["text", "image", "image"])


def test_combine_with_one_input_is_refused():
    with pytest.raises(ToolError) as info:
        validate_inputs("combine", ["text"])
    assert info.value.kind == "bad_inputs"


def test_too_many_inputs_are_refused():
    with pytest.raises(ToolError):
        validate_inputs("run", ["text"] * (MAX_INPUTS + 1))


def test_describe_with_text_input_is_refused():
    with pytest.raises(ToolError) as info:
        validate_inputs("describe", ["text"])
    assert info.value.names == ("text",)


def test_generate_image_with_only_images_is_refused():
    with pytest.raises(ToolError) as info:
        validate_inputs("generate_image", ["image"])
    assert "text" in str(info.value)


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("1. a cat\n2. a dog\n3. a fox", ["a cat", "a dog", "a fox"]),
        ("Here are three ideas:\n\n1) a cat\n2) a dog\n   in a hat\n3) a fox",
         ["a cat", "a dog in a hat", "a fox"]),
        ("- red\n* green\n+ blue\n\u2022 gold", ["red", "green", "blue", "gold"]),
        ("Moods\n- calm\n- wild", ["Moods", "calm", "wild"]),
        ("# Dawn\nsoft light\n\n## Dusk\n- long\n- shadows",
         ["Dawn\nsoft light", "Dusk\n- long\n- shadows"]),
        ("intro\n# One\nbody ##", ["intro", "One\nbody ##"]),
        ("```\n# not a header\n```\n\npara", ["```\n# not a header\n```", "para"]),
        ("first paragraph\nstill first\n\n\nsecond\n \nthird",
         ["first paragraph\nstill first", "second", "third"]),
        ("a single line", ["a single line"]),
        ("1. only one item", ["1. only one item"]),
        ("   \n\n ", []),
        ("", []),
    ],
    ids=["numbered", "numbered-with-intro", "bulleted", "list-with-title", "headers",
         "headers-with-preamble", "header-in-code-fence", "paragraphs", "single-line",
         "one-numbered-line", "blank", "empty"],
)
def test_split_text(text, parts):
    assert split_text(text) == parts
