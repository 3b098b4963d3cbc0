"""`imageupdater run`: the controller daemon (SPEC §6) — automations on a schedule.

One cycle of one automation is `commands.apply` on a private checkout:

1. the repository is cloned **once** into ``<state-dir>/repos/<hash of the URL>`` and then
   only fetched; automations on the same URL share the checkout (and so are serialised by
   the scheduler's per-repository lock);
2. the checkout is aligned with the remote branch before every cycle, discarding anything a
   killed cycle left behind (an unpushed commit, a written file, a stale ``index.lock``):
   Git is the truth, so the cycle after a kill -9 plans from the remote again and makes the
   one commit that is still missing, never a second one;
3. `apply` plans, commits and pushes (a rejected push is fetched, re-planned and retried
   by `delivery`), or in PR mode updates branches and PRs;
4. the outcome goes to the state store, the metrics and the log; the images the cycle
   looked at are remembered, so a webhook for one of them wakes this automation;
5. with a cluster connected, a successful cycle is followed by a drift check of the
   automation's scan root (`drift.compare`) into the `imageupdater_drift` gauge; a cluster
   error there is logged and counted as a `kubernetes` error, never a failed cycle.

Kubernetes (SPEC §6): in a pod (service account) or with `--kubeconfig`/`--context` the
daemon connects to the cluster and starts a coordinator — one leader Lease (`--shards 1`,
the default) or N shard Leases (`--shards N`) — whose `owns` the scheduler asks before every
run; `stop()` after the last cycle releases the Leases so a successor takes over at once.
`--shards 0` or no cluster: standalone, every automation is ours. Automations naming
`spec.registries.pullSecrets` read those Secrets every cycle (they rotate) into a private
config.json for the registry client, deleted when the cycle ends. Without a cluster there
are no Kubernetes calls at all.

Credentials never enter the checkout's ``.git/config`` or a message: a token is handed to
git through ``GIT_ASKPASS`` (a fixed script that prints an environment variable) in the git
process's environment only, an SSH key through ``GIT_SSH_COMMAND``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from imageupdater import app, commands, drift, kube
from imageupdater.config import Automation, Credentials, load_automations
from imageupdater.errors import ConfigError, ImageUpdaterError
from imageupdater.metrics import CONTENT_TYPE, Metrics
from imageupdater.report import Report
from imageupdater.scheduler import Job, Scheduler, always
from imageupdater.server import Hooks, Server, canonical
from imageupdater.state import Outcome, State
from imageupdater.workspace import Workspace

log = logging.getLogger(__name__)

#: tag lists are reused for this fraction of the automation's interval. Less than one so
#: the automation's own next cycle (an interval later, minus jitter) always asks the
#: registry again: a new tag is seen within one interval, not two. Other automations on the
#: same image within that time, and a restarted daemon, reuse the walk.
TAG_TTL_FRACTION = 0.5

WEBHOOK_SECRET_ENV = "IMAGEUPDATER_WEBHOOK_SECRET"  # noqa: S105 (a name, not a secret)
_TOKEN_VAR = "IMAGEUPDATER_GIT_TOKEN"  # noqa: S105
_USER_VAR = "IMAGEUPDATER_GIT_USERNAME"

# Prints the token git asks for; the token itself is only in the git process's environment.
_ASKPASS = """#!/bin/sh
case "$1" in
  Username*) printf '%s\\n' "${IMAGEUPDATER_GIT_USERNAME:-x-access-token}" ;;
  *) printf '%s\\n' "$IMAGEUPDATER_GIT_TOKEN" ;;
