"""`imageupdater apply --mode pr` end to end, the token's secrecy and the 100-PR figure."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest

from imageupdater import app, commands
from tests.e2e.conftest import run_cli
from tests.engine.fakeregistry import FakeRegistry
from tests.forge.conftest import deployment, make_env
from tests.forge.fakes import REPO, TOKEN
from tests.gitenv import git


def test_apply_mode_pr_from_the_cli_never_shows_the_token(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    files = {
        "apps/web.yaml": deployment("web", "1.0.0"),
        "apps/api.yaml": deployment("api", "1.0.0"),
    }
    for env in make_env(tmp_path, monkeypatch, "gitlab", files):
        client = env.registry.client
        monkeypatch.setattr(app, "registry_client", lambda options, make=client: make())
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
        argv = [
            "apply", str(env.work), "--mode", "pr", "--forge", "gitlab", "--forge-url",
            env.fake.url, "--forge-repo", REPO, "--label", "images", "--reviewer", "42",
            "--reviewer", "@alice",
            "--format", "json", "-vv",
        ]  # fmt: skip
        caplog.set_level(logging.DEBUG)
        code = run_cli(argv, capsys)
        out, err = capsys.readouterr()
        document = json.loads(out)
        assert code == 0, document
        assert [r["action"] for r in document["pull_requests"]] == ["opened", "opened"]
        assert document["commit"] is None
        assert document["pushed"] is True
        # usernames are looked up once (GET /users), IDs pass as they are
        assert {tuple(pr.reviewers) for pr in env.fake.open_prs()} == {("42", "7")}
        assert env.fake.count("GET", "/api/v4/users") == 1
        assert {pr.labels[0] for pr in env.fake.open_prs()} == {"images"}

        # a refused token: the error names the failure, never the token
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", "wrong-" + TOKEN)
        env.registry.tags["acme/web"].append("1.2.0")
        code = run_cli(argv, capsys)
        out2, err2 = capsys.readouterr()
        assert code == 1
        assert json.loads(out2)["errors"][0]["kind"] == "auth"

        seen = [out, err, out2, err2, caplog.text]
        seen += [pr.body + pr.title + "".join(pr.comments) for pr in env.fake.prs.values()]
        seen += [s.raw.decode() + s.path + json.dumps(s.query) for s in env.fake.seen]
        assert not [text for text in seen if TOKEN in text]


def test_mode_pr_needs_a_forge(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["apply", str(tmp_path), "--mode", "pr"], capsys) == 64
    assert "--forge" in capsys.readouterr().err


def test_100_workloads_give_100_prs_quickly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {f"apps/w{i:03}.yaml": deployment(f"w{i:03}", "1.0.0") for i in range(100)}
    for env in make_env(tmp_path, monkeypatch, "github", files):
        env.fake.page_size = 100
        env.registry = FakeRegistry(tags={f"acme/w{i:03}": ["1.0.0", "1.1.0"] for i in range(100)})
        started = time.perf_counter()
        report = env.run()
        elapsed = time.perf_counter() - started
        assert not report.errors
        assert len(env.fake.open_prs()) == 100
        assert len(env.fake.branches()) == 101
        assert elapsed < 30, elapsed
        started = time.perf_counter()
        again = env.run()
        assert {r["action"] for r in again.pull_requests} == {"unchanged"}
        assert time.perf_counter() - started < 30


@pytest.mark.parametrize("mode", ["pr", "commit"])
def test_per_workload_update_annotation_overrides_the_mode(
    mode: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {
        "apps/web.yaml": deployment("web", "1.0.0", "    imageupdater.io/update: commit\n"),
        "apps/api.yaml": deployment("api", "1.0.0", "    imageupdater.io/update: pr\n"),
        "apps/db.yaml": deployment("db", "1.0.0"),
    }
    for env in make_env(tmp_path, monkeypatch, "github", files):
        env.registry.tags["acme/db"].append("1.0.2")
        client = env.registry.client
        monkeypatch.setattr(app, "registry_client", lambda options, make=client: make())
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
        pr = commands.PullRequestRequest(forge="github", repo=REPO, url=env.fake.url)
        request = commands.ApplyRequest(mode=mode, pr=pr, push=True)
        report = commands.apply(env.work, app.Options(), request)
        assert not report.errors
        by_pr = {pr.head.rsplit("-", 1)[1] for pr in env.fake.open_prs()}
        on_main = git(env.remote, "show", "main:apps/web.yaml")
        assert "acme/web:1.1.0" in on_main  # `update: commit` went straight to main
        assert "api" in by_pr  # `update: pr` became a PR
        db_on_main = "acme/db:1.0.2" in git(env.remote, "show", "main:apps/db.yaml")
        assert db_on_main == (mode == "commit")
        assert ("db" in by_pr) == (mode == "pr")
        assert {u.workload for u in report.updates} == {
            "Deployment/shop/web",
            "Deployment/shop/api",
            "Deployment/shop/db",
        }
        # the PR branches sit on top of the commit-mode commit
        branch = "imageupdater/deployment-shop-api"
        assert git(env.remote, "rev-parse", f"{branch}~1") == git(env.remote, "rev-parse", "main")


def test_text_output_lists_the_pull_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for env in make_env(tmp_path, monkeypatch, "gitea", {"a.yaml": deployment("web", "1.0.0")}):
        client = env.registry.client
        monkeypatch.setattr(app, "registry_client", lambda options, make=client: make())
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
        argv = ["apply", str(env.work), "--mode", "pr", "--forge", "gitea"]
        argv += ["--forge-url", env.fake.url, "--forge-repo", REPO]
        assert run_cli(argv, capsys) == 0
        out = capsys.readouterr().out
        assert "Pull requests" in out
        assert "opened" in out
        assert "imageupdater/deployment-shop-web" in out


def test_a_closed_change_window_opens_updates_and_closes_no_pr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {"apps/web.yaml": deployment("web", "1.0.0")}
    config = tmp_path / "automation.yaml"
    config.write_text(
        "apiVersion: imageupdater.io/v1\nkind: Automation\nmetadata: {name: prod}\n"
        "spec:\n  schedule: {windows: ['Mon-Fri 09:00-16:00'], timezone: UTC}\n"
    )
    for env in make_env(tmp_path, monkeypatch, "github", files):
        client = env.registry.client
        monkeypatch.setattr(app, "registry_client", lambda options, make=client: make())
        monkeypatch.setenv("IMAGEUPDATER_FORGE_TOKEN", TOKEN)
        argv = [
            "apply", str(env.work), "--mode", "pr", "--forge", "github", "--forge-url",
            env.fake.url, "--forge-repo", REPO, "--config", str(config), "--format", "json",
        ]  # fmt: skip
        # open the PR inside the window (Monday 10:00) ...
        assert run_cli([*argv, "--now", "2026-11-23T10:00:00Z"], capsys) == 0
        capsys.readouterr()
        assert len(env.fake.open_prs()) == 1
        requests = len(env.fake.seen)
        # ... then a newer tag on Saturday: the PR is neither updated nor closed
        env.registry.tags["acme/web"].append("1.2.0")
        assert run_cli([*argv, "--now", "2026-11-28T10:00:00Z"], capsys) == 0
        document = json.loads(capsys.readouterr().out)
        assert document["pull_requests"] == []
        assert document["updates"] == []
        assert [s["reason"] for s in document["skipped"]] == ["frozen"]
        assert len(env.fake.seen) == requests
        assert [pr.title for pr in env.fake.open_prs()] == [
            "Update Deployment/shop/web web to 1.1.0"
        ]
