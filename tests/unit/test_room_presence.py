"""The server's "saved" presence: at most one renewal per SAVED_EVERY per room, carried by
the next document update while a small room is busy (no socket write of its own), sent on
its own when the room is quiet or big, and never lost."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import pytest
from pycrdt import Doc, Map

from sync import protocol as p
from sync import room as room_module
from sync.room import Room

EVERY = 0.2


class RecordingPeer:
    can_write = True

    def __init__(self, wants_saved: bool = True) -> None:
        self.wants_saved = wants_saved
        self.answer_queued = False
        self.writes: list[tuple[bytes, ...]] = []  # one entry per socket write

    def send(self, message: bytes) -> None:
        self.writes.append((message,))

    def send_many(self, messages: tuple[bytes, ...]) -> None:
        self.writes.append(messages)

    def close(self, code: int, reason: str) -> None:
        raise AssertionError(f"closed {code} {reason}")

    def saved_values(self) -> list[bytes]:
        """Every saved state vector this peer was told, in order."""
        out = []
        for write in self.writes:
            for message in write:
                msg = p.decode(message)
                if not isinstance(msg, p.AwarenessMessage):
                    continue
                for entry in p.decode_awareness(msg.payload):
                    state = json.loads(entry.raw)
                    if isinstance(state, dict) and "arbor" in state:
                        out.append(base64.b64decode(state["arbor"]["saved"]))
        return out


@pytest.fixture(autouse=True)
def short_interval(monkeypatch):
    monkeypatch.setattr(room_module, "SAVED_EVERY", EVERY)
    monkeypatch.setattr(room_module, "RIDE_EARLY", EVERY / 4)


def room_of_two() -> tuple[Room, RecordingPeer, RecordingPeer]:
    room = Room("r", max_doc_bytes=1 << 20, awareness_timeout=30, awareness_tick=0.01)
    first, second = RecordingPeer(), RecordingPeer()
    room.join(first)
    room.join(second)
    return room, first, second


def edit(doc: Doc[Any], key: str) -> bytes:
    before = doc.get_state()
    doc.get("m", type=Map)[key] = key
    return doc.get_update(before)


async def test_in_a_busy_room_saved_rides_on_the_next_update():
    """docs/protocol.md [S4]."""
    room, writer, reader = room_of_two()
    await asyncio.sleep(EVERY + 0.05)
    client: Doc[Any] = Doc()
    room.receive(writer, p.SyncUpdate(edit(client, "a")))  # the room is busy now
    reader.writes.clear()
    writer.writes.clear()
    room.set_saved(room.doc.get_state())
    saved = room.doc.get_state()
    await asyncio.sleep(0.02)
    assert reader.saved_values() == []  # not sent on its own: it waits for an update
    room.receive(writer, p.SyncUpdate(edit(client, "b")))
    # the reader got the update and the news in one write; the writer got the news
    assert len(reader.writes) == 1 and len(reader.writes[0]) == 2
    assert isinstance(p.decode(reader.writes[0][0]), p.SyncUpdate)
    assert reader.saved_values() == [saved]
    assert writer.saved_values() == [saved]
    room.dispose()


async def test_updates_in_time_with_the_interval_carry_the_news_a_little_early():
    # Writers that edit once per interval send each update a moment before the news is
    # due; waiting for the exact due time made the news miss that update and go in a
    # socket write of its own. Tried: bursts of updates every interval, each arriving a
    # tenth of an interval before the news is due.
    """docs/protocol.md [S4]."""
    room, writer, reader = room_of_two()
    client: Doc[Any] = Doc()
    loop = asyncio.get_running_loop()
    await asyncio.sleep(EVERY + 0.01)
    room.receive(writer, p.SyncUpdate(edit(client, "first")))  # the news rides this one
    ridden = len(reader.saved_values())
    for i in range(4):
        room.set_saved(room.doc.get_state())  # stored just after each burst
        await asyncio.sleep(EVERY * 0.9 - (loop.time() - room._server_presence_at))
        reader.writes.clear()
        room.receive(writer, p.SyncUpdate(edit(client, f"burst{i}")))
        assert [len(w) for w in reader.writes] == [2], (i, reader.writes)  # update + news
    assert ridden >= 1
    room.dispose()


async def test_in_a_big_busy_room_saved_arrives_every_interval_apart_from_updates(monkeypatch):
    """docs/protocol.md [S4]."""
    monkeypatch.setattr(room_module, "RIDE_MAX_PEERS", 2)
    room, writer, reader = room_of_two()
    room.join(RecordingPeer())  # three peers: more than rides
    client: Doc[Any] = Doc()
    loop = asyncio.get_running_loop()
    end = loop.time() + EVERY * 3
    while loop.time() < end:  # an update every 5 ms and a store after each
        room.receive(writer, p.SyncUpdate(edit(client, f"k{loop.time()}")))
        room.set_saved(room.doc.get_state())
        await asyncio.sleep(0.005)
    during = [v for v in reader.saved_values() if v != b"\x00"]  # not the joins'
    assert len(during) >= 2, during  # a busy room does not postpone the news
    await asyncio.sleep(EVERY + 0.05)
    assert reader.saved_values()[-1] == room.doc.get_state()
    kinds = [[type(p.decode(m)) for m in write] for write in reader.writes]
    # every write that told the reader what is stored holds nothing else
    assert all(k == [p.AwarenessMessage] for k in kinds if p.AwarenessMessage in k), kinds
    room.dispose()


async def test_in_a_quiet_room_saved_is_sent_on_its_own_and_never_lost():
    """docs/protocol.md [S4]."""
    room, a, b = room_of_two()
    room._publish_server_presence()  # the entry was just renewed
    client: Doc[Any] = Doc()
    room.receive(a, p.SyncUpdate(edit(client, "x")))
    first = room.doc.get_state()
    room.set_saved(first)  # just after an update and a fresh entry: it waits
    room.receive(a, p.SyncUpdate(edit(client, "y")))
    second = room.doc.get_state()
    room.set_saved(second)
    await asyncio.sleep(EVERY * 2 + 0.1)  # no update carries it: the timer sends it
    assert b.saved_values()[-1] == second
    assert first not in b.saved_values()  # throttled: the newer value replaced it
    room.dispose()


async def test_rooms_stored_in_one_batch_send_their_news_at_different_moments():
    # One persistence batch stores many rooms at once. Tried: 20 small rooms, each with
    # an update just before the batch and none after, so each room's news goes alone; a
    # fixed wait sent them all in the same millisecond (and drew all echoes at once).
    """docs/protocol.md [S4]."""
    rooms = []
    client: Doc[Any] = Doc()
    for _ in range(20):
        room, writer, reader = room_of_two()
        rooms.append((room, writer, reader))
    await asyncio.sleep(EVERY + 0.01)  # the joins' entries are old: the news is due
    for room, writer, _ in rooms:
        room.receive(writer, p.SyncUpdate(edit(client, f"k{id(room)}")))
    for room, _, _ in rooms:
        room.set_saved(room.doc.get_state())  # the batch
    loop = asyncio.get_running_loop()
    sent_at: dict[int, float] = {}
    end = loop.time() + EVERY * 2
    while loop.time() < end and len(sent_at) < len(rooms):
        for i, (room, _, reader) in enumerate(rooms):
            if i not in sent_at and room.doc.get_state() in reader.saved_values():
                sent_at[i] = loop.time()
        await asyncio.sleep(0.002)
    assert len(sent_at) == len(rooms)  # never lost
    spread = max(sent_at.values()) - min(sent_at.values())
    assert spread >= EVERY * 0.2, spread
    for room, _, _ in rooms:
        room.dispose()


async def test_saved_renewals_are_at_most_one_per_interval():
    """docs/protocol.md [S4]."""
    room, writer, reader = room_of_two()
    client: Doc[Any] = Doc()
    loop = asyncio.get_running_loop()
    end = loop.time() + EVERY * 5
    while loop.time() < end:  # an update and a store every 10 ms
        room.receive(writer, p.SyncUpdate(edit(client, f"k{loop.time()}")))
        room.set_saved(room.doc.get_state())
        await asyncio.sleep(0.01)
    await asyncio.sleep(EVERY * 2)
    told = reader.saved_values()
    renewals = [v for v in told if v != b"\x00"]  # not the joins'
    # about one per interval, not one per store (a hundred): at most one per
    # EVERY - RIDE_EARLY (six in five intervals), the first and the final one
    assert 3 <= len(renewals) <= 8, len(renewals)
    assert told[-1] == room.doc.get_state()  # and the last one is the final state
    room.dispose()


async def test_an_echo_of_what_the_room_sent_is_recognised_before_decoding():
    """docs/protocol.md [A7]."""
    room, a, b = room_of_two()
    room.receive(a, p.AwarenessMessage(p.encode_awareness([(7, 1, b'{"user":{"name":"A"}}')])))
    await asyncio.sleep(0.05)
    sent_to_b = [m for w in b.writes for m in w
                 if isinstance(p.decode(m), p.AwarenessMessage)]
    assert sent_to_b and room.is_echo(sent_to_b[-1], b)  # b's stock client sends it back
    assert not room.is_echo(sent_to_b[-1], a)  # a was not sent it: decoded as usual
    forged = p.awareness(p.encode_awareness([(7, 2, b'{"user":{"name":"B"}}')]))
    assert not room.is_echo(forged, b)  # anything else is decoded and checked as before
    room.dispose()


async def test_echoes_are_recognised_for_the_echo_window_and_at_least_two_ticks(monkeypatch):
    """docs/protocol.md [A7]."""
    monkeypatch.setattr(room_module, "ECHO_WINDOW", 0.12)
    room, a, b = room_of_two()
    await asyncio.sleep(0.05)
    a.writes.clear()
    # both move in the same tick: each gets a message without its own entry
    room.receive(a, p.AwarenessMessage(p.encode_awareness([(7, 1, b'{"c":1}')])))
    room.receive(b, p.AwarenessMessage(p.encode_awareness([(8, 1, b'{"c":2}')])))
    await asyncio.sleep(0.02)
    (to_a,) = [m for w in a.writes for m in w if isinstance(p.decode(m), p.AwarenessMessage)]
    assert room.is_echo(to_a, a) and not room.is_echo(to_a, b)
    for clock in range(2, 6):  # four more ticks within the window: a late echo is known
        room.receive(b, p.AwarenessMessage(p.encode_awareness([(8, clock, b'{"c":3}')])))
        await asyncio.sleep(0.02)
        assert room.is_echo(to_a, a), clock
    await asyncio.sleep(0.12)  # past the window: two more ticks and it is forgotten
    for clock in range(6, 8):
        room.receive(b, p.AwarenessMessage(p.encode_awareness([(8, clock, b'{"c":4}')])))
        await asyncio.sleep(0.02)
    assert not room.is_echo(to_a, a)  # (it would be decoded again, and change nothing)
    room.dispose()


async def test_what_is_remembered_for_echoes_stays_bounded_without_awareness_ticks(monkeypatch):
    """docs/protocol.md [A7]."""
    monkeypatch.setattr(room_module, "ECHO_WINDOW", 0.3)
    room, writer, reader = room_of_two()  # nobody moves: no awareness tick ever comes
    client: Doc[Any] = Doc()
    loop = asyncio.get_running_loop()
    end = loop.time() + EVERY * 8
    while loop.time() < end:  # "saved" rides on an update about every EVERY
        room.receive(writer, p.SyncUpdate(edit(client, f"k{loop.time()}")))
        room.set_saved(room.doc.get_state())
        await asyncio.sleep(0.01)
    told = [v for v in reader.saved_values() if v != b"\x00"]
    assert len(told) >= 6, told
    remembered = sum(len(sent) for _, sent in room._sent)
    assert remembered <= 3, remembered  # only what is younger than the window, not all
    room.dispose()


def server_entries(peer: RecordingPeer, room: Room) -> list[p.AwarenessEntry]:
    """Every entry of the server's own presence this peer was sent."""
    return [e for w in peer.writes for m in w if isinstance(msg := p.decode(m), p.AwarenessMessage)
            for e in p.decode_awareness(msg.payload) if e.client_id == room.server_client_id]


