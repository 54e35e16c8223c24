"""The tool catalog: what each tool takes, makes, accepts as parameters and says to a model.

The server lists and validates tools from here (``GET /api/tools``, ``POST .../jobs``); the
worker runs them. Nothing here talks to a model.

Prompt templates use ``{placeholders}``. Every tool with a template understands:

    {text}     the text written in the block the tool runs from (for ``run``: the prompt;
               for other tools: an extra instruction, often empty)
    {input}    the text of the first text input
    {inputs}   the text of every text input, numbered when there are several
    {context}  "" without text inputs, else a blank line, "Context:" and {inputs}
    {count}    how many inputs (of any kind) are connected

and each of the tool's parameters by name (``{style}`` for ``reimagine``). ``{{`` and ``}}``
stand for literal braces. Image inputs reach the model as images, not through placeholders.

    ToolError (ArborError)   kind: unknown_tool, bad_template, unknown_placeholder,
                             unknown_param, bad_param, bad_inputs
"""

from __future__ import annotations

import dataclasses
import math
import re
import string
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal

from .errors import ArborError

MAX_INPUTS: Final = 8
MAX_TEMPLATE_CHARS: Final = 8000
MAX_STR_PARAM_CHARS: Final = 2000

Kind = Literal["text", "image"]
ParamType = Literal["int", "float", "str", "enum"]
ParamValue = int | float | str

ToolErrorKind = Literal["unknown_tool", "bad_template", "unknown_placeholder", "unknown_param",
                        "bad_param", "bad_inputs"]

BASE_PLACEHOLDERS: Final = frozenset({"text", "input", "inputs", "context", "count"})

# The keys ``image_to_json`` asks for, in order.
IMAGE_JSON_KEYS: Final = ("summary", "medium", "style", "subjects", "text", "relations",
                          "setting", "lighting", "palette", "composition", "camera")

# A text tool's answer may be this long (in tokens) unless the run asks for less: long
# enough that a full description or an exhaustive image-to-JSON is never cut short. The
# budget estimate of a text run reserves the run's ``max_tokens`` (``sync/models.py``).
TEXT_MAX_TOKENS: Final = 4096
TEXT_MAX_TOKENS_LIMIT: Final = 8192


