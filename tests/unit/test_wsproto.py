"""The direct websocket lane: frames built once per broadcast, written straight to the
socket when nothing is queued before them, and the ordinary queue when the socket is
busy, without ever reordering a peer's messages."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from server.capabilities import Role
from server.ws import MessageBudget, SocketPeer
from server.wsproto import SUPPORTED, binary_frame


def parse_frames(data: bytes) -> list[Frame]:
    reader = StreamReader()
    reader.feed_data(data)
    frames = []
    while reader.buffer:
        gen = Frame.parse(reader.read_exact, mask=False)
        try:
            next(gen)
        except StopIteration as done:
            frames.append(done.value)
        else:
            raise AssertionError("incomplete frame")
    return frames


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70_000])
def test_binary_frame_is_what_a_websocket_parser_reads(size):
    payload = bytes(i % 251 for i in range(size))
    (frame,) = parse_frames(binary_frame(payload))
    assert frame.opcode is Opcode.BINARY
    assert frame.fin
    assert frame.data == payload


def test_the_installed_uvicorn_supports_the_direct_lane():
    # If an upgrade of uvicorn removes what the lane relies on, the server still works
    # (plain ASGI) but this test says the hot path got slower.
    assert SUPPORTED


class FakeDirect:
    """Stands in for uvicorn's transport: records writes; ``paused`` refuses them."""

    def __init__(self) -> None:
        self.written: list[bytes] = []
        self.paused = False
        self.on_bytes: Any = None

    def write(self, frame: bytes) -> bool:
        if self.paused:
            return False
        self.written.append(frame)
        return True


def peer(direct: FakeDirect, queue_max: int = 100) -> SocketPeer:
    return SocketPeer(None, Role.EDIT, b"", queue_max, direct)  # type: ignore[arg-type]


def test_send_goes_straight_to_the_socket_when_nothing_waits():
    """docs/protocol.md [Q2]."""
    d = FakeDirect()
    pr = peer(d)
    pr.send(b"\x00\x02\x01a")
    pr.send(b"\x00\x02\x01b")
    assert [f.data for f in parse_frames(b"".join(d.written))] == [b"\x00\x02\x01a",
                                                                   b"\x00\x02\x01b"]
    assert not pr._queue


def test_a_busy_socket_queues_and_later_messages_wait_behind():
    """docs/protocol.md [Q2]."""
    d = FakeDirect()
    pr = peer(d)
    d.paused = True
    pr.send(b"one")
    d.paused = False  # writable again, but "one" is still queued: "two" must not pass it
    pr.send(b"two")
    pr.send_many((b"three", b"four"))
    assert d.written == []
    assert list(pr._queue) == [b"one", b"two", b"three", b"four"]


def test_send_many_is_one_write_holding_every_frame_in_order():
    d = FakeDirect()
    pr = peer(d)
    pr.send_many((b"update", b"presence"))
    assert len(d.written) == 1
    assert [f.data for f in parse_frames(d.written[0])] == [b"update", b"presence"]


def test_a_peer_that_stops_reading_is_closed_with_1013_at_the_bound():
    """docs/protocol.md [Q2] [C5]."""
    d = FakeDirect()
    pr = peer(d, queue_max=3)
    d.paused = True
    for i in range(5):
        pr.send(bytes([i]))
    assert pr.is_closing
    assert pr.close_code == 1013
    assert not pr._queue
    pr.send(b"late")  # a closed peer takes nothing more
    assert not pr._queue and d.written == []


def test_message_budget_allows_its_burst_then_holds_until_a_few_are_due(monkeypatch):
    """docs/protocol.md [Q1]."""
    import types

    import server.ws

    now = [1000.0]
    monkeypatch.setattr(server.ws, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    b = MessageBudget(100.0, 10)
    assert [b.spend() for _ in range(10)] == [0.0] * 10
    wait = b.spend()  # the 11th at once: wait until 5 more (50 ms at 100/s) are due
    assert wait == pytest.approx(0.06)
    assert b.holds == 1
    now[0] += wait + 1e-9
    assert [b.spend() for _ in range(5)] == [0.0] * 5
    assert b.spend() > 0
    now[0] += 3600  # a long quiet: the budget refills to the burst, no further
    assert [b.spend() for _ in range(10)] == [0.0] * 10
    assert b.spend() > 0
    assert b.holds == 3
    unlimited = MessageBudget(0.0, 1)
    assert all(unlimited.spend() == 0.0 for _ in range(10_000))
