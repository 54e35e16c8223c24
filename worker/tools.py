"""What each tool does when it runs: read its inputs from the canvas, call a model, write
the result into its output blocks as one more peer of the room.

Streamed text is appended to the output block's Y.Text at most every 50 ms (about 20
updates a second per block); each write first checks the attempt's fence, so an attempt
that lost its job writes nothing more. A retry starts the block over instead of
appending to what an earlier attempt wrote; an image an earlier attempt finished is kept
(see ``doc_schema.finished_image``), so a retry of variations remakes only the images that failed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pycrdt import Doc, Map, Text

from sync import doc_schema as schema
from sync.blobs import BlobError, BlobErrorKind, ForeignImageError, Scope, owned_image
from sync.canvas_index import index_for, rect_of
from sync.images import ImageRejectedError, process_image
from sync.renditions import block_image, store_renditions
from sync.tools import (
    TEXT_MAX_TOKENS,
    ToolError,
    ToolInput,
    ToolSpec,
    get_tool,
    render,
    split_text,
)

from .providers.base import ImageInput, ImageRequest, ProviderError, TextRequest, Usage

if TYPE_CHECKING:
    from sync.blobs import BlobStore
    from sync.jobs import JobRecord
    from sync.room import Room
    from sync.rooms import RoomManager
    from sync.settings import Settings

    from .providers.registry import Registry

WRITE_INTERVAL = 0.05
CATCH_UP = 3.0  # longest wait for the room to show the blocks a job names


class FenceBrokenError(Exception):
    """This attempt no longer owns its job (cancelled, or superseded by a newer one)."""


class BlockGoneError(Exception):
    """An output block was deleted: the job is cancelled."""


@dataclasses.dataclass
class ToolRun:
    job: JobRecord
    settings: Settings
    rooms: RoomManager
    registry: Registry
    blobs: BlobStore
    fence: Callable[[], Awaitable[None]]


@dataclasses.dataclass
class Outcome:
    usage: dict[str, Any]
    model: str | None


@dataclasses.dataclass
class _Input:
    id: str
    kind: str
    text: str
    image_key: str | None


def _blocks(doc: Doc[Any]) -> Map[Any]:
    blocks: Map[Any] = doc.get(schema.BLOCKS, type=Map)
    return blocks


def _read_inputs(room: Room, ids: list[str]) -> list[_Input]:
    blocks = _blocks(room.doc)
    out = []
    for block_id in ids:
        block = blocks.get(block_id)
        if not isinstance(block, Map):
            raise ToolError("bad_inputs", "an input block of this run was deleted")
        text = block.get("text")
        image = block.get("image")
        key = image.get("key") if isinstance(image, dict) else None
        out.append(_Input(block_id, schema.kind_of(block), schema.text_of(text),
                          None if key is None else str(key)))
    return out


async def _parents(room: Room, block_id: str) -> list[str]:
    """The blocks with an edge into ``block_id``, from the room's canvas index: the edges
    into this one block, not a read of every edge of the canvas per job (the index is
    built once per room load in this process, a slice at a time)."""
    index = await index_for(room)
    return [source for source, _ in index.incoming(block_id) if source]


def _template(room: Room, spec: ToolSpec) -> str | None:
    """The room's own prompt for this tool (``meta.prompts``), if it set one."""
    meta = room.doc.get(schema.META, type=Map)
    prompts = meta.get("prompts")
    if isinstance(prompts, Map):
        value = prompts.get(spec.name)
    elif isinstance(prompts, dict):
        value = prompts.get(spec.name)
    else:
        value = None
    return str(value) if isinstance(value, str | Text) and str(value).strip() else None


