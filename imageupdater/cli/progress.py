"""The progress bar of long scans (`plan`, `apply`, `status` in text format), on stderr.

Drawn only for a person watching: text format, stderr a real terminal that rich would
draw on (not `TERM=dumb`, not `TTY_COMPATIBLE=0`; `FORCE_COLOR` alone does not make a
pipe or a CI log one), and no `--no-progress` / `IMAGEUPDATER_NO_PROGRESS`. It appears
only once a scan has run for `DELAY` seconds, so a small repository never sees it flash,
and it is transient: erased before the results are printed. `NO_COLOR` is rich's: the
bar stays, without colour. Logs written while it is shown go above it.

The engine only calls a plain `imageupdater.progress.Progress`; while nothing is shown
the callback just records the counts, and `rich.progress` is imported when the bar
first appears. The bar adds no thread while files are read (discovery forks a child for
a cold scan only when the process runs a single thread); from the registry stage on,
when the walks' threads run anyway, a ticker redraws it (the pulse of a stage of
unknown size) and shows it on time even while a slow registry is all that
happens.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console

from imageupdater.cli import render
from imageupdater.progress import DISCOVER, MANIFESTS, READ, REGISTRY, RENDER, Progress

if TYPE_CHECKING:
    from rich.progress import Progress as Bar
    from rich.progress import TaskID

#: seconds a scan runs before the bar appears
DELAY = 1.0
#: seconds between redraws
REFRESH = 0.1

LABELS = {
    READ: "Reading files",
    DISCOVER: "Finding images",
    REGISTRY: "Listing tags",
    MANIFESTS: "Checking manifests",
    RENDER: "Editing files",
}
#: stages reported on the main thread while discovery may still fork
FILE_STAGES = frozenset({READ, DISCOVER})


def interactive(console: Console) -> bool:
    """Whether `console` (stderr) is a terminal a person watches and rich draws on."""
    try:
        isatty = console.file.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False
    return bool(isatty) and console.is_terminal and not console.is_dumb_terminal


class ScanProgress:
    """A `Progress` callback drawing a transient rich bar, one row per stage, on `console`."""

    def __init__(
        self,
        console: Console,
        *,
        delay: float = DELAY,
        refresh: float = REFRESH,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console
        self._delay = delay
        self._refresh = refresh
        self._clock = clock
        self._started = clock()
        self._drawn = 0.0
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int | None]] = {}
        self._bar: Bar | None = None
        self._tasks: dict[str, TaskID] = {}
        self._streams: list[tuple[logging.StreamHandler[Any], Any]] = []
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._closed = False

    @property
    def shown(self) -> bool:
        return self._bar is not None

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        start_ticker = False
        with self._lock:
            if self._closed:
                return
            self._counts[stage] = (done, total)
            now = self._clock()
            if self._bar is not None:
                self._update(stage)
                if now - self._drawn >= self._refresh:
                    self._draw(now)
            elif now - self._started >= self._delay:
                self._show(now)
            if self._ticker is None and stage not in FILE_STAGES:
                self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
                start_ticker = True
        if start_ticker:
            assert self._ticker is not None
            self._ticker.start()

    def close(self) -> None:
        """Stop drawing and erase the bar (idempotent)."""
        with self._lock:
            self._closed = True
            ticker = self._ticker
        self._stop.set()
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join()
        with self._lock:
            bar, self._bar = self._bar, None
            if bar is not None:
                try:
                    bar.stop()
                finally:
                    for handler, stream in self._streams:
                        handler.setStream(stream)
                    self._streams.clear()

    def _tick(self) -> None:
        while not self._stop.wait(self._refresh):
            with self._lock:
                if self._closed:
                    return
                now = self._clock()
                if self._bar is not None:
                    self._draw(now)
                elif now - self._started >= self._delay:
                    self._show(now)

    def _show(self, now: float) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as Bar

        bar = Bar(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=self._console,
            transient=True,
            auto_refresh=False,  # no thread of its own: see the module's docstring
            redirect_stdout=False,  # stdout carries the results, maybe into a file
            redirect_stderr=True,
        )
        stderr = sys.stderr
        bar.start()
        self._bar = bar
        if sys.stderr is not stderr:  # writes to stderr now go above the bar: logs too
            for handler in logging.getLogger().handlers:
                if isinstance(handler, logging.StreamHandler) and handler.stream is stderr:
                    self._streams.append((handler, stderr))
                    handler.setStream(sys.stderr)
        for stage in self._counts:
            self._update(stage)
        self._draw(now)

    def _update(self, stage: str) -> None:
        assert self._bar is not None
        done, total = self._counts[stage]
        task = self._tasks.get(stage)
        if task is None:
            label = LABELS.get(stage, stage)
            self._tasks[stage] = self._bar.add_task(label, total=total, completed=done)
        else:
            self._bar.update(task, total=total, completed=done)

    def _draw(self, now: float) -> None:
        assert self._bar is not None
        self._drawn = now
        self._bar.refresh()


@contextmanager
def scan_progress(
    enabled: bool, console: Console | None = None, *, delay: float | None = None
) -> Iterator[Progress | None]:
    """The callback to hand a scan, or None (then the engine counts nothing) when the
    bar is off or stderr is not a terminal; the bar is erased when the block ends."""
    if not enabled:
        yield None
        return
    if console is None:
        console = render.stderr
    if not interactive(console):
        yield None
        return
    bar = ScanProgress(console, delay=DELAY if delay is None else delay)
    try:
        yield bar
    finally:
        bar.close()
