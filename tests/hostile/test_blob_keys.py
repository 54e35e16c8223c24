"""Image keys written into a canvas are untrusted (issue 20, item 4).

A block's ``image.key`` is a value any peer with an edit link writes. The attack: copy
another canvas's image key (or guess one) into a block of your own canvas and make a tool,
the image route, publishing or remixing read it, so that canvas's image reaches your
model endpoint, your post or your new canvas. Each test performs it the way an outsider
would: the foreign key is written over the real websocket, the job runs through the real
API, queue and worker against the fake OpenAI server (through the real SDK).
"""

from __future__ import annotations

import base64
import io
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from PIL import Image
from pycrdt import Map, Text

from sync.blobs import parse_image_key
from sync.blobs.errors import FOREIGN_IMAGE_DETAIL
from sync.settings import Secret, Settings
from tests.conftest import RunningServer, run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import FakeModelServer
from tests.yclient import YClient, eventually

pytestmark = pytest.mark.timeout(120)

OPENAI_KEY = "sk-hostile-" + "k" * 24
CSRF = {"X-Arbor-CSRF": "1"}


def png_bytes(seed: int, w: int = 96, h: int = 64) -> bytes:
    im = Image.effect_noise((w, h), 30 + seed).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


@dataclass
class Arena:
    server: RunningServer
    http: httpx.AsyncClient
    model: FakeModelServer | None = None

    async def room(self) -> dict[str, str]:
        r = await self.http.post("/api/rooms", json={"title": "hostile"})
        assert r.status_code == 201, r.text
        return dict(r.json())

    async def upload(self, room: dict[str, str], data: bytes,
                     block_id: str | None = None) -> dict[str, Any]:
        """A real image of ``room`` (the upload API a browser uses); its ``image`` map."""
        auth = {"Authorization": f"Bearer {room['edit_token']}"}
        body: dict[str, Any] = {"filename": "a.png", "content_type": "image/png",
                                "size": len(data)}
        if block_id is not None:
            body["block_id"] = block_id
        r = await self.http.post(f"/api/rooms/{room['room']}/uploads", headers=auth, json=body)
        assert r.status_code == 201, r.text
        target = r.json()
        put = await self.http.request(target["method"], target["url"], content=data,
                                      headers=target["headers"])
        assert put.status_code == 200, put.text
        done = await self.http.post(
            f"/api/rooms/{room['room']}/uploads/{target['upload_id']}/complete", headers=auth)
        assert done.status_code == 200, done.text
        return dict(done.json()["image"])

    async def image_bytes(self, room: dict[str, str], key: str) -> bytes:
        r = await self.http.get(f"/api/rooms/{room['room']}/images/{key}",
                                params={"token": room["view_token"]})
        assert r.status_code == 200, r.text
        return r.content

    async def peer(self, room: dict[str, str]) -> YClient:
        return await YClient.connect(
            f"{self.server.ws_url}/sync/{room['room']}?token={room['edit_token']}")

    async def write_image_block(self, client: YClient, room: dict[str, str],
                                key: str | None, *, parent: str | None = None) -> str:
        """An image block naming ``key`` (as ``key`` and ``thumbKey``; None: no image yet),
        written by a peer over the socket; waits until the server holds it."""
        block_id = "i" + secrets.token_hex(8)
        doc = client.doc
        blocks, edges = doc.get("blocks", type=Map), doc.get("edges", type=Map)
        with doc.transaction():
            block = Map({"kind": "image", "x": 0.0, "y": 0.0, "w": 260.0, "h": 200.0,
                         "status": "done"})
            blocks[block_id] = block
            block["text"] = Text("someone else's picture" if key else "my own picture")
            if key is not None:
                block["image"] = {"key": key, "width": 96.0, "height": 64.0,
                                  "mime": "image/webp", "thumbKey": key}
            if parent is not None:
                edges["e" + secrets.token_hex(6)] = Map({"source": block_id, "target": parent,
                                                         "tool": "image"})
        await self.held(room, block_id)
        return block_id

    async def held(self, room: dict[str, str], block_id: str) -> None:
        def there() -> bool:
            held = self.server.services.rooms.rooms.get(room["room"])
            return held is not None and held.doc.get("blocks", type=Map).get(block_id) \
                is not None
        await eventually(there, message="the block on the server")

    async def run(self, room: dict[str, str], tool: str, inputs: list[str]) -> dict[str, Any]:
        """Run ``tool`` through the jobs API and wait for its end; the final job."""
        auth = {"Authorization": f"Bearer {room['edit_token']}"}
        r = await self.http.post(f"/api/rooms/{room['room']}/jobs", headers=auth,
                                 json={"tool": tool, "inputs": inputs})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]

        async def final() -> dict[str, Any] | None:
            got = (await self.http.get(f"/api/rooms/{room['room']}/jobs/{job_id}",
                                       headers=auth)).json()
            return got if got["status"] in ("done", "error", "cancelled") else None

        job: dict[str, Any] = await eventually(final, timeout=60, interval=0.1,
                                               message=f"{tool} to end")
        return job

    def model_saw(self, data: bytes) -> bool:
        """Whether any request the model server received carries ``data``."""
        assert self.model is not None
        encoded = base64.b64encode(data)
        return any(data in rec.body or encoded in rec.body for rec in self.model.requests)

    async def person(self) -> httpx.AsyncClient:
        http = httpx.AsyncClient(base_url=self.server.base_url, timeout=15,
                                 headers={"Origin": self.server.base_url, **CSRF})
        r = await http.post("/api/identity", json={"handle": "t_" + secrets.token_hex(6)})
        assert r.status_code == 201, r.text
        return http

    async def stored(self, prefix: str) -> list[str]:
        return await self.server.services.blobs.list_prefix(prefix)


