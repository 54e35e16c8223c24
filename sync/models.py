"""The model catalog and the price table: which models each provider offers, what each can
do, what it costs, and which model a tool uses when the request names none.

Both the server (``GET /api/models``, validating a job's model, estimates, budgets) and the
worker (its providers, the cost of a finished job) read it from here, so the two never
disagree.

Prices are US dollars: per million input tokens, per million output tokens, and per image.
The defaults below cover the built-in models; ``ARBOR_PRICES`` (a JSON object, inline or in
a file) overrides entries or adds models, e.g.::

    {"openai:gpt-4.1-mini": {"input_per_mtok": 0.4, "output_per_mtok": 1.6},
     "openai:my-finetune": {"input_per_mtok": 3, "output_per_mtok": 12,
                            "kinds": ["text", "vision"], "label": "My fine-tune"}}

A model named only in ``ARBOR_PRICES`` is offered when its provider is configured. The
offline provider always costs nothing.

    ModelError (ArborError)   kind: unknown_model, unconfigured_model, model_cannot;
                              ``valid`` lists the model ids that would do
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from .errors import ArborError, ConfigError
from .tools import TEXT_MAX_TOKENS, ToolSpec, get_tool

ModelKind = Literal["text", "image", "vision"]
KINDS: Final[tuple[ModelKind, ...]] = ("text", "image", "vision")

PROVIDER_LABELS: Final = {"openai": "OpenAI", "gemini": "Gemini",
                          "offline": "The offline provider"}
PROVIDER_KEYS: Final = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}
KEY_PROVIDERS: Final = ("openai", "gemini")  # providers a room may bring its own key for

OFFLINE_TEXT: Final = "offline:text"
OFFLINE_IMAGE: Final = "offline:image"

# Token estimate of one input image (what providers charge for a ~1024 px picture).
IMAGE_INPUT_TOKENS: Final = 1000
CHARS_PER_TOKEN: Final = 4


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    id: str
    label: str
    provider: str
    kinds: frozenset[ModelKind]
    offline: bool = False

    @property
    def name(self) -> str:
        """The provider's own name for the model (the id without ``provider:``)."""
        return self.id.partition(":")[2] or self.id


@dataclasses.dataclass(frozen=True)
class Price:
    """US dollars per million input tokens, per million output tokens, per image."""

    input_per_mtok: float = 0.0
    output_per_mtok: float = 0.0
    per_image: float = 0.0

    def cost(self, usage: Mapping[str, Any]) -> float:
        """Dollars for ``usage`` (``input_tokens``, ``output_tokens``, ``images``)."""
        def n(key: str) -> float:
            v = usage.get(key, 0)
            return float(v) if isinstance(v, int | float) and math.isfinite(v) else 0.0

        return (n("input_tokens") * self.input_per_mtok / 1e6
                + n("output_tokens") * self.output_per_mtok / 1e6
                + n("images") * self.per_image)

    def to_json(self) -> dict[str, float]:
        return {"input_per_mtok": self.input_per_mtok, "output_per_mtok": self.output_per_mtok,
                "per_image": self.per_image}


_TEXT: Final[frozenset[ModelKind]] = frozenset({"text", "vision"})
_IMAGE: Final[frozenset[ModelKind]] = frozenset({"image"})


def _m(model_id: str, kinds: frozenset[ModelKind]) -> ModelInfo:
    provider, _, name = model_id.partition(":")
    if provider == "offline":
        label = "Offline text (no model)" if kinds == _TEXT else "Offline images (no model)"
        return ModelInfo(model_id, label, provider, kinds, offline=True)
    return ModelInfo(model_id, f"{PROVIDER_LABELS[provider]} {name}", provider, kinds)


# The built-in models, by provider, in the order a default is picked.
CATALOG: Final[tuple[ModelInfo, ...]] = (
    _m("openai:gpt-4.1-mini", _TEXT),
    _m("openai:gpt-5.4-mini", _TEXT),
    _m("openai:gpt-image-2", _IMAGE),
    _m("openai:gpt-image-2.5-flare", _IMAGE),
    _m("gemini:gemini-2.5-flash", _TEXT),
    _m("gemini:gemini-3.5-flash", _TEXT),
    _m("gemini:gemini-2.5-flash-image", _IMAGE),
    _m(OFFLINE_TEXT, _TEXT),
    _m(OFFLINE_IMAGE, _IMAGE),
)

