"""The progress of a scan: what the engine reports (against the real registry) and the bar
the CLI draws from it on a terminal, and only there (README "Commands", progress bar)."""

from __future__ import annotations

import io
import itertools
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from imageupdater import app, commands
from imageupdater.cli import progress as cli_progress
from imageupdater.cli import render
from imageupdater.devtools import LocalRegistry
from imageupdater.engine import make_plan
from imageupdater.progress import DISCOVER, MANIFESTS, READ, REGISTRY, RENDER, STAGES
from tests.e2e.conftest import Fleet, manifests, run_cli
from tests.gitenv import clone_pair, make_hermetic

Event = tuple[str, int, int | None]
INTERACTIVE = cli_progress.interactive

#: the fleet's YAML files that are read (templates of a Helm chart are not) ...
FILES_READ = 11
#: ... and those that mention imageupdater at all (not Chart.yaml, not apps/plain.yaml)
FILES_SCREENED = 9
#: e2e/web, e2e/api, e2e/worker and the unreachable 127.0.0.1:9/e2e/gone
REPOSITORIES = 4
#: apps/api.yaml, apps/cron.yaml, apps/web.yaml, apps/worker.yaml
FILES_EDITED = 4
#: the same without the fleet's broken cases (the unreachable registry takes seconds)
WORKING = {"read": 9, "repositories": 3}


class Recorder:
    """A `Progress` that keeps every call, with the thread it came from."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.threads: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        with self._lock:
            self.events.append((stage, done, total))
            self.threads.setdefault(stage, set()).add(threading.current_thread().name)

    def of(self, stage: str) -> list[tuple[int, int | None]]:
        return [(done, total) for s, done, total in self.events if s == stage]


def assert_counted(calls: list[tuple[int, int | None]], units: int) -> None:
    """A stage counted in order: it starts with work to do, then each call either adds
    work or finishes exactly one unit, never more done than known, ending complete."""
    counts = [(done, total or 0) for done, total in calls]
    assert all(total is not None for _, total in calls)
    assert counts[0][0] == 0 < counts[0][1]
    for (done, total), (done_next, total_next) in itertools.pairwise(counts):
        added = done_next == done and total_next > total
        finished = done_next == done + 1 and total_next == total
        assert added or finished
        assert done_next <= total_next
    assert counts[-1] == (units, units)


def test_the_engine_reports_every_stage_in_order_against_the_real_registry(
    fleet: Fleet,
) -> None:
    recorder = Recorder()
    options = app.Options()
    with app.registry_client(options) as client:
        plan = make_plan(fleet.work, client, datetime.now(UTC), progress=recorder)

    assert len(plan.changes) == FILES_EDITED
    first = [next(i for i, e in enumerate(recorder.events) if e[0] == s) for s in STAGES]
    assert first == sorted(first)  # read, discover, registry, manifests, render
    assert {e[0] for e in recorder.events} == set(STAGES)

    # files: counted as read (total unknown until the walk ends), then those that mention
    # imageupdater settled one by one
    read = [(i, None) for i in range(1, FILES_READ + 1)] + [(FILES_READ, FILES_READ)]
    assert recorder.of(READ) == read
    assert recorder.of(DISCOVER) == [(i, FILES_SCREENED) for i in range(FILES_SCREENED + 1)]
    # one walk per distinct repository, reported as it is started and as it ends (from
    # the walks' threads; the failing repository counts as walked too)
    registry = recorder.of(REGISTRY)
    assert_counted(registry, REPOSITORIES)
    assert len(registry) == 2 * REPOSITORIES
    assert any(name.startswith("registry-scan") for name in recorder.threads[REGISTRY])
    # one HEAD per (repository, chosen tag), checked concurrently
    manifests = recorder.of(MANIFESTS)
    heads = manifests[-1][0]
    assert heads >= len(plan.report.updates)
    assert_counted(manifests, heads)
    assert recorder.of(RENDER) == [(i, FILES_EDITED) for i in range(FILES_EDITED + 1)]
    # the discover stage and the file walk only ever report from the calling thread
    assert recorder.threads[READ] == recorder.threads[DISCOVER] == {"MainThread"}


@pytest.fixture
def checkout(seeded: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fleet's Git checkout without its broken cases."""
    make_hermetic(tmp_path, monkeypatch)
    _, work = clone_pair(tmp_path, manifests(seeded.host))
    return work