esac
"""


def git_environment(credentials: Credentials, state_dir: Path) -> dict[str, str]:
    """The extra environment git runs with for these credentials (see module docstring)."""
    if credentials.token_env:
        token = os.environ.get(credentials.token_env)
        if not token:
            raise ConfigError(
                f"spec.git.credentials.tokenEnv: environment variable {credentials.token_env} "
                "is not set"
            )
        askpass = state_dir / "git-askpass.sh"
        if not askpass.exists() or askpass.read_text() != _ASKPASS:
            tmp = askpass.with_suffix(".tmp")
            tmp.write_text(_ASKPASS)
            tmp.chmod(0o700)
            tmp.replace(askpass)
        return {"GIT_ASKPASS": str(askpass), _TOKEN_VAR: token}
    if credentials.ssh_key_file:
        key = shlex.quote(credentials.ssh_key_file)
        return {"GIT_SSH_COMMAND": f"ssh -i {key} -o IdentitiesOnly=yes -o BatchMode=yes"}
    return {}


def checkout_dir(state_dir: Path, url: str) -> Path:
    return state_dir / "repos" / hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass
class Daemon:
    """Runs the cycles and keeps what `/metrics`, `/readyz` and the webhooks need."""

    automations: Sequence[Automation]
    state_dir: Path
    base: app.Options = field(default_factory=app.Options)
    metrics: Metrics = field(default_factory=Metrics)
    owns: Callable[[str], bool] = always
    #: the connected cluster (pull secrets, drift), None without one
    cluster: kube.Cluster | None = None

    def __post_init__(self) -> None:
        for automation in self.automations:
            if automation.git is None:
                raise ConfigError(f"{automation.source}: run needs spec.git (url, branch)")
        self.state = State(self.state_dir)
        self._images: dict[str, frozenset[str]] = {}
        self._images_lock = threading.Lock()
        self._ready = threading.Event()
        self.scheduler = Scheduler(
            [
                Job(a.name, a.git.url if a.git else a.name, a.interval, self._runner(a))
                for a in self.automations
            ],
            owns=self.owns,
        )
        for automation in self.automations:  # what the previous process's last plans saw
            previous = self.state.outcome(automation.name)
            if previous is not None:
                self._images[automation.name] = frozenset(previous.images)

    # -- one cycle ------------------------------------------------------------------------

    def _runner(self, automation: Automation) -> Callable[[], bool]:
        return lambda: self.cycle(automation)

    def cycle(self, automation: Automation) -> bool:
        started = time.monotonic()
        seen: set[str] = set()

        def observe(counts: dict[tuple[str, int], int], images: frozenset[str]) -> None:
            self.metrics.count_requests(counts)
            seen.update(images)

        try:
            report = self._apply(automation, observe)
        except ImageUpdaterError as exc:
            report = commands.error_report(exc)
        self._record(automation, report, seen, time.monotonic() - started)
        if not report.errors and self.cluster is not None:
            self._check_drift(automation, self.cluster)
        return not report.errors

    def _root(self, automation: Automation) -> Path:
        git = automation.git
        assert git is not None
        where = checkout_dir(self.state_dir, git.url)
        root = (where / git.path).resolve()
        if not root.is_relative_to(where.resolve()):
            raise ConfigError(f"{automation.source}: spec.git.path leaves the repository")
        return root

    def _check_drift(self, automation: Automation, cluster: kube.Cluster) -> None:
        """Drift of this automation's scan root into the gauge; never fails the cycle."""
        name = automation.name
        try:
            report = drift.compare(cluster, self._root(automation))
        except Exception as exc:  # the cycle succeeded: a drift failure is only reported
            log.warning("automation %s: drift check failed: %s", name, exc)
            self.metrics.errors.labels(automation=name, kind="kubernetes").inc()
            return
        for error in report.errors:
            log.warning("automation %s: drift check: %s", name, error.message)
            self.metrics.errors.labels(automation=name, kind="kubernetes").inc()
        if report.errors:  # a partial view: keep the last complete figure
            return
        drift.DRIFT.record(name, report)
        self.metrics.drift.labels(automation=name).set(len(report.drift))

    def _apply(
        self,
        automation: Automation,
        observe: Callable[[dict[tuple[str, int], int], frozenset[str]], None],
    ) -> Report:
        git = automation.git
        assert git is not None
        env = git_environment(git.credentials, self.state_dir)
        where = checkout_dir(self.state_dir, git.url)
        if (where / ".git").is_dir():
            workspace = Workspace(where, env=env)
        else:
            workspace = Workspace.clone(git.url, where, git.branch, env=env)
        workspace.align_with_remote(git.branch)
        root = self._root(automation)
        registries = automation.registries
        docker_config = registries.docker_config or self.base.registry_config
        if not registries.pull_secrets:
            return self._apply_in(root, automation, env, docker_config, observe)
        if self.cluster is None:
            raise ConfigError(
                f"{automation.source}: spec.registries.pullSecrets needs a Kubernetes cluster "
                "(run in a pod, or give --kubeconfig/--context)"
            )
        secrets = kube.read_pull_secrets(self.cluster, registries.pull_secrets)
        with kube.docker_config_file(secrets, base=docker_config) as path:
            return self._apply_in(root, automation, env, str(path), observe)

    def _apply_in(
        self,
        root: Path,
        automation: Automation,
        env: dict[str, str],
        docker_config: str | None,
        observe: Callable[[dict[tuple[str, int], int], frozenset[str]], None],
    ) -> Report:
        git = automation.git
        assert git is not None
        registries = automation.registries
        options = app.Options(
            registry_config=docker_config,
            insecure_registries=(*self.base.insecure_registries, *registries.insecure),
            now=self.base.now,
            workers=self.base.workers,
            state=self.state,
            tag_ttl=automation.interval * TAG_TTL_FRACTION,
            rate_limits=registries.rate_limit,
            observer=observe,
            max_attempts=self.base.max_attempts,
            backoff=self.base.backoff,
        )
        update = automation.update
        pr = commands.pr_of(automation)
        request = commands.ApplyRequest(
            commit=True,
            push=True,
            branch=automation.push_branch if update.mode == "commit" else git.branch,
            template=git.commit_template,
            mode=update.mode,
            pr=pr,
            automation=automation,
            author=git.author,
            git_env=env,
        )
        return commands.apply(root, options, request)

    def _record(
        self, automation: Automation, report: Report, seen: set[str], seconds: float
    ) -> None:
        name = automation.name
        m = self.metrics
        m.cycle_duration.labels(automation=name).observe(seconds)
        delivered = len(report.updates) if (report.pushed or report.pull_requests) else 0
        m.updates.labels(automation=name).inc(delivered)
        m.pending.labels(automation=name).set(len(report.updates) - delivered)
        for error in report.errors:
            m.errors.labels(automation=name, kind=error.kind).inc()
        images = seen | {_canonical(u.image) for u in report.updates if u.image}
        images |= {_canonical(s.image) for s in report.skipped if s.image}
        images.discard("")
        ok = not report.errors
        m.cycles.labels(automation=name, result="ok" if ok else "error").inc()
        if ok:
            m.last_success.labels(automation=name).set(time.time())
            self._ready.set()
        if report.pull_requests:
            self.state.record_pull_requests(name, report.pull_requests)
            m.prs_open.set(self.state.open_pull_requests())
        with self._images_lock:
            if images:
                self._images[name] = frozenset(images)
            known = self._images.get(name, frozenset())
        self.state.record_outcome(
            Outcome(name, time.time(), ok, report.commit, len(report.updates),
                    tuple(e.message for e in report.errors), tuple(sorted(known)))
        )  # fmt: skip
        level = logging.INFO if ok else logging.WARNING
        log.log(
            level,
            "automation %s: %d update(s), commit %s, pushed %s, %d error(s) in %.2fs%s",
            name,
            len(report.updates),
            (report.commit or "-")[:12],
            report.pushed,
            len(report.errors),
            seconds,
            "".join(f"\n  {e.kind}: {e.message}" for e in report.errors),
        )

    # -- webhooks, health -----------------------------------------------------------------

    def pushed(self, images: Sequence[str]) -> list[str]:
        """A push of `images`: forget their tag lists, wake the automations that use them."""
        for image in images:
            self.state.forget_tags(image)
        with self._images_lock:
            woken = sorted(
                name for name, used in self._images.items() if any(i in used for i in images)
            )
        for name in woken:
            self.scheduler.trigger(name)
        return woken

    def hooks(self, secret: str | None) -> Hooks:
        return Hooks(
            metrics=self.metrics.render,
            metrics_type=CONTENT_TYPE,
            ready=self._ready.is_set,
            healthy=lambda: not self.scheduler.stopping,
            pushed=self.pushed,
            secret=secret,
        )

    def close(self) -> None:
        self.state.close()


