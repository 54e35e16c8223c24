"""Process-wide counters of the sync layer, read by ``/metrics`` at scrape time."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class SyncStats:
    updates_in: int = 0  # document changes applied (peers, API, workers, other processes)
    bytes_in: int = 0
    messages_out: int = 0  # sync messages queued to peers
    bytes_out: int = 0
    awareness_out: int = 0
    awareness_in: int = 0  # awareness messages from peers
    awareness_echoes: int = 0  # of which echoes of what the room sent, dropped undecoded
    stored_updates: int = 0  # updates written to PostgreSQL
    store_failures: int = 0  # failed writes (retried)
    compactions: int = 0
    loads: int = 0
    load_failures: int = 0
    connections_total: int = 0
    updates_missing: int = 0  # peers' updates dropped: they build on what the room lacks
    step1_dropped: int = 0  # peers' repeated sync step 1 left unanswered (see Room)
    ws_throttled: int = 0  # pauses of a client sending past ARBOR_WS_MESSAGES_PER_SECOND
    canvas_indexes_built: int = 0  # rooms whose canvas index was built (sync.canvas_index)
    layout_placements: int = 0  # groups of new blocks placed beside their inputs
    layout_blocks_examined: int = 0  # blocks those placements looked at
    edges_examined: int = 0  # edges handed out by canvas indexes (lineage, job outputs)
    closed_by_code: dict[int, int] = dataclasses.field(default_factory=dict)

    def closed(self, code: int) -> None:
        self.closed_by_code[code] = self.closed_by_code.get(code, 0) + 1
