"""A daemon automation in PR mode, against the stateful fake GitLab."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater import app
from imageupdater.config import load_automations
from imageupdater.daemon import Daemon
from tests.forge.conftest import deployment, make_env
from tests.forge.fakes import REPO, TOKEN


def test_pr_mode_cycles_open_then_keep_one_pr_per_workload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "apps/web.yaml": deployment("web", "1.0.0"),
        "apps/api.yaml": deployment("api", "1.0.0"),
    }
    for env in make_env(tmp_path, monkeypatch, "gitlab", files):
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
    pr: {{forge: gitlab, url: "{env.fake.url}", repo: {REPO}, tokenEnv: FLEET_FORGE_TOKEN,
         labels: [images]}}
  interval: 1h
"""
        )
        daemon = Daemon(load_automations(config), tmp_path / "state")
        try:
            (prod,) = daemon.automations
            assert daemon.cycle(prod) is True
            opened = sorted(pr.head for pr in env.fake.open_prs())
            assert opened == ["imageupdater/prod/deployment-shop-api",
                              "imageupdater/prod/deployment-shop-web"]  # fmt: skip
            assert daemon.cycle(prod) is True  # nothing new: the same two PRs, no third
            assert sorted(pr.head for pr in env.fake.open_prs()) == opened
            assert b"imageupdater_pull_requests_open 2.0" in daemon.metrics.render()
        finally:
            daemon.close()
        state = (tmp_path / "state" / "state.sqlite").read_bytes()
        assert TOKEN.encode() not in state
        assert all(TOKEN not in s.path for s in env.fake.seen)
