"""Retries with exponential backoff for transient registry failures.

Retried: 429 and 5xx answers, timeouts, connection and protocol errors, and a token
service that is itself unavailable. `Retry-After` (seconds or an HTTP date) is honoured
on 429 and 503, capped by `max_retry_after` so one registry cannot stall a cycle. Other
waits are `backoff * 2**(try-1)` with jitter (so 16 workers that met the same outage do
not come back in lock-step), capped the same way. When the tries are used up the last
problem is raised as `RegistryUnavailable("HTTP 503 after 4 tries")`: transient, so the
engine reports it and never reads it as "no new tag".
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from imageupdater.errors import RegistryUnavailable

log = logging.getLogger(__name__)


def is_retryable(status: int) -> bool:
    return status == 429 or status >= 500


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header, or None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 4
    backoff: float = 0.5
    max_retry_after: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    jitter: Callable[[], float] = random.random  # spreads load; not for secrets

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Wait before try `attempt + 1`; `Retry-After` wins over the backoff."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        base = self.backoff * 2.0 ** (attempt - 1)
        return min(base * (0.5 + 0.5 * self.jitter()), self.max_retry_after)

    def run(self, send: Callable[[], httpx.Response], host: str) -> httpx.Response:
        """Call `send` until it gives a non-retryable response or the tries run out."""
        problem = "no attempt"
        for attempt in range(1, max(1, self.max_attempts) + 1):
            retry_after: float | None = None
            try:
                response = send()
            except httpx.TimeoutException:
                problem = f"timeout talking to {host}"
            except httpx.TransportError as exc:
                problem = f"connection to {host} failed ({type(exc).__name__})"
            except RegistryUnavailable as exc:
                problem = str(exc)
            else:
                if not is_retryable(response.status_code):
                    return response
                problem = f"HTTP {response.status_code}"
                if response.status_code in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt >= self.max_attempts:
                break
            wait = self.delay(attempt, retry_after)
            log.info("%s: %s; retry %d in %.2fs", host, problem, attempt, wait)
            self.sleep(wait)
        tries = max(1, self.max_attempts)
        raise RegistryUnavailable(f"{problem} after {tries} {'try' if tries == 1 else 'tries'}")
