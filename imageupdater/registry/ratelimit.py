"""Per-registry request spacing (`registries.rateLimit` in the Automation config).

Docker Hub and others throttle by client; staying under their limit is cheaper than
waiting out their 429s. Each request for a limited registry reserves the next free slot
under a lock and sleeps outside it, so threads queue fairly without blocking each other
on other registries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping


class RateLimiter:
    def __init__(
        self,
        rates: Mapping[str, float],
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`rates`: requests per second by registry name (`docker.io`, `ghcr.io:443`)."""
        self._interval = {name.lower(): 1.0 / rate for name, rate in rates.items() if rate > 0}
        self._sleep = sleep
        self._clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def wait(self, registry: str) -> None:
        interval = self._interval.get(registry)
        if interval is None:
            return
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(registry, now))
            self._next[registry] = slot + interval
        if slot > now:
            self._sleep(slot - now)
