"""Prometheus metrics of the daemon (SPEC §6), on a registry of their own.

A private `CollectorRegistry` per daemon (not prometheus-client's global one) so tests can
run several daemons in one process and no import registers anything as a side effect.
Labels never carry secrets: automation names, registry hosts, HTTP status codes and the
error kinds of SPEC §4 only.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.cycle_duration = Histogram(
            "imageupdater_cycle_duration_seconds",
            "Duration of one automation cycle",
            ["automation"],
            registry=r,
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
        )
        self.updates = Counter(
            "imageupdater_updates", "Image updates delivered", ["automation"], registry=r
        )
        self.pending = Gauge(
            "imageupdater_pending_updates",
            "Updates found but not delivered by the last cycle",
            ["automation"],
            registry=r,
        )
        self.registry_requests = Counter(
            "imageupdater_registry_requests",
            "Registry HTTP requests by host and status",
            ["host", "status"],
            registry=r,
        )
        self.errors = Counter(
            "imageupdater_errors", "Errors by kind", ["automation", "kind"], registry=r
        )
        self.prs_open = Gauge(
            "imageupdater_pull_requests_open", "Open pull requests the daemon knows", registry=r
        )
        self.drift = Gauge(
            "imageupdater_drift",
            "Containers whose running image differs from Git (set by the drift check)",
            ["automation"],
            registry=r,
        )
        self.last_success = Gauge(
            "imageupdater_last_success_timestamp_seconds",
            "Unix time of the last cycle without errors",
            ["automation"],
            registry=r,
        )
        self.cycles = Counter(
            "imageupdater_cycles", "Cycles run", ["automation", "result"], registry=r
        )

    def count_requests(self, counts: Mapping[tuple[str, int], int]) -> None:
        for (host, status), n in counts.items():
            self.registry_requests.labels(host=host, status=str(status)).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)
