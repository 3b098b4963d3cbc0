"""How far a scan has got, told to whoever shows it (the CLI's bar): a plain callback.

A `Progress` is called as ``progress(stage, done, total)``: one of `STAGES`, how many of
that stage's units are done and how many there are so far (``None`` while unknown; the
total of a stage may grow, e.g. when line markers name one more repository). The calls of
one stage arrive in order with ``done <= total``; the registry and manifest stages call
from worker threads, so the callee must be thread-safe and quick. No UI here: the engine,
discovery and the registry scan only count, and only when they are given a callback
(none given, nothing is counted).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Final

Progress = Callable[[str, int, int | None], None]

READ: Final = "read"  # files read from disk (the total is known when the walk ends)
DISCOVER: Final = "discover"  # files settled: parsed, or replayed from the memo
REGISTRY: Final = "registry"  # repositories whose tags were listed
MANIFESTS: Final = "manifests"  # manifest checks (the chosen tags exist)
RENDER: Final = "render"  # files whose edits were spliced and verified (in memory)
STAGES: Final = (READ, DISCOVER, REGISTRY, MANIFESTS, RENDER)


class Tally:
    """One stage's counts, reported in order from any thread."""

    __slots__ = ("_done", "_lock", "_progress", "_stage", "_total")

    def __init__(self, progress: Progress, stage: str) -> None:
        self._progress = progress
        self._stage = stage
        self._lock = threading.Lock()
        self._done = 0
        self._total = 0

    def add(self, count: int = 1) -> None:
        """`count` more units to do."""
        with self._lock:
            self._total += count
            self._progress(self._stage, self._done, self._total)

    def finish(self, count: int = 1) -> None:
        """`count` units done."""
        with self._lock:
            self._done += count
            self._progress(self._stage, self._done, self._total)


def tally(progress: Progress | None, stage: str) -> Tally | None:
    """A `Tally` for `stage`, or None without a callback (the caller then counts nothing)."""
    return None if progress is None else Tally(progress, stage)