@pytest.fixture
async def with_worker(settings: Settings,
                      model_server: FakeModelServer) -> AsyncIterator[Arena]:
    """The server and a worker whose models are the fake OpenAI server's."""
    s = settings.replace(openai_api_key=Secret(OPENAI_KEY),
                         openai_base_url=model_server.openai_base_url)
    async with run_server(s) as srv, run_worker(s), \
            httpx.AsyncClient(base_url=srv.base_url, timeout=15) as http:
        yield Arena(srv, http, model_server)


@pytest.fixture
async def arena(server: RunningServer) -> AsyncIterator[Arena]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        yield Arena(server, http)


async def foreign_image(arena: Arena) -> tuple[dict[str, str], str, bytes]:
    """Another canvas with a real image: its links, the image's key and its bytes."""
    theirs = await arena.room()
    image = await arena.upload(theirs, png_bytes(seed=7))
    return theirs, image["key"], await arena.image_bytes(theirs, image["key"])


def digest_of(key: str) -> str:
    parsed = parse_image_key(key)
    assert parsed is not None
    return parsed.digest


def missing_key_like(key: str) -> str:
    """A key of the same canvas and shape that names nothing."""
    return key.replace(digest_of(key), secrets.token_hex(32))


# ------------------------------------------------------------------------------ the worker


# Every tool that reads an input image, with the inputs it needs besides the image block.
IMAGE_TOOLS = {"describe": 0, "image_to_json": 0, "variations": 1, "combine": 1,
               "generate_image": 1, "run": 1}


@pytest.mark.parametrize("tool", sorted(IMAGE_TOOLS))
async def test_tool_refuses_an_image_key_of_another_canvas(with_worker: Arena,
                                                           tool: str) -> None:
    """Attack: write another canvas's real image key into a block of my canvas and run
    a tool on it, hoping its bytes reach my model endpoint. The job fails with a readable
    error on the block, and the model server receives no request at all."""
    arena = with_worker
    _, key, data = await foreign_image(arena)
    mine = await arena.room()
    client = await arena.peer(mine)
    try:
        inputs = [await arena.write_image_block(client, mine, key)]
        if IMAGE_TOOLS[tool]:
            client.add_text_block("t1", "a lighthouse in a storm")
            await arena.held(mine, "t1")
            inputs.append("t1")
        job = await arena.run(mine, tool, inputs)
        assert job["status"] == "error", job
        assert job["error"] == FOREIGN_IMAGE_DETAIL
        outputs = job["outputs"]

        def failed() -> dict[str, Any] | None:
            blocks = client.blocks()
            return blocks if all(blocks[o].get("status") == "error" for o in outputs) \
                else None

        blocks = await eventually(failed, message="the error in the output blocks")
        assert {blocks[o]["error"] for o in outputs} == {FOREIGN_IMAGE_DETAIL}
    finally:
        await client.close()
    assert arena.model is not None and arena.model.requests == [], "a model was called"
    assert not arena.model_saw(data)


