"""Gemini through the ``google-genai`` SDK (the Gemini API, not Vertex).

The SDK runs on an ``httpx.AsyncClient`` this provider owns (so it never switches to aiohttp
and its implicit retries, and ``aclose`` closes it). The SDK has no retries of its own;
the job runner retries transient failures.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final

import httpx
from google import genai
from google.genai import errors, types

from sync.settings import Secret

from .base import (
    GeneratedImage,
    ImageInput,
    ImageRequest,
    ModelInfo,
    ProviderError,
    TextRequest,
    TextStream,
    Usage,
    listed_models,
    parse_retry_after,
    split_model_id,
)

log = logging.getLogger(__name__)

NAME: Final = "gemini"
API_VERSION: Final = "v1beta"
TEXT_MODELS: Final = ("gemini-2.5-flash", "gemini-3.5-flash")
IMAGE_MODELS: Final = ("gemini-2.5-flash-image",)
_REFUSALS: Final = frozenset({
    "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT", "RECITATION", "IMAGE_RECITATION",
})
_ASPECTS: Final = {(1, 1): "1:1", (3, 2): "3:2", (2, 3): "2:3", (4, 3): "4:3", (3, 4): "3:4",
                   (16, 9): "16:9", (9, 16): "9:16", (5, 4): "5:4", (4, 5): "4:5",
                   (21, 9): "21:9"}


def _retry_delay(exc: errors.APIError) -> float | None:
    response = exc.response
    headers = getattr(response, "headers", None)
    if headers is not None:
        seconds = parse_retry_after(headers.get("retry-after"))
        if seconds is not None:
            return seconds
    # Gemini puts a google.rpc.RetryInfo in the error details: {"retryDelay": "12s"}.
    match = re.search(r"'retryDelay': '([0-9.]+)s'", str(exc.details))
    return float(match.group(1)) if match else None


def _api_error(exc: errors.APIError) -> ProviderError:
    code = exc.code
    status = str(exc.status or "")
    message = str(exc.message or "")
    if code in (401, 403) or (code == 400 and "API key" in message):
        return ProviderError("auth", "Gemini rejected the API key; check GEMINI_API_KEY",
                             provider=NAME, status=code)
    if code == 429:
        return ProviderError("rate_limited", "Gemini is rate limiting; retrying",
                             retry_after=_retry_delay(exc), provider=NAME, status=code)
    if code == 404:
        return ProviderError("not_found", "Gemini does not know this model", provider=NAME,
                             status=code)
    if code in (408, 504) or status == "DEADLINE_EXCEEDED":
        return ProviderError("timeout", "Gemini took too long to answer; retrying",
                             provider=NAME, status=code)
    if code >= 500:
        return ProviderError("unavailable", "Gemini is unavailable right now; retrying",
                             retry_after=_retry_delay(exc), provider=NAME, status=code)
    if "safety" in message.lower() or "blocked" in message.lower():
        return ProviderError("refused", "The model refused this prompt; try rewording it",
                             provider=NAME, status=code)
    return ProviderError("bad_request", f"Gemini could not use this request: {message[:300]}",
                         provider=NAME, status=code)


def map_error(exc: BaseException) -> ProviderError | None:
    """A google-genai (or httpx) exception as a ``ProviderError``; None if not ours."""
    if isinstance(exc, errors.APIError):
        return _api_error(exc)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError("timeout", "Gemini took too long to answer; retrying",
                             provider=NAME)
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError):
        return ProviderError("stream_cut", "The connection to Gemini broke mid-answer; "
                             "retrying", provider=NAME)
    if isinstance(exc, httpx.TransportError):
        return ProviderError("unavailable", "Could not reach Gemini; retrying", provider=NAME)
    return None


def _parts(prompt: str, images: Sequence[ImageInput]) -> list[types.Part]:
    parts = [types.Part.from_text(text=prompt)]
    parts += [types.Part.from_bytes(data=i.data, mime_type=i.mime) for i in images]
    return parts


def _usage(meta: types.GenerateContentResponseUsageMetadata | None, start: float,
           images: int = 0) -> Usage:
    return Usage(input_tokens=(meta.prompt_token_count or 0) if meta else 0,
                 output_tokens=(meta.candidates_token_count or 0) if meta else 0,
                 images=images, seconds=time.monotonic() - start)


def _refusal(response: types.GenerateContentResponse) -> ProviderError | None:
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return ProviderError("refused", "The model refused this prompt; try rewording it",
                             provider=NAME)
    for candidate in response.candidates or ():
        reason = candidate.finish_reason
        if reason is not None and str(getattr(reason, "value", reason)) in _REFUSALS:
            return ProviderError("refused", "The model refused this prompt; try rewording it",
                                 provider=NAME)
    return None


def _text_of(response: types.GenerateContentResponse) -> str:
    out = []
    for candidate in response.candidates[:1] if response.candidates else ():
        for part in (candidate.content.parts or ()) if candidate.content else ():
            if part.text and not part.thought:
                out.append(part.text)
    return "".join(out)


class GeminiTextStream(TextStream):
    def __init__(self, client: genai.Client, req: TextRequest) -> None:
        super().__init__()
        self._client = client
        self._req = req

    async def _produce(self) -> AsyncIterator[str]:
        req = self._req
        start = time.monotonic()
        config = types.GenerateContentConfig(
            system_instruction=req.system or None, max_output_tokens=req.max_tokens,
            temperature=req.temperature)
        stream = await self._client.aio.models.generate_content_stream(
            model=split_model_id(req.model, NAME),
            contents=[types.Content(role="user", parts=_parts(req.prompt, req.images))],
            config=config)
        meta = None
        try:
            async for chunk in stream:
                refused = _refusal(chunk)
                if refused is not None:
                    raise refused
                if chunk.usage_metadata is not None:
                    meta = chunk.usage_metadata
                text = _text_of(chunk)
                if text:
                    yield text
        finally:
            # Closing the SDK's generator releases its response (the connection).
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        self.usage = _usage(meta, start)

    def _map_error(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc)


def _aspect(width: int, height: int) -> str:
    best = min(_ASPECTS, key=lambda wh: abs(wh[0] / wh[1] - width / height))
    return _ASPECTS[best]


class GeminiProvider:
    """Gemini text (with vision) and image output through ``generateContent``."""

    name = NAME
    offline = False

    def __init__(self, api_key: Secret, base_url: str = "", *,
                 text_models: Sequence[str] = TEXT_MODELS,
                 image_models: Sequence[str] = IMAGE_MODELS, timeout: float = 120.0,
                 api_version: str = API_VERSION) -> None:
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=10.0))
        # Keep the client: the SDK fails once a client it made a call with is collected.
        self._client = genai.Client(
            api_key=api_key.reveal(),
            http_options=types.HttpOptions(base_url=base_url or None, api_version=api_version,
                                           httpx_async_client=self._http))
        self._text_models = tuple(text_models)
        self._image_models = tuple(image_models)

    def models(self) -> list[ModelInfo]:
        return listed_models(NAME, "Gemini", self._text_models, self._image_models)

    def stream_text(self, req: TextRequest) -> TextStream:
        return GeminiTextStream(self._client, req)

    async def generate_image(self, req: ImageRequest) -> GeneratedImage:
        width, height = req.width_height
        start = time.monotonic()
        config: dict[str, Any] = {
            "response_modalities": ["IMAGE"],
            "image_config": types.ImageConfig(aspect_ratio=_aspect(width, height)),
        }
        if req.seed is not None:
            config["seed"] = req.seed
        try:
            response = await self._client.aio.models.generate_content(
                model=split_model_id(req.model, NAME),
                contents=[types.Content(role="user", parts=_parts(req.prompt, req.references))],
                config=types.GenerateContentConfig(**config))
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        refused = _refusal(response)
        if refused is not None:
            raise refused
        for candidate in response.candidates or ():
            for part in (candidate.content.parts or ()) if candidate.content else ():
                blob = part.inline_data
                if blob is not None and blob.data:
                    return GeneratedImage(blob.data, blob.mime_type or "image/png",
                                          _usage(response.usage_metadata, start, images=1))
        raise ProviderError("refused", "Gemini answered without an image; try rewording the "
                            "prompt", provider=NAME)

    async def aclose(self) -> None:
        await self._http.aclose()
