"""A GitOps repository in a bare Git remote, an in-process registry and one fake forge."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from imageupdater import app
from imageupdater.engine import make_plan
from imageupdater.forge import Forge, ForgeHttp, RetryPolicy, connect
from imageupdater.prmode import PRSettings, deliver_pr
from imageupdater.report import Report
from imageupdater.workspace import Workspace
from tests.engine.fakeregistry import FakeRegistry
from tests.forge.fakes import FAKES, REPO, TOKEN, FakeForge, serve
from tests.forge.openapi import openapi_dir
from tests.gitenv import clone_pair, git, make_hermetic

NOW = datetime(2026, 11, 23, tzinfo=UTC)
KINDS = ["github", "gitlab", "gitea"]


def deployment(name: str, image: str, extra: str = "") -> str:
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1"
{extra}spec:
  template:
    spec:
      containers:
        - name: {name}
          image: reg.test/acme/{name}:{image}
"""


@dataclass
class Env:
    kind: str
    remote: Path
    work: Path
    fake: FakeForge
    registry: FakeRegistry
    sleeps: list[float] = field(default_factory=list)

    def forge(self, token: str | None = TOKEN) -> tuple[Forge, ForgeHttp]:
        retry = RetryPolicy(attempts=4, backoff=0.01, sleep=self.sleeps.append)
        return connect(self.kind, self.fake.url, REPO, token, retry=retry)

    def run(self, **settings: Any) -> Report:
        """One PR-mode run from a fresh look at the remote, as the CLI does it."""
        git(self.work, "pull", "-q", "--ff-only", "origin", "main")
        forge, http = self.forge()
        with http, self.registry.client() as client:
            plan = make_plan(self.work, client, NOW)
            return deliver_pr(plan, Workspace(self.work), forge, PRSettings(**settings))

    def push_main(self, relpath: str, text: str, message: str = "human change") -> None:
        (self.work / relpath).write_text(text)
        git(self.work, "commit", "-q", "-am", message)
        git(self.work, "push", "-q", "origin", "HEAD:main")


def make_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, files: dict[str, str]
) -> Iterator[Env]:
    if kind != "gitlab":
        openapi_dir()  # skip (or fail under CI) here, not inside the fake's server thread
    make_hermetic(tmp_path, monkeypatch)
    remote, work = clone_pair(tmp_path, files)
    registry = FakeRegistry(
        tags={
            "acme/web": ["1.0.0", "1.1.0"],
            "acme/api": ["1.0.0", "1.0.1"],
            "acme/db": ["1.0.0"],
        }
    )
    with serve(FAKES[kind](remote)) as fake:
        yield Env(kind, remote, work, fake, registry)
        assert fake.violations == [], fake.violations


@pytest.fixture(params=KINDS)
def env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    files = {
        "apps/web.yaml": deployment("web", "1.0.0"),
        "apps/api.yaml": deployment("api", "1.0.0"),
        "apps/db.yaml": deployment("db", "1.0.0"),
    }
    yield from make_env(tmp_path, monkeypatch, request.param, files)


def pr_automation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, env: Env, pr_extra: str = ""
) -> Path:
    """An Automation in PR mode against `env`'s remote and fake forge, the registry
    client pointed at `env`'s registry; `pr_extra` is appended to `update.pr`."""
    client = env.registry.client
    monkeypatch.setattr(app, "registry_client", lambda options, make=client: make())
    monkeypatch.setenv("FLEET_FORGE_TOKEN", TOKEN)
    config = tmp_path / "automation.yaml"
    config.write_text(
        f"""\
apiVersion: imageupdater.io/v1
kind: Automation
metadata: {{name: prod}}
spec:
  git: {{url: "file://{env.remote}", branch: main}}
  update:
    mode: pr
    pr: {{forge: {env.kind}, url: "{env.fake.url}", repo: {REPO},
         tokenEnv: FLEET_FORGE_TOKEN{pr_extra}}}
  interval: 1h
"""
    )
    return config