async def test_a_peer_that_did_not_ask_is_never_sent_the_servers_entry():
    # A stock client cannot use "saved" and echoes every awareness update it gets. Tried:
    # a busy room with one peer that asked (saved=1) and one that did not, with updates,
    # stores, the quiet-room timer, a housekeeping renewal and another peer's presence.
    """docs/protocol.md [S2]."""
    room = Room("r", max_doc_bytes=1 << 20, awareness_timeout=30, awareness_tick=0.01)
    asked, plain = RecordingPeer(), RecordingPeer(wants_saved=False)
    room.join(asked)
    room.join(plain)
    client: Doc[Any] = Doc()
    loop = asyncio.get_running_loop()
    end = loop.time() + EVERY * 4
    while loop.time() < end:
        room.receive(asked, p.SyncUpdate(edit(client, f"k{loop.time()}")))
        room.set_saved(room.doc.get_state())
        await asyncio.sleep(0.01)
    room.set_saved(b"\x01\x01\x02")  # and one the quiet-room timer sends alone
    room._server_presence_at -= 20
    room.housekeeping()
    room.receive(asked, p.AwarenessMessage(p.encode_awareness([(7, 1, b'{"c":1}')])))
    await asyncio.sleep(EVERY * 2 + 0.1)
    assert len([v for v in asked.saved_values() if v != b"\x00"]) >= 3  # the one who asked
    assert plain.saved_values() == [] and server_entries(plain, room) == []
    others = [e.client_id for w in plain.writes for m in w
              if isinstance(msg := p.decode(m), p.AwarenessMessage)
              for e in p.decode_awareness(msg.payload)]
    assert others == [7]  # other people's presence still reaches it
    room.dispose()


