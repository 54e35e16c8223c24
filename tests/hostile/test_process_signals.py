"""Stop signals sent to one process, the way an operator, an editor's stop button or a
container runtime sends them: to the PID of `arbor worker` or `arbor dev` alone, never to
the whole process group. Within the grace period every process they started is gone, and
a job that was running either finished or is back in the queue.

The processes are found in /proc: the descendants of the signalled process, plus those
working in its data folder (the embedded PostgreSQL and Redis daemonize, so their parent
is init, not `arbor dev`). Each is recorded with its start time, so a reused PID is never
mistaken for a survivor."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from sync.jobs import queue_name
from sync.settings import Settings
from tests.conftest import run_server, run_worker
from tests.fakes.conftest_fixtures import model_server_fixture  # noqa: F401
from tests.fakes.model_server import FakeModelServer
from tests.integration.test_dev import start_dev
from tests.integration.test_job_faults import MODEL, canvas, openai_settings
from tests.integration.test_process import free_port
from tests.yclient import eventually

pytestmark = pytest.mark.timeout(180)

# How long a stopped process may take beyond its drain window: shutting down flushes the
# rooms it wrote to and closes its pools (seconds on a loaded test machine, not minutes).
MARGIN = 20.0
SLOW_REPLY = " ".join(f"word{i}" for i in range(80))  # 40 chunks of two words

Proc = tuple[int, int]  # (pid, start time in clock ticks since boot)


# ----------------------------------------------------------------------------- /proc


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, start time) of ``pid``, or None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def _all_processes() -> dict[int, tuple[str, int, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


def tree(roots: set[int]) -> set[Proc]:
    """``roots`` and every process descended from one of them (parent links in /proc)."""
    table = _all_processes()
    found = {pid for pid in roots if pid in table}
    grew = True
    while grew:
        more = {pid for pid, (_, ppid, _) in table.items() if ppid in found} - found
        found |= more
        grew = bool(more)
    return {(pid, table[pid][2]) for pid in found if table[pid][0] != "Z"}


def working_in(folder: Path) -> set[int]:
    """Processes whose working directory is ``folder`` or below it (PostgreSQL works in its
    data directory, redis-server in the folder of its dump file)."""
    folder = folder.resolve()
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with contextlib.suppress(OSError):
            cwd = Path(os.readlink(f"/proc/{entry}/cwd"))
            if cwd == folder or folder in cwd.parents:
                pids.add(int(entry))
    return pids


def alive(proc: Proc) -> bool:
    stat = _stat(proc[0])
    return stat is not None and stat[2] == proc[1] and stat[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def all_gone(procs: set[Proc], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while left := [p for p in procs if alive(p)]:
        if time.monotonic() > deadline:
            raise AssertionError(f"{timeout:g} s after the signal, processes of {what} still "
                                 "run: " + ", ".join(f"{p[0]} {cmdline(p[0])!r}" for p in left))
        await asyncio.sleep(0.1)


def kill_survivors(procs: set[Proc]) -> None:
    """Leave no orphan behind when a test fails (they would take other tests' jobs)."""
    for proc in procs:
        if alive(proc):
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc[0], signal.SIGKILL)


# ----------------------------------------------------------------------------- arbor worker


def worker_env(s: Settings, fake: FakeModelServer, drain: float) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": s.database_url.reveal(),
        "REDIS_URL": s.redis_url.reveal(),
        "ARBOR_REDIS_PREFIX": s.redis_prefix,
        "ARBOR_DATA_DIR": str(s.data_dir),
        "OPENAI_API_KEY": "sk-test",
        "OPENAI_BASE_URL": fake.openai_base_url,
        "ARBOR_DEFAULT_TEXT_MODEL": MODEL,
        "ARBOR_WORKER_DRAIN_SECONDS": str(drain),
        "ARBOR_JOB_HEARTBEAT_SECONDS": "0.2",
        # Nobody else hands a lost job on within the test: only the stopping worker can.
        "ARBOR_JOB_STALE_SECONDS": "3600",
        "ARBOR_JOB_LOST_SECONDS": "3600",
    }
    env.pop("GEMINI_API_KEY", None)
    return env


