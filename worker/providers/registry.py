"""Which providers this deployment has, their models, and which model a tool uses.

The offline provider always exists; OpenAI and Gemini exist when their key is set. The
models each provider lists come from the shared catalog (``sync/models.py``, plus models
``ARBOR_PRICES`` adds). Model ids are ``provider:name``; a name the provider does not list is
still accepted here (the server refuses it before a job is queued) and assumed to do what
its provider's listed models of that family do.

A canvas that brought its own key gets its own registry for its jobs (``for_room``): that
provider is built from the room's key, the others are the deployment's.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Final, Literal, Protocol

from sync.models import PriceTable, catalog_names, parse_tool_models
from sync.settings import Secret, Settings
from sync.tools import ToolSpec, get_tool

from .base import ModelInfo, ModelKind, Provider, ProviderError
from .offline import IMAGE_MODEL as OFFLINE_IMAGE_MODEL
from .offline import TEXT_MODEL as OFFLINE_TEXT_MODEL
from .offline import OfflineProvider

log = logging.getLogger(__name__)


class RoomKeyLike(Protocol):
    """A room's decrypted key (``sync.keys.RoomKey``)."""

    @property
    def api_key(self) -> Secret: ...

    @property
    def base_url(self) -> str: ...


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
    tool_models: tuple[tuple[str, str], ...] = ()
    prices: PriceTable = dataclasses.field(default_factory=PriceTable.default)
    # False: a room's own base URL is reached only at public addresses, checked at connect.
    allow_private_base_urls: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> ProviderConfig:
        return cls(
            openai_api_key=settings.openai_api_key, openai_base_url=settings.openai_base_url,
            gemini_api_key=settings.gemini_api_key, gemini_base_url=settings.gemini_base_url,
            offline_delay=settings.offline_delay,
            default_text_model=settings.default_text_model,
            default_image_model=settings.default_image_model,
            tool_models=tuple(parse_tool_models(settings.tool_models).items()),
            prices=PriceTable.load(settings.prices),
            allow_private_base_urls=settings.allow_private_base_urls)

    def models_of(self, provider: str, kind: Literal["text", "image"]) -> tuple[str, ...]:
        """The provider's own names of the models it lists: the catalog's, then the price
        table's additions."""
        extra = tuple(m.name for m in self.prices.extra
                      if m.provider == provider and kind in m.kinds)
        return tuple(dict.fromkeys(catalog_names(provider, kind) + extra))

    def provider(self, name: str, api_key: Secret, base_url: str, *,
                 public_only: bool = False) -> Provider:
        """A provider of ``name`` talking with ``api_key`` (the deployment's or a room's);
        ``public_only``: it connects to public addresses only (a room's own base URL)."""
        if name == "openai":
            from .openai import OpenAIProvider

            return OpenAIProvider(api_key, base_url, text_models=self.models_of(name, "text"),
                                  image_models=self.models_of(name, "image"),
                                  public_only=public_only)
        if name == "gemini":
            from .google import GeminiProvider

            return GeminiProvider(api_key, base_url, text_models=self.models_of(name, "text"),
                                  image_models=self.models_of(name, "image"))
        raise ValueError(f"no provider called {name!r}")


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
        self.config: ProviderConfig | None = None
        self.owned: list[Provider] = []  # providers only this registry uses (a room's)
        for model in self._default.values():
            if model:
                self.resolve(model)  # a misconfigured default fails at start, not at a run
        for model in self._tool_models.values():  # a tool's may name a provider rooms bring
            if model and model.partition(":")[0] in self.providers:
                self.resolve(model)

    @classmethod
    def from_config(cls, config: ProviderConfig, *,
                    tool_models: Mapping[str, str] | None = None) -> Registry:
        providers: list[Provider] = []
        if config.openai_api_key:
            providers.append(config.provider("openai", config.openai_api_key,
                                             config.openai_base_url))
        if config.gemini_api_key:
            providers.append(config.provider("gemini", config.gemini_api_key,
                                             config.gemini_base_url))
        providers.append(OfflineProvider(config.offline_delay))
        log.info("model providers: %s", ", ".join(p.name for p in providers))
        registry = cls(providers, default_text_model=config.default_text_model,
                       default_image_model=config.default_image_model,
                       tool_models=tool_models if tool_models is not None
                       else dict(config.tool_models))
        registry.config = config
        return registry

    def for_room(self, keys: Mapping[str, RoomKeyLike]) -> Registry:
        """This registry with the providers a room brought keys for built from those keys
        (``aclose_owned`` closes them when the job is done). Without keys: ``self``."""
        if not keys or self.config is None:
            return self
        config = self.config
        # Without a base URL of its own a room's key goes where the deployment's would.
        default_url = {"openai": config.openai_base_url, "gemini": config.gemini_base_url}
        # A room's own base URL is the room editor's choice: public addresses only, checked
        # again at every connection (a name may have been re-pointed since it was set).
        own = [config.provider(name, key.api_key, key.base_url or default_url.get(name, ""),
                               public_only=bool(key.base_url)
                               and not config.allow_private_base_urls)
               for name, key in sorted(keys.items())]
        providers = [*own, *(p for name, p in self.providers.items() if name not in keys)]
        room = Registry(providers, default_text_model=self._default["text"],
                        default_image_model=self._default["image"],
                        tool_models=self._tool_models)
        room.config = config
        room.owned = own
        return room

    async def aclose_owned(self) -> None:
        for provider in self.owned:
            await provider.aclose()
        self.owned = []

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
        kind = _required_kind(spec)
        # A default whose provider is not configured here (it may be a room's) is passed over.
        for model in (self._tool_models.get(spec.name, ""), self._default[kind]):
            if model and model.partition(":")[0] in self.providers:
                return model
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
