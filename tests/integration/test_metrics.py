from __future__ import annotations

import httpx

from tests.yclient import YClient, eventually


def value(text: str, name: str, labels: str = "") -> float:
    for line in text.splitlines():
        if line.startswith(name + labels + " ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{labels} not in metrics")


async def test_metrics_count_rooms_connections_and_updates(server):
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        before = (await http.get("/metrics")).text
        room = (await http.post("/api/rooms", json={})).json()
        c = await YClient.connect(f"{server.ws_url}/sync/{room['room']}?token="
                                  f"{room['edit_token']}")
        c.add_text_block("b", "counted")
        await eventually(lambda: server.services.rooms.stats.stored_updates > 0)
        r = await http.get("/metrics")
        assert r.status_code == 200
        text = r.text
        assert value(text, "arbor_rooms") >= 1
        assert value(text, "arbor_connections") >= 1
        assert value(text, "arbor_updates_in_total") > value(before, "arbor_updates_in_total")
        assert value(text, "arbor_updates_stored_total") >= 1
        assert "arbor_persistence_lag_seconds" in text
        assert room["edit_token"] not in text
        await c.close()


async def test_metrics_count_awareness_in_and_the_echoes_dropped(server):
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        room = (await http.post("/api/rooms", json={})).json()
        url = f"{server.ws_url}/sync/{room['room']}?token={room['edit_token']}"
        a, b = await YClient.connect(url), await YClient.connect(url)
        before = (await http.get("/metrics")).text
        await a.set_awareness({"user": {"name": "A"}})

        def moved() -> list[bytes]:  # what b was sent that holds a's entry
            return [f for f in b.received if f[:1] == b"\x01" and b'"A"' in f]

        await eventually(lambda: bool(moved()))
        await b.send(moved()[-1])  # a stock client sends it straight back
        await eventually(lambda: server.services.rooms.stats.awareness_echoes > 0)
        text = (await http.get("/metrics")).text
        got_in = value(text, "arbor_awareness_in_total") - value(before, "arbor_awareness_in_total")
        echoes = (value(text, "arbor_awareness_echoes_total")
                  - value(before, "arbor_awareness_echoes_total"))
        assert got_in >= 2 and echoes == 1, (got_in, echoes)  # a's move counted, not echoed
        await a.close()
        await b.close()


async def test_metrics_show_the_garbage_collectors_full_passes_under_the_guard(settings):
    """``arbor serve`` installs a FullPassGuard; /metrics then shows each full pass's
    length as a histogram and counts the freezes. (A test process has no guard: here one
    is installed for the server's lifetime and taken out after.)"""
    import gc

    from sync.memory import FullPassGuard
    from tests.conftest import run_server

    guard = FullPassGuard(slow_ms=1e-6)  # any pass is slow: it freezes what it kept
    guard.install()
    try:
        async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
            gc.collect()
            await eventually(lambda: guard.freezes >= 1)
            text = (await http.get("/metrics")).text
        assert value(text, "arbor_gc_full_pass_seconds_count") >= 1
        assert value(text, "arbor_gc_full_pass_seconds_bucket", '{le="+Inf"}') >= 1
        assert value(text, "arbor_gc_full_pass_seconds_sum") > 0
        assert value(text, "arbor_gc_freezes_total") >= 1
    finally:
        guard.uninstall()
        gc.unfreeze()
    async with run_server(settings) as srv, httpx.AsyncClient(base_url=srv.base_url) as http:
        assert "arbor_gc_full_pass_seconds" not in (await http.get("/metrics")).text
