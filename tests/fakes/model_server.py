"""A local HTTP server that speaks enough of the OpenAI and Gemini wire formats for the real
SDKs to talk to it.

OpenAI (base URL ``{url}/v1``):
    POST /v1/chat/completions      SSE chunks, a final usage chunk, ``data: [DONE]``
    POST /v1/images/generations    ``b64_json`` PNG and usage
    POST /v1/images/edits          the same, for requests with reference images (multipart)
Gemini (base URL ``{url}``, any API version):
    POST /{version}/models/{model}:streamGenerateContent?alt=sse   SSE candidates + usage
    POST /{version}/models/{model}:generateContent                 one inline_data PNG part

Every request is recorded (``requests``). ``switches`` changes how it answers, per test:
an error status (with Retry-After), a slow stream, a stream cut after N chunks, a refusal,
a slow image. Image requests being answered at once are counted (``images_in_flight``, and
the most seen at one moment, ``max_images_in_flight``), so a test can see them overlap.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import hashlib
import io
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

DEFAULT_REPLY = "The quick brown fox jumps over the lazy dog beside a quiet river at dawn."


@dataclasses.dataclass
class Switches:
    """How the server answers. Change fields between requests; they apply to the next one."""

    status: int | None = None  # answer with this error status...
    times: int | None = None  # ...this many times (None: every time), then normally
    retry_after: str | None = None  # Retry-After header on error answers
    chunk_delay: float = 0.0  # seconds between streamed chunks
    cut_after: int | None = None  # close the connection after this many chunks
    cut_times: int | None = None  # ...in this many answers (None: every time), then normally
    refuse: bool = False  # answer with the provider's refusal
    reply: str = DEFAULT_REPLY
    words_per_chunk: int = 2
    image_delay: float = 0.0  # seconds an image answer takes (errors and refusals included)


@dataclasses.dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    json: Any
    finished_at: float | None = None  # when the answer ended (completed, cut or abandoned)
    disconnected: bool = False  # the client went away before the answer was complete
    received_at: float = dataclasses.field(default_factory=time.monotonic)
    sent_at: list[float] = dataclasses.field(default_factory=list)  # when each event went out


def png_bytes(seed: str, size: tuple[int, int] = (16, 16)) -> bytes:
    digest = hashlib.sha256(seed.encode()).digest()
    img = Image.new("RGB", size, (digest[0], digest[1], digest[2]))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _words(text: str) -> int:
    return len(text.split())


class FakeModelServer:
    def __init__(self) -> None:
        self.switches = Switches()
        self.requests: list[Recorded] = []
        self.images_in_flight = 0
        self.max_images_in_flight = 0
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port = 0
        self.app = Starlette(routes=[
            Route("/v1/chat/completions", _Raw(self._chat), methods=["POST"]),
            Route("/v1/images/generations", self._images, methods=["POST"]),
            Route("/v1/images/edits", self._images, methods=["POST"]),
            Route("/{version}/models/{call:path}", _Raw(self._gemini), methods=["POST"]),
        ])

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def gemini_base_url(self) -> str:
        return self.url

    async def start(self) -> None:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning",
                                lifespan="off", timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve())
        async with asyncio.timeout(10):
            while not self._server.started:
                if self._task.done():
                    self._task.result()
                await asyncio.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await asyncio.wait_for(self._task, 10)

    async def __aenter__(self) -> FakeModelServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------------ helpers

    def _record(self, scope: Scope, body: bytes) -> Recorded:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        rec = Recorded(scope["method"], scope["path"], scope["query_string"].decode(), headers,
                       body, parsed)
        self.requests.append(rec)
        return rec

    def _failure(self) -> int | None:
        s = self.switches
        if s.status is None:
            return None
        if s.times is not None:
            if s.times <= 0:
                return None
            s.times -= 1
        return s.status

    def _error_headers(self) -> dict[str, str]:
        return {"retry-after": self.switches.retry_after} if self.switches.retry_after else {}

    def _chunks(self) -> list[str]:
        words = self.switches.reply.split(" ")
        n = self.switches.words_per_chunk
        return [" ".join(words[i:i + n]) + (" " if i + n < len(words) else "")
                for i in range(0, len(words), n)]

    async def _stream(self, send: Send, receive: Receive, events: list[bytes],
                      rec: Recorded) -> None:
        """Send SSE events, honouring the delay and cut switches, noticing a client leaving."""
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/event-stream"),
                                (b"cache-control", b"no-cache")]})
        gone = asyncio.Event()

        async def watch() -> None:
            message = await receive()
            while message["type"] != "http.disconnect":  # drain the body, await the hang-up
                message = await receive()
            gone.set()

        watcher = asyncio.get_running_loop().create_task(watch())
        cut = self.switches.cut_after
        if cut is not None and self.switches.cut_times is not None:
            if self.switches.cut_times <= 0:
                cut = None
            else:
                self.switches.cut_times -= 1
        try:
            for i, event in enumerate(events):
                if cut is not None and i >= cut:
                    return  # an unfinished response: uvicorn closes the connection
                if i and self.switches.chunk_delay:
                    with contextlib.suppress(TimeoutError):  # the delay elapsed: send on
                        await asyncio.wait_for(gone.wait(), self.switches.chunk_delay)
                if gone.is_set():
                    rec.disconnected = True
                    return
                rec.sent_at.append(time.monotonic())
                await send({"type": "http.response.body", "body": event, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            rec.finished_at = time.monotonic()
            watcher.cancel()

    # ------------------------------------------------------------------ OpenAI

    def _openai_error(self, status: int) -> Response:
        codes = {401: ("invalid_api_key", "Incorrect API key provided."),
                 429: ("rate_limit_exceeded", "Rate limit reached."),
                 500: ("server_error", "The server had an error.")}
        code, message = codes.get(status, ("error", f"fake error {status}"))
        return JSONResponse({"error": {"message": message, "type": code, "param": None,
                                       "code": code}}, status, headers=self._error_headers())

    async def _chat(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        rec = self._record(scope, body)
        status = self._failure()
        if status is not None:
            await self._openai_error(status)(scope, receive, send)
            return
        req = rec.json or {}
        prompt = " ".join(m["content"] if isinstance(m["content"], str)
                          else " ".join(p.get("text", "") for p in m["content"])
                          for m in req.get("messages", []))
        model = req.get("model", "")

        def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bytes:
            chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                     "created": int(time.time()), "model": model, "choices": choices,
                     "usage": usage}
            return f"data: {json.dumps(chunk)}\n\n".encode()

        chunks = [] if self.switches.refuse else self._chunks()
        events = [event([{"index": 0, "delta": {"role": "assistant", "content": c},
                          "finish_reason": None}]) for c in chunks]
        finish = "content_filter" if self.switches.refuse else "stop"
        events.append(event([{"index": 0, "delta": {}, "finish_reason": finish}]))
        if (req.get("stream_options") or {}).get("include_usage"):
            events.append(event([], {"prompt_tokens": _words(prompt),
                                     "completion_tokens": _words("".join(chunks)),
                                     "total_tokens": _words(prompt) + _words("".join(chunks))}))
        events.append(b"data: [DONE]\n\n")
        await self._stream(send, receive, events, rec)

    @contextlib.asynccontextmanager
    async def _image_answer(self) -> AsyncIterator[None]:
        """Count the image request while it is answered, taking ``image_delay`` first."""
        self.images_in_flight += 1
        self.max_images_in_flight = max(self.max_images_in_flight, self.images_in_flight)
        try:
            if self.switches.image_delay:
                await asyncio.sleep(self.switches.image_delay)
            yield
        finally:
            self.images_in_flight -= 1

    async def _images(self, request: Request) -> Response:
        body = await request.body()
        rec = self._record(request.scope, body)
        async with self._image_answer():
            return self._image_response(rec, body)

    def _image_response(self, rec: Recorded, body: bytes) -> Response:
        status = self._failure()
        if status is not None:
            return self._openai_error(status)
        if self.switches.refuse:
            return JSONResponse({"error": {"message": "Your request was rejected by the safety "
                                           "system.", "type": "image_generation_user_error",
                                           "param": None, "code": "moderation_blocked"}}, 400)
        if rec.json is not None:
            prompt, model = rec.json.get("prompt", ""), rec.json.get("model", "")
        else:  # multipart (edits): good enough to echo back
            prompt, model = body.decode("latin-1"), "edit"
        return JSONResponse({
            "created": int(time.time()),
            "data": [{"b64_json": base64.b64encode(png_bytes(model + prompt)).decode()}],
            "output_format": "png",
            "usage": {"input_tokens": _words(prompt), "output_tokens": 1056,
                      "total_tokens": _words(prompt) + 1056,
                      "input_tokens_details": {"text_tokens": _words(prompt),
                                               "image_tokens": 0}},
        })

    # ------------------------------------------------------------------ Gemini

    def _gemini_error(self, status: int) -> Response:
        names = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE"}
        error: dict[str, Any] = {"code": status, "message": f"fake error {status}",
                                 "status": names.get(status, "UNKNOWN")}
        if status == 429 and self.switches.retry_after:
            error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo",
                                 "retryDelay": f"{self.switches.retry_after}s"}]
        return JSONResponse({"error": error}, status, headers=self._error_headers())

    async def _gemini(self, scope: Scope, receive: Receive, send: Send, body: bytes) -> None:
        rec = self._record(scope, body)
        status = self._failure()
        if status is not None:
            await self._gemini_error(status)(scope, receive, send)
            return
        call = scope["path_params"]["call"]
        model, _, method = call.partition(":")
        req = rec.json or {}
        prompt = " ".join(p.get("text", "") for c in req.get("contents", [])
                          for p in c.get("parts", []))
        if method == "generateContent":
            async with self._image_answer():
                answer = self._gemini_image(model, prompt, req)
            await answer(scope, receive, send)
        elif method == "streamGenerateContent":
            await self._gemini_stream(scope, receive, send, rec, prompt)
        else:
            await self._gemini_error(404)(scope, receive, send)

    def _gemini_image(self, model: str, prompt: str, req: dict[str, Any]) -> Response:
        seed = (req.get("generationConfig") or {}).get("seed")
        usage = {"promptTokenCount": _words(prompt), "candidatesTokenCount": 1290,
                 "totalTokenCount": _words(prompt) + 1290}
        if self.switches.refuse:
            return JSONResponse({"candidates": [{"finishReason": "IMAGE_SAFETY", "index": 0}],
                                 "usageMetadata": usage})
        data = base64.b64encode(png_bytes(f"{model}{prompt}{seed}")).decode()
        return JSONResponse({
            "candidates": [{"content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": "image/png", "data": data}}]},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": model,
        })

    async def _gemini_stream(self, scope: Scope, receive: Receive, send: Send, rec: Recorded,
                             prompt: str) -> None:
        def event(payload: dict[str, Any]) -> bytes:
            return f"data: {json.dumps(payload)}\r\n\r\n".encode()

        if self.switches.refuse:
            events = [event({"promptFeedback": {"blockReason": "SAFETY"},
                             "usageMetadata": {"promptTokenCount": _words(prompt),
                                               "totalTokenCount": _words(prompt)}})]
        else:
            chunks = self._chunks()
            events = []
            for i, c in enumerate(chunks):
                candidate: dict[str, Any] = {"content": {"role": "model",
                                                         "parts": [{"text": c}]}, "index": 0}
                payload: dict[str, Any] = {"candidates": [candidate]}
                if i == len(chunks) - 1:
                    candidate["finishReason"] = "STOP"
                    payload["usageMetadata"] = {
                        "promptTokenCount": _words(prompt),
                        "candidatesTokenCount": _words("".join(chunks)),
                        "totalTokenCount": _words(prompt) + _words("".join(chunks))}
                events.append(event(payload))
        await self._stream(send, receive, events, rec)


class _Raw:
    """A route endpoint as a plain ASGI app that has the request body read for it."""

    def __init__(self, handler: Callable[[Scope, Receive, Send, bytes], Awaitable[None]]
                 ) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await self.handler(scope, receive, send, body)