async def test_a_room_where_nobody_asked_sends_no_renewals_and_a_joiner_gets_it_current():
    """docs/protocol.md [S3]."""
    room = Room("r", max_doc_bytes=1 << 20, awareness_timeout=30, awareness_tick=0.01)
    writer, reader = RecordingPeer(wants_saved=False), RecordingPeer(wants_saved=False)
    room.join(writer)
    room.join(reader)
    client: Doc[Any] = Doc()
    for i in range(5):
        room.receive(writer, p.SyncUpdate(edit(client, f"k{i}")))
        room.set_saved(room.doc.get_state())
        await asyncio.sleep(EVERY / 2)
    assert room._saved_handle is None and room._tick_handle is None  # nothing scheduled
    assert not [m for w in reader.writes for m in w
                if isinstance(p.decode(m), p.AwarenessMessage)]
    late = RecordingPeer()
    room.join(late)
    (entry,) = server_entries(late, room)  # in its first awareness message, at once
    assert entry.clock >= 1  # a stock client ignores a new id's entry at clock 0
    assert late.saved_values() == [room.doc.get_state()]
    room.leave(late)
    assert room.subscribers == 0
    room.dispose()


async def test_a_reconnecting_persons_own_entry_is_not_taken_for_an_echo():
    # Tried: a leaves and comes back on a new connection with the same client id, clock
    # and state, so what it sends is byte for byte what the room sent b before it left.
    """docs/protocol.md [A7]."""
    room, a, b = room_of_two()
    entry = p.awareness(p.encode_awareness([(7, 1, b'{"c":1}')]))
    room.receive(a, p.decode(entry))
    await asyncio.sleep(0.05)
    assert entry in [m for w in b.writes for m in w]  # b was sent exactly these bytes
    assert room.is_echo(entry, b)  # and from b it would be an echo
    room.leave(a)
    await asyncio.sleep(0.05)
    again = RecordingPeer()
    room.join(again)
    assert not room.is_echo(entry, again)
    b.writes.clear()
    room.receive(again, p.decode(entry))
    await asyncio.sleep(0.05)
    seen = [e.client_id for w in b.writes for m in w
            if isinstance(msg := p.decode(m), p.AwarenessMessage)
            for e in p.decode_awareness(msg.payload) if e.raw != b"null"]
    assert seen == [7]  # a's presence is back for b at once
    room.dispose()


