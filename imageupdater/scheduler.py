"""When cycles run: APScheduler wiring, no overlap, one repository at a time (SPEC §6).

The only module that imports APScheduler. It knows nothing about Git or registries: a
`Job` is a name, a repository key and a callable, so the rules below are tested with
plain functions:

* **one job per automation**, on an interval trigger with jitter (a fleet of daemons, or
  many automations with one interval, do not hit a registry in lockstep);
* **no overlapping runs of one automation**: guarded by our own flag rather than only by
  APScheduler's ``max_instances``, because a webhook trigger arriving during a run must not
  be dropped (APScheduler would skip it with a warning) but run once more right after;
* **one repository serialised, different repositories in parallel**: a lock per repository
  key, since two automations sharing a checkout would otherwise edit one work tree at once;
* **ownership** (`owns(name)`): the hook for leader election and sharding. A replica runs
  only the automations it owns at the moment a run starts; the default owns everything.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor as Pool
from dataclasses import dataclass
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

#: jitter is this fraction of the interval, at most MAX_JITTER seconds
JITTER_FRACTION = 0.1
MAX_JITTER = 30.0


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    repository: str  # runs with the same key never overlap
    interval: float  # seconds
    run: Callable[[], bool]  # one cycle; True when it succeeded


def always(_: str) -> bool:
    return True


class Scheduler:
    def __init__(
        self,
        jobs: Sequence[Job],
        *,
        owns: Callable[[str], bool] = always,
        first_run_within: float = 1.0,
    ) -> None:
        """`first_run_within`: the first cycles start at random times in this many seconds
        (instead of one interval after start, which would keep `/readyz` down that long)."""
        self.jobs = {job.name: job for job in jobs}
        self._owns = owns
        self._first = first_run_within
        self._repo_locks = {job.repository: threading.Lock() for job in jobs}
        self._state_lock = threading.Lock()
        self._running: set[str] = set()
        self._pending: set[str] = set()
        self._stopping = threading.Event()
        workers = max(2, min(16, len(self._repo_locks) + 1))
        self._aps = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(workers)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone="UTC",
        )
        logging.getLogger("apscheduler").setLevel(logging.WARNING)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        now = datetime.now().astimezone()
        for job in self.jobs.values():
            jitter = min(job.interval * JITTER_FRACTION, MAX_JITTER)
            self._aps.add_job(
                self.execute,
                IntervalTrigger(seconds=job.interval, jitter=jitter or None),
                args=[job.name],
                id=job.name,
                next_run_time=now + timedelta(seconds=random.uniform(0, self._first)),  # noqa: S311
            )
        self._aps.start()

    def shutdown(self) -> None:
        """Stop taking work and wait for the cycles under way to end (they are not cut
        short: a push is either finished or never started)."""
        self._stopping.set()
        if self._aps.running:
            self._aps.shutdown(wait=True)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def trigger(self, name: str) -> bool:
        """Run `name` as soon as possible (webhook); a run under way runs once more after."""
        if name not in self.jobs or self.stopping:
            return False
        with self._state_lock:
            if name in self._running:
                self._pending.add(name)
                return True
        if self._aps.running:
            self._aps.add_job(self.execute, "date", args=[name], misfire_grace_time=None)
        return True

    def run_once(self) -> dict[str, bool]:
        """Every owned job once (`run --once`): repositories in parallel, each serially."""
        by_repo: dict[str, list[Job]] = {}
        for job in self.jobs.values():
            by_repo.setdefault(job.repository, []).append(job)
        results: dict[str, bool] = {}

        def repo(jobs: list[Job]) -> None:
            for job in jobs:
                ok = self.execute(job.name)
                if ok is not None:
                    results[job.name] = ok

        with Pool(max_workers=max(1, min(16, len(by_repo)))) as pool:
            for future in [pool.submit(repo, jobs) for jobs in by_repo.values()]:
                future.result()
        return results

    # -- one run --------------------------------------------------------------------------

    def execute(self, name: str) -> bool | None:
        """Run job `name` unless it is running (then: once more afterwards) or not ours.
        None when nothing ran."""
        job = self.jobs[name]
        with self._state_lock:
            if name in self._running:
                self._pending.add(name)
                return None
            self._running.add(name)
        result: bool | None = None
        try:
            while not self.stopping:
                if not self._owns(name):
                    log.debug("automation %s belongs to another replica", name)
                    break
                with self._repo_locks[job.repository]:
                    if self.stopping:
                        break
                    result = self._call(job)
                with self._state_lock:
                    if name not in self._pending:
                        break
                    self._pending.discard(name)
        finally:
            with self._state_lock:
                self._running.discard(name)
        return result

    @staticmethod
    def _call(job: Job) -> bool:
        try:
            return job.run()
        except Exception:  # a bug in one cycle must not kill the job for good
            log.exception("automation %s: cycle failed unexpectedly", job.name)
            return False
