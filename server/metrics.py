"""``GET /metrics``: Prometheus text, collected from the live process at scrape time.

One registry per app (tests run several servers in one process). Nothing here keeps
state of its own: figures come from the room manager, its writers, the fan-out and, for
jobs, from PostgreSQL (jobs are run by other processes).

Who may scrape (``MetricsAccess``): a client address in ``ARBOR_METRICS_ALLOW`` (default
``private``: loopback and private networks, where an in-cluster Prometheus scrapes pods
from, so existing scrapers keep working while the public internet is refused), and, when
``ARBOR_METRICS_TOKEN`` is set, only with ``Authorization: Bearer <token>``. Each setting
only narrows; neither widens the other. The address is the one rate limits use (the
socket peer, or X-Forwarded-For from a trusted proxy). The shipped ingresses also refuse
/metrics (deploy/nginx.conf, deploy/k8s/ingress.yaml): behind a proxy that is not in
``ARBOR_TRUSTED_PROXIES`` every request seems to come from the proxy's private address.
"""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from sync import room as room_module
from sync.errors import ConfigError
from sync.memory import PAUSE_BUCKETS, active_guard
from sync.settings import Secret

from .capabilities import bearer
from .problems import problem

if TYPE_CHECKING:
    from .app import Services

JOB_COUNTS = """
SELECT tool, status, count(*) AS n,
       avg(extract(epoch FROM finished_at - created_at)) FILTER (WHERE finished_at IS NOT NULL)
         AS latency
FROM jobs WHERE created_at > now() - interval '1 day' GROUP BY tool, status
"""