async def start_arbor_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "server.cli", "worker", env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)


def slow_settings(settings: Settings, fake: FakeModelServer) -> Settings:
    return openai_settings(settings, fake, job_stale_after=3600.0, job_heartbeat=0.2)


async def test_sigterm_to_arbor_worker_mid_job_leaves_no_process_and_queues_the_job_again(
        settings, model_server):
    """Attack: SIGTERM to the `arbor worker` PID while a long job streams (a deploy, a
    `kill`). Before: the command died alone and its worker child ran on as an orphan."""
    fake: FakeModelServer = model_server
    fake.switches.reply, fake.switches.chunk_delay = SLOW_REPLY, 0.25  # about 10 s
    s = slow_settings(settings, fake)
    async with run_server(s) as srv, canvas(srv) as c:
        proc = await start_arbor_worker(worker_env(s, fake, drain=0.5))
        procs: set[Proc] = set()
        try:
            job_id, out = await c.start_run("tell me a long story")
            await eventually(lambda: c.client.block_text(out), timeout=60, interval=0.05,
                             message="the worker to stream the answer")
            procs = tree({proc.pid})
            proc.send_signal(signal.SIGTERM)  # this PID only
            await all_gone(procs, 0.5 + MARGIN, "arbor worker")
            assert await asyncio.wait_for(proc.wait(), 5) == 0
            job = await c.job(job_id)
            assert job["status"] == "queued" and job["attempt"] == 1, job
            await eventually(lambda: c.block(out)["status"] == "queued", timeout=5)
        finally:
            kill_survivors(procs | tree({proc.pid}))
        fake.switches.chunk_delay = 0.0
        async with run_worker(s):
            job = await c.wait_job(job_id, timeout=30)
            assert job["status"] == "done" and job["attempt"] == 2, job
            await eventually(lambda: c.block(out)["status"] == "done", timeout=5)
            assert c.client.block_text(out) == SLOW_REPLY


async def test_sigterm_to_arbor_worker_lets_a_running_job_finish_within_the_drain(
        settings, model_server):
    """Attack: SIGTERM to the `arbor worker` PID while a short job streams. The worker
    takes no new job, lets this one finish (it is within the drain window), then exits."""
    fake: FakeModelServer = model_server
    fake.switches.reply = " ".join(f"w{i}" for i in range(16))
    fake.switches.chunk_delay = 0.25  # 8 chunks, 2 s
    s = slow_settings(settings, fake)
    async with run_server(s) as srv, canvas(srv) as c:
        proc = await start_arbor_worker(worker_env(s, fake, drain=60))
        procs: set[Proc] = set()
        try:
            job_id, out = await c.start_run("a short one")
            await eventually(lambda: c.client.block_text(out), timeout=60, interval=0.05,
                             message="the worker to stream the answer")
            procs = tree({proc.pid})
            proc.send_signal(signal.SIGTERM)
            await all_gone(procs, 60 + MARGIN, "arbor worker")
            assert await asyncio.wait_for(proc.wait(), 5) == 0
            job = await c.job(job_id)
            assert job["status"] == "done" and job["attempt"] == 1, job
            await eventually(lambda: c.client.block_text(out) == fake.switches.reply, timeout=5)
        finally:
            kill_survivors(procs | tree({proc.pid}))


