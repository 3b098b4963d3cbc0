"""Faults a daemon meets: registry outages, concurrent pushes, kill -9 mid-cycle."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from imageupdater import app
from imageupdater.config import load_automations
from imageupdater.daemon import Daemon, checkout_dir
from imageupdater.devtools import LocalRegistry, Pusher
from imageupdater.workspace import Workspace
from tests.daemon.faultproxy import FaultProxy
from tests.daemon.harness import MANIFEST, DaemonProcess, automation, wait_for
from tests.gitenv import clone_pair, git, make_hermetic

pytestmark = pytest.mark.registry

FAST = app.Options(max_attempts=2, backoff=0.01)


@pytest.fixture
def proxy(registry: LocalRegistry) -> Iterator[FaultProxy]:
    running = FaultProxy(registry.url)
    yield running
    running.close()


def _daemon(tmp_path: Path, remote: Path, interval: str = "1h") -> Daemon:
    config = tmp_path / "automation.yaml"
    config.write_text(automation("prod", remote, interval))
    return Daemon(load_automations(config), tmp_path / "state", FAST)


def _count(remote: Path) -> int:
    return int(git(remote, "rev-list", "--count", "main"))


@pytest.mark.parametrize("mode", ["500", "429", "garbage", "down"])
def test_a_registry_outage_makes_no_commit_and_the_next_cycle_recovers(
    tmp_path: Path,
    pusher: Pusher,
    proxy: FaultProxy,
    monkeypatch: pytest.MonkeyPatch,
    mode: str,
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    repo = f"faults/{mode}"
    pusher.push_image(repo, "1.0.0")
    pusher.push_image(repo, "1.1.0")
    image = f"{proxy.host}/{repo}"
    remote, _ = clone_pair(
        tmp_path, {"apps/web.yaml": MANIFEST.format(name="web", image=image, tag="1.0.0")}
    )
    daemon = _daemon(tmp_path, remote)
    try:
        (prod,) = daemon.automations
        proxy.mode = mode
        assert daemon.cycle(prod) is False
        assert _count(remote) == 1  # no commit, and certainly no "downgrade"
        assert daemon.hooks(None).healthy()
        assert not daemon.hooks(None).ready()  # not ready before a successful cycle
        assert b'imageupdater_errors_total{automation="prod",kind="registry"} 1.0' in (
            daemon.metrics.render()
        )
        proxy.mode = None
        assert daemon.cycle(prod) is True
        assert _count(remote) == 2
        assert f"{image}:1.1.0" in git(remote, "show", "main:apps/web.yaml")
        assert daemon.hooks(None).ready()
    finally:
        daemon.close()


def test_a_push_rejected_by_a_concurrent_commit_is_retried_on_the_new_head(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    pusher.push_image("faults/race", "1.0.0")
    pusher.push_image("faults/race", "1.3.0")
    image = f"{registry.host}/faults/race"
    remote, human = clone_pair(
        tmp_path, {"apps/web.yaml": MANIFEST.format(name="web", image=image, tag="1.0.0")}
    )
    real_push = Workspace.push
    raced: list[str] = []

    def push_after_a_human(self: Workspace, branch: str | None = None, remote: str = "origin"):
        if not raced:  # someone pushes between our fetch and our push
            (human / "README.md").write_text("docs\n")
            git(human, "add", "README.md")
            git(human, "commit", "-q", "-m", "human change")
            git(human, "push", "-q", "origin", "main")
            raced.append(git(human, "rev-parse", "HEAD"))
        real_push(self, branch, remote)

    monkeypatch.setattr(Workspace, "push", push_after_a_human)
    daemon = _daemon(tmp_path, remote)
    try:
        assert daemon.cycle(daemon.automations[0]) is True
    finally:
        daemon.close()
    history = git(remote, "log", "--format=%s", "main").splitlines()
    assert len(history) == 3
    assert history[1:] == ["human change", "initial manifests"]
    assert git(remote, "rev-parse", "main^") == raced[0]  # on top of theirs, not forced
    assert f"{image}:1.3.0" in git(remote, "show", "main:apps/web.yaml")
    assert git(remote, "show", "main:README.md") == "docs"


def test_kill_9_mid_push_then_restart_converges_without_a_duplicate_commit(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    pusher.push_image("faults/kill", "1.0.0")
    pusher.push_image("faults/kill", "1.4.0")
    image = f"{registry.host}/faults/kill"
    remote, _ = clone_pair(
        tmp_path, {"apps/web.yaml": MANIFEST.format(name="web", image=image, tag="1.0.0")}
    )
    # the remote holds the push (and then refuses it) while `blocked` exists
    entered, blocked = tmp_path / "entered", tmp_path / "blocked"
    blocked.touch()
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(
        f"#!/bin/sh\nif [ -e {blocked} ]; then touch {entered}; sleep 2; exit 1; fi\nexit 0\n"
    )
    hook.chmod(0o755)
    config = tmp_path / "automation.yaml"
    config.write_text(automation("prod", remote, "1s"))
    state = tmp_path / "state"
    first = DaemonProcess(config, state)
    try:
        wait_for(entered.exists, 20, "the push to start")
        first.kill()  # kill -9 while the push is under way: the local commit is unpushed
    finally:
        first.kill()
    checkout = checkout_dir(state, f"file://{remote}")
    assert _count(remote) == 1
    assert int(git(checkout, "rev-list", "--count", "HEAD")) == 2  # the stranded commit
    blocked.unlink()
    second = DaemonProcess(config, state)
    try:
        wait_for(lambda: _count(remote) == 2, 15, "the commit after restart")
        time.sleep(2.5)  # more cycles: still exactly one update commit
        assert _count(remote) == 2
        assert second.stop() == 0
    finally:
        second.kill()
    assert f"{image}:1.4.0" in git(remote, "show", "main:apps/web.yaml")
    assert git(checkout, "status", "--porcelain") == ""
    assert not os.path.exists(checkout / ".git" / "index.lock")


def test_sigterm_during_a_push_lets_it_finish_then_exits_0(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    pusher.push_image("faults/term", "1.0.0")
    pusher.push_image("faults/term", "1.6.0")
    image = f"{registry.host}/faults/term"
    remote, _ = clone_pair(
        tmp_path, {"apps/web.yaml": MANIFEST.format(name="web", image=image, tag="1.0.0")}
    )
    entered = tmp_path / "entered"
    hook = remote / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\ntouch {entered}\nsleep 1\nexit 0\n")  # a slow remote
    hook.chmod(0o755)
    config = tmp_path / "automation.yaml"
    config.write_text(automation("prod", remote, "1h"))
    daemon = DaemonProcess(config, tmp_path / "state")
    try:
        wait_for(entered.exists, 20, "the push to start")
        assert _count(remote) == 1
        assert daemon.stop() == 0  # SIGTERM mid-push: the push completes first
    finally:
        daemon.kill()
    assert _count(remote) == 2
    assert f"{image}:1.6.0" in git(remote, "show", "main:apps/web.yaml")
