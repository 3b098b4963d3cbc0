"""Scheduler rules, webhook parsing and authentication, the state store, credentials."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.config import Credentials
from imageupdater.daemon import git_environment, parse_listen
from imageupdater.errors import ConfigError
from imageupdater.model import ImageMetadata
from imageupdater.scheduler import Job, Scheduler
from imageupdater.server import WebhookError, authorized, canonical, pushed_images
from imageupdater.state import Outcome, State

# ------------------------------------------------------------------------------ scheduler


def test_one_repository_is_serialised_and_different_ones_run_in_parallel() -> None:
    active: dict[str, int] = {"a": 0, "b": 0}
    peak: dict[str, int] = {"a": 0, "b": 0}
    both = threading.Event()
    lock = threading.Lock()

    def job(repo: str) -> bool:
        with lock:
            active[repo] += 1
            peak[repo] = max(peak[repo], active[repo])
            if active["a"] and active["b"]:
                both.set()
        time.sleep(0.05)
        with lock:
            active[repo] -= 1
        return True

    jobs = [Job(f"{r}{i}", r, 3600, lambda r=r: job(r)) for r in "ab" for i in range(3)]  # type: ignore[misc]
    results = Scheduler(jobs).run_once()
    assert results == {j.name: True for j in jobs}
    assert peak == {"a": 1, "b": 1}
    assert both.is_set()


def test_a_trigger_during_a_run_runs_once_more_afterwards_never_concurrently() -> None:
    calls: list[float] = []
    running = threading.Event()
    release = threading.Event()
    overlap: list[bool] = []
    inside = threading.Lock()

    def run() -> bool:
        if not inside.acquire(blocking=False):
            overlap.append(True)
            return False
        try:
            calls.append(time.monotonic())
            running.set()
            release.wait(5)
        finally:
            inside.release()
        return True

    scheduler = Scheduler([Job("a", "repo", 3600, run)])
    worker = threading.Thread(target=scheduler.execute, args=["a"])
    worker.start()
    running.wait(5)
    assert scheduler.trigger("a")
    assert scheduler.execute("a") is None  # running: queued, not run concurrently
    release.set()
    worker.join(5)
    assert len(calls) == 2
    assert not overlap


def test_owns_decides_per_run_which_automations_this_replica_runs() -> None:
    ran: list[str] = []
    jobs = [Job(n, n, 3600, lambda n=n: ran.append(n) is None) for n in ("mine", "theirs")]  # type: ignore[misc]
    results = Scheduler(jobs, owns=lambda name: name == "mine").run_once()
    assert ran == ["mine"]
    assert results == {"mine": True}


def test_the_scheduler_runs_jobs_on_their_interval_and_stops_cleanly() -> None:
    ran: list[str] = []
    scheduler = Scheduler(
        [Job("a", "r", 0.2, lambda: ran.append("a") is None)], first_run_within=0.05
    )
    scheduler.start()
    time.sleep(0.7)
    scheduler.shutdown()
    count = len(ran)
    assert count >= 2
    time.sleep(0.3)
    assert len(ran) == count  # nothing after shutdown
    assert not scheduler.trigger("a")


def test_a_cycle_that_raises_is_a_failed_cycle_not_a_dead_job() -> None:
    def boom() -> bool:
        raise RuntimeError("bug")

    assert Scheduler([Job("a", "r", 1, boom)]).run_once() == {"a": False}


# ------------------------------------------------------------------------------- webhooks


@pytest.mark.parametrize(
    ("source", "body", "expected"),
    [
        (
            "distribution",
            {"events": [
                {"action": "push", "target": {"repository": "acme/web", "tag": "1.2.0"},
                 "request": {"host": "registry.local:5000"}},
                {"action": "pull", "target": {"repository": "acme/db"},
                 "request": {"host": "registry.local:5000"}},
            ]},
            ["registry.local:5000/acme/web"],
        ),
        ("dockerhub", {"push_data": {"tag": "1.2"}, "repository": {"repo_name": "acme/web"}},
         ["docker.io/acme/web"]),
        ("dockerhub", {"push_data": {"tag": "1"}, "repository": {"repo_name": "nginx"}},
         ["docker.io/library/nginx"]),
        ("harbor", {"type": "PUSH_ARTIFACT", "event_data": {"resources": [
            {"tag": "1.0", "resource_url": "harbor.example.com/proj/web:1.0"}]}},
         ["harbor.example.com/proj/web"]),
        ("github", {"action": "published", "package": {
            "name": "web", "owner": {"login": "Acme"},
            "package_version": {"package_url": "ghcr.io/acme/web:1.3.0"}}},
         ["ghcr.io/acme/web"]),
        ("github", {"package": {"name": "web", "owner": {"login": "Acme"}}},
         ["ghcr.io/acme/web"]),
        ("generic", {"image": "127.0.0.1:5000/x/y:2.0", "tag": "2.0"}, ["127.0.0.1:5000/x/y"]),
        ("generic", {"image": "ghcr.io/acme/web@sha256:" + "a" * 64}, ["ghcr.io/acme/web"]),
    ],
)  # fmt: skip
def test_push_events_of_each_source_name_the_pushed_image(
    source: str, body: object, expected: list[str]
) -> None:
    assert canonical(pushed_images(source, json.dumps(body).encode())) == expected


@pytest.mark.parametrize("body", [b"not json", b"{}", b'{"events": [{"action": "pull"}]}'])
def test_an_event_without_a_pushed_image_is_refused(body: bytes) -> None:
    with pytest.raises(WebhookError):
        pushed_images("distribution", body)


def test_webhooks_need_the_secret_or_a_valid_signature() -> None:
    body = b'{"image": "x"}'
    good = "sha256=" + hmac.new(b"k", body, hashlib.sha256).hexdigest()
    assert authorized("k", {"X-Imageupdater-Secret": "k"}, body)
    assert authorized("k", {"X-Hub-Signature-256": good}, body)
    assert not authorized("k", {"X-Imageupdater-Secret": "K"}, body)
    assert not authorized("k", {"X-Hub-Signature-256": good}, body + b" ")
    assert not authorized("k", {"X-Hub-Signature-256": good.removeprefix("sha256=")}, body)
    assert not authorized("k", {}, body)
    assert not authorized(None, {"X-Imageupdater-Secret": ""}, body)  # no secret: refuse all
    assert not authorized("", {"X-Imageupdater-Secret": ""}, body)


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:8080") == ("127.0.0.1", 8080)
    assert parse_listen(":9090") == ("0.0.0.0", 9090)
    assert parse_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ConfigError):
        parse_listen("8080x")


# ---------------------------------------------------------------------------------- state


def test_tag_lists_expire_after_their_ttl_and_a_push_forgets_them(tmp_path: Path) -> None:
    now = [1000.0]
    state = State(tmp_path, clock=lambda: now[0])
    state.store_tags("r/a", ["1.0", "1.1"])
    assert state.cached_tags("r/a", 60) == ["1.0", "1.1"]
    now[0] += 60
    assert state.cached_tags("r/a", 60) is None
    state.store_tags("r/a", ["1.2"])
    state.forget_tags("r/a")
    assert state.cached_tags("r/a", 60) is None
    state.close()


def test_metadata_outcomes_and_prs_survive_a_restart(tmp_path: Path) -> None:
    state = State(tmp_path)
    meta = ImageMetadata("sha256:" + "b" * 64, datetime(2026, 1, 2, tzinfo=UTC), ("linux/amd64",))
    state.store_metadata(meta)
    state.record_outcome(Outcome("prod", 1.0, True, "abc", 2, (), ("r/a",)))
    state.record_pull_requests("prod", [{"number": 3, "url": "u", "action": "opened",
                                         "branch": "imageupdater/prod/x"}])  # fmt: skip
    state.close()
    again = State(tmp_path)
    assert again.cached_metadata(meta.digest) == meta
    assert again.outcome("prod") == Outcome("prod", 1.0, True, "abc", 2, (), ("r/a",))
    assert again.open_pull_requests() == 1
    again.close()


# ---------------------------------------------------------------------------- credentials


def test_a_token_reaches_git_only_through_askpass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLEET_TOKEN", "tok-123")
    env = git_environment(Credentials(token_env="FLEET_TOKEN"), tmp_path)
    askpass = env["GIT_ASKPASS"]
    assert "tok-123" not in askpass
    assert "tok-123" not in Path(askpass).read_text()
    run = {"PATH": "/usr/bin:/bin", **env}
    said = subprocess.run([askpass, "Password for 'https://x@h': "], env=run,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert said.stdout == "tok-123\n"
    user = subprocess.run([askpass, "Username for 'https://h': "], env=run,
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert user.stdout == "x-access-token\n"


def test_a_missing_token_variable_is_named_not_guessed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="NO_SUCH_TOKEN_VAR is not set"):
        git_environment(Credentials(token_env="NO_SUCH_TOKEN_VAR"), tmp_path)


def test_an_ssh_key_goes_to_git_ssh_command_quoted(tmp_path: Path) -> None:
    env = git_environment(Credentials(ssh_key_file="/keys/my key"), tmp_path)
    assert env == {
        "GIT_SSH_COMMAND": "ssh -i '/keys/my key' -o IdentitiesOnly=yes -o BatchMode=yes"
    }
