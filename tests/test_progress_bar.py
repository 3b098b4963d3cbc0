"""The progress callback's counting (`imageupdater.progress`) and the CLI's bar drawing it:
when it appears, where it draws, which threads it adds (README "Commands")."""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from rich.console import Console

from imageupdater.cli.progress import ScanProgress, interactive, scan_progress
from imageupdater.progress import DISCOVER, MANIFESTS, READ, REGISTRY, Tally, tally


def terminal(**kwargs: object) -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100, **kwargs)  # type: ignore[arg-type]
    return console, screen


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_tally_reports_every_unit_in_order_from_many_threads() -> None:
    calls: list[tuple[str, int, int | None]] = []
    counted = Tally(lambda *call: calls.append(call), REGISTRY)
    counted.add(400)

    def work() -> None:
        for _ in range(50):
            counted.finish()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [(REGISTRY, done, 400) for done in range(401)]


def test_without_a_callback_there_is_no_tally() -> None:
    assert tally(None, READ) is None


def test_nothing_is_drawn_before_the_delay_then_every_stage_so_far() -> None:
    console, screen = terminal()
    clock = Clock()
    bar = ScanProgress(console, delay=1.0, clock=clock)
    for done in range(1, 6):
        bar(READ, done, None)
    bar(READ, 5, 5)
    clock.now += 0.5
    bar(DISCOVER, 2, 5)
    assert not bar.shown
    assert screen.getvalue() == ""

    clock.now += 0.6
    bar(DISCOVER, 3, 5)
    assert bar.shown
    drawn = screen.getvalue()
    assert "Reading files   " in drawn
    assert "5/5" in drawn
    assert "Finding images  " in drawn
    assert "3/5" in drawn
    bar.close()
    assert screen.getvalue().endswith("\x1b[2K")  # erased: nothing stays on the screen
    bar(DISCOVER, 4, 5)  # late calls after close are ignored
    assert not bar.shown


def test_a_quick_scan_never_draws() -> None:
    console, screen = terminal()
    bar = ScanProgress(console, delay=60)
    for stage in (READ, DISCOVER, REGISTRY, MANIFESTS):
        bar(stage, 1, 1)
    bar.close()
    assert screen.getvalue() == ""


def test_redraws_are_throttled() -> None:
    console, screen = terminal()
    clock = Clock()
    bar = ScanProgress(console, delay=0, refresh=0.1, clock=clock)
    bar(READ, 1, None)
    frames = screen.getvalue().count("Reading files")
    for done in range(2, 500):
        bar(READ, done, None)
    assert screen.getvalue().count("Reading files") == frames  # same instant: no redraw
    clock.now += 0.2
    bar(READ, 500, 500)
    assert screen.getvalue().count("Reading files") == frames + 1
    assert "500/500" in screen.getvalue()
    bar.close()


def test_file_stages_add_no_thread_the_registry_stage_adds_a_ticker() -> None:
    """Discovery forks a child for cold scans only while the process runs one thread."""
    console, _ = terminal()
    before = {t.name for t in threading.enumerate()}
    bar = ScanProgress(console, delay=0)
    bar(READ, 1, None)
    bar(DISCOVER, 1, 1)
    assert bar.shown
    assert {t.name for t in threading.enumerate()} == before
    bar(REGISTRY, 0, 1)
    assert "progress" in {t.name for t in threading.enumerate()} - before
    bar.close()
    assert {t.name for t in threading.enumerate()} == before


def test_the_ticker_shows_the_bar_while_a_slow_registry_is_all_that_happens() -> None:
    console, screen = terminal()
    bar = ScanProgress(console, delay=0.05, refresh=0.01)
    bar(REGISTRY, 0, 1)  # one walk started; it will not end during this test
    assert not bar.shown
    deadline = time.monotonic() + 5
    while not bar.shown and time.monotonic() < deadline:
        time.sleep(0.01)
    assert bar.shown
    bar.close()
    assert "Listing tags" in screen.getvalue()
    assert "0/1" in screen.getvalue()


@pytest.fixture
def stderr_handler() -> Iterator[logging.StreamHandler[object]]:
    handler: logging.StreamHandler[object] = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def test_logs_written_while_it_is_shown_go_above_it(
    stderr_handler: logging.StreamHandler[object],
) -> None:
    console, screen = terminal()
    stream = stderr_handler.stream
    bar = ScanProgress(console, delay=0)
    bar(READ, 1, None)
    assert stderr_handler.stream is not stream  # through the console, above the bar
    logging.getLogger("imageupdater.test").warning("registry slow")
    bar.close()
    assert stderr_handler.stream is stream
    assert "registry slow" in screen.getvalue()


def test_no_color_keeps_the_bar_without_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    console, screen = terminal()
    bar = ScanProgress(console, delay=0)
    bar(READ, 3, 3)
    bar.close()
    assert "3/3" in screen.getvalue()
    assert "\x1b[32m" not in screen.getvalue()


# -- where it is drawn -------------------------------------------------------------------------


@pytest.fixture
def tty() -> Iterator[io.TextIOWrapper]:
    main, secondary = os.openpty()
    with os.fdopen(secondary, "w") as stream:
        try:
            yield stream
        finally:
            os.close(main)


def test_only_a_real_terminal_gets_the_bar(
    tty: io.TextIOWrapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("TERM", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(var, raising=False)
    assert interactive(Console(file=tty))
    assert not interactive(Console(file=io.StringIO()))  # a pipe, a file, a CI log
    monkeypatch.setenv("FORCE_COLOR", "1")  # colour for CI logs does not make them terminals
    assert Console(file=io.StringIO()).is_terminal
    assert not interactive(Console(file=io.StringIO()))
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("TERM", "dumb")
    assert not interactive(Console(file=tty))
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("TTY_COMPATIBLE", "0")
    assert not interactive(Console(file=tty))


def test_off_or_not_a_terminal_hands_the_engine_no_callback() -> None:
    console, _ = terminal()
    with scan_progress(False, console, delay=0) as progress:
        assert progress is None
    with scan_progress(True, Console(file=io.StringIO()), delay=0) as progress:
        assert progress is None
