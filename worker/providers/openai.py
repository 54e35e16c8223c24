"""OpenAI, and any OpenAI-compatible endpoint, through the ``openai`` SDK.

The SDK's own retries are off (``max_retries=0``): the job runner retries transient
failures with its own backoff, using ``ProviderError.retry_after``.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator, Sequence
from typing import Final, Literal

import httpx2
import openai
from openai.types.chat import ChatCompletionContentPartParam, ChatCompletionMessageParam

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
from .public_only import internal_address, public_only_client

log = logging.getLogger(__name__)

NAME: Final = "openai"
TEXT_MODELS: Final = ("gpt-4.1-mini", "gpt-5.4-mini")
IMAGE_MODELS: Final = ("gpt-image-2", "gpt-image-2.5-flare")
_GPT_IMAGE_SIZES: Final = ((1024, 1024, "1024x1024"), (1536, 1024, "1536x1024"),
                           (1024, 1536, "1024x1536"))
# Reasoning models accept only their default temperature.
_FIXED_TEMPERATURE_PREFIXES: Final = ("o1", "o3", "o4", "gpt-5", "gpt-6")


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    status = exc.status_code
    retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
    code = str(getattr(exc, "code", "") or "")
    if status in (401, 403):
        what = "rejected the API key" if status == 401 else "refused access with this API key"
        return ProviderError("auth", f"OpenAI {what}; check OPENAI_API_KEY", provider=NAME,
                             status=status)
    if status == 429:
        if code == "insufficient_quota":
            return ProviderError("rate_limited", "OpenAI says this account's quota is used up; "
                                 "add credit or use another model", transient=False,
                                 provider=NAME, status=status)
        return ProviderError("rate_limited", "OpenAI is rate limiting; retrying",
                             retry_after=retry_after, provider=NAME, status=status)
    if status == 404:
        return ProviderError("not_found", "OpenAI does not know this model (or the endpoint "
                             "is wrong)", provider=NAME, status=status)
    if status in (408, 504):
        return ProviderError("timeout", "OpenAI took too long to answer; retrying",
                             retry_after=retry_after, provider=NAME, status=status)
    if status >= 500 or status == 409:
        return ProviderError("unavailable", "OpenAI is unavailable right now; retrying",
                             retry_after=retry_after, provider=NAME, status=status)
    if code == "content_policy_violation" or "safety" in code or "moderation" in code:
        return ProviderError("refused", "The model refused this prompt; try rewording it",
                             provider=NAME, status=status)
    detail = exc.message if isinstance(exc.message, str) else ""
    return ProviderError("bad_request", f"OpenAI could not use this request: {detail[:300]}",
                         provider=NAME, status=status)


def map_error(exc: BaseException) -> ProviderError | None:
    """An OpenAI SDK (or transport) exception as a ``ProviderError``; None if not ours."""
    refused = internal_address(exc)
    if refused is not None:
        why = f", {refused.why}" if refused.why else ""
        return ProviderError("bad_request", f"This canvas's base URL host {refused.host} now "
                             f"resolves to {refused.address}{why}, inside the server's "
                             "network, so it was not called; set a public endpoint under Keys",
                             provider=NAME)
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc)
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return ProviderError("timeout", "OpenAI took too long to answer; retrying",
                             provider=NAME)
    if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
        return ProviderError("unavailable", "Could not reach OpenAI; retrying", provider=NAME)
    if isinstance(exc, openai.APIError):  # an error event inside a stream
        return ProviderError("unavailable", "OpenAI reported an error mid-answer; retrying",
                             provider=NAME)
    return None


def openai_size(model: str, width: int, height: int) -> str:
    """The size to ask for: gpt-image models take three sizes, so the nearest in shape."""
    if model.startswith("dall-e"):
        return f"{width}x{height}"
    return min(_GPT_IMAGE_SIZES, key=lambda s: abs(s[0] / s[1] - width / height))[2]


def _data_url(image: ImageInput) -> str:
    return f"data:{image.mime};base64,{base64.b64encode(image.data).decode()}"


class OpenAITextStream(TextStream):
    def __init__(self, client: openai.AsyncOpenAI, req: TextRequest) -> None:
        super().__init__()
        self._client = client
        self._req = req

    def _messages(self) -> list[ChatCompletionMessageParam]:
        req = self._req
        messages: list[ChatCompletionMessageParam] = []
        if req.system:
            messages.append({"role": "system", "content": req.system})
        if req.images:
            content: list[ChatCompletionContentPartParam] = [{"type": "text", "text": req.prompt}]
            content += [{"type": "image_url", "image_url": {"url": _data_url(i)}}
                        for i in req.images]
            messages.append({"role": "user", "content": content})
        else:
            messages.append({"role": "user", "content": req.prompt})
        return messages

    async def _produce(self) -> AsyncIterator[str]:
        req = self._req
        model = split_model_id(req.model, NAME)
        temperature: float | openai.Omit = (
            openai.omit if model.startswith(_FIXED_TEMPERATURE_PREFIXES) else req.temperature)
        start = time.monotonic()
        stream = await self._client.chat.completions.create(
            model=model, messages=self._messages(),
            stream=True, stream_options={"include_usage": True},
            max_completion_tokens=req.max_tokens, temperature=temperature)
        async with stream:
            try:
                async for chunk in stream:
                    if chunk.usage is not None:
                        self.usage = Usage(input_tokens=chunk.usage.prompt_tokens,
                                           output_tokens=chunk.usage.completion_tokens,
                                           seconds=time.monotonic() - start)
                    for choice in chunk.choices:
                        if getattr(choice.delta, "refusal", None) or (
                                choice.finish_reason == "content_filter"):
                            raise ProviderError("refused", "The model refused this prompt; try "
                                                "rewording it", provider=NAME)
                        if choice.delta.content:
                            yield choice.delta.content
            except (openai.APIConnectionError, httpx2.TransportError) as exc:
                if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
                    raise
                # The response had begun: the connection broke under it.
                raise ProviderError("stream_cut", "The connection to OpenAI broke mid-answer; "
                                    "retrying", provider=NAME) from exc
        if self.usage is None:
            self.usage = Usage(seconds=time.monotonic() - start)

    def _map_error(self, exc: BaseException) -> ProviderError | None:
        return map_error(exc)


class OpenAIProvider:
    """OpenAI chat completions (text, vision) and image generation."""

    name = NAME
    offline = False

    def __init__(self, api_key: Secret, base_url: str = "", *,
                 text_models: Sequence[str] = TEXT_MODELS,
                 image_models: Sequence[str] = IMAGE_MODELS, timeout: float = 120.0,
                 public_only: bool = False) -> None:
        self._client = openai.AsyncOpenAI(
            api_key=api_key.reveal(), base_url=base_url or None, max_retries=0,
            timeout=timeout, http_client=public_only_client(timeout) if public_only else None)
        self._text_models = tuple(text_models)
        self._image_models = tuple(image_models)

    def models(self) -> list[ModelInfo]:
        return listed_models(NAME, "OpenAI", self._text_models, self._image_models)

    def stream_text(self, req: TextRequest) -> TextStream:
        return OpenAITextStream(self._client, req)

    async def generate_image(self, req: ImageRequest) -> GeneratedImage:
        model = split_model_id(req.model, NAME)
        size = openai_size(model, *req.width_height)
        # gpt-image models always answer in base64 and refuse response_format.
        response_format: Literal["b64_json"] | openai.Omit = (
            "b64_json" if model.startswith("dall-e") else openai.omit)
        start = time.monotonic()
        try:
            if req.references:
                files = [(f"reference-{i}.{r.mime.rpartition('/')[2]}", r.data, r.mime)
                         for i, r in enumerate(req.references)]
                response = await self._client.images.edit(
                    model=model, prompt=req.prompt, image=files,
                    size=size,
                    n=1, response_format=response_format)
            else:
                response = await self._client.images.generate(
                    model=model, prompt=req.prompt,
                    size=size,
                    n=1, response_format=response_format)
        except Exception as exc:
            mapped = map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        item = response.data[0] if response.data else None
        if item is None or not item.b64_json:
            raise ProviderError("refused", "OpenAI returned no image for this prompt; try "
                                "rewording it", provider=NAME)
        mime = f"image/{response.output_format or 'png'}"
        usage = response.usage
        return GeneratedImage(
            base64.b64decode(item.b64_json), mime,
            Usage(input_tokens=usage.input_tokens if usage else 0,
                  output_tokens=usage.output_tokens if usage else 0, images=1,
                  seconds=time.monotonic() - start))

    async def aclose(self) -> None:
        await self._client.close()
