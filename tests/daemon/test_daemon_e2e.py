"""The daemon end to end: real registry, bare Git remote, `imageupdater run` as a process.

Latencies are printed (run with `-s` to see them) and checked against generous bounds:
a push lands within a few seconds of a webhook, and within one interval without one.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from imageupdater.devtools import LocalRegistry, Pusher
from tests.daemon.harness import MANIFEST, SECRET, DaemonProcess, automation, wait_for
from tests.gitenv import clone_pair, git, make_hermetic

pytestmark = pytest.mark.registry


def _setup(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, repo: str, interval: str
) -> tuple[Path, Path, str]:
    pusher.push_image(repo, "1.0.0")
    image = f"{registry.host}/{repo}"
    remote, _ = clone_pair(
        tmp_path, {"apps/web.yaml": MANIFEST.format(name="web", image=image, tag="1.0.0")}
    )
    config = tmp_path / "automation.yaml"
    config.write_text(automation("prod", remote, interval))
    return remote, config, image


def _head(remote: Path) -> str:
    return git(remote, "rev-parse", "main")


def _file_at_head(remote: Path) -> str:
    return git(remote, "show", "main:apps/web.yaml")


def test_a_pushed_tag_lands_within_one_interval(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    remote, config, image = _setup(tmp_path, registry, pusher, "daemon/interval", "2s")
    start_head = _head(remote)
    daemon = DaemonProcess(config, tmp_path / "state")
    try:
        wait_for(daemon.ready, 20, "/readyz")
        assert _head(remote) == start_head  # 1.0.0 is the newest: nothing to do
        pusher.push_image("daemon/interval", "1.1.0")
        pushed = time.monotonic()
        wait_for(lambda: _head(remote) != start_head, 10, "the commit")
        latency = time.monotonic() - pushed
        print(f"\nlatency without webhook (interval 2s): {latency:.2f}s")
        assert latency < 2 * 2 + 2  # one interval plus jitter plus the cycle itself
        text = _file_at_head(remote)
        assert f"image: {image}:1.1.0   # keep this comment" in text
        message = git(remote, "log", "-1", "--format=%an <%ae>%n%B", "main")
        assert message.startswith("bot <bot@example.com>")
        assert "Image-Update: Deployment/shop/web web 1.0.0 -> 1.1.0" in message
        time.sleep(2.5)  # more cycles: no second commit
        assert git(remote, "rev-list", "--count", "main") == "2"
        status, body = daemon.get("/metrics")
        assert status == 200
        assert b'imageupdater_updates_total{automation="prod"} 1.0' in body
        assert b"imageupdater_registry_requests_total{host=" in body
        assert b"imageupdater_last_success_timestamp_seconds" in body
        assert daemon.get("/healthz")[0] == 200
        assert daemon.stop() == 0
    finally:
        daemon.kill()
    assert "s3cret" not in daemon.log()


def test_a_webhook_lands_the_commit_within_seconds(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    remote, config, image = _setup(tmp_path, registry, pusher, "daemon/hook", "1h")
    start_head = _head(remote)
    daemon = DaemonProcess(config, tmp_path / "state")
    try:
        wait_for(daemon.ready, 20, "/readyz")
        pusher.push_image("daemon/hook", "1.2.0")
        event = {"image": f"{image}:1.2.0", "tag": "1.2.0"}
        assert daemon.post("/webhooks/generic", event) == 401
        assert daemon.post("/webhooks/generic", event, {"X-Imageupdater-Secret": "no"}) == 401
        sent = time.monotonic()
        assert daemon.post("/webhooks/generic", event, {"X-Imageupdater-Secret": SECRET}) == 202
        wait_for(lambda: _head(remote) != start_head, 10, "the commit")
        latency = time.monotonic() - sent
        print(f"\nlatency after webhook (interval 1h): {latency:.2f}s")
        assert latency < 5
        assert f"{image}:1.2.0" in _file_at_head(remote)
        assert daemon.stop(signal.SIGINT) == 0
    finally:
        daemon.kill()
