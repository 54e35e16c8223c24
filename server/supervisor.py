"""How ``arbor dev`` stops on a signal sent to it alone, and the worker processes it runs.

While it serves, uvicorn takes SIGINT and SIGTERM, shuts down, puts back the handlers it
found and raises the signal again (``Server.capture_signals``). With Python's defaults
that second SIGTERM (or any SIGHUP) ends the process on the spot, so the ``finally``
blocks that stop the workers and the embedded PostgreSQL and Redis never ran: an editor's
stop button or a plain ``kill`` left all three running. :class:`StopSignals` puts handlers
there that only note the signal (and tell the server to exit if it has not begun to), so
the re-raise returns, everything stops in order, and the command exits with 128 + the
signal's number, as a shell reports a process a signal ended.

A signal that arrives while the embedded services or the workers start is noted too and
acted on once they are up: an exception thrown mid-start would lose the handle of a
process already started.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from types import FrameType, TracebackType
from typing import Any

import uvicorn

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class StopSignals:
    """While entered, SIGTERM, SIGINT and SIGHUP are noted instead of ending the process."""

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._server: uvicorn.Server | None = None
        self._previous: dict[signal.Signals, Any] = {}  # whatever signal() gave back

    def __enter__(self) -> StopSignals:
        for sig in STOP_SIGNALS:
            self._previous[sig] = signal.signal(sig, self._note)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signal.Signals(signum)
            log.info("%s: stopping", self.received.name)
        if self._server is not None:
            self._server.should_exit = True

    def stops(self, server: uvicorn.Server) -> None:
        """Make a signal (already noted, or to come before uvicorn takes over) stop
        ``server``."""
        self._server = server
        if self.received is not None:
            server.should_exit = True

    @property
    def exit_code(self) -> int:
        return 0 if self.received is None else 128 + int(self.received)


class WorkerProcesses:
    """``python -m worker`` children: separate processes, so the server never imports the
    worker package."""

    def __init__(self, count: int) -> None:
        self.procs = [subprocess.Popen([sys.executable, "-m", "worker"]) for _ in range(count)]

    def stop(self, sig: signal.Signals, timeout: float) -> None:
        """Send ``sig`` to each worker (each drains: see ``worker/main.py``), wait for them
        all up to ``timeout`` seconds, then kill the ones left."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(sig)
        deadline = time.monotonic() + timeout
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker %d did not stop within %.0fs; killing it", proc.pid,
                            timeout)
                proc.kill()
                proc.wait()
