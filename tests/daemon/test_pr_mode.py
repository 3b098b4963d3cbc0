"""A daemon automation in PR mode, against the stateful fake GitLab."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.config import load_automations
from imageupdater.daemon import Daemon
from tests.forge.conftest import deployment, make_env, pr_automation
from tests.forge.fakes import TOKEN


def test_pr_mode_cycles_open_then_keep_one_pr_per_workload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "apps/web.yaml": deployment("web", "1.0.0"),
        "apps/api.yaml": deployment("api", "1.0.0"),
    }
    for env in make_env(tmp_path, monkeypatch, "gitlab", files):
        config = pr_automation(tmp_path, monkeypatch, env, ", labels: [images]")
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


def test_pr_mode_cycles_deliver_line_markers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    policies = (
        "apiVersion: imageupdater.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: api, namespace: shop}\n"
        "spec: {image: reg.test/acme/api, policy: {semver: {range: '^1'}}}\n"
    )
    values = 'image:\n  tag: "1.0.0" # {"$imagepolicy": "shop:api:tag"}\n'
    files = {"policies.yaml": policies, "charts/api/values.yaml": values}
    for env in make_env(tmp_path, monkeypatch, "gitlab", files):
        config = pr_automation(tmp_path, monkeypatch, env)
        daemon = Daemon(load_automations(config), tmp_path / "state")
        try:
            (prod,) = daemon.automations
            assert daemon.cycle(prod) is True
            branch = "imageupdater/prod/charts-api-values.yaml"
            assert [pr.head for pr in env.fake.open_prs()] == [branch]
            assert env.fake.open_prs()[0].title.endswith("reg.test/acme/api to 1.0.1")
            env.registry.tags["acme/api"].append("1.0.2")
            assert daemon.cycle(prod) is True  # the same PR, updated in place
            (pr,) = env.fake.open_prs()
            assert (pr.head, pr.title.rsplit(" ", 1)[-1]) == (branch, "1.0.2")
        finally:
            daemon.close()
