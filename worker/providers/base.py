"""What every model provider offers, and the one error they all raise.

A provider streams text (``stream_text``) and makes images (``generate_image``). Model ids
are namespaced by provider, ``openai:gpt-4.1-mini``; requests carry the provider's own name
for the model (``ModelInfo.name``).

    ProviderError    kind: auth, rate_limited, refused, bad_request, unavailable, timeout,
                     stream_cut, not_found; ``transient`` says whether a retry may help
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Final, Literal, Protocol

from sync.models import ModelInfo as ModelInfo  # re-exported: providers describe models
from sync.models import ModelKind as ModelKind
from sync.tools import TEXT_MAX_TOKENS

log = logging.getLogger(__name__)

ErrorKind = Literal["auth", "rate_limited", "refused", "bad_request", "unavailable", "timeout",
                    "stream_cut", "not_found"]

TRANSIENT_KINDS: Final[frozenset[str]] = frozenset(
    {"rate_limited", "unavailable", "timeout", "stream_cut"})


@dataclasses.dataclass(frozen=True)
class ImageInput:
    data: bytes
    mime: str

    def __repr__(self) -> str:
        return f"ImageInput({len(self.data)} bytes, {self.mime!r})"


@dataclasses.dataclass(frozen=True)
class TextRequest:
    model: str
    prompt: str
    system: str = ""
    images: list[ImageInput] = dataclasses.field(default_factory=list)
    max_tokens: int = TEXT_MAX_TOKENS
    temperature: float = 0.8


@dataclasses.dataclass(frozen=True)
class ImageRequest:
    model: str
    prompt: str
    size: str = "1024x1024"
    seed: int | None = None
    references: list[ImageInput] = dataclasses.field(default_factory=list)

    @property
    def width_height(self) -> tuple[int, int]:
        """``size`` as two numbers; ``bad_request`` if it is not ``WIDTHxHEIGHT``."""
        w, sep, h = self.size.lower().partition("x")
        if not (sep and w.isdigit() and h.isdigit() and 16 <= int(w) <= 4096
                and 16 <= int(h) <= 4096):
            raise ProviderError("bad_request", f"The image size {self.size!r} is not one like "
                                "1024x1024")
        return int(w), int(h)


@dataclasses.dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    images: int = 0
    seconds: float = 0.0


@dataclasses.dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str
    usage: Usage

    def __repr__(self) -> str:
        return f"GeneratedImage({len(self.data)} bytes, {self.mime!r}, {self.usage!r})"


def listed_models(provider: str, label: str, text: Sequence[str],
                  image: Sequence[str]) -> list[ModelInfo]:
    """A provider's models: text ones (which also read images) and image ones."""
    return ([ModelInfo(f"{provider}:{m}", f"{label} {m}", provider,
                       frozenset({"text", "vision"})) for m in text]
            + [ModelInfo(f"{provider}:{m}", f"{label} {m}", provider, frozenset({"image"}))
               for m in image])


class ProviderError(Exception):
    """A model call that failed; ``message`` is a sentence a person can act on."""

    def __init__(self, kind: ErrorKind, message: str, *, transient: bool | None = None,
                 retry_after: float | None = None, provider: str = "",
                 status: int | None = None) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.transient = kind in TRANSIENT_KINDS if transient is None else transient
        self.retry_after = retry_after
        self.provider = provider
        self.status = status

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return (f"ProviderError({self.kind!r}, {self.message!r}, transient={self.transient}, "
                f"retry_after={self.retry_after})")


class _End:
    pass


_END: Final = _End()


class TextStream:
    """An async iterator of text deltas from one model call.

    Subclasses implement ``_produce`` (an async generator of deltas that may set
    ``self.usage``) and ``_map_error`` (an SDK exception to a ``ProviderError``, or None to let
    it through). The call runs in its own task from the first ``__anext__``, so ``aclose``
    from any task cancels it at once, even mid-read, and wakes a reader waiting on it.
    Use it as ``async with stream:`` or call ``aclose`` when done.
    """

    CLOSE_TIMEOUT: Final = 1.0

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self._queue: asyncio.Queue[str | BaseException | _End] = asyncio.Queue(maxsize=256)
        self._task: asyncio.Task[None] | None = None
        self._finished = False
        self._closed = False

    async def _produce(self) -> AsyncIterator[str]:
        raise NotImplementedError
        yield ""  # pragma: no cover - makes this an async generator

    def _map_error(self, exc: BaseException) -> ProviderError | None:
        return None

    def __aiter__(self) -> TextStream:
        return self

    async def __anext__(self) -> str:
        if self._finished or self._closed:
            raise StopAsyncIteration
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._pump())
        item = await self._queue.get()
        if isinstance(item, str):
            return item
        self._finished = True
        if isinstance(item, _End):
            raise StopAsyncIteration
        raise item

    async def _pump(self) -> None:
        try:
            async for delta in self._produce():
                if delta:
                    await self._queue.put(delta)
            item: str | BaseException | _End = _END
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            mapped = exc if isinstance(exc, ProviderError) else self._map_error(exc)
            if mapped is not None and mapped is not exc:
                mapped.__cause__ = exc
            item = mapped if mapped is not None else exc
        await self._queue.put(item)

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Stop the call (and its HTTP request) now; a waiting reader sees the end."""
        if self._closed:
            return
        self._closed = True
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            done, _ = await asyncio.wait({task}, timeout=self.CLOSE_TIMEOUT)
            if not done:
                log.warning("a model stream did not stop within %ss", self.CLOSE_TIMEOUT)
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queue.put_nowait(_END)

    async def __aenter__(self) -> TextStream:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.aclose()


class Provider(Protocol):
    """A source of models. ``offline`` providers make labelled stand-ins, not real output."""

    name: str
    offline: bool

    def models(self) -> list[ModelInfo]: ...

    def stream_text(self, req: TextRequest) -> TextStream: ...

    async def generate_image(self, req: ImageRequest) -> GeneratedImage: ...

    async def aclose(self) -> None: ...


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (a number; HTTP dates are not worth honouring)."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(0.0, seconds)


def split_model_id(model: str, provider: str) -> str:
    """``openai:gpt-4.1`` → ``gpt-4.1`` for the provider ``openai``; other names unchanged."""
    prefix = provider + ":"
    return model[len(prefix):] if model.startswith(prefix) else model