def _clocks_sent(peer: RecordingPeer, client_id: int) -> list[int]:
    out = []
    for write in peer.writes:
        for message in write:
            msg = p.decode(message)
            if isinstance(msg, p.AwarenessMessage):
                out += [e.clock for e in p.decode_awareness(msg.payload)
                        if e.client_id == client_id]
    return out


async def test_a_newcomer_gets_the_others_presence_past_any_clock_it_was_sent():
    # Tried: b's presence sent to a, a's connection dropped and back (a stock client keeps
    # the clocks of the entries it drops). At b's old clock, a ignored b until b renewed.
    """docs/protocol.md [A5]."""
    room, a, b = room_of_two()
    room.receive(b, p.AwarenessMessage(p.encode_awareness([(8, 1, b'{"user":{"name":"B"}}')])))
    await asyncio.sleep(0.05)
    seen = _clocks_sent(a, 8)
    assert seen
    room.leave(a)
    again = RecordingPeer()
    room.join(again)
    assert _clocks_sent(again, 8) and _clocks_sent(again, 8)[0] > max(seen)
    # b's next change reaches everyone past what each was sent.
    room.receive(b, p.AwarenessMessage(p.encode_awareness([(8, 2, b'{"user":{"name":"Bo"}}')])))
    await asyncio.sleep(0.05)
    assert _clocks_sent(again, 8)[-1] > _clocks_sent(again, 8)[0]
    room.dispose()
