"""Generation jobs under faults: provider errors, cut streams, a worker killed with -9, Redis
restarted under a job, a busy room next to a quiet one, a stale attempt, a burst of POSTs.

Every test is bounded in time and waits by polling, never by fixed sleeps."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pycrdt import Doc, Map, Text

from sync.settings import Secret, Settings
from tests.conftest import RunningServer, run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import DEFAULT_REPLY, FakeModelServer
from tests.yclient import YClient, eventually
from worker.tools import WRITE_INTERVAL, BlockWriter, FenceBrokenError, _stream_into

MODEL = "openai:gpt-4.1-mini"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def own_queue(settings: Settings, **changes: Any) -> Settings:
    """This test's own Redis prefix (so its own arq queue): jobs other tests left queued
    are never run here."""
    return settings.replace(redis_prefix=f"{settings.redis_prefix}{secrets.token_hex(4)}:",
                            **changes)


def openai_settings(settings: Settings, fake: FakeModelServer, **changes: Any) -> Settings:
    # No sweeping of other tests' old queued jobs either: they would eat the fake's errors.
    return own_queue(settings, openai_api_key=Secret("sk-test"),
                     openai_base_url=fake.openai_base_url, default_text_model=MODEL,
                     job_lost_after=3600.0, **changes)


class Canvas:
    """A room with one client on it and an HTTP client for its API."""

    def __init__(self, srv: RunningServer, http: httpx.AsyncClient, room: dict[str, str],
                 client: YClient) -> None:
        self.srv = srv
        self.http = http
        self.room = room
        self.client = client

    @property
    def id(self) -> str:
        return self.room["room"]

    async def post_job(self, tool: str, inputs: list[str], **body: Any) -> httpx.Response:
        return await self.http.post(f"/api/rooms/{self.id}/jobs",
                                    headers=auth(self.room["edit_token"]),
                                    json={"tool": tool, "inputs": inputs, **body})

    async def start_run(self, prompt: str) -> tuple[str, str]:
        """Put a block with ``prompt`` on the canvas and run it: (job id, output block)."""
        block = "p" + secrets.token_hex(4)
        self.client.add_text_block(block, prompt)
        r = await self.post_job("run", [block])
        assert r.status_code == 202, r.text
        (out,) = r.json()["outputs"]
        return r.json()["job_id"], out

    async def job(self, job_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/api/rooms/{self.id}/jobs/{job_id}",
                                headers=auth(self.room["view_token"]))
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def jobs(self) -> list[dict[str, Any]]:
        r = await self.http.get(f"/api/rooms/{self.id}/jobs",
                                headers=auth(self.room["view_token"]))
        return list(r.json()["jobs"])

    async def wait_job(self, job_id: str, statuses: tuple[str, ...] = ("done", "error",
                                                                       "cancelled"),
                       timeout: float = 20) -> dict[str, Any]:
        async def ended() -> dict[str, Any] | None:
            job = await self.job(job_id)
            return job if job["status"] in statuses else None

        result: dict[str, Any] = await eventually(ended, timeout=timeout, interval=0.05,
                                                  message=f"job {job_id} to reach {statuses}")
        return result

    def block(self, block_id: str) -> dict[str, Any]:
        return dict(self.client.blocks()[block_id])


@contextlib.asynccontextmanager
async def canvas(srv: RunningServer) -> AsyncIterator[Canvas]:
    async with httpx.AsyncClient(base_url=srv.base_url, timeout=10) as http:
        r = await http.post("/api/rooms", json={"title": "faults"})
        assert r.status_code == 201, r.text
        room = r.json()
        client = await YClient.connect(
            f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
        try:
            yield Canvas(srv, http, room, client)
        finally:
            await client.close()


def chat_requests(fake: FakeModelServer, marker: str) -> list[Any]:
    """The chat completions the fake server answered for prompts containing ``marker``."""
    return [r for r in fake.requests
            if r.path == "/v1/chat/completions" and marker in r.body.decode()]


# --------------------------------------------------------------------- provider faults


@pytest.mark.parametrize(("status", "retry_after"), [(429, "0.3"), (500, None)])
async def test_transient_provider_failure_retries_with_backoff_then_writes_the_text_once(
        settings, model_server, status, retry_after):
    fake: FakeModelServer = model_server
    fake.switches.status, fake.switches.times = status, 1
    fake.switches.retry_after = retry_after
    s = openai_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, out = await c.start_run(f"tell a story {marker}")
        job = await c.wait_job(job_id)
        assert job["status"] == "done", job
        assert job["attempt"] == 2 and job["error"] is None
        await eventually(lambda: c.block(out)["status"] == "done", timeout=5)
        assert c.client.block_text(out) == DEFAULT_REPLY  # all of it, exactly once
        assert c.block(out)["error"] == ""
        first, second = chat_requests(fake, marker)
        waited = second.received_at - first.received_at
        # Retry-After is honoured; without it the backoff is 2 s x [0.5, 1.5)
        assert waited >= (0.3 if retry_after else 1.0), waited


async def test_stream_cut_midway_restarts_the_block_instead_of_appending(settings,
                                                                         model_server):
    fake: FakeModelServer = model_server
    fake.switches.cut_after, fake.switches.cut_times = 4, 1
    fake.switches.chunk_delay = 0.08  # several separate writes before the cut
    s = openai_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, out = await c.start_run(f"a cut story {marker}")
        # the first attempt wrote part of the answer, then failed and waits to retry
        partial = await eventually(
            lambda: c.block(out)["status"] == "queued" and "retrying" in c.block(out)["error"]
            and c.client.block_text(out), timeout=15, message="the cut attempt's partial text")
        assert DEFAULT_REPLY.startswith(partial) and partial != DEFAULT_REPLY
        job = await c.wait_job(job_id)
        assert job["status"] == "done" and job["attempt"] == 2, job
        await eventually(lambda: c.block(out)["status"] == "done", timeout=5)
        assert c.client.block_text(out) == DEFAULT_REPLY
        assert len(chat_requests(fake, marker)) == 2


async def test_rejected_api_key_fails_at_once_with_a_readable_message(settings, model_server):
    fake: FakeModelServer = model_server
    fake.switches.status = 401
    s = openai_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, out = await c.start_run(f"no key {marker}")
        job = await c.wait_job(job_id)
        assert job["status"] == "error" and job["attempt"] == 1, job
        assert "OpenAI rejected the API key" in job["error"]
        await eventually(lambda: c.block(out)["status"] == "error", timeout=5)
        message = c.block(out)["error"]
        assert message == job["error"]
        assert "Traceback" not in message and "Error(" not in message
        assert len(chat_requests(fake, marker)) == 1  # never retried


async def test_retries_exhausted_end_in_error_after_max_attempts(settings, model_server):
    fake: FakeModelServer = model_server
    fake.switches.status, fake.switches.retry_after = 500, "0.1"
    s = openai_settings(settings, fake, job_max_attempts=3)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, out = await c.start_run(f"always down {marker}")
        job = await c.wait_job(job_id)
        assert job["status"] == "error" and job["attempt"] == 3, job
        assert "OpenAI is unavailable" in job["error"]
        await eventually(lambda: c.block(out)["status"] == "error", timeout=5)
        assert "retrying in" not in c.block(out)["error"]
        assert len(chat_requests(fake, marker)) == 3


# --------------------------------------------------------------------- the fence


async def test_stale_attempt_cannot_write_once_the_fence_moves_on(settings):
    s = own_queue(settings)
    async with run_server(s) as srv, run_worker(s) as arq_worker, canvas(srv) as c:
        worker = arq_worker.ctx["arbor"]
        c.client.add_text_block("src", "a fenced story")
        c.client.add_text_block("out", "")
        job_id = secrets.token_hex(12)
        # a row that no queue carries: only this test runs it
        await worker.jobs.create(job_id, c.id, "run", ["src"], ["out"], {},
                                 max_attempts=3, requester_ip_hash=None, requested_by=None)

        def own(doc: Any) -> None:
            doc.get("blocks", type=Map)["out"]["jobId"] = job_id

        async with worker.rooms.session(c.id) as room:
            await eventually(lambda: "out" in room.doc.get("blocks", type=Map), timeout=5)
            room.transact(own)
            first = await worker.jobs.claim(job_id, "w-old", 5)
            assert first is not None and first.attempt == 1
            await worker.signals.set_fence(job_id, first.attempt)
            old = BlockWriter(room, "out", job_id, worker._fence_check(first))
            await old.start(status="running")
            await old.append("old attempt ")
            await old.flush()
            # the sweeper decides the worker is gone: back to the queue, fence moves on
            assert await worker.jobs.reset_stale(first) is not None
            await worker.signals.set_fence(job_id, first.attempt + 1)
            second = await worker.jobs.claim(job_id, "w-new", 5)
            assert second is not None and second.attempt == 2
            new = BlockWriter(room, "out", job_id, worker._fence_check(second))
            await new.start(status="running")
            await new.append("new attempt")
            await new.flush()
            with pytest.raises(FenceBrokenError):
                await old.append("stale words")
                await old.flush()
            with pytest.raises(FenceBrokenError):
                await old.set(status="done")
            with pytest.raises(FenceBrokenError):
                await old.start(status="running")
            assert await worker.jobs.finish(first, "done") is None  # the row is fenced too
            assert await worker.jobs.finish(second, "done") is not None
        await eventually(lambda: c.client.block_text("out") == "new attempt", timeout=5)
        assert c.block("out")["status"] == "running"
        assert (await c.job(job_id))["attempt"] == 2


class _OneDocRoom:
    """Just enough of a Room for a BlockWriter: a document and its transactions."""

    def __init__(self) -> None:
        self.doc: Doc[Any] = Doc()

    def transact(self, edit: Any) -> Any:
        with self.doc.transaction():
            return edit(self.doc)


async def test_text_is_written_within_the_batch_interval_when_the_stream_pauses():
    room = _OneDocRoom()
    with room.doc.transaction():
        block: Map[Any] = Map({"jobId": "j"})
        room.doc.get("blocks", type=Map)["out"] = block
        block["text"] = Text()
    resume = asyncio.Event()

    async def bursty() -> AsyncIterator[str]:
        yield "a"  # written at once
        yield "b"  # within the batch interval: held back, then...
        await resume.wait()  # ...the model pauses for as long as the test likes
        yield "c"

    async def no_fence() -> None:
        return None

    writer = BlockWriter(room, "out", "j", no_fence)  # type: ignore[arg-type]
    await writer.start()
    text = room.doc.get("blocks", type=Map)["out"]["text"]
    streaming = asyncio.get_running_loop().create_task(_stream_into(writer, bursty()))
    try:
        start = time.monotonic()
        await eventually(lambda: str(text) == "ab", timeout=2, interval=0.005,
                         message="the text held back to be written during the pause")
        assert time.monotonic() - start < WRITE_INTERVAL + 0.1
        resume.set()
        await asyncio.wait_for(streaming, 2)
        assert str(text) == "abc"
    finally:
        resume.set()
        streaming.cancel()


# --------------------------------------------------------------------- creating jobs


async def test_concurrent_posts_accept_exactly_the_room_burst(settings):
    burst, n = 4, 16
    tight = own_queue(settings, rate_jobs_burst_room=burst, rate_jobs_per_min_room=0.01)
    async with run_server(tight) as srv, canvas(srv) as c:
        c.client.add_text_block("p", "many at once")
        answers = await asyncio.gather(*(c.post_job("expand", ["p"]) for _ in range(n)))
        codes = sorted(r.status_code for r in answers)
        assert codes == [202] * burst + [429] * (n - burst), codes
        accepted = {r.json()["job_id"]: r.json()["outputs"] for r in answers
                    if r.status_code == 202}
        jobs = await c.jobs()
        assert {j["job_id"] for j in jobs} == set(accepted)
        outputs = [o for outs in accepted.values() for o in outs]
        assert len(set(outputs)) == burst
        await eventually(lambda: set(c.client.blocks()) == {"p", *outputs}, timeout=5)
        for job_id, outs in accepted.items():
            assert all(c.block(o)["jobId"] == job_id for o in outs)
        for job_id in accepted:  # leave nothing queued for later tests' workers
            await c.http.post(f"/api/rooms/{c.id}/jobs/{job_id}/cancel",
                              headers=auth(c.room["edit_token"]))


# --------------------------------------------------------------------- lost workers, Redis

# Heartbeat and sweep fast enough for a test: a job silent for 1.5 s lost its worker.
FAST_SWEEP = {"job_heartbeat": 0.2, "job_stale_after": 1.5, "job_lost_after": 2.0}
REDIS_OUTAGE = 1.5  # longer than a heartbeat, an arq poll and several fence checks
LONG_PROMPT = " ".join(f"word{i}" for i in range(60))  # about 25 chunks from the offline model


async def start_worker_process(settings: Settings, **env_extra: str
                               ) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url.reveal(),
        "REDIS_URL": settings.redis_url.reveal(),
        "ARBOR_REDIS_PREFIX": settings.redis_prefix,
        "ARBOR_DATA_DIR": str(settings.data_dir),
        "ARBOR_JOB_HEARTBEAT_SECONDS": str(FAST_SWEEP["job_heartbeat"]),
        "ARBOR_JOB_STALE_SECONDS": str(FAST_SWEEP["job_stale_after"]),
        "ARBOR_JOB_LOST_SECONDS": str(FAST_SWEEP["job_lost_after"]),
        **env_extra,
    }
    for name in ("OPENAI_API_KEY", "GEMINI_API_KEY", "ARBOR_DEFAULT_TEXT_MODEL"):
        env.pop(name, None)  # the offline model, whatever this shell has
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "worker", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)


async def stop_process(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    await asyncio.wait_for(proc.wait(), 10)


def assert_offline_answer_once(text: str | None) -> None:
    assert text is not None
    assert text.startswith("[offline] This is a stand-in answer"), text
    assert text.count("[offline]") == 1 and text.count("You asked:") == 1, text
    assert text.endswith("word59"), text


async def test_worker_killed_mid_job_is_swept_and_the_job_rerun_to_done(settings):
    s = own_queue(settings, **FAST_SWEEP, offline_delay=0.002)
    async with run_server(s) as srv, canvas(srv) as c:
        proc = await start_worker_process(s, ARBOR_OFFLINE_DELAY_MS="150")
        try:
            job_id, out = await c.start_run(LONG_PROMPT)
            await eventually(lambda: len(c.client.block_text(out) or "") > 20, timeout=30,
                             message="the first worker to stream")
            assert (await c.job(job_id))["status"] == "running"
            os.kill(proc.pid, signal.SIGKILL)
            await stop_process(proc)
            partial = c.client.block_text(out)
            assert partial and c.block(out)["status"] == "running"
        finally:
            await stop_process(proc)
        async with run_worker(s):
            job = await c.wait_job(job_id, timeout=20)
            assert job["status"] == "done" and job["attempt"] == 2, job
            await eventually(lambda: c.block(out)["status"] == "done", timeout=5)
            assert_offline_answer_once(c.client.block_text(out))


@contextlib.asynccontextmanager
async def private_redis() -> AsyncIterator[tuple[str, Any]]:
    """A redis-server of this test's own on a free port (never the shared one), and a
    function that kills it, keeps it away for ``outage`` seconds and starts it again empty
    on the same port."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="arbor-redis-") as tmp:
        procs: list[asyncio.subprocess.Process] = []

        async def start() -> None:
            proc = await asyncio.create_subprocess_exec(
                binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", tmp,
                "--save", "", "--appendonly", "no", "--protected-mode", "yes",
                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
            procs.append(proc)
            probe = aioredis.Redis(host="127.0.0.1", port=port)

            async def up() -> bool:
                try:
                    return bool(await probe.ping())
                except (OSError, aioredis.ConnectionError):
                    return False

            try:
                await eventually(up, timeout=10, interval=0.05, message="redis-server to start")
            finally:
                await probe.aclose()

        async def restart_empty(outage: float) -> None:
            await stop_process(procs[-1])
            await asyncio.sleep(outage)  # the fault itself: Redis stays away this long
            await start()

        await start()
        try:
            yield f"redis://127.0.0.1:{port}/0", restart_empty
        finally:
            for proc in procs:
                await stop_process(proc)


async def test_redis_restarted_empty_mid_job_never_leaves_the_job_stuck(settings):
    async with private_redis() as (url, restart_empty):
        s = own_queue(settings, **FAST_SWEEP, redis_url=Secret(url), offline_delay=0.1)
        async with run_server(s) as srv, run_worker(s) as arq_worker, canvas(srv) as c:
            job_id, out = await c.start_run(LONG_PROMPT)
            await eventually(lambda: len(c.client.block_text(out) or "") > 20, timeout=20,
                             message="the job to stream")
            await restart_empty(REDIS_OUTAGE)
            job = await c.wait_job(job_id, ("done", "error"), timeout=30)
            assert job["status"] in ("done", "error"), job
            if job["status"] == "error":
                assert "Traceback" not in job["error"], job
            # the worker lives on and takes new jobs against the restarted Redis
            assert arq_worker.main_task is None or not arq_worker.main_task.done()
            second, _ = await c.start_run("after the restart")
            assert (await c.wait_job(second, timeout=20))["status"] == "done"


# --------------------------------------------------------------------- fairness


async def test_busy_room_backlog_does_not_starve_another_room(settings):
    s = own_queue(settings, room_job_concurrency=1, offline_delay=0.03)
    async with run_server(s) as srv, canvas(srv) as busy, canvas(srv) as quiet:
        busy.client.add_text_block("p", "one of many")
        quiet.client.add_text_block("q", "the only one")
        backlog = []
        for _ in range(10):
            r = await busy.post_job("expand", ["p"])
            assert r.status_code == 202, r.text
            backlog.append(r.json()["job_id"])
        r = await quiet.post_job("expand", ["q"])
        assert r.status_code == 202, r.text
        lone = r.json()["job_id"]
        # Ahead of it: one of the busy room's ten (the room runs one at a time), not all ten.
        assert r.json()["position"] == 1, r.json()
        assert (await quiet.job(lone))["position"] == 1
        # In the busy room each job still counts every earlier one of its own.
        assert [j["position"] for j in await busy.jobs() if j["status"] == "queued"] == \
            list(range(9, -1, -1))
        seen: dict[str, list[int]] = {j: [] for j in backlog}

        async def watch_positions() -> None:
            while True:
                for job in await busy.jobs():
                    if job["status"] == "queued" and job["job_id"] in seen:
                        seen[job["job_id"]].append(job["position"])
                await asyncio.sleep(0.05)

        watcher = asyncio.get_running_loop().create_task(watch_positions())
        try:
            async with run_worker(s):
                done_lone = await quiet.wait_job(lone, timeout=20)
                still_waiting = [j for j in await busy.jobs() if j["status"] == "queued"]
                for job_id in backlog:
                    await busy.wait_job(job_id, timeout=60)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        assert done_lone["status"] == "done"
        assert len(still_waiting) >= 5, still_waiting  # it did not wait for the backlog
        finished = [(await busy.job(j))["finished_at"] for j in backlog]
        assert sum(f > done_lone["finished_at"] for f in finished) >= 5
        for job_id, positions in seen.items():
            assert positions == sorted(positions, reverse=True), (job_id, positions)
        assert any(p[0] > p[-1] for p in seen.values() if p), seen


async def test_fence_lost_with_redis_falls_back_to_the_row(settings):
    """Redis restarted empty forgets every fence: the job's row decides who may write."""
    s = own_queue(settings)
    async with run_server(s) as srv, run_worker(s) as arq_worker, canvas(srv) as c:
        worker = arq_worker.ctx["arbor"]
        job_id = secrets.token_hex(12)
        await worker.jobs.create(job_id, c.id, "run", [], [], {}, max_attempts=3,
                                 requester_ip_hash=None, requested_by=None)
        first = await worker.jobs.claim(job_id, "w-old", 5)
        assert first is not None
        await worker.signals.set_fence(job_id, first.attempt)
        assert await worker._fence_holds(first)
        await worker.signals.redis.delete(f"{s.redis_prefix}job:{job_id}:fence")  # forgotten
        assert await worker.signals.fence_holds(job_id, first.attempt) is None
        assert await worker._fence_holds(first)  # the row says it still runs
        assert await worker.jobs.reset_stale(first) is not None
        second = await worker.jobs.claim(job_id, "w-new", 5)
        assert second is not None
        assert not await worker._fence_holds(first)  # superseded, though Redis forgot
        assert await worker._fence_holds(second)
