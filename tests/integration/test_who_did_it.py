"""What others did to my work is recorded with who did it, so the app can say so: a job's
record keeps who cancelled it, and the checkpoint kept before a restore keeps who restored
which version."""

from __future__ import annotations

import httpx

from tests.conftest import run_server
from tests.yclient import YClient


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _queued_job(srv, http) -> tuple[dict[str, str], str, YClient]:
    """A room with a prompt and a job on it, still queued (no worker runs here)."""
    room = (await http.post("/api/rooms", json={"title": "who"})).json()
    a = await YClient.connect(f"{srv.ws_url}/sync/{room['room']}?token={room['edit_token']}")
    a.add_text_block("p", "a heron at dawn")
    r = await http.post(f"/api/rooms/{room['room']}/jobs", headers=auth(room["edit_token"]),
                        json={"tool": "expand", "inputs": ["p"], "author": "Ada"})
    assert r.status_code == 202, r.text
    return room, r.json()["job_id"], a


async def test_a_cancel_records_who_cancelled_the_job(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, job_id, a = await _queued_job(srv, http)
        path = f"/api/rooms/{room['room']}/jobs/{job_id}"
        c = await http.post(f"{path}/cancel", headers=auth(room["edit_token"]),
                            json={"by": "Ben"})
        assert c.status_code == 200, c.text
        assert c.json()["cancelled_by"] == "Ben" and c.json()["requested_by"] == "Ada"
        job = (await http.get(path, headers=auth(room["view_token"]))).json()
        assert (job["status"], job["cancelled_by"]) == ("cancelled", "Ben")
        listed = (await http.get(f"/api/rooms/{room['room']}/jobs",
                                 headers=auth(room["view_token"]))).json()["jobs"]
        assert [j["cancelled_by"] for j in listed] == ["Ben"]
        await a.close()


async def test_a_cancel_naming_nobody_records_no_one(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, job_id, a = await _queued_job(srv, http)
        c = await http.post(f"/api/rooms/{room['room']}/jobs/{job_id}/cancel",
                            headers=auth(room["edit_token"]))
        assert c.status_code == 200, c.text
        assert c.json()["cancelled_by"] is None
        await a.close()


async def test_a_cancel_with_a_name_that_is_not_one_is_refused_and_cancels_nothing(settings):
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        room, job_id, a = await _queued_job(srv, http)
        path = f"/api/rooms/{room['room']}/jobs/{job_id}"
        for by in (5, ["Ben"], "B" * 101):
            c = await http.post(f"{path}/cancel", headers=auth(room["edit_token"]),
                                json={"by": by})
            assert c.status_code == 400, (by, c.text)
            assert "display name" in c.json()["detail"]
        job = (await http.get(path, headers=auth(room["view_token"]))).json()
        assert (job["status"], job["cancelled_by"]) == ("queued", None)
        (out,) = job["outputs"]
        assert a.blocks()[out]["status"] == "queued"
        await a.close()