class ArborCollector(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services
        self.job_rows: list[tuple[str, str, int, float | None]] = []

    def collect(self) -> Iterator[Metric]:
        s = self.services
        rooms = list(s.rooms.rooms.values())
        stats = s.rooms.stats
        yield GaugeMetricFamily("arbor_rooms", "rooms held in memory", value=len(rooms))
        yield GaugeMetricFamily("arbor_room_objects", "room objects not yet garbage-collected "
                                "(held or not): a leak shows here", value=len(room_module.ALIVE))
        yield GaugeMetricFamily("arbor_connections", "open websocket connections",
                                value=sum(len(r.peers) for r in rooms))
        yield CounterMetricFamily("arbor_connections_opened", "websockets accepted",
                                  value=stats.connections_total)
        closed = CounterMetricFamily("arbor_connections_closed_by_server",
                                     "connections the server closed, by close code",
                                     labels=["code"])
        for code, n in sorted(stats.closed_by_code.items()):
            closed.add_metric([str(code)], n)
        yield closed
        yield CounterMetricFamily("arbor_updates_in", "document updates applied",
                                  value=stats.updates_in)
        yield CounterMetricFamily("arbor_update_bytes_in", "bytes of applied updates",
                                  value=stats.bytes_in)
        yield CounterMetricFamily("arbor_messages_out", "sync messages queued to clients",
                                  value=stats.messages_out)
        yield CounterMetricFamily("arbor_bytes_out", "bytes of sync messages queued",
                                  value=stats.bytes_out)
        yield CounterMetricFamily("arbor_awareness_out", "awareness messages queued",
                                  value=stats.awareness_out)
        yield CounterMetricFamily("arbor_awareness_in", "awareness messages from clients",
                                  value=stats.awareness_in)
        yield CounterMetricFamily("arbor_awareness_echoes",
                                  "awareness messages from clients that only echoed what "
                                  "the server sent them (dropped undecoded)",
                                  value=stats.awareness_echoes)
        yield CounterMetricFamily("arbor_ws_throttled",
                                  "pauses in reading a websocket that sent more messages "
                                  "than ARBOR_WS_MESSAGES_PER_SECOND allows",
                                  value=stats.ws_throttled)
        yield CounterMetricFamily("arbor_updates_stored", "updates written to PostgreSQL",
                                  value=stats.stored_updates)
        yield CounterMetricFamily("arbor_store_failures", "failed PostgreSQL writes (retried)",
                                  value=stats.store_failures)
        yield CounterMetricFamily("arbor_compactions", "room logs compacted",
                                  value=stats.compactions)
        yield CounterMetricFamily("arbor_persistence_batches",
                                  "round trips that stored every room's pending updates",
                                  value=s.rooms.batcher.batches)
        yield CounterMetricFamily("arbor_room_loads", "rooms loaded", value=stats.loads)
        yield CounterMetricFamily("arbor_canvas_indexes_built",
                                  "canvas indexes built (at most one per room load)",
                                  value=stats.canvas_indexes_built)
        yield CounterMetricFamily("arbor_layout_placements",
                                  "groups of new blocks placed beside their inputs",
                                  value=stats.layout_placements)
        yield CounterMetricFamily("arbor_layout_blocks_examined",
                                  "blocks those placements looked at (bounded per "
                                  "placement, whatever the canvas's size)",
                                  value=stats.layout_blocks_examined)
        yield CounterMetricFamily("arbor_canvas_edges_examined",
                                  "edges canvas indexes handed to lineages and job outputs",
                                  value=stats.edges_examined)
        work = s.checkpoints
        yield CounterMetricFamily("arbor_checkpoint_previews_rendered",
                                  "history previews rendered (each checkpoint once while "
                                  "it stays in the cache)", value=work.previews_rendered)
        yield CounterMetricFamily("arbor_checkpoint_preview_hits",
                                  "history previews served from the cache or from a "
                                  "rendering already under way", value=work.preview_hits)
        yield CounterMetricFamily("arbor_checkpoint_restores_prepared",
                                  "restores whose change a checkpoint reader computed",
                                  value=work.restores_prepared)
        yield CounterMetricFamily("arbor_checkpoint_reader_failures",
                                  "checkpoint reader processes that died or ran out of time",
                                  value=work.child_failures)
        yield GaugeMetricFamily("arbor_checkpoint_work_running",
                                "checkpoints being read by a child process now",
                                value=work.running)
        yield GaugeMetricFamily("arbor_checkpoint_work_waiting",
                                "checkpoint readings waiting for a free child process",
                                value=work.waiting)
        yield GaugeMetricFamily("arbor_checkpoint_preview_cache_bytes",
                                "bytes of rendered previews kept", value=work.cached_bytes)
        yield CounterMetricFamily("arbor_memory_reclaims",
                                  "garbage collections and malloc_trim after rooms unloaded",
                                  value=s.rooms.reclaimer.runs)
        guard = active_guard()
        if guard is not None:  # arbor serve: the garbage collector's full passes
            cumulative, buckets = 0, []
            for le, n in zip((*(str(b) for b in PAUSE_BUCKETS), "+Inf"), guard.buckets,
                             strict=True):
                cumulative += n
                buckets.append((le, cumulative))
            yield HistogramMetricFamily(
                "arbor_gc_full_pass_seconds",
                "how long each full pass of the garbage collector stopped the process",
                buckets=buckets, sum_value=guard.seconds)
            yield CounterMetricFamily("arbor_gc_freezes",
                                      "times the long-lived objects were frozen (every "
                                      "100 joins, or after a slow full pass)",
                                      value=guard.freezes)
        yield CounterMetricFamily("arbor_room_load_failures", "room loads that failed",
                                  value=stats.load_failures)
        now = time.monotonic()
        writers = list(s.rooms.writers.values())
        lag = max((now - w.pending_since for w in writers if w.pending_since is not None),
                  default=0.0)
        yield GaugeMetricFamily("arbor_persistence_lag_seconds",
                                "age of the oldest update not yet stored", value=lag)
        yield GaugeMetricFamily("arbor_persistence_pending_bytes",
                                "bytes accepted but not yet stored",
                                value=sum(w.pending_bytes for w in writers))
        if s.fanout is not None:
            f = s.fanout
            yield CounterMetricFamily("arbor_fanout_published", "entries sent to Redis",
                                      value=f.published)
            yield CounterMetricFamily("arbor_fanout_received", "entries applied from Redis",
                                      value=f.received)
            yield CounterMetricFamily("arbor_fanout_skipped",
                                      "updates and presence not published: no other process "
                                      "holds the room", value=f.skipped)
            yield CounterMetricFamily("arbor_fanout_resyncs",
                                      "rooms resynchronised after a Redis gap", value=f.resyncs)
            yield GaugeMetricFamily("arbor_fanout_healthy", "1 while Redis answers",
                                    value=1 if f.healthy else 0)
            yield GaugeMetricFamily("arbor_fanout_lag_seconds",
                                    "time since the stream reader last returned",
                                    value=max(0.0, now - f.last_read))
        rejected = CounterMetricFamily("arbor_rate_limited", "requests refused by rate limits",
                                       labels=["what"])
        for what, n in sorted(s.rate_limited.items()):
            rejected.add_metric([what], n)
        yield rejected
        jobs = GaugeMetricFamily("arbor_jobs", "jobs of the last day by tool and status",
                                 labels=["tool", "status"])
        latency = GaugeMetricFamily("arbor_job_latency_seconds",
                                    "mean time from request to end, last day", labels=["tool"])
        for tool, status, n, mean in self.job_rows:
            jobs.add_metric([tool, status], n)
            if status == "done" and mean is not None:
                latency.add_metric([tool], mean)
        yield jobs
        yield latency


Network = ipaddress.IPv4Network | ipaddress.IPv6Network
PRIVATE = tuple(ipaddress.ip_network(n) for n in (
    "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
    "100.64.0.0/10", "169.254.0.0/16", "fc00::/7", "fe80::/10"))
ANY = (ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0"))


class MetricsAccess:
    """``ARBOR_METRICS_ALLOW`` and ``ARBOR_METRICS_TOKEN``, checked per scrape."""

    def __init__(self, allow: Iterable[str], token: Secret) -> None:
        nets: list[Network] = []
        for entry in allow:
            if entry == "*":
                nets += ANY
            elif entry == "private":
                nets += PRIVATE
            else:
                try:
                    nets.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    raise ConfigError("ARBOR_METRICS_ALLOW", f"{entry!r} is not an address, "
                                      "a CIDR range, `private` or `*`") from None
        self.networks = tuple(nets)
        self.token = token

    def refusal(self, address: str, authorization: str | None) -> Response | None:
        """A 403 or 401 problem for a scrape that may not read the metrics, else None."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            ip = None
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if ip is None or not any(ip.version == n.version and ip in n for n in self.networks):
            return problem(403, "metrics are not served to this address (ARBOR_METRICS_ALLOW)",
                           kind="metrics_forbidden")
        if self.token:
            given = bearer(authorization) or ""
            if not hmac.compare_digest(given.encode(), self.token.reveal().encode()):
                return problem(401, "metrics need the scrape token (ARBOR_METRICS_TOKEN)",
                               kind="metrics_token", headers={"WWW-Authenticate": "Bearer"})
        return None


async def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    access: MetricsAccess = request.app.state.metrics_access
    refused = access.refusal(services.client_ip(request), request.headers.get("authorization"))
    if refused is not None:
        return refused
    registry: CollectorRegistry = request.app.state.metrics_registry
    collector: ArborCollector = request.app.state.metrics_collector
    rows = await services.store.pool.fetch(JOB_COUNTS)
    collector.job_rows = [(r["tool"], r["status"], int(r["n"]),
                           float(r["latency"]) if r["latency"] is not None else None)
                          for r in rows]
    return Response(generate_latest(registry), media_type="text/plain; version=0.0.4")


def install(app_state: object, services: Services) -> None:
    registry = CollectorRegistry(auto_describe=False)
    collector = ArborCollector(services)
    registry.register(collector)
    app_state.metrics_registry = registry  # type: ignore[attr-defined]
    app_state.metrics_collector = collector  # type: ignore[attr-defined]
    app_state.metrics_access = MetricsAccess(  # type: ignore[attr-defined]
        services.settings.metrics_allow, services.settings.metrics_token)
