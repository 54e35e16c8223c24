"""Variations as diffusion.garden's users know it: the four images are made at the same
time, and a retry after a transient failure remakes only the images that failed.

The real server and worker run against the fake Gemini server (whose images differ by seed,
so each variation has a picture, and a key, of its own). Every wait polls with a deadline.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import httpx

from sync.settings import Secret, Settings
from tests.conftest import run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import FakeModelServer
from tests.integration.test_job_faults import Canvas, canvas, own_queue
from tests.yclient import eventually

IMAGE_MODEL = "gemini:gemini-2.5-flash-image"


def gemini_settings(settings: Settings, fake: FakeModelServer) -> Settings:
    return own_queue(settings, gemini_api_key=Secret("g-test"),
                     gemini_base_url=fake.gemini_base_url, default_image_model=IMAGE_MODEL,
                     job_lost_after=3600.0)


def image_requests(fake: FakeModelServer, marker: str) -> list[Any]:
    return [r for r in fake.requests
            if r.path.endswith(":generateContent") and marker in r.body.decode()]


async def start_variations(c: Canvas, marker: str) -> tuple[str, list[str]]:
    c.client.add_text_block("p", f"a paper lantern over a lake {marker}")
    r = await c.post_job("variations", ["p"])
    assert r.status_code == 202, r.text
    return r.json()["job_id"], list(r.json()["outputs"])


def keys(c: Canvas, outs: list[str], n: int) -> dict[str, str] | None:
    """The image key of every output that is done with an image, once there are ``n``."""
    out = {}
    for block_id in outs:
        block = c.block(block_id)
        image = block.get("image")
        if block.get("status") == "done" and isinstance(image, dict):
            out[block_id] = str(image["key"])
    return out if len(out) == n else None


async def test_variations_asks_for_its_four_images_at_the_same_time(settings, model_server):
    """Four slow image answers: all four requests are in flight together, not one after
    another (one after another, at most one would be)."""
    fake: FakeModelServer = model_server
    fake.switches.image_delay = 0.6
    s = gemini_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, outs = await start_variations(c, marker)
        await eventually(lambda: fake.images_in_flight == 4, timeout=15,
                         message="four image requests in flight")
        job = await c.wait_job(job_id, timeout=30)
        assert job["status"] == "done", job
        assert fake.max_images_in_flight == 4
        assert len(image_requests(fake, marker)) == 4
        made = await eventually(lambda: keys(c, outs, 4),
                                timeout=5)
        assert len(set(made.values())) == 4  # a seed of its own each
        assert job["usage"]["images"] == 4


async def test_a_retry_remakes_only_the_variation_that_failed(settings, model_server):
    """One of the four image requests is refused as rate-limited (a transient failure, with
    Retry-After): the job is retried, and the retry asks for exactly one image; the three
    that were made stay as they were (same image keys), never marked queued again."""
    fake: FakeModelServer = model_server
    fake.switches.status, fake.switches.times, fake.switches.retry_after = 429, 1, "1"
    fake.switches.image_delay = 0.3
    s = gemini_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, outs = await start_variations(c, marker)
        first: dict[str, str] = await eventually(
            lambda: keys(c, outs, 3), timeout=15,
            message="three of four images made")
        (failed,) = set(outs) - set(first)
        await eventually(lambda: c.block(failed)["status"] == "queued", timeout=10,
                         message="the failed image queued for a retry")
        assert all(c.block(b)["status"] == "done" for b in first)
        job = await c.wait_job(job_id, timeout=30)
        assert job["status"] == "done", job
        assert job["attempt"] == 2 and job["error"] is None
        assert len(image_requests(fake, marker)) == 5  # four, then the one that failed
        after = await eventually(lambda: keys(c, outs, 4),
                                 timeout=5)
        assert {b: after[b] for b in first} == first
        assert after[failed] not in first.values()
        assert job["usage"]["images"] == 4  # the three kept count, as does the one remade


async def test_a_lasting_failure_of_one_variation_keeps_the_three_made(settings,
                                                                      model_server):
    """One image refused for good (a 400 no retry helps): the job ends in error, with the
    reason in that image's block, and the three images made are kept, done."""
    fake: FakeModelServer = model_server
    fake.switches.status, fake.switches.times = 400, 1
    fake.switches.image_delay = 0.3
    s = gemini_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, outs = await start_variations(c, marker)
        job = await c.wait_job(job_id, timeout=30)
        assert job["status"] == "error" and job["attempt"] == 1, job
        made = await eventually(lambda: keys(c, outs, 3), timeout=5)
        (failed,) = set(outs) - set(made)
        await eventually(lambda: c.block(failed)["status"] == "error", timeout=5)
        assert c.block(failed)["error"] and not c.block(failed).get("image")
        assert job["usage"]["images"] == 3
        assert len(image_requests(fake, marker)) == 4


