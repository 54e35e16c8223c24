"""Which providers this deployment has, their models, and which model a tool uses.

The offline provider always exists; OpenAI and Gemini exist when their key is set. Model ids
are ``provider:name``; a name the provider does not list is still accepted (new models
appear faster than this list changes) and assumed to do what its provider's listed models
of that family do.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Final

from sync.settings import Secret, Settings
from sync.tools import ToolSpec, get_tool

from .base import ModelInfo, ModelKind, Provider, ProviderError
from .offline import IMAGE_MODEL as OFFLINE_IMAGE_MODEL
from .offline import TEXT_MODEL as OFFLINE_TEXT_MODEL
from .offline import OfflineProvider

log = logging.getLogger(__name__)

_LABELS: Final = {"openai": "OpenAI", "gemini": "Gemini", "offline": "The offline provider"}
_KEYS: Final = {"openai": "OPENAI_API_KEY", "gemini": "GEMINI_API_KEY"}


@dataclasses.dataclass(frozen=True)
class ProviderConfig:
    """The slice of ``Settings`` that providers need."""

    openai_api_key: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    openai_base_url: str = ""
    gemini_api_key: Secret = dataclasses.field(default_factory=lambda: Secret(""))
    gemini_base_url: str = ""
    offline_delay: float = 0.03
    default_text_model: str = ""
    default_image_model: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderConfig:
        return cls(
            openai_api_key=settings.openai_api_key, openai_base_url=settings.openai_base_url,
            gemini_api_key=settings.gemini_api_key, gemini_base_url=settings.gemini_base_url,
            offline_delay=settings.offline_delay,
            default_text_model=settings.default_text_model,
            default_image_model=settings.default_image_model)


def _required_kind(spec: ToolSpec) -> ModelKind:
    return "image" if spec.output == "image" else "text"


class Registry:
    """Providers by name, model lookup, and the default model of each tool."""

    def __init__(self, providers: Sequence[Provider], *, default_text_model: str = "",
                 default_image_model: str = "", tool_models: Mapping[str, str] | None = None
                 ) -> None:
        self.providers: dict[str, Provider] = {p.name: p for p in providers}
        if "offline" not in self.providers:
            raise ValueError("the offline provider must be registered")
        self._default = {"text": default_text_model, "image": default_image_model}
        self._tool_models = dict(tool_models or {})
        for model in [*self._default.values(), *self._tool_models.values()]:
            if model:
                self.resolve(model)  # a misconfigured default fails at start, not at a run

    @classmethod
    def from_config(cls, config: ProviderConfig, *,
                    tool_models: Mapping[str, str] | None = None) -> Registry:
        providers: list[Provider] = []
        if config.openai_api_key:
            from .openai import OpenAIProvider

            providers.append(OpenAIProvider(config.openai_api_key, config.openai_base_url))
        if config.gemini_api_key:
            from .google import GeminiProvider

            providers.append(GeminiProvider(config.gemini_api_key, config.gemini_base_url))
        providers.append(OfflineProvider(config.offline_delay))
        log.info("model providers: %s", ", ".join(p.name for p in providers))
        return cls(providers, default_text_model=config.default_text_model,
                   default_image_model=config.default_image_model, tool_models=tool_models)

    def models(self) -> list[ModelInfo]:
        return [m for p in self.providers.values() for m in p.models()]

    def resolve(self, model_id: str) -> tuple[Provider, ModelInfo]:
        """The provider and description of ``model_id`` (``provider:name``)."""
        provider_name, sep, name = model_id.partition(":")
        provider = self.providers.get(provider_name)
        if provider is None or not sep or not name:
            if sep and provider_name in _KEYS:
                raise ProviderError("not_found", f"{_LABELS[provider_name]} is not configured "
                                    f"on this server (set {_KEYS[provider_name]})",
                                    transient=False)
            raise ProviderError("not_found", f"There is no model called {model_id!r}",
                                transient=False)
        listed = provider.models()
        for info in listed:
            if info.id == model_id:
                return provider, info
        if provider.offline:
            raise ProviderError("not_found", f"There is no model called {model_id!r}",
                                transient=False)
        kinds: frozenset[ModelKind] = (frozenset({"image"}) if "image" in name
                                       else frozenset({"text", "vision"}))
        label = f"{_LABELS.get(provider.name, provider.name)} {name}"
        return provider, ModelInfo(model_id, label, provider.name, kinds, provider.offline)

    def default_model(self, tool: ToolSpec | str) -> str:
        """The model ``tool`` uses when the request names none."""
        spec = get_tool(tool)
        if spec.name in self._tool_models:
            return self._tool_models[spec.name]
        kind = _required_kind(spec)
        if self._default[kind]:
            return self._default[kind]
        for provider in self.providers.values():
            if provider.offline:
                continue
            for info in provider.models():
                if kind in info.kinds:
                    return info.id
        return OFFLINE_IMAGE_MODEL if kind == "image" else OFFLINE_TEXT_MODEL

    def model_for(self, tool: ToolSpec | str, requested: str = "", *,
                  with_images: bool = False) -> tuple[Provider, ModelInfo]:
        """The model a run of ``tool`` uses; ``bad_request`` if it cannot do the job."""
        spec = get_tool(tool)
        provider, info = self.resolve(requested or self.default_model(spec))
        kind = _required_kind(spec)
        if kind not in info.kinds:
            what = "make images" if kind == "image" else "write text"
            raise ProviderError("bad_request", f"{info.label} cannot {what}; pick another model",
                                transient=False)
        if with_images and kind == "text" and "vision" not in info.kinds:
            raise ProviderError("bad_request", f"{info.label} cannot read images; pick another "
                                "model", transient=False)
        return provider, info

    async def aclose(self) -> None:
        for provider in self.providers.values():
            await provider.aclose()
