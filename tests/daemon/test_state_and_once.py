"""The state is a cache (same plan without it); `run --once` exit codes; typed config."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageupdater import app, commands, daemon
from imageupdater.config import load_automations
from imageupdater.devtools import LocalRegistry, Pusher
from imageupdater.errors import ConfigError
from imageupdater.state import State
from tests.daemon.harness import MANIFEST, automation
from tests.gitenv import clone_pair, git, make_hermetic

pytestmark = pytest.mark.registry

BUILD = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: nightly
  annotations:
    imageupdater.io/policy: "glob:main-*"
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:main-1
"""


def test_deleting_the_state_never_changes_the_plan(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher
) -> None:
    image = f"{registry.host}/state/app"
    pusher.push_image("state/app", "1.0.0")
    pusher.push_image("state/app", "1.5.0")
    pusher.push_image("state/app", "main-1", created="2026-01-01T00:00:00Z")
    pusher.push_image("state/app", "main-2", created="2026-02-01T00:00:00Z")
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / "apps/web.yaml").write_text(MANIFEST.format(name="web", image=image, tag="1.0.0"))
    (root / "apps/nightly.yaml").write_text(BUILD.format(image=image))

    def plan(options: app.Options) -> str:
        return json.dumps(commands.plan(root, options).report.to_json(), sort_keys=True)

    without = plan(app.Options())
    state = State(tmp_path / "state")
    cached = app.Options(state=state, tag_ttl=3600)
    first, second = plan(cached), plan(cached)  # fills the cache, then reads from it
    assert state.cached_tags(f"{registry.host}/state/app", 3600) is not None
    state.close()
    assert '"to": "1.5.0"' in without
    assert '"to": "main-2"' in without
    assert first == second == without


def test_run_once_exits_0_after_delivering_and_1_on_an_error(
    tmp_path: Path, registry: LocalRegistry, pusher: Pusher, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_hermetic(tmp_path, monkeypatch)
    monkeypatch.setenv("FLEET_TOKEN", "tok-secret-42")
    pusher.push_image("once/web", "1.0.0")
    pusher.push_image("once/web", "1.1.0")
    image = f"{registry.host}/once/web"
    remote, _ = clone_pair(
        tmp_path, {"apps/web.yaml": MANIFEST.format(name="web", image=image, tag="1.0.0")}
    )
    config = tmp_path / "a.yaml"
    creds = "    credentials: {tokenEnv: FLEET_TOKEN}\n"
    text = automation("prod", remote, "5m").replace("  interval:", creds + "  interval:")
    config.write_text(text)
    state = tmp_path / "state"
    assert daemon.run(config, state, app.Options(), listen=None, once=True) == 0
    assert git(remote, "rev-list", "--count", "main") == "2"
    checkout = daemon.checkout_dir(state, f"file://{remote}")
    assert "tok-secret-42" not in (checkout / ".git" / "config").read_text()
    assert daemon.run(config, state, app.Options(), listen=None, once=True) == 0  # nothing to do
    assert git(remote, "rev-list", "--count", "main") == "2"
    broken = tmp_path / "b.yaml"
    broken.write_text(automation("prod", tmp_path / "missing.git", "5m"))
    assert daemon.run(broken, tmp_path / "s2", app.Options(), listen=None, once=True) == 1


def test_run_needs_a_git_section(tmp_path: Path) -> None:
    config = tmp_path / "a.yaml"
    config.write_text("apiVersion: imageupdater.io/v1\nkind: Automation\nmetadata: {name: x}\n")
    with pytest.raises(ConfigError, match=r"a.yaml:2: run needs spec.git"):
        daemon.run(config, tmp_path / "s", app.Options(), listen=None, once=True)


FULL = """\
apiVersion: imageupdater.io/v1
kind: Automation
metadata: {name: prod}
spec:
  git:
    url: https://github.com/acme/fleet.git
    branch: release
    path: clusters/prod
    author: {name: bot, email: bot@example.com}
    commitTemplate: "bump"
    credentials: {sshKeyFile: /etc/key}
  update:
    mode: pr
    pushBranch: main
    pr: {forge: github, url: https://api.github.com, repo: acme/fleet, tokenEnv: GH,
         labels: [images], reviewers: [al], grouping: image}
  interval: 1h30m
  registries: {dockerConfig: /etc/c.json, insecure: ["r.local:5000"], rateLimit: {docker.io: 10}}
"""


def test_the_daemon_fields_are_typed(tmp_path: Path) -> None:
    config = tmp_path / "a.yaml"
    config.write_text(FULL)
    (a,) = load_automations(config)
    assert a.git is not None
    assert (a.git.url, a.git.branch, a.git.path) == (
        "https://github.com/acme/fleet.git", "release", "clusters/prod",
    )  # fmt: skip
    assert a.git.author == ("bot", "bot@example.com")
    assert a.git.commit_template == "bump"
    assert a.git.credentials.ssh_key_file == "/etc/key"
    assert a.git.credentials.token_env is None
    assert a.update.mode == "pr"
    assert a.push_branch == "main"
    assert a.update.pr is not None
    assert a.update.pr.grouping == "image"
    assert a.update.pr.labels == ("images",)
    assert a.update.pr.token_env == "GH"
    assert a.interval == 5400.0
    assert a.registries.insecure == ("r.local:5000",)
    assert a.registries.rate_limit == {"docker.io": 10.0}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("mode: pr", "mode: push"), ":13: spec.update.mode must be commit or pr"),
        (("grouping: image", "grouping: repo"), ":16: spec.update.pr.grouping"),
        (("credentials: {sshKeyFile: /etc/key}",
          "credentials: {sshKeyFile: /etc/key, tokenEnv: T}"), ":11: spec.git.credentials"),
        (("interval: 1h30m", "interval: 0s"), ":17: spec.interval must be a duration"),
    ],
)  # fmt: skip
def test_daemon_field_errors_name_file_and_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    config = tmp_path / "a.yaml"
    config.write_text(FULL.replace(*change))
    with pytest.raises(ConfigError, match=message):
        load_automations(config)