async def test_cancelling_while_a_failed_variation_waits_keeps_the_three_made(settings,
                                                                             model_server):
    """Cancel while the one failed image waits for its retry: the three images already
    made stay done (they were made and paid for); only the waiting one is cancelled."""
    fake: FakeModelServer = model_server
    fake.switches.status, fake.switches.times, fake.switches.retry_after = 429, 1, "30"
    fake.switches.image_delay = 0.3
    s = gemini_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, outs = await start_variations(c, marker)
        made: dict[str, str] = await eventually(lambda: keys(c, outs, 3), timeout=15)
        (failed,) = set(outs) - set(made)
        await eventually(lambda: c.block(failed)["status"] == "queued", timeout=10)
        r = await c.http.post(f"/api/rooms/{c.id}/jobs/{job_id}/cancel",
                              headers={"Authorization": f"Bearer {c.room['edit_token']}"},
                              json={})
        assert r.status_code == 200, r.text
        await eventually(lambda: c.block(failed)["status"] == "cancelled", timeout=5)
        assert keys(c, outs, 3) == made
        job = await c.job(job_id)
        assert job["status"] == "cancelled" and len(image_requests(fake, marker)) == 4


async def test_cancelling_variations_in_flight_writes_no_image(settings, model_server):
    """A cancel while the four requests are in flight: the attempt's fence breaks, the four
    are stopped together, and no image is written when the model's answers come back."""
    fake: FakeModelServer = model_server
    fake.switches.image_delay = 1.5
    s = gemini_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s), canvas(srv) as c:
        marker = secrets.token_hex(6)
        job_id, outs = await start_variations(c, marker)
        await eventually(lambda: fake.images_in_flight == 4, timeout=15)
        r = await c.http.post(f"/api/rooms/{c.id}/jobs/{job_id}/cancel",
                              headers={"Authorization": f"Bearer {c.room['edit_token']}"},
                              json={})
        assert r.status_code == 200, r.text
        job = await c.wait_job(job_id, timeout=10)
        assert job["status"] == "cancelled"
        await eventually(lambda: fake.images_in_flight == 0, timeout=10,
                         message="the fake to finish its answers")
        # the worker saw the answers' connections close long ago; its stopped tasks wrote
        # nothing, whatever arrives now
        await eventually(lambda: all(c.block(b)["status"] == "cancelled" for b in outs),
                         timeout=5)
        assert not any(c.block(b).get("image") for b in outs)
        assert len(image_requests(fake, marker)) == 4


async def test_a_superseded_attempt_writes_none_of_its_four_images(settings, model_server):
    """The sweeper hands the job on (its fence moves to the next attempt) while the four
    requests are in flight: when the model's answers come back, the stale attempt writes
    no image, no status and no progress into any of the four blocks."""
    fake: FakeModelServer = model_server
    fake.switches.image_delay = 1.0
    s = gemini_settings(settings, fake)
    async with run_server(s) as srv, run_worker(s) as arq_worker, canvas(srv) as c:
        worker = arq_worker.ctx["arbor"]
        marker = secrets.token_hex(6)
        job_id, outs = await start_variations(c, marker)
        await eventually(lambda: fake.images_in_flight == 4, timeout=15)
        await eventually(lambda: all(c.block(b)["status"] == "running" for b in outs),
                         timeout=5)
        before = {b: dict(c.block(b)) for b in outs}
        current = await worker.jobs.get(job_id)
        assert current is not None and current.attempt == 1
        # what the sweeper does to a job whose worker looks gone; no queue carries the
        # next attempt, so only the stale one could write
        assert await worker.jobs.reset_stale(current) is not None
        await worker.signals.set_fence(job_id, current.attempt + 1)
        await eventually(lambda: job_id not in worker.running, timeout=10,
                         message="the stale attempt to stop")
        await eventually(lambda: fake.images_in_flight == 0, timeout=10)
        assert {b: dict(c.block(b)) for b in outs} == before
        assert not any(c.block(b).get("image") for b in outs)
        assert (await c.job(job_id))["status"] == "queued"


async def test_the_fake_counts_image_requests_in_flight(model_server):
    """The switch the tests above rely on: overlapping image requests are counted."""
    fake: FakeModelServer = model_server
    fake.switches.image_delay = 0.3
    async with httpx.AsyncClient(base_url=fake.url, timeout=10) as http:
        url = "/v1beta/models/gemini-2.5-flash-image:generateContent"
        answers = await asyncio.gather(*(http.post(url, json={"contents": []})
                                         for _ in range(3)))
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert fake.max_images_in_flight == 3 and fake.images_in_flight == 0
