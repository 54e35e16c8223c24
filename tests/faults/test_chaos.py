"""The chaos run (bench/chaos.py), short: random faults against 3 servers and 2 workers
while people type and run tools; afterwards every client, a fresh reader and PostgreSQL
hold every keystroke, and no job is left queued or running."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHAOS = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


@pytest.mark.timeout(300)
async def test_short_chaos_run_ends_with_everyone_agreeing(capsys):
    """docs/protocol.md [F1] [D6]."""
    spec = importlib.util.spec_from_file_location("arbor_chaos", CHAOS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    status = await module.chaos(seconds=20, users=4, seed=7)
    out = capsys.readouterr().out
    assert "faults:" in out and "faults: none" not in out
    assert status == 0, out
