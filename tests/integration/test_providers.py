"""Providers against the fake model server, through the real SDKs over HTTP."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
import time
from collections.abc import AsyncIterator, Callable

import pytest
from PIL import Image

from sync.settings import Secret, Settings
from sync.tools import IMAGE_JSON_KEYS
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import DEFAULT_REPLY, FakeModelServer, png_bytes
from worker.providers import (
    ImageInput,
    ImageRequest,
    OfflineProvider,
    Provider,
    ProviderConfig,
    ProviderError,
    Registry,
    TextRequest,
)
from worker.providers.google import GeminiProvider
from worker.providers.openai import OpenAIProvider

KEY = "sk-test-key-123"
PROVIDERS = ["openai", "gemini"]


async def eventually(check: Callable[[], bool], timeout: float = 2.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


@pytest.fixture(params=PROVIDERS)
async def provider(request: pytest.FixtureRequest,
                   model_server: FakeModelServer) -> AsyncIterator[Provider]:
    p: Provider
    if request.param == "openai":
        p = OpenAIProvider(Secret(KEY), model_server.openai_base_url, timeout=10)
    else:
        p = GeminiProvider(Secret(KEY), model_server.gemini_base_url, timeout=10)
    yield p
    await p.aclose()


def text_model(p: Provider) -> str:
    return next(m.id for m in p.models() if "text" in m.kinds)


def image_model(p: Provider) -> str:
    return next(m.id for m in p.models() if "image" in m.kinds)


def sent_key(p: Provider, server: FakeModelServer) -> str:
    headers = server.requests[-1].headers
    if p.name == "openai":
        return headers["authorization"].removeprefix("Bearer ")
    return headers["x-goog-api-key"]


async def collect(p: Provider, req: TextRequest) -> list[str]:
    async with p.stream_text(req) as stream:
        return [delta async for delta in stream]


async def failure(p: Provider, req: TextRequest) -> ProviderError:
    with pytest.raises(ProviderError) as info:
        await collect(p, req)
    return info.value


# ---------------------------------------------------------------------------- text


async def test_streamed_text_arrives_in_chunks_in_order(provider, model_server):
    req = TextRequest(text_model(provider), "draw a fox in the snow", system="be brief")
    stream = provider.stream_text(req)
    deltas = [d async for d in stream]
    assert len(deltas) >= 5
    assert "".join(deltas) == DEFAULT_REPLY
    assert stream.usage is not None
    # the fake counts words; the SDK's usage fields carried them here
    assert stream.usage.output_tokens == len(DEFAULT_REPLY.split())
    assert stream.usage.input_tokens == len("be brief draw a fox in the snow".split()) - (
        2 if provider.name == "gemini" else 0)  # Gemini's system instruction is not contents
    assert stream.usage.seconds > 0
    await stream.aclose()


async def test_configured_api_key_is_sent(provider, model_server):
    await collect(provider, TextRequest(text_model(provider), "hi"))
    assert sent_key(provider, model_server) == KEY


async def test_request_carries_model_system_and_limits(provider, model_server):
    model = text_model(provider)
    await collect(provider, TextRequest(model, "hello", system="you are terse", max_tokens=55,
                                        temperature=0.3))
    rec = model_server.requests[-1]
    name = model.partition(":")[2]
    if provider.name == "openai":
        assert rec.path == "/v1/chat/completions"
        assert rec.json["model"] == name
        assert rec.json["stream"] is True
        assert rec.json["stream_options"] == {"include_usage": True}
        assert rec.json["messages"][0] == {"role": "system", "content": "you are terse"}
        assert rec.json["max_completion_tokens"] == 55
        assert rec.json["temperature"] == 0.3
    else:
        assert rec.path == f"/v1beta/models/{name}:streamGenerateContent"
        assert rec.query == "alt=sse"
        config = rec.json["generationConfig"]
        assert config["maxOutputTokens"] == 55 and config["temperature"] == 0.3
        assert rec.json["systemInstruction"]["parts"][0]["text"] == "you are terse"


async def test_images_are_sent_for_vision(provider, model_server):
    png = png_bytes("look at me")
    await collect(provider, TextRequest(text_model(provider), "describe",
                                        images=[ImageInput(png, "image/png")]))
    body = model_server.requests[-1].json
    encoded = base64.b64encode(png).decode()
    if provider.name == "openai":
        parts = body["messages"][-1]["content"]
        assert parts[1]["image_url"]["url"] == f"data:image/png;base64,{encoded}"
    else:
        parts = body["contents"][0]["parts"]
        blob = parts[1]["inlineData"]
        assert blob["data"] == encoded
        # the SDK spells the mime key either way; the API takes both
        assert "image/png" in (blob.get("mimeType"), blob.get("mime_type"))


async def test_rate_limited_429_is_transient_with_retry_after(provider, model_server):
    model_server.switches.status = 429
    model_server.switches.retry_after = "7"
    err = await failure(provider, TextRequest(text_model(provider), "hi"))
    assert err.kind == "rate_limited"
    assert err.transient is True
    assert err.retry_after == 7.0
    assert "rate limiting" in err.message
    assert len(model_server.requests) == 1  # the SDK did not retry on its own


async def test_server_error_500_is_transient(provider, model_server):
    model_server.switches.status = 500
    err = await failure(provider, TextRequest(text_model(provider), "hi"))
    assert err.kind == "unavailable"
    assert err.transient is True
    assert len(model_server.requests) == 1


async def test_server_error_500_with_retry_after_keeps_it(provider, model_server):
    model_server.switches.status = 500
    model_server.switches.retry_after = "3"
    err = await failure(provider, TextRequest(text_model(provider), "hi"))
    assert err.retry_after == 3.0


async def test_bad_key_401_is_auth_with_readable_message(provider, model_server):
    model_server.switches.status = 401
    err = await failure(provider, TextRequest(text_model(provider), "hi"))
    assert err.kind == "auth"
    assert err.transient is False
    label = "OpenAI" if provider.name == "openai" else "Gemini"
    assert err.message.startswith(f"{label} rejected the API key")
    assert str(err) == err.message
    assert "Traceback" not in err.message and "{" not in err.message
    assert KEY not in err.message


async def test_stream_cut_midway_is_stream_cut_and_transient(provider, model_server):
    model_server.switches.cut_after = 3
    got: list[str] = []
    with pytest.raises(ProviderError) as info:
        async with provider.stream_text(TextRequest(text_model(provider), "hi")) as stream:
            async for delta in stream:
                got.append(delta)
    assert info.value.kind == "stream_cut"
    assert info.value.transient is True
    assert len(got) == 3 and DEFAULT_REPLY.startswith("".join(got))


async def test_refusal_is_refused_and_not_transient(provider, model_server):
    model_server.switches.refuse = True
    err = await failure(provider, TextRequest(text_model(provider), "something forbidden"))
    assert err.kind == "refused"
    assert err.transient is False
    assert err.message == "The model refused this prompt; try rewording it"


async def test_aclose_stops_a_slow_stream_within_a_second(provider, model_server):
    model_server.switches.chunk_delay = 5.0
    stream = provider.stream_text(TextRequest(text_model(provider), "hi"))
    first = await stream.__anext__()
    assert first
    started = time.monotonic()
    await stream.aclose()
    assert time.monotonic() - started < 1.0
    rec = model_server.requests[-1]
    await eventually(lambda: rec.finished_at is not None, timeout=1.0)
    assert rec.disconnected  # the server saw the client leave, not a finished answer
    assert rec.finished_at is not None and rec.finished_at - started < 1.0
    with pytest.raises(StopAsyncIteration):
        await stream.__anext__()


async def test_aclose_from_another_task_wakes_the_reader(provider, model_server):
    model_server.switches.chunk_delay = 5.0
    stream = provider.stream_text(TextRequest(text_model(provider), "hi"))
    got: list[str] = []

    async def read() -> None:
        async for delta in stream:
            got.append(delta)

    reader = asyncio.get_running_loop().create_task(read())
    await eventually(lambda: len(got) == 1)
    started = time.monotonic()
    await stream.aclose()
    await asyncio.wait_for(reader, 1.0)
    assert time.monotonic() - started < 1.0
    assert len(got) == 1


async def test_unreachable_endpoint_is_unavailable():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    for p in (OpenAIProvider(Secret(KEY), f"http://127.0.0.1:{port}/v1", timeout=5),
              GeminiProvider(Secret(KEY), f"http://127.0.0.1:{port}", timeout=5)):
        err = await failure(p, TextRequest(text_model(p), "hi"))
        assert err.kind == "unavailable" and err.transient
        await p.aclose()


# ---------------------------------------------------------------------------- images


def decode_png(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    assert img.format == "PNG"
    return img


async def test_image_generation_returns_png_bytes(provider, model_server):
    image = await provider.generate_image(ImageRequest(image_model(provider), "a red kite",
                                                       size="1024x1024", seed=11))
    assert image.mime == "image/png"
    decode_png(image.data)
    assert image.usage.images == 1
    assert image.usage.input_tokens == 3
    rec = model_server.requests[-1]
    assert sent_key(provider, model_server) == KEY
    if provider.name == "openai":
        assert rec.path == "/v1/images/generations"
        assert rec.json["prompt"] == "a red kite" and rec.json["size"] == "1024x1024"
        assert "response_format" not in rec.json  # gpt-image models refuse it
    else:
        assert rec.path.endswith(":generateContent")
        config = rec.json["generationConfig"]
        assert config["seed"] == 11
        assert config["responseModalities"] == ["IMAGE"]
        assert config["imageConfig"]["aspectRatio"] == "1:1"


async def test_openai_image_size_is_the_nearest_it_offers(model_server):
    p = OpenAIProvider(Secret(KEY), model_server.openai_base_url)
    for asked, sent in (("512x512", "1024x1024"), ("1920x1080", "1536x1024"),
                        ("800x1200", "1024x1536")):
        await p.generate_image(ImageRequest("openai:gpt-image-2", "a kite", size=asked))
        assert model_server.requests[-1].json["size"] == sent
    await p.aclose()


async def test_image_generation_with_references(provider, model_server):
    ref = ImageInput(png_bytes("reference"), "image/png")
    image = await provider.generate_image(ImageRequest(image_model(provider), "like this",
                                                       size="1536x1024", references=[ref]))
    decode_png(image.data)
    rec = model_server.requests[-1]
    if provider.name == "openai":
        assert rec.path == "/v1/images/edits"
        assert b'name="image' in rec.body and ref.data in rec.body
    else:
        parts = rec.json["contents"][0]["parts"]
        assert parts[1]["inlineData"]["data"] == base64.b64encode(ref.data).decode()
        assert rec.json["generationConfig"]["imageConfig"]["aspectRatio"] == "3:2"


async def test_image_refused_is_refused(provider, model_server):
    model_server.switches.refuse = True
    with pytest.raises(ProviderError) as info:
        await provider.generate_image(ImageRequest(image_model(provider), "forbidden"))
    assert info.value.kind == "refused" and not info.value.transient


async def test_image_rate_limited_is_transient(provider, model_server):
    model_server.switches.status = 429
    model_server.switches.retry_after = "4"
    with pytest.raises(ProviderError) as info:
        await provider.generate_image(ImageRequest(image_model(provider), "a kite"))
    assert info.value.kind == "rate_limited" and info.value.retry_after == 4.0


async def test_image_with_malformed_size_is_bad_request(provider, model_server):
    with pytest.raises(ProviderError) as info:
        await provider.generate_image(ImageRequest(image_model(provider), "a kite",
                                                   size="huge"))
    assert info.value.kind == "bad_request"
    assert model_server.requests == []


# ---------------------------------------------------------------------------- offline


async def test_offline_text_is_labelled_deterministic_and_chunked():
    p = OfflineProvider(delay=0)
    req = TextRequest("offline:text", "Expand this image prompt.\n\na lighthouse at night")
    first = await collect(p, req)
    second = await collect(p, req)
    assert first == second
    assert len(first) > 3
    text = "".join(first)
    assert text.startswith("[offline] ")
    assert "a lighthouse at night" in text
    other = "".join(await collect(p, TextRequest("offline:text", "Give this image prompt an "
                                                 "unexpected twist.\n\na lighthouse at night")))
    assert other != text and other.startswith("[offline] ")


async def test_offline_stream_reports_usage():
    p = OfflineProvider(delay=0)
    stream = p.stream_text(TextRequest("offline:text", "one two three"))
    text = "".join([d async for d in stream])
    assert stream.usage is not None
    assert stream.usage.input_tokens == 3
    assert stream.usage.output_tokens == len(text.split())


async def test_offline_stream_paces_chunks():
    p = OfflineProvider(delay=0.02)
    started = time.monotonic()
    chunks = await collect(p, TextRequest("offline:text", "a b c d e f g h"))
    assert time.monotonic() - started >= 0.02 * (len(chunks) - 1)


async def test_offline_image_to_json_is_json_and_labelled():
    p = OfflineProvider(delay=0)
    text = "".join(await collect(p, TextRequest(
        "offline:text", "Describe this image as one JSON object.",
        images=[ImageInput(b"\x89PNG fake", "image/png")])))
    data = json.loads(text)
    assert tuple(data) == IMAGE_JSON_KEYS  # the shape the tool's prompt asks for
    assert data["summary"].startswith("[offline] ")


async def test_offline_images_deterministic_and_differ_by_seed():
    p = OfflineProvider(delay=0)
    a = await p.generate_image(ImageRequest("offline:image", "a fox", size="320x200", seed=1))
    again = await p.generate_image(ImageRequest("offline:image", "a fox", size="320x200",
                                                seed=1))
    b = await p.generate_image(ImageRequest("offline:image", "a fox", size="320x200", seed=2))
    assert a.data == again.data
    assert a.data != b.data
    img = decode_png(a.data)
    assert img.size == (320, 200)
    assert a.mime == "image/png" and a.usage.images == 1
    assert decode_png(b.data).getpixel((0, 0)) != img.getpixel((0, 0))


# ---------------------------------------------------------------------------- registry


def test_registry_has_only_offline_without_keys():
    registry = Registry.from_config(ProviderConfig())
    assert list(registry.providers) == ["offline"]
    assert registry.default_model("expand") == "offline:text"
    assert registry.default_model("variations") == "offline:image"
    provider, info = registry.model_for("generate_image")
    assert provider.offline and info.offline and "image" in info.kinds


async def test_registry_builds_keyed_providers_from_settings():
    settings = Settings.from_env({"OPENAI_API_KEY": "sk-a", "GEMINI_API_KEY": "g-b",
                                  "ARBOR_DEFAULT_IMAGE_MODEL": "gemini:gemini-2.5-flash-image",
                                  "ARBOR_OFFLINE_DELAY_MS": "0"})
    assert "sk-a" not in repr(settings)
    registry = Registry.from_config(ProviderConfig.from_settings(settings))
    try:
        assert list(registry.providers) == ["openai", "gemini", "offline"]
        assert registry.default_model("run").startswith("openai:")
        assert registry.default_model("generate_image") == "gemini:gemini-2.5-flash-image"
        provider, info = registry.resolve("openai:some-new-model")
        assert provider.name == "openai" and info.kinds == {"text", "vision"}
    finally:
        await registry.aclose()


def test_resolve_unconfigured_provider_says_which_key():
    registry = Registry.from_config(ProviderConfig())
    with pytest.raises(ProviderError) as info:
        registry.resolve("gemini:gemini-2.5-flash")
    assert info.value.kind == "not_found" and "GEMINI_API_KEY" in info.value.message


def test_resolve_unknown_model_is_not_found():
    registry = Registry.from_config(ProviderConfig())
    for bad in ("nonsense", "offline:video", "acme:x", ""):
        with pytest.raises(ProviderError) as info:
            registry.resolve(bad)
        assert info.value.kind == "not_found" and not info.value.transient


def test_text_model_for_image_tool_is_refused():
    registry = Registry.from_config(ProviderConfig())
    with pytest.raises(ProviderError) as info:
        registry.model_for("variations", "offline:text")
    assert info.value.kind == "bad_request" and "cannot make images" in info.value.message


def test_misconfigured_default_model_fails_at_start():
    with pytest.raises(ProviderError):
        Registry.from_config(ProviderConfig(default_text_model="openai:gpt-4.1-mini"))