class BlockWriter:
    """Appends streamed text to one block, batched, fenced."""

    def __init__(self, room: Room, block_id: str, job_id: str,
                 fence: Callable[[], Awaitable[None]]) -> None:
        self.room = room
        self.block_id = block_id
        self.job_id = job_id
        self.fence = fence
        self._pending: list[str] = []
        self._last = 0.0
        self.written = 0

    def _block(self) -> Map[Any]:
        block = _blocks(self.room.doc).get(self.block_id)
        if not isinstance(block, Map) or block.get("jobId") != self.job_id:
            raise BlockGoneError(self.block_id)
        return block

    async def start(self, **fields: Any) -> None:
        """Start the block over (a retry never appends to an earlier attempt's text)."""
        await self.fence()

        def edit(doc: Doc[Any]) -> None:
            block = self._block()
            text = block.get("text")
            if isinstance(text, Text):
                del text[0:len(text)]
            else:
                block["text"] = Text()
            for k, v in fields.items():
                block[k] = v

        self.room.transact(edit)

    async def set(self, **fields: Any) -> None:
        await self.fence()

        def edit(doc: Doc[Any]) -> None:
            block = self._block()
            for k, v in fields.items():
                block[k] = v

        self.room.transact(edit)

    async def append(self, delta: str) -> None:
        self._pending.append(delta)
        if time.monotonic() - self._last >= WRITE_INTERVAL:
            await self.flush()

    def due(self) -> float | None:
        """Seconds until pending text must be written (None: nothing pending). The
        batching bounds how long text waits, whether or not more text follows."""
        if not self._pending:
            return None
        return max(0.0, self._last + WRITE_INTERVAL - time.monotonic())

    async def flush(self) -> None:
        if not self._pending:
            return
        await self.fence()
        if not self._pending:  # a concurrent flush wrote it while the fence was checked
            return
        chunk = "".join(self._pending)
        self._pending.clear()

        def edit(doc: Doc[Any]) -> None:
            text = self._block().get("text")
            if isinstance(text, Text):
                text += chunk

        self.room.transact(edit)
        self.written += len(chunk)
        self._last = time.monotonic()


def _usage(u: Usage | None) -> dict[str, Any]:
    if u is None:
        return {}
    return {"input_tokens": u.input_tokens, "output_tokens": u.output_tokens,
            "images": u.images, "seconds": round(u.seconds, 3)}