async def test_describe_answers_a_missing_key_exactly_as_a_foreign_one(
        with_worker: Arena) -> None:
    """Attack: probe which image keys exist by running describe on guessed keys (another
    canvas's real key, the same shape naming nothing, a key of my own canvas naming
    nothing, a path out of the store) and comparing the answers. Every one fails with the
    identical error and no model call."""
    arena = with_worker
    theirs, key, _ = await foreign_image(arena)
    mine = await arena.room()
    own_missing = f"rooms/{mine['room']}/{secrets.token_hex(32)}.webp"
    probes = [key, missing_key_like(key), own_missing,
              f"rooms/{secrets.token_urlsafe(12)}/{secrets.token_hex(32)}.webp",
              f"rooms/{mine['room']}/../{theirs['room']}/{digest_of(key)}.webp",
              f"uploads/{theirs['room']}/{secrets.token_hex(16)}"]
    client = await arena.peer(mine)
    try:
        answers = []
        for probe in probes:
            block = await arena.write_image_block(client, mine, probe)
            job = await arena.run(mine, "describe", [block])
            answers.append((job["status"], job["error"]))
    finally:
        await client.close()
    assert answers == [("error", FOREIGN_IMAGE_DETAIL)] * len(probes)
    assert arena.model is not None and arena.model.requests == []


async def test_describe_sends_the_canvas_own_image(with_worker: Arena) -> None:
    """The control for the tests above: the same path with the canvas's own image does
    reach the model, so "no request carried the bytes" there means something."""
    arena = with_worker
    mine = await arena.room()
    image = await arena.upload(mine, png_bytes(seed=3))
    data = await arena.image_bytes(mine, image["key"])
    client = await arena.peer(mine)
    try:
        block = await arena.write_image_block(client, mine, image["key"])
        job = await arena.run(mine, "describe", [block])
    finally:
        await client.close()
    assert job["status"] == "done", job
    assert arena.model_saw(data)


# ------------------------------------------------------------------------------ the server


async def test_image_route_refuses_a_key_of_another_canvas(arena: Arena) -> None:
    """Attack: ask my canvas's image route (with my own view link) for another canvas's
    key, a missing key of the same shape, and a ``..`` spelling of the foreign key. All
    get the same 404 body; the foreign image is served only through its own canvas."""
    theirs, key, data = await foreign_image(arena)
    mine = await arena.room()
    digest = key.rsplit("/", 1)[1]
    answers = []
    for probe in (key, missing_key_like(key),
                  f"rooms/{mine['room']}/../{theirs['room']}/{digest}",
                  f"rooms/{mine['room']}/%2e%2e/{theirs['room']}/{digest}"):
        r = await arena.http.get(f"/api/rooms/{mine['room']}/images/{probe}",
                                 params={"token": mine["view_token"]})
        answers.append((r.status_code, r.json()))
        assert data not in r.content
    assert all(a == answers[0] for a in answers), answers
    assert answers[0][0] == 404
    assert await arena.image_bytes(theirs, key) == data


async def test_publish_refuses_a_block_naming_another_canvas_image(arena: Arena) -> None:
    """Attack: write another canvas's image key into an image block of my canvas and
    publish that block to the gallery, so the post copies (and serves to everyone) an
    image that is not mine. Refused with the same answer as for a key naming nothing,
    and no post and no copied image are left."""
    _, key, _ = await foreign_image(arena)
    mine = await arena.room()
    client = await arena.peer(mine)
    me = await arena.person()
    try:
        answers = []
        for probe in (key, missing_key_like(key)):
            block = await arena.write_image_block(client, mine, probe)
            r = await me.post(f"/api/rooms/{mine['room']}/publish",
                              headers={"Authorization": f"Bearer {mine['edit_token']}"},
                              json={"block_id": block, "title": "mine, honest",
                                    "include_prompts": True})
            answers.append((r.status_code, r.json()))
    finally:
        await client.close()
        await me.aclose()
    assert answers[0] == answers[1], answers
    assert answers[0][0] == 400 and answers[0][1]["detail"] == FOREIGN_IMAGE_DETAIL
    assert await arena.stored("posts/") == []
    # the run's database holds other tests' posts: none may be this one
    posts = (await arena.http.get("/api/posts", params={"limit": 100})).json()["posts"]
    assert [p for p in posts if p["title"] == "mine, honest"] == []