def namespace_pid(pid: int) -> int:
    """``pid`` as its own PID namespace numbers it (the last field of ``NSpid``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError(f"no NSpid for {pid}")


def _can_be_pid_1() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    done = subprocess.run([unshare, "--pid", "--fork", "true"], capture_output=True,
                          check=False, timeout=10)
    return done.returncode == 0


async def test_arbor_worker_as_pid_1_shuts_down_gracefully_on_sigterm(settings, model_server):
    """Attack: SIGTERM to `arbor worker` running as PID 1 of its own PID namespace (a
    container's entry point). PID 1 gets only the signals it handles: before, the command
    ignored it and its worker child never drained. Graceful means arq's close ran: the
    worker's health-check key is deleted, not left to expire."""
    if not _can_be_pid_1():
        pytest.skip("this machine cannot make a PID namespace (needs unshare and root)")
    fake: FakeModelServer = model_server
    s = slow_settings(settings, fake)
    env = worker_env(s, fake, drain=0.5)
    outer = await asyncio.create_subprocess_exec(
        shutil.which("unshare") or "unshare", "--pid", "--fork", sys.executable, "-m",
        "server.cli", "worker", env=env, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL)
    health = f"{queue_name(s.redis_prefix)}:health-check"
    r = aioredis.Redis.from_url(s.redis_url.reveal())
    procs: set[Proc] = set()
    try:
        await eventually(lambda: r.exists(health), timeout=60, interval=0.1,
                         message="the worker to record its health")
        procs = tree({outer.pid})
        (pid_1,) = [pid for pid, _ in procs if (_stat(pid) or ("", 0, 0))[1] == outer.pid]
        assert namespace_pid(pid_1) == 1
        os.kill(pid_1, signal.SIGTERM)
        await all_gone({p for p in procs if p[0] != outer.pid}, 0.5 + MARGIN,
                       "arbor worker as PID 1")
        assert await asyncio.wait_for(outer.wait(), 10) == 0
        assert not await r.exists(health)
    finally:
        kill_survivors(procs)
        if outer.returncode is None:
            outer.kill()
            await outer.wait()
        await r.aclose()


# ----------------------------------------------------------------------------- arbor dev


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP],
                         ids=["SIGTERM", "SIGHUP"])
async def test_a_stop_signal_to_arbor_dev_alone_stops_its_postgres_redis_and_worker(
        tmp_path, signum):
    """Attack: SIGTERM (an editor's stop button, `kill`) or SIGHUP (its terminal closed) to
    the `arbor dev` PID alone. Before: it ended in 3 s and left its embedded PostgreSQL,
    its Redis and its worker running."""
    data = tmp_path / "data"
    proc, _ = await start_dev(data, free_port())
    procs: set[Proc] = set()
    try:
        procs = tree({proc.pid} | working_in(data))
        names = [cmdline(pid) for pid, _ in procs]
        assert any("-m worker" in n for n in names), names
        assert any("postgres" in n for n in names), names
        assert any("redis-server" in n for n in names), names
        started = time.monotonic()
        os.kill(proc.pid, signum)  # this PID only, not its group
        await all_gone(procs, 60, "arbor dev")
        assert await asyncio.wait_for(proc.wait(), 5) == 128 + signum
        assert time.monotonic() - started < 60
    finally:
        kill_survivors(procs | tree({proc.pid}))
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.slow
async def test_arbor_dev_stops_its_postgres_even_after_an_earlier_run_was_killed(tmp_path):
    """Attack: `arbor dev` killed outright (SIGKILL: the OOM killer, a crash), started again
    on the same data folder, then stopped with SIGTERM. Before: pgserver still counted the
    dead run as a holder of PostgreSQL, so no later run ever stopped it."""
    data, port = tmp_path / "data", free_port()
    first, _ = await start_dev(data, port)
    procs: set[Proc] = set()
    try:
        procs = tree({first.pid} | working_in(data))
        first.kill()
        await all_gone({p for p in procs if p[0] == first.pid}, 10, "the killed arbor dev")
        for pid, start in procs:  # a dead parent leaves its worker: not what this is about
            if "-m worker" in cmdline(pid):
                kill_survivors({(pid, start)})
        await asyncio.wait_for(first.wait(), 10)  # once its worker let go of its stdout
        kept = {p for p in procs if alive(p)}
        assert any("postgres" in cmdline(pid) for pid, _ in kept), kept

        second, _ = await start_dev(data, port)  # finds that PostgreSQL running, uses it
        procs |= tree({second.pid} | working_in(data))
        second.send_signal(signal.SIGTERM)
        await all_gone(procs, 60, "both runs of arbor dev")
        assert await asyncio.wait_for(second.wait(), 5) == 128 + signal.SIGTERM
    finally:
        kill_survivors(procs)
