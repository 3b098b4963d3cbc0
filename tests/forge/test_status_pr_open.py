"""`status` shows `pr-open` for a pending update that an open PR of ours already carries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imageupdater.commands import mark_open_pull_requests, status_rows
from imageupdater.engine import make_plan
from tests.e2e.conftest import run_cli
from tests.forge.conftest import NOW, Env, pr_automation


def test_pending_rows_waiting_in_open_prs_are_pr_open(env: Env) -> None:
    report = env.run()
    opened = {r["branch"]: r["number"] for r in report.pull_requests}
    forge, http = env.forge()
    with http, env.registry.client() as client:
        rows = status_rows(make_plan(env.work, client, NOW).report)
        assert {(r.container, r.state) for r in rows} == {
            ("api", "pending"), ("db", "up-to-date"), ("web", "pending")
        }  # fmt: skip
        marked = mark_open_pull_requests(rows, forge.list_open(base="main", prefix=""))
    states = {r.container: (r.state, r.detail) for r in marked}
    assert states["db"] == ("up-to-date", "1.0.0 is newest")
    web_pr = opened["imageupdater/deployment-shop-web"]
    assert states["web"][0] == "pr-open"
    assert states["web"][1].startswith(f"PR #{web_pr} open: 1.0.0 -> 1.1.0")
    assert states["api"][0] == "pr-open"


def test_a_newer_tag_than_the_pr_still_shows_the_pr(env: Env) -> None:
    env.run()
    env.registry.tags["acme/web"].append("1.2.0")
    forge, http = env.forge()
    with http, env.registry.client() as client:
        rows = status_rows(make_plan(env.work, client, NOW).report)
        marked = mark_open_pull_requests(rows, forge.list_open(base="main", prefix=""))
    web = next(r for r in marked if r.container == "web")
    assert (web.state, web.newest) == ("pr-open", "1.2.0")
    assert "1.0.0 -> 1.1.0" in web.detail  # what the PR holds until the next apply updates it


def test_status_reads_the_forge_from_the_automation_config(
    env: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`status --config` takes the forge from `update.pr`, as the daemon would use it."""
    report = env.run()
    opened = {r["branch"]: r["number"] for r in report.pull_requests}
    config = pr_automation(tmp_path, monkeypatch, env)
    argv = ["status", str(env.work), "--config", str(config), "--format", "json",
            "--now", NOW.isoformat()]  # fmt: skip
    assert run_cli(argv, capsys) == 0
    rows = {row["container"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["web"]["state"] == "pr-open"
    assert f"PR #{opened['imageupdater/deployment-shop-web']} open" in rows["web"]["detail"]
    # an Automation without update.pr: plain states, no forge asked
    config.write_text(
        config.read_text().replace("    mode: pr\n    pr:", "    mode: commit\n    x:")
    )
    config.write_text(config.read_text().split("    x:")[0])
    seen = len(env.fake.seen)
    assert run_cli(argv, capsys) == 0
    rows = {row["container"]: row for row in json.loads(capsys.readouterr().out)["rows"]}
    assert rows["web"]["state"] == "pending"
    assert len(env.fake.seen) == seen