DEFAULT_PRICES: Final[Mapping[str, Price]] = {
    "openai:gpt-4.1-mini": Price(0.40, 1.60),
    "openai:gpt-5.4-mini": Price(0.25, 2.00),
    "openai:gpt-image-2": Price(per_image=0.04),
    "openai:gpt-image-2.5-flare": Price(per_image=0.04),
    "gemini:gemini-2.5-flash": Price(0.30, 2.50),
    "gemini:gemini-3.5-flash": Price(0.30, 2.50),
    "gemini:gemini-2.5-flash-image": Price(per_image=0.039),
}


def catalog_names(provider: str, kind: Literal["text", "image"]) -> tuple[str, ...]:
    """The provider's own names of its built-in models of ``kind`` (for the providers)."""
    return tuple(m.name for m in CATALOG if m.provider == provider and kind in m.kinds)


class ModelError(ArborError):
    def __init__(self, kind: str, detail: str, valid: Sequence[str]) -> None:
        super().__init__(detail)
        self.kind = kind
        self.valid = list(valid)


@dataclasses.dataclass(frozen=True)
class PriceTable:
    """Prices by model id, and models added by the price file."""

    prices: Mapping[str, Price]
    extra: tuple[ModelInfo, ...] = ()

    @classmethod
    def default(cls) -> PriceTable:
        return cls(dict(DEFAULT_PRICES))

    @classmethod
    def load(cls, source: str) -> PriceTable:
        """``source``: empty (the defaults), a JSON object, or the path of a JSON file."""
        source = source.strip()
        if not source:
            return cls.default()
        try:
            text = source if source.startswith("{") else Path(source).read_text()
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError("ARBOR_PRICES", f"not a readable JSON object ({exc})") from None
        return cls.parse(data)

    @classmethod
    def parse(cls, data: Any) -> PriceTable:
        if not isinstance(data, dict):
            raise ConfigError("ARBOR_PRICES", "expected a JSON object of model id → prices")
        prices = dict(DEFAULT_PRICES)
        known = {m.id for m in CATALOG}
        extra = []
        for model_id, entry in data.items():
            provider, sep, name = str(model_id).partition(":")
            if not sep or not name or provider not in PROVIDER_LABELS or provider == "offline":
                raise ConfigError("ARBOR_PRICES", f"{model_id!r} is not a model id like "
                                  "openai:gpt-4.1-mini")
            if not isinstance(entry, dict):
                raise ConfigError("ARBOR_PRICES", f"{model_id}: expected an object")
            values = {}
            for field in ("input_per_mtok", "output_per_mtok", "per_image"):
                v = entry.get(field, 0)
                if not isinstance(v, int | float) or isinstance(v, bool) or v < 0 or not (
                        math.isfinite(v)):
                    raise ConfigError("ARBOR_PRICES", f"{model_id}.{field}: expected a "
                                      "number >= 0")
                values[field] = float(v)
            prices[model_id] = Price(**values)
            if model_id not in known:
                kinds = entry.get("kinds") or (["image"] if "image" in name else
                                               ["text", "vision"])
                if not isinstance(kinds, list) or not kinds or any(k not in KINDS
                                                                   for k in kinds):
                    raise ConfigError("ARBOR_PRICES", f"{model_id}.kinds: a list of "
                                      "text, image, vision")
                label = entry.get("label") or f"{PROVIDER_LABELS[provider]} {name}"
                extra.append(ModelInfo(model_id, str(label), provider, frozenset(kinds)))
        return cls(prices, tuple(extra))

    def price(self, model_id: str) -> Price:
        if model_id.startswith("offline:"):
            return Price()
        return self.prices.get(model_id, Price())

    def cost(self, model_id: str, usage: Mapping[str, Any]) -> float:
        return self.price(model_id).cost(usage)

    def models(self, providers: Iterable[str]) -> list[ModelInfo]:
        """Every model of these providers (the offline ones always)."""
        wanted = set(providers) | {"offline"}
        return [m for m in (*CATALOG, *self.extra) if m.provider in wanted]


# ------------------------------------------------------------------ defaults and checks

def required_kind(spec: ToolSpec) -> ModelKind:
    return "image" if spec.output == "image" else "text"


def can_do(info: ModelInfo, spec: ToolSpec, with_images: bool = False) -> bool:
    kind = required_kind(spec)
    if kind not in info.kinds:
        return False
    return not (with_images and kind == "text" and "vision" not in info.kinds)


def parse_tool_models(raw: str) -> dict[str, str]:
    """``ARBOR_TOOL_MODELS``: ``tool=model,tool=model``."""
    out: dict[str, str] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        tool, sep, model = part.partition("=")
        tool, model = tool.strip(), model.strip()
        if not sep or not tool or ":" not in model:
            raise ConfigError("ARBOR_TOOL_MODELS", f"expected tool=provider:model, got {part!r}")
        try:
            get_tool(tool)
        except ArborError:
            raise ConfigError("ARBOR_TOOL_MODELS", f"there is no tool called {tool!r}") from None
        out[tool] = model
    return out