def _add(total: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    for k, v in more.items():
        total[k] = total.get(k, 0) + v
    return total


async def _images(run: ToolRun, inputs: list[_Input]) -> list[ImageInput]:
    """The bytes of the input images. A block's ``image.key`` is written by peers: every
    key must be one of the job's own canvas's renditions (checked for all of them before
    any is read), and one of its own that is missing fails the same way, so the job
    neither carries another canvas's image to a model nor tells which keys exist."""
    keys = [owned_image(Scope.ROOM, run.job.room_id, i.image_key).key
            for i in inputs if i.kind == "image" and i.image_key]
    out = []
    for key in keys:
        try:
            data = await run.blobs.get(key)
        except BlobError as exc:
            if exc.kind is not BlobErrorKind.OBJECT_MISSING:
                raise
            raise ForeignImageError(key) from None
        out.append(ImageInput(data, "image/webp"))
    return out


async def _caught_up(room: Room, ids: list[str], within: float) -> None:
    """Wait (a little) for blocks the server saw before it accepted the job: this
    process's copy of the room may lag behind by the fan-out, by seconds right after
    Redis came back. A block still missing after that was deleted."""
    deadline = time.monotonic() + within
    blocks = _blocks(room.doc)
    while time.monotonic() < deadline:
        if all(i in blocks for i in ids):
            return
        await asyncio.sleep(0.02)


async def execute(run: ToolRun) -> Outcome:
    job = run.job
    spec = get_tool(job.tool)
    async with run.rooms.session(job.room_id) as room:
        await _caught_up(room, job.inputs + job.outputs, CATCH_UP)
        inputs = _read_inputs(room, job.inputs)
        if spec.name == "split":
            return await _split(run, room, inputs)
        for block_id in job.outputs:  # deleted while it waited in the queue
            if not isinstance(_blocks(room.doc).get(block_id), Map):
                raise BlockGoneError(block_id)
        template = _template(room, spec)
        parents = await _parents(room, inputs[0].id) if spec.name == "run" and inputs else []
        tool_inputs, text = _prompt_inputs(room, spec, inputs, parents)
        params = job.params
        prompt = render(spec, template, tool_inputs, text=text, params=params)
        images = await _images(run, inputs)
        provider, model = run.registry.model_for(spec, str(params.get("model") or ""),
                                                 with_images=bool(images))
        if spec.output == "text":
            return await _text(run, room, spec, prompt, images, provider, model.id)
        return await _image(run, room, spec, prompt, images, provider, model.id)


def _prompt_inputs(room: Room, spec: ToolSpec, inputs: list[_Input],
                   parents: list[str]) -> tuple[list[ToolInput], str]:
    """``run`` prompts with its first block and uses the rest (and that block's own
    ``parents``) as context; every other tool works on all its inputs."""
    if spec.name == "run" and inputs:
        first, rest = inputs[0], inputs[1:]
        parents = [p for p in parents if p not in {i.id for i in inputs}]
        context = rest + [i for i in _read_inputs_soft(room, parents)]
        return [ToolInput("text" if c.kind == "text" else "image", c.text) for c in context], \
            first.text
    return [ToolInput("text" if i.kind == "text" else "image", i.text) for i in inputs], ""


def _read_inputs_soft(room: Room, ids: list[str]) -> list[_Input]:
    try:
        return _read_inputs(room, ids)
    except ToolError:
        return []


async def _text(run: ToolRun, room: Room, spec: ToolSpec, prompt: str,
                images: list[ImageInput], provider: Any, model: str) -> Outcome:
    job = run.job
    writer = BlockWriter(room, job.outputs[0], job.id, run.fence)
    await writer.start(status="running", progress=0.0, error="", model=model)
    request = TextRequest(model=model, prompt=prompt, system=spec.system, images=images,
                          max_tokens=int(job.params.get("max_tokens", TEXT_MAX_TOKENS)),
                          temperature=float(job.params.get("temperature", 0.8)))
    stream = provider.stream_text(request)
    try:
        await _stream_into(writer, stream)
    finally:
        await stream.aclose()
    await writer.set(status="done", progress=1.0)
    return Outcome(_usage(stream.usage), model)


async def _stream_into(writer: BlockWriter, stream: AsyncIterator[str]) -> None:
    """Append every delta; text still pending when its batching interval ends is written
    then, not when the next delta happens to arrive (a pause in the stream, or a burst
    of deltas in one read, must not hold text back)."""
    chunks = stream.__aiter__()
    waiting: asyncio.Future[str] | None = None
    try:
        while True:
            if waiting is None:
                waiting = asyncio.ensure_future(chunks.__anext__())
            done, _ = await asyncio.wait({waiting}, timeout=writer.due())
            if not done:
                await writer.flush()
                continue
            got, waiting = waiting, None
            try:
                delta = got.result()
            except StopAsyncIteration:
                break
            await writer.append(delta)
        await writer.flush()
    finally:
        if waiting is not None:
            waiting.cancel()  # the stream is closed next, which ends its producer


IMAGE_CONCURRENCY = 4  # images of one job made at the same time (variations makes four)


def _worst(errors: list[ProviderError]) -> ProviderError:
    """The failure that decides the job: a lasting one (no retry helps) before a transient
    one; among transient ones, the one asking for the longest wait (the provider's rate
    limit is honoured for all of them)."""
    lasting = [e for e in errors if not e.transient]
    if lasting:
        return lasting[0]
    return max(errors, key=lambda e: e.retry_after or 0.0)


async def _image(run: ToolRun, room: Room, spec: ToolSpec, prompt: str,
                 images: list[ImageInput], provider: Any, model: str) -> Outcome:
    """Make the job's images at the same time (at most ``IMAGE_CONCURRENCY``), each written
    into its block as soon as it is stored. Blocks an earlier attempt finished are kept: a
    retry remakes only the images that failed or never finished. One image failing lets
    the others finish before the job fails (and is retried); a broken fence or a deleted
    block stops them all at once."""
    job = run.job
    size = str(job.params.get("size", "1024x1024"))
    seed = int(job.params.get("seed", 0)) or random.randrange(1, 2**31 - 1)
    blocks = _blocks(room.doc)
    kept = [b for b in job.outputs if schema.finished_image(blocks.get(b), job.id)]
    todo = [(n, BlockWriter(room, b, job.id, run.fence))
            for n, b in enumerate(job.outputs) if b not in kept]
    for _, w in todo:
        await w.set(status="running", progress=0.0, error="", model=model)
    gate = asyncio.Semaphore(IMAGE_CONCURRENCY)

    async def one(n: int, writer: BlockWriter) -> dict[str, Any] | ProviderError:
        async with gate:
            try:
                return await _one_image(run, writer, prompt, images, provider, model, size,
                                        seed + n)
            except ProviderError as exc:
                return exc

    tasks = [asyncio.ensure_future(one(n, w)) for n, w in todo]
    try:
        if tasks:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:  # a fence, block or other error ends the attempt, first one wins
            failure = task.exception() if task.done() else None
            if failure is not None:
                raise failure
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    results = [t.result() for t in tasks]
    errors = [r for r in results if isinstance(r, ProviderError)]
    if errors:
        raise _worst(errors)
    usage: dict[str, Any] = {"images": len(kept)} if kept else {}
    for r in results:
        assert not isinstance(r, ProviderError)
        _add(usage, r)
    return Outcome(usage, model)


async def _one_image(run: ToolRun, writer: BlockWriter, prompt: str, images: list[ImageInput],
                     provider: Any, model: str, size: str, seed: int) -> dict[str, Any]:
    await writer.start(status="running", progress=0.1, error="", model=model)
    await writer.flush()
    text = writer._block().get("text")
    if isinstance(text, Text):
        text += prompt  # an image block's text is the prompt that made it
    result = await provider.generate_image(ImageRequest(
        model=model, prompt=prompt, size=size, seed=seed, references=images))
    await writer.set(progress=0.6)
    try:
        processed = await asyncio.to_thread(
            process_image, result.data, max_bytes=run.settings.max_upload_bytes * 4,
            max_pixels=run.settings.max_image_pixels)
    except ImageRejectedError as exc:
        raise ProviderError("bad_request", f"The model sent an unusable image: "
                            f"{exc.detail}", transient=True) from exc
    image = await store_renditions(run.blobs, run.job.room_id, processed)
    await writer.set(image=block_image(image), status="done", progress=1.0)
    return _usage(result.usage)


async def _split(run: ToolRun, room: Room, inputs: list[_Input]) -> Outcome:
    """No model: each list item, section or paragraph of the inputs becomes a block, in a
    column beside the first input, moved down clear of the blocks already there (the
    room's canvas index finds where from what is near the input)."""
    index = await index_for(room)
    await run.fence()
    parts = [p for i in inputs if i.kind == "text" for p in split_text(i.text)]
    if not parts:
        raise ToolError("bad_inputs", "there is nothing to split: the input is empty")
    parts = parts[:50]
    job = run.job

    def edit(doc: Doc[Any]) -> list[str]:
        blocks = _blocks(doc)
        edges = doc.get(schema.EDGES, type=Map)
        first = rect_of(blocks.get(inputs[0].id))
        x = first[0] + first[2] + 60 if first else 0.0
        y = first[1] if first else 0.0
        places = index.place([(x, y + n * 140.0) for n in range(len(parts))], (280.0, 120.0))
        now = float(int(time.time() * 1000))
        made = []
        for part, (bx, by) in zip(parts, places, strict=True):
            block_id = secrets.token_hex(8)
            block = Map({"kind": "text", "x": bx, "y": by, "w": 280.0, "h": 120.0,
                         "status": "done", "tool": "split", "jobId": job.id, "progress": 1.0,
                         "error": "", "createdAt": now})
            blocks[block_id] = block
            block["text"] = Text(part)
            for source in job.inputs:
                edges[secrets.token_hex(8)] = Map({"source": source, "target": block_id,
                                                   "tool": "split"})
            made.append(block_id)
        return made

    room.transact(edit)
    return Outcome({}, None)
