"""Freeze rules: when a workload must not be touched at all (SPEC §2.1).

`frozen-until` thaws by itself, so the answer depends on the clock; the clock is passed
in (`--now`) so that plans are reproducible and what-if questions can be asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from imageupdater.errors import ConfigError
from imageupdater.workloads import FROZEN, FROZEN_REASON, FROZEN_UNTIL, Workload


@dataclass(frozen=True, slots=True)
class Freeze:
    detail: str


def parse_time(text: str) -> datetime:
    """RFC 3339 time, or a bare date meaning midnight UTC at its start."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(f"not an RFC 3339 time or date: {text!r}") from None
    if parsed.tzinfo is None:
        raise ConfigError(f"time needs a UTC offset or 'Z': {text!r}")
    return parsed


def freeze_of(workload: Workload, now: datetime) -> Freeze | None:
    """The freeze in force at `now`, or None. A malformed `frozen-until` holds (fail safe)."""
    reason = (workload.annotation(FROZEN_REASON) or "").strip()
    suffix = f": {reason}" if reason else ""
    if (workload.annotation(FROZEN) or "").strip().lower() == "true":
        return Freeze(f"frozen{suffix}")
    until_text = workload.annotation(FROZEN_UNTIL)
    if until_text is None:
        return None
    try:
        until = parse_time(until_text)
    except ConfigError as exc:
        return Freeze(f"{exc}; held frozen{suffix}")
    if now < until:
        return Freeze(f"until {until_text.strip()}{suffix}")
    return None