@dataclasses.dataclass(frozen=True)
class ModelChoice:
    """How this deployment picks a tool's model: per-tool and per-kind defaults."""

    tool_models: Mapping[str, str] = dataclasses.field(default_factory=dict)
    default_text: str = ""
    default_image: str = ""

    def default_for(self, spec: ToolSpec, available: Sequence[ModelInfo]) -> str:
        """The model ``spec`` uses when the request names none: the tool's own default, the
        kind's default, the first configured provider's, else offline (among ``available``
        — a default whose provider is not configured here is passed over)."""
        ids = {m.id for m in available}
        kind = required_kind(spec)
        for model in (self.tool_models.get(spec.name, ""),
                      self.default_image if kind == "image" else self.default_text):
            if model and model in ids:
                return model
        for info in available:
            if not info.offline and kind in info.kinds:
                return info.id
        return OFFLINE_IMAGE if kind == "image" else OFFLINE_TEXT

    def choose(self, spec: ToolSpec, requested: str, available: Sequence[ModelInfo], *,
               with_images: bool = False) -> ModelInfo:
        """The model a run uses; ``ModelError`` (with the valid ids) if ``requested`` is not
        offered here or cannot do the tool."""
        valid = [m.id for m in available if can_do(m, spec, with_images)]
        model_id = requested or self.default_for(spec, available)
        info = next((m for m in available if m.id == model_id), None)
        if info is None:
            provider, sep, _ = model_id.partition(":")
            if sep and provider in PROVIDER_KEYS and provider not in {
                    m.provider for m in available}:
                raise ModelError("unconfigured_model", f"{PROVIDER_LABELS[provider]} is not "
                                 f"configured on this server or canvas, so {model_id!r} cannot "
                                 f"run; use one of: {', '.join(valid)}", valid)
            raise ModelError("unknown_model", f"there is no model called {model_id!r}; use one "
                             f"of: {', '.join(valid)}", valid)
        if not can_do(info, spec, with_images):
            kind = required_kind(spec)
            what = ("make images" if kind == "image" else
                    "read images" if kind in info.kinds else "write text")
            raise ModelError("model_cannot", f"{info.label} cannot {what}, which {spec.name} "
                             f"needs; use one of: {', '.join(valid)}", valid)
        return info


# ------------------------------------------------------------------------ estimates

def estimate_units(spec: ToolSpec, info: ModelInfo, prompt_chars: int, image_inputs: int,
                   params: Mapping[str, Any]) -> dict[str, int]:
    """An upper-end guess of what one run uses: tokens in (prompt and input images), tokens
    out (``max_tokens`` for text) and images made."""
    input_tokens = math.ceil(prompt_chars / CHARS_PER_TOKEN) + image_inputs * IMAGE_INPUT_TOKENS
    if required_kind(spec) == "image":
        return {"input_tokens": input_tokens, "output_tokens": 0,
                "images": max(1, spec.outputs)}
    max_tokens = params.get("max_tokens", TEXT_MAX_TOKENS)
    out = int(max_tokens) if isinstance(max_tokens, int | float) else TEXT_MAX_TOKENS
    return {"input_tokens": input_tokens, "output_tokens": out, "images": 0}


def describe_estimate(info: ModelInfo, units: Mapping[str, int], cost: float) -> str:
    """"4 images with OpenAI gpt-image-2, about $0.16"."""
    if units.get("images"):
        n = units["images"]
        what = f"{n} image{'s' if n != 1 else ''}"
    else:
        tokens = units.get("input_tokens", 0) + units.get("output_tokens", 0)
        what = f"up to {tokens:,} tokens"
    if info.offline:
        return f"{what} with {info.label}, free"
    return f"{what} with {info.label}, about {format_usd(cost)}"


def format_usd(cost: float) -> str:
    if cost <= 0:
        return "$0"
    if cost < 0.01:
        return "less than $0.01"
    return f"${cost:,.2f}"


__all__ = [
    "CATALOG",
    "DEFAULT_PRICES",
    "KEY_PROVIDERS",
    "ModelChoice",
    "ModelError",
    "ModelInfo",
    "ModelKind",
    "Price",
    "PriceTable",
    "can_do",
    "catalog_names",
    "describe_estimate",
    "estimate_units",
    "format_usd",
    "parse_tool_models",
    "required_kind",
]
