"""A peer's queued document updates go out as one message; everything else as it came."""

from __future__ import annotations

from collections import deque
from typing import Any

from pycrdt import Doc, Map

from server.ws import _next_message
from sync import protocol


def test_a_run_of_queued_updates_is_sent_as_one_update() -> None:
    """docs/protocol.md [P7]."""
    src: Doc[Any] = Doc()
    updates: list[bytes] = []
    src.observe(lambda e: updates.append(e.update))
    m = src.get("m", type=Map)
    for i in range(4):
        m[f"k{i}"] = float(i)
    aw = protocol.awareness(protocol.encode_awareness([(1, 1, b"{}")]))
    queue = deque([protocol.sync_update(updates[0]), protocol.sync_update(updates[1]), aw,
                   protocol.sync_step2(updates[2]), protocol.sync_update(updates[3])])
    sent = []
    while queue:
        sent.append(_next_message(queue)[0])
    assert len(sent) == 4
    assert sent[1] == aw and sent[2] == protocol.sync_step2(updates[2]) and sent[3] == \
        protocol.sync_update(updates[3])
    dst: Doc[Any] = Doc()
    for msg in sent:
        decoded = protocol.decode(msg)
        if isinstance(decoded, (protocol.SyncUpdate, protocol.SyncStep2)):
            dst.apply_update(decoded.update)
    assert dst.get("m", type=Map).to_py() == {f"k{i}": float(i) for i in range(4)}
