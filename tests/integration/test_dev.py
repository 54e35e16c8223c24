"""`arbor dev` on a machine with no services: embedded PostgreSQL and Redis in the data
folder, a worker, the URL printed; the canvas survives a restart of the whole thing."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import pytest
from pycrdt import Map

from tests.integration.test_process import free_port
from tests.yclient import YClient, eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


async def start_dev(data_dir, port: int) -> tuple[asyncio.subprocess.Process, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(ARBOR_DATA_DIR=str(data_dir), ARBOR_OFFLINE_DELAY_MS="1",
               ARBOR_ROOM_GRACE_SECONDS="0.2")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "dev", "--port", str(port), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    lines: list[str] = []

    async def read() -> None:
        assert proc.stdout is not None
        async for raw in proc.stdout:
            lines.append(raw.decode(errors="replace"))

    asyncio.get_running_loop().create_task(read())

    async def up() -> bool:
        try:
            async with httpx.AsyncClient() as http:
                return (await http.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
        except httpx.TransportError:
            return False

    async def up_or_ended() -> bool:
        return proc.returncode is not None or await up()

    await eventually(up_or_ended, timeout=90, interval=0.2, message="arbor dev to answer")
    if proc.returncode is not None or not await up():  # say what it printed, and stop it
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
        await asyncio.sleep(0.2)  # the reader's last lines
        raise AssertionError(f"arbor dev did not start (exit {proc.returncode}); it printed:"
                             f"\n{''.join(lines[-60:])}")
    return proc, lines


async def stop(proc: asyncio.subprocess.Process) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        await asyncio.wait_for(proc.wait(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def test_arbor_dev_runs_everything_and_keeps_the_canvas_across_restarts(tmp_path):
    port = free_port()
    base, ws = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    proc, lines = await start_dev(tmp_path / "data", port)
    try:
        assert any(f"http://127.0.0.1:{port}/" in line for line in lines)
        async with httpx.AsyncClient(base_url=base) as http:
            room = (await http.post("/api/rooms", json={"title": "dev"})).json()
            a = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['edit_token']}")
            a.add_text_block("idea", "a paper boat")
            r = await http.post(f"/api/rooms/{room['room']}/jobs",
                                headers={"Authorization": f"Bearer {room['edit_token']}"},
                                json={"tool": "expand", "inputs": ["idea"]})
            assert r.status_code == 202
            (out,) = r.json()["outputs"]
            await eventually(lambda: a.blocks()[out]["status"] == "done", timeout=60,
                             message="the dev worker to run the job")
            expanded = a.block_text(out)
            await a.close()
    finally:
        await stop(proc)
    assert (tmp_path / "data" / "postgres").is_dir() and (tmp_path / "data" / "redis").is_dir()

    proc, _ = await start_dev(tmp_path / "data", port)
    try:
        again = await YClient.connect(f"{ws}/sync/{room['room']}?token={room['view_token']}")
        assert again.block_text("idea") == "a paper boat"
        assert again.block_text(out) == expanded
        assert again.doc.get("meta", type=Map)["title"] == "dev"
        await again.close()
    finally:
        await stop(proc)