def test_with_or_without_a_callback_the_plan_is_the_same(checkout: Path) -> None:
    recorder = Recorder()
    options = app.Options()
    with app.registry_client(options) as client:
        counted = make_plan(checkout, client, datetime.now(UTC), progress=recorder)
        plain = make_plan(checkout, client, datetime.now(UTC))
    assert recorder.of(REGISTRY)[-1] == (WORKING["repositories"],) * 2
    assert counted.report.to_json() == plain.report.to_json()
    assert [c.after for c in counted.changes] == [c.after for c in plain.changes]


# -- the bar ---------------------------------------------------------------------------------


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    """stderr as a terminal a person watches, captured; the bar without its delay."""
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=120, highlight=False)
    monkeypatch.setattr(render, "stderr", console)
    monkeypatch.setattr(cli_progress, "interactive", lambda console: True)
    monkeypatch.setattr(cli_progress, "DELAY", 0.0)
    monkeypatch.delenv("IMAGEUPDATER_NO_PROGRESS", raising=False)
    return screen


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_cli(argv, capsys)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_plan_on_a_terminal_draws_the_stages_on_stderr_then_erases_them(
    checkout: Path, terminal: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["plan", str(checkout)], capsys)
    drawn = terminal.getvalue()

    assert code == 0
    for label in ("Reading files", "Finding images", "Listing tags", "Checking manifests",
                  "Editing files"):  # fmt: skip
        assert label in drawn
    assert "{0}/{0}".format(WORKING["read"]) in drawn
    assert "{0}/{0}".format(WORKING["repositories"]) in drawn
    assert f"{FILES_EDITED}/{FILES_EDITED}" in drawn
    assert drawn.startswith("\x1b[?25l")  # cursor hidden while drawing ...
    assert drawn.endswith("\x1b[2K")  # ... and the last frame erased (transient)
    assert "\x1b[?25h" in drawn  # cursor back
    assert err == ""
    assert "\x1b" not in out  # the results are untouched by the bar

    terminal.truncate(0)
    terminal.seek(0)
    code_without, out_without, _ = run(["plan", str(checkout), "--no-progress"], capsys)
    assert terminal.getvalue() == ""
    assert (code_without, out_without) == (code, out)


@pytest.mark.parametrize("verb", ["apply", "status"])
def test_apply_and_status_draw_it_too(
    verb: str, checkout: Path, terminal: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    run([verb, str(checkout)], capsys)
    drawn = terminal.getvalue()
    assert "Listing tags" in drawn
    assert "{0}/{0}".format(WORKING["repositories"]) in drawn
    assert drawn.endswith("\x1b[2K")


def test_json_is_byte_identical_and_nothing_is_drawn_even_on_a_terminal(
    checkout: Path,
    terminal: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, drawn_json, err = run(["plan", str(checkout), "--format", "json"], capsys)
    assert terminal.getvalue() == ""
    assert err == ""
    monkeypatch.setattr(cli_progress, "interactive", INTERACTIVE)  # no terminal: as in a pipe
    code_plain, plain_json, plain_err = run(["plan", str(checkout), "--format", "json"], capsys)
    assert (code, drawn_json) == (code_plain, plain_json)
    assert plain_err == ""


def test_the_environment_variable_turns_it_off(
    checkout: Path,
    terminal: io.StringIO,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IMAGEUPDATER_NO_PROGRESS", "1")
    run(["status", str(checkout)], capsys)
    assert terminal.getvalue() == ""


def test_a_pipe_gets_no_bar_and_the_engine_no_callback(
    checkout: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under pytest stderr is not a terminal, as in a pipe or a CI log."""
    handed: list[object] = []
    real_plan = commands.plan

    def plan(root: Path, options: app.Options, progress: object = None, **kw: object) -> object:
        handed.append(progress)
        return real_plan(root, options, progress, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(commands, "plan", plan)
    monkeypatch.setattr(cli_progress, "DELAY", 0.0)
    _, out, err = run(["plan", str(checkout)], capsys)
    assert handed == [None]
    assert err == ""
    assert "\x1b" not in out