def _canonical(image: str) -> str:
    found = canonical([image])
    return found[0] if found else ""


def parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--listen must be HOST:PORT, not {listen!r}")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 (the operator chose it)


def connect(kubeconfig: str | None, context: str | None) -> kube.Cluster | None:
    """The cluster `run` works with: `--kubeconfig`/`--context` when given, else the pod's
    service account when there is one, else None (and no Kubernetes call is ever made)."""
    if kubeconfig or context:
        return kube.Cluster.connect(kubeconfig=kubeconfig, context=context)
    if kube.in_cluster():
        return kube.Cluster.connect()
    return None


def coordinator(
    cluster: kube.Cluster | None, shards: int, timing: kube.Timing | None = None
) -> kube.Coordinator:
    """`--shards`: 1 one leader Lease, N > 1 N shard Leases, 0 (or no cluster) standalone."""
    if shards < 0:
        raise ConfigError(f"--shards must be 0 or more, not {shards}")
    if cluster is None or shards == 0:
        return kube.Standalone()
    return kube.coordinator(cluster, shards=0 if shards == 1 else shards, timing=timing)


def run(
    config: Path,
    state_dir: Path,
    options: app.Options,
    *,
    listen: str | None,
    once: bool,
    owns: Callable[[str], bool] | None = None,
    ready: Callable[[int], None] | None = None,
    kubeconfig: str | None = None,
    context: str | None = None,
    shards: int = 1,
    timing: kube.Timing | None = None,
) -> int:
    """Run the daemon until SIGTERM/SIGINT (exit 0), or one cycle of everything (`--once`:
    0 when every automation succeeded, 1 otherwise). `ready(port)`: called once listening.
    `owns` (tests) replaces the coordinator chosen by the cluster and `shards`."""
    automations = load_automations(config)
    if not automations:
        raise ConfigError(f"{config}: no kind: Automation document found")
    if shards < 0:
        raise ConfigError(f"--shards must be 0 or more, not {shards}")
    cluster = connect(kubeconfig, context)
    coordination = coordinator(cluster, shards, timing) if owns is None else kube.Standalone()
    try:
        daemon = Daemon(
            automations, state_dir, options, owns=owns or coordination.owns, cluster=cluster
        )
        try:
            coordination.start()  # first election round before the first cycle
            if once:
                results = daemon.scheduler.run_once()
                return 0 if all(results.values()) else 1
            return _serve(daemon, listen, ready)
        finally:
            coordination.stop()  # after the last cycle: hand the Leases over at once
            daemon.close()
    finally:
        if cluster is not None:
            cluster.close()


def _serve(daemon: Daemon, listen: str | None, ready: Callable[[int], None] | None) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("signal %d: finishing the cycles under way, then exiting", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    server = None
    try:
        if listen is not None:
            host, port = parse_listen(listen)
            server = Server(host, port, daemon.hooks(os.environ.get(WEBHOOK_SECRET_ENV) or None))
            server.start()
            log.info("listening on %s:%d", host, server.port)
            if ready is not None:
                ready(server.port)
        daemon.scheduler.start()
        while not stop.wait(1.0):
            pass
        daemon.scheduler.shutdown()
        return 0
    finally:
        if server is not None:
            server.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