class ToolError(ArborError):
    """A tool, template, parameter or input list that cannot be used.

    ``kind`` says which rule was broken; ``tool`` and ``names`` say where.
    """

    def __init__(self, kind: ToolErrorKind, detail: str, *, tool: str | None = None,
                 names: Sequence[str] = ()) -> None:
        super().__init__(detail)
        self.kind = kind
        self.tool = tool
        self.names = tuple(names)

    def __repr__(self) -> str:
        return f"ToolError({self.kind!r}, {self.detail!r})"


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One parameter. For ``str``, ``min``/``max`` bound the length; for ``enum``, ``choices``."""

    name: str
    type: ParamType
    default: ParamValue
    description: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] = ()

    def check(self, value: object, tool: str) -> ParamValue:
        """The value, converted where lossless (an int for a float), or a ``ToolError``."""
        if self.type == "int":
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise self._bad(tool, f"must be a whole number, got {value!r}")
            self._bounds(value, "", tool)
            return value
        if self.type == "float":
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(
                    value):
                raise self._bad(tool, f"must be a number, got {value!r}")
            self._bounds(value, "", tool)
            return float(value)
        if not isinstance(value, str):
            raise self._bad(tool, f"must be text, got {value!r}")
        if self.type == "enum":
            if value not in self.choices:
                raise self._bad(tool, f"must be one of {', '.join(self.choices)}, got {value!r}")
            return value
        self._bounds(len(value), " characters long", tool)
        return value

    def _bounds(self, measure: float, unit: str, tool: str) -> None:
        if self.min is not None and measure < self.min:
            raise self._bad(tool, f"must be at least {_num(self.min)}{unit}, got {measure}")
        if self.max is not None and measure > self.max:
            raise self._bad(tool, f"must be at most {_num(self.max)}{unit}, got {measure}")

    def _bad(self, tool: str, why: str) -> ToolError:
        return ToolError("bad_param", f"{tool}: parameter {self.name!r} {why}", tool=tool,
                         names=[self.name])

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "default": self.default,
                               "description": self.description}
        if self.min is not None:
            out["min"] = _num(self.min)
        if self.max is not None:
            out["max"] = _num(self.max)
        if self.choices:
            out["choices"] = list(self.choices)
        return out


def _num(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


@dataclasses.dataclass(frozen=True)
class ToolSpec:
    """One tool. ``outputs`` is how many blocks it makes; 0 means decided when it runs."""

    name: str
    label: str
    description: str
    output: Kind
    input_kinds: frozenset[Kind]
    min_inputs: int
    max_inputs: int
    outputs: int
    params: tuple[ParamSpec, ...]
    template: str | None
    system: str = ""
    min_text_inputs: int = 0
    uses_model: bool = True

    def __post_init__(self) -> None:
        assert 0 <= self.min_inputs <= self.max_inputs <= MAX_INPUTS, self.name

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)

    @property
    def placeholders(self) -> frozenset[str]:
        if self.template is None:
            return frozenset()
        return BASE_PLACEHOLDERS | {p.name for p in self.params}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "inputs": {"kinds": sorted(self.input_kinds), "min": self.min_inputs,
                       "max": self.max_inputs, "min_text": self.min_text_inputs},
            "output": self.output,
            "outputs": self.outputs,
            "params": [p.to_json() for p in self.params],
            "template": self.template,
            "placeholders": sorted(self.placeholders),
        }


@dataclasses.dataclass(frozen=True)
class ToolInput:
    """One connected input block: its kind and its text (an image's prompt, may be empty)."""

    kind: Kind
    text: str = ""


# ---------------------------------------------------------------------------- the catalog

_MODEL = ParamSpec("model", "str", "", "model id; empty: this deployment's default", max=200)


def _text_params(temperature: float) -> tuple[ParamSpec, ...]:
    return (
        _MODEL,
        ParamSpec("temperature", "float", temperature, "higher is more surprising", 0.0, 2.0),
        ParamSpec("max_tokens", "int", TEXT_MAX_TOKENS, "longest answer, in tokens", 16,
                  TEXT_MAX_TOKENS_LIMIT),
    )


_IMAGE_PARAMS: Final = (
    _MODEL,
    ParamSpec("size", "enum", "1024x1024", "width x height in pixels",
              choices=("1024x1024", "1536x1024", "1024x1536", "512x512")),
    ParamSpec("seed", "int", 0, "0: a new random seed each run", 0, 2**31 - 1),
)

_PROMPT_ONLY = "Answer with the prompt only, no preamble, no quotes."
_SYSTEM = ("You help people grow ideas for images on a shared canvas. Be concrete and "
           "visual.")

_IMAGE_TO_JSON: Final = """\
Record this image as one exhaustive JSON object: an inventory of everything visible, not a \
summary. If a detail is in the pixels, it belongs in the JSON. Answer with the JSON only: \
no markdown fence, nothing before or after it. Use null for a field that does not apply \
instead of leaving it out, and add as many list entries as the image needs.

The object has these keys:
- "summary": one objective paragraph about the whole scene.
- "medium": photo, illustration, painting, 3D render, screenshot, diagram, collage...
- "style": {{"name", "influences" (a list), "mood"}}.
- "subjects": a list with one entry for every person, animal and object, however small \
(a crowd is one entry naming the individuals who stand out), each {{"label", "category", \
"position" (where in the frame: left/centre/right, top/middle/bottom, foreground/\
background), "size_in_frame", "attributes" {{"colour", "material", "texture", \
"condition"}}, "pose_or_action", "expression", "clothing", "details" (a list of small \
things: marks, folds, reflections, wear), "text_on_it"}}.
- "text": a list of every piece of visible writing, each {{"content" (exactly as written), \
"where", "lettering", "legible"}}; an empty list when there is none.
- "relations": a list of sentences on how the subjects relate in space and meaning \
(holding, in front of, casting a shadow on, looking at, echoing).
- "setting": {{"place", "time_of_day", "season", "weather_or_atmosphere"}}.
- "lighting": {{"sources", "direction", "quality" (hard, soft, diffused), \
"colour_temperature", "shadows"}}.
- "palette": {{"dominant" (a list of #rrggbb estimates), "accents" (colour names), \
"contrast", "saturation"}}.
- "composition": {{"framing" (close-up, medium, wide), "focal_point", "balance", \
"leading_lines", "depth_layers"}}.
- "camera": {{"angle" (eye level, high, low, overhead), "lens" (wide, normal, telephoto, \
macro), "depth_of_field", "focus", "motion_blur"}}.
{text}"""

_ALL: Final[tuple[ToolSpec, ...]] = (
    ToolSpec(
        "run", "Run", "Send the block's text to a model, with connected blocks as context, "
        "and stream the answer.", "text", frozenset({"text", "image"}), 0, MAX_INPUTS, 1,
        _text_params(0.8), "{text}{context}", _SYSTEM),
    ToolSpec(
        "expand", "Expand", "Turn a prompt into a richer, more detailed one in the same "
        "style and tone.", "text", frozenset({"text"}), 1, 1, 1,
        (*_text_params(0.8),
         ParamSpec("words", "int", 120, "about how long the new prompt is", 20, 400)),
        "Expand this image prompt into a richer, more detailed one of about {words} words. "
        "Keep what it means and what it is after, and keep its voice: a playful prompt stays "
        "playful, a dry or technical one stays precise, a poetic one stays poetic. Add depth "
        "where it helps (the subject and what it does, the setting, the light, the "
        "composition, the mood, the style, telling small details) without changing the "
        "idea. " + _PROMPT_ONLY + "\n\n{input}\n{text}", _SYSTEM, min_text_inputs=1),
    ToolSpec(
        "twist", "Twist", "An unexpected variation of a prompt.", "text", frozenset({"text"}),
        1, 1, 1, _text_params(1.1),
        "Give this image prompt an unexpected twist: keep its heart, change one surprising "
        "thing (setting, scale, era, point of view or subject). " + _PROMPT_ONLY
        + "\n\n{input}\n{text}", _SYSTEM, min_text_inputs=1),
    ToolSpec(
        "reimagine", "Reimagine", "The same idea moved to another era, world or medium.",
        "text", frozenset({"text"}), 1, 1, 1,
        (*_text_params(0.9),
         ParamSpec("style", "str", "any", "the era, world or medium to move it to; 'any' "
                   "lets the model choose", 1, 200)),
        "Reimagine this image prompt in another reality: {style}. If that says 'any', pick "
        "one far from the original yourself: a past (the stone age, ancient Egypt or Rome, "
        "a medieval court, the Renaissance, an industrial city, the Wild West, 1920s noir, "
        "the Cold War), an invented world (steampunk, dieselpunk, cyberpunk, a far-future "
        "space opera, after the fall of civilisation, a simulation, a dream or a myth), or "
        "another medium (woodcut, stained glass, claymation, mosaic, ukiyo-e, a pixel-art "
        "game). Keep the core of the idea: its subjects, what happens, the feeling and what "
        "is at stake. Change everything around it so the clothes, tools, buildings, "
        "materials and light belong to the new reality, as if the same idea happened in a "
        "parallel universe: clearly related, fresh, and whole on its own. " + _PROMPT_ONLY
        + "\n\n{input}\n{text}", _SYSTEM, min_text_inputs=1),
    ToolSpec(
        "combine", "Combine", "Merge several inputs into one prompt.", "text",
        frozenset({"text", "image"}), 2, MAX_INPUTS, 1, _text_params(0.8),
        "Merge these {count} inputs into one coherent image prompt that keeps the strongest "
        "idea of each. " + _PROMPT_ONLY + "\n\n{inputs}\n{text}", _SYSTEM),
    ToolSpec(
        "split", "Split", "One block per item of a list, per markdown section, or per "
        "paragraph. No model.", "text", frozenset({"text"}), 1, 1, 0, (), None,
        min_text_inputs=1, uses_model=False),
    ToolSpec(
        "describe", "Describe", "A full description of an image, any text in it included, "
        "that could recreate it.", "text", frozenset({"image"}), 1, 1, 1, _text_params(0.4),
        "Describe this image in full, in vivid and specific prose, so that someone who "
        "cannot see it could picture it and an image model could recreate it. Cover the "
        "main subjects and where each one is in the frame, what they are doing, their "
        "colours, materials and textures; the setting; the light, the atmosphere and the "
        "mood; the style and medium; the small details that make it this image; and every "
        "piece of visible text, sign or symbol, quoted exactly as written. Answer with the "
        "description only, no preamble.\n{text}", _SYSTEM),
    ToolSpec(
        "image_to_json", "Image to JSON", "Everything in an image as one JSON object: "
        "subjects with their attributes and positions, visible text, relations, style, "
        "palette, lighting, composition, camera.", "text", frozenset({"image"}), 1, 1, 1,
        _text_params(0.2), _IMAGE_TO_JSON, _SYSTEM),
    ToolSpec(
        "generate_image", "Generate image", "Make an image from a prompt, optionally guided "
        "by reference images.", "image", frozenset({"text", "image"}), 1, MAX_INPUTS, 1,
        _IMAGE_PARAMS, "{inputs}\n{text}", min_text_inputs=1),
    ToolSpec(
        "variations", "Variations", "Four images of the same prompt, each from its own seed.",
        "image", frozenset({"text", "image"}), 1, MAX_INPUTS, 4, _IMAGE_PARAMS,
        "{inputs}\n{text}", min_text_inputs=1),
)

TOOLS: Final[Mapping[str, ToolSpec]] = {t.name: t for t in _ALL}


def get_tool(tool: ToolSpec | str) -> ToolSpec:
    if isinstance(tool, ToolSpec):
        return tool
    try:
        return TOOLS[tool]
    except KeyError:
        raise ToolError("unknown_tool", f"there is no tool called {tool!r}", tool=tool,
                        names=[tool]) from None


def catalog_json() -> list[dict[str, Any]]:
    """The body of ``GET /api/tools``."""
    return [t.to_json() for t in _ALL]


# ---------------------------------------------------------------- templates and parameters

def _fields(template: str, tool: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as e:
        raise ToolError("bad_template", f"{tool}: the template has unbalanced braces ({e}); "
                        "write {{ or }} for a literal brace", tool=tool) from None
    names = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if spec or conversion:
            raise ToolError("bad_template", f"{tool}: write {{{field}}} without '!' or ':'",
                            tool=tool, names=[field])
        names.append(field)
    return names


def validate_template(tool: ToolSpec | str, template: str) -> None:
    """Raise ``ToolError`` unless ``template`` can be rendered for ``tool``."""
    spec = get_tool(tool)
    if spec.template is None:
        raise ToolError("bad_template", f"{spec.name} takes no prompt template", tool=spec.name)
    if not template.strip():
        raise ToolError("bad_template", f"{spec.name}: the template is empty", tool=spec.name)
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ToolError("bad_template", f"{spec.name}: the template is longer than "
                        f"{MAX_TEMPLATE_CHARS} characters", tool=spec.name)
    allowed = spec.placeholders
    unknown = sorted({n for n in _fields(template, spec.name) if n not in allowed})
    if unknown:
        shown = ", ".join("{" + n + "}" for n in unknown)
        choices = ", ".join("{" + n + "}" for n in sorted(allowed))
        raise ToolError("unknown_placeholder", f"{spec.name}: unknown placeholder "
                        f"{shown}; use {choices}", tool=spec.name, names=unknown)


def validate_params(tool: ToolSpec | str, params: Mapping[str, object]) -> dict[str, ParamValue]:
    """Every parameter of ``tool``, checked and with defaults filled in."""
    spec = get_tool(tool)
    unknown = sorted(k for k in params if spec.param(k) is None)
    if unknown:
        known = ", ".join(p.name for p in spec.params) or "none"
        raise ToolError("unknown_param", f"{spec.name}: unknown parameter "
                        f"{', '.join(map(repr, unknown))} (it takes: {known})", tool=spec.name,
                        names=unknown)
    return {p.name: p.check(params[p.name], spec.name) if p.name in params else p.default
            for p in spec.params}


def validate_inputs(tool: ToolSpec | str, kinds: Sequence[str]) -> None:
    """Raise ``ToolError`` unless ``tool`` accepts inputs of these kinds, in this number."""
    spec = get_tool(tool)
    n = len(kinds)
    if not spec.min_inputs <= n <= spec.max_inputs:
        want = (str(spec.min_inputs) if spec.min_inputs == spec.max_inputs
                else f"{spec.min_inputs} to {spec.max_inputs}")
        raise ToolError("bad_inputs", f"{spec.name} takes {want} inputs, got {n}",
                        tool=spec.name)
    wrong = sorted({k for k in kinds if k not in spec.input_kinds})
    if wrong:
        raise ToolError("bad_inputs", f"{spec.name} does not take {'/'.join(wrong)} inputs",
                        tool=spec.name, names=wrong)
    if sum(k == "text" for k in kinds) < spec.min_text_inputs:
        raise ToolError("bad_inputs", f"{spec.name} needs at least {spec.min_text_inputs} text "
                        "input", tool=spec.name, names=["text"])


def _join(texts: Sequence[str]) -> str:
    if len(texts) == 1:
        return texts[0]
    return "\n\n".join(f"{i}. {t}" for i, t in enumerate(texts, 1))


def render(tool: ToolSpec | str, template: str | None, inputs: Sequence[ToolInput], *,
           text: str = "", params: Mapping[str, object] | None = None) -> str:
    """The prompt for one run: ``template`` (or the tool's default) with values filled in.

    ``params`` are validated (defaults filled) first. The result is stripped of surrounding
    blank space; blank lines left by empty placeholders collapse.
    """
    spec = get_tool(tool)
    template = spec.template if template is None else template
    if template is None:
        raise ToolError("bad_template", f"{spec.name} takes no prompt template", tool=spec.name)
    validate_template(spec, template)
    texts = [i.text.strip() for i in inputs if i.kind == "text" and i.text.strip()]
    joined = _join(texts)
    values: dict[str, object] = dict(validate_params(spec, params or {}))
    values.update(
        text=text.strip(),
        input=texts[0] if texts else "",
        inputs=joined,
        context=f"\n\nContext:\n{joined}" if texts else "",
        count=len(inputs),
    )
    out = template.format_map(values)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


# ------------------------------------------------------------------------------- split

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADER = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_ITEM = re.compile(r"^\s{0,3}(?:[-*+\u2022]|\d{1,3}[.)])\s+(.*)$")


def _sections(lines: list[str]) -> list[str] | None:
    """Split at markdown headers (outside code fences); None if there are none."""
    out: list[list[str]] = [[]]
    fenced = False
    found = False
    for line in lines:
        if _FENCE.match(line):
            fenced = not fenced
        m = None if fenced else _HEADER.match(line)
        if m:
            found = True
            out.append([m.group(1)])
        else:
            out[-1].append(line)
    if not found:
        return None
    return [s for s in ("\n".join(part).strip() for part in out) if s]


def _items(lines: list[str]) -> list[str] | None:
    """Split a list into its items; None unless there are at least two items."""
    preamble: list[str] = []
    items: list[list[str]] = []
    for line in lines:
        m = _ITEM.match(line)
        if m:
            items.append([m.group(1).strip()])
        elif items and line.strip():
            items[-1].append(line.strip())
        elif not items:
            preamble.append(line)
    if len(items) < 2:
        return None
    intro = "\n".join(preamble).strip()
    # An introduction such as "Here are five ideas:" belongs to the list, not beside it.
    head = [intro] if intro and not intro.endswith(":") else []
    return head + [" ".join(i) for i in items if " ".join(i)]


def split_text(text: str) -> list[str]:
    """The parts ``split`` makes of ``text``, in order: one per markdown section if there
    are headers, else one per list item (numbered or bulleted, at least two), else one per
    paragraph. Markers are removed; empty parts are dropped."""
    lines = text.strip().splitlines()
    if not lines:
        return []
    for splitter in (_sections, _items):
        parts = splitter(lines)
        if parts is not None:
            return parts
    return [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]


for _spec in _ALL:  # a broken default template fails at import, not at a person's first run
    if _spec.template is not None:
        validate_template(_spec, _spec.template)

__all__ = [
    "BASE_PLACEHOLDERS",
    "IMAGE_JSON_KEYS",
    "MAX_INPUTS",
    "TEXT_MAX_TOKENS",
    "TEXT_MAX_TOKENS_LIMIT",
    "TOOLS",
    "ParamSpec",
    "ToolError",
    "ToolInput",
    "ToolSpec",
    "catalog_json",
    "get_tool",
    "render",
    "split_text",
    "validate_inputs",
    "validate_params",
    "validate_template",
]