async def test_publish_and_remix_carry_no_image_of_another_canvas(arena: Arena) -> None:
    """Attack: publish my own image whose lineage includes a block naming another
    canvas's image, then remix the post, hoping the foreign image is copied into the
    post (served publicly through ``?block=``) and into the remix's new canvas. The step
    keeps its text but loses the image: neither copy holds the foreign bytes."""
    _, key, _ = await foreign_image(arena)
    foreign_digest = digest_of(key)
    mine = await arena.room()
    client = await arena.peer(mine)
    me = await arena.person()
    try:
        own = await arena.write_image_block(client, mine, None)
        await arena.upload(mine, png_bytes(seed=11), block_id=own)
        smuggler = await arena.write_image_block(client, mine, key, parent=own)
        r = await me.post(f"/api/rooms/{mine['room']}/publish",
                          headers={"Authorization": f"Bearer {mine['edit_token']}"},
                          json={"block_id": own, "title": "mine", "include_prompts": True})
        assert r.status_code == 201, r.text
        post = r.json()
        step = next(s for s in post["lineage"] if s["block_id"] == smuggler)
        assert step["image"] is None and step["text"] == "someone else's picture"
        stolen = await arena.http.get(f"/api/posts/{post['id']}/images/full",
                                      params={"block": smuggler})
        assert stolen.status_code == 404
        copied = await arena.stored(f"posts/{post['id']}/")
        assert copied and not [k for k in copied if foreign_digest in k]

        remix = await arena.http.post(f"/api/posts/{post['id']}/remix")
        assert remix.status_code == 201, remix.text
        new_room = remix.json()["room"]
        remixed = await arena.stored(f"rooms/{new_room}/")
        assert remixed and not [k for k in remixed if foreign_digest in k]
        viewer = await YClient.connect(f"{arena.server.ws_url}/sync/{new_room}"
                                       f"?token={remix.json()['edit_token']}")
        try:
            keys = [str(b.get("image", {}).get(f)) for b in viewer.blocks().values()
                    for f in ("key", "thumbKey") if isinstance(b.get("image"), dict)]
        finally:
            await viewer.close()
        assert keys and all(k.startswith(f"rooms/{new_room}/") for k in keys), keys
    finally:
        await client.close()
        await me.aclose()


async def test_publishing_a_block_with_unstorable_values_is_a_4xx_never_a_5xx(
        arena: Arena) -> None:
    """Attack: an edit peer writes a NUL into an image block's text and an image width past
    int32 (a NUL cannot go into PostgreSQL's jsonb, a width past int32
    not into the post's int4), then publishes it. It used to fail with a 5xx; now the text
    is stored without what jsonb refuses, and an image whose sides are no pixel counts is
    no finished image (400)."""
    mine = await arena.room()
    image = await arena.upload(mine, png_bytes(seed=13))
    client = await arena.peer(mine)
    me = await arena.person()
    try:
        block = await arena.write_image_block(client, mine, image["key"])
        blocks = client.doc.get("blocks", type=Map)
        text = blocks[block]["text"]
        text += "nul\x00here"
        await eventually(lambda: "nul" in str(arena.server.services.rooms.rooms[
            mine["room"]].doc.get("blocks", type=Map)[block]["text"]))
        auth = {"Authorization": f"Bearer {mine['edit_token']}"}
        body = {"block_id": block, "title": "values", "include_prompts": True}
        r = await me.post(f"/api/rooms/{mine['room']}/publish", headers=auth, json=body)
        assert r.status_code == 201, r.text
        assert "\x00" not in r.json()["lineage"][-1]["text"]
        blocks[block]["image"] = {**image, "width": float(2**40), "height": 64.0}
        await eventually(lambda: arena.server.services.rooms.rooms[mine["room"]].doc.get(
            "blocks", type=Map)[block]["image"]["width"] == float(2**40))
        r = await me.post(f"/api/rooms/{mine['room']}/publish", headers=auth, json=body)
        assert r.status_code == 400, r.text
    finally:
        await client.close()
        await me.aclose()
