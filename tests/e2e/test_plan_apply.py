"""`plan` and `apply` end to end: real registry, real Git, the CLI as users call it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import Fleet
from tests.gitenv import git

EXPECTED_UPDATES = [
    ("apps/api.yaml", 16, "Deployment/api", "api", "e2e/api", "3.1.0", "3.2.0", "minor"),
    ("apps/cron.yaml", 15, "CronJob/report", "report", "e2e/api", "3.1.0", "3.1.4", "semver:~3.1"),
    ("apps/web.yaml", 15, "Deployment/shop/web", "migrate", "e2e/web", "1.2.0", "1.2.5", "patch"),
    ("apps/web.yaml", 18, "Deployment/shop/web", "web", "e2e/web", "1.2.0", "1.3.1", "semver:^1.2"),
    (
        "apps/worker.yaml", 13, "StatefulSet/jobs/worker", "worker", "e2e/worker",
        "1.25.3-alpine", "1.27.0-alpine", "minor",
    ),
]  # fmt: skip

EXPECTED_SKIPS = {
    ("apps/badpolicy.yaml", "Deployment/odd", "odd", "invalid-policy"),
    ("apps/broken.yaml", None, None, "unparseable-file"),
    ("apps/down.yaml", "Deployment/down", "down", "registry-error"),
    ("apps/frozen.yaml", "Deployment/frozen", "frozen", "frozen"),
    ("apps/never.yaml", "Deployment/legacy", "legacy", "never"),
    ("apps/web.yaml", "Deployment/shop/web", "sidecar", "no-candidate"),
    ("charts/shop/templates/deploy.yaml", None, None, "unparseable-file"),
}


def update_rows(report: dict[str, object], host: str) -> list[tuple[object, ...]]:
    rows = report["updates"]
    assert isinstance(rows, list)
    prefix = host + "/"
    return [
        (r["file"], r["line"], r["workload"], r["container"], r["image"].removeprefix(prefix),
         r["from"], r["to"], r["policy"])
        for r in rows
    ]  # fmt: skip


def skip_rows(report: dict[str, object]) -> set[tuple[object, ...]]:
    rows = report["skipped"]
    assert isinstance(rows, list)
    return {(r["file"], r.get("workload"), r.get("container"), r["reason"]) for r in rows}


def test_plan_json_reports_every_case_and_changes_nothing(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    code, report = fleet.json("plan", str(fleet.work), capsys=capsys)

    assert code == 1  # an unreachable registry and an invalid policy are errors
    assert update_rows(report, fleet.registry.host) == EXPECTED_UPDATES
    assert skip_rows(report) == EXPECTED_SKIPS
    errors = report["errors"]
    assert isinstance(errors, list)
    assert {(e["kind"], e.get("image"), e.get("file")) for e in errors} == {
        ("registry", "127.0.0.1:9/e2e/gone", None),
        ("config", None, "apps/badpolicy.yaml"),
    }
    assert report["version"] == 1
    assert report["commit"] is None
    assert report["pushed"] is False
    assert report["pull_requests"] == []
    assert git(fleet.work, "status", "--porcelain") == ""
    frozen = [s for s in report["skipped"] if s["reason"] == "frozen"]  # type: ignore[union-attr]
    assert frozen[0]["detail"] == "frozen: release week"


def test_apply_edits_only_the_values_commits_with_trailers_and_pushes(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    before = git(fleet.remote, "rev-parse", "main")
    code, report = fleet.json("apply", str(fleet.work), "--push", capsys=capsys)

    assert code == 1  # errors still reported ...
    assert update_rows(report, fleet.registry.host) == EXPECTED_UPDATES  # ... and all else done
    assert report["pushed"] is True
    commit = report["commit"]
    assert isinstance(commit, str)
    assert git(fleet.remote, "rev-parse", "main") == commit
    assert git(fleet.work, "rev-parse", "HEAD~1") == before
    message = git(fleet.work, "log", "-1", "--format=%B")
    trailers = git(fleet.work, "log", "-1", "--format=%(trailers:key=Image-Update,valueonly)")
    assert sorted(trailers.splitlines()) == sorted(
        f"{w} {c} {f} -> {t}" for _, _, w, c, _, f, t, _ in EXPECTED_UPDATES
    )
    assert message.startswith("Update 5 images")
    changed = git(fleet.work, "diff", "--name-only", "HEAD~1", "HEAD").splitlines()
    assert sorted(changed) == [
        "apps/api.yaml",
        "apps/cron.yaml",
        "apps/web.yaml",
        "apps/worker.yaml",
    ]

    for name, original in fleet.original.items():
        now = (fleet.work / name).read_bytes()
        expected = original
        for file, _, _, _, image, old, new, _ in EXPECTED_UPDATES:
            if file == name:
                ref = f"{fleet.registry.host}/{image}"
                expected = expected.replace(f"{ref}:{old}", f"{ref}:{new}", 1)
        assert now == expected.encode(), name


def test_apply_then_plan_is_clean_once_nothing_is_unreachable(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("apps/down.yaml", "apps/badpolicy.yaml"):
        (fleet.work / name).unlink()
    git(fleet.work, "commit", "-qam", "drop the broken workloads")

    code, _ = fleet.run("plan", str(fleet.work), "--detailed-exitcode", capsys=capsys)
    assert code == 2
    code, report = fleet.json("apply", str(fleet.work), capsys=capsys)
    assert code == 0
    assert len(report["updates"]) == len(EXPECTED_UPDATES)  # type: ignore[arg-type]
    code, report = fleet.json("plan", str(fleet.work), "--detailed-exitcode", capsys=capsys)
    assert code == 0
    assert report["updates"] == []
    assert git(fleet.work, "status", "--porcelain") == ""


def test_plan_text_and_diff(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = fleet.run("plan", str(fleet.work), "--diff", capsys=capsys)
    assert code == 1
    assert f"-          image: {fleet.registry.host}/e2e/web:1.2.0   # schema migrations" in out
    assert f"+          image: {fleet.registry.host}/e2e/web:1.2.5   # schema migrations" in out
    assert "Updates pending" in out
    assert "registry-error" in out


def test_apply_no_commit_leaves_edits_uncommitted(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    head = git(fleet.work, "rev-parse", "HEAD")
    code, report = fleet.json("apply", str(fleet.work), "--no-commit", capsys=capsys)
    assert code == 1
    assert report["commit"] is None
    assert git(fleet.work, "rev-parse", "HEAD") == head
    dirty = sorted(line[3:] for line in git(fleet.work, "status", "--porcelain").splitlines())
    assert dirty == ["apps/api.yaml", "apps/cron.yaml", "apps/web.yaml", "apps/worker.yaml"]


def test_apply_leaves_a_users_uncommitted_changes_alone(
    fleet: Fleet, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = fleet.work / "NOTES.txt"
    notes.write_text("work in progress\n")
    cron = fleet.work / "apps/cron.yaml"
    cron.write_bytes(cron.read_bytes() + b"# local edit\n")
    code, report = fleet.json("apply", str(fleet.work), capsys=capsys)
    assert code == 1
    files = {u["file"] for u in report["updates"]}  # type: ignore[union-attr]
    assert "apps/cron.yaml" not in files
    assert any(e["kind"] == "git" and e.get("file") == "apps/cron.yaml" for e in report["errors"])  # type: ignore[union-attr]
    assert cron.read_bytes().endswith(b"# local edit\n")
    assert notes.read_text() == "work in progress\n"
    assert "apps/cron.yaml" not in git(fleet.work, "show", "--name-only", "--format=", "HEAD")


def test_apply_outside_git_edits_files_without_committing(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "web.yaml").write_bytes((fleet.work / "apps/web.yaml").read_bytes())
    code, report = fleet.json("apply", str(plain), capsys=capsys)
    assert code == 0
    assert report["commit"] is None
    assert [u["to"] for u in report["updates"]] == ["1.2.5", "1.3.1"]  # type: ignore[union-attr]
    assert b"e2e/web:1.3.1" in (plain / "web.yaml").read_bytes()


def test_usage_errors_exit_64(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = fleet.run("plan", str(fleet.work), "--format", "yaml", capsys=capsys)
    assert code == 64
    code, _ = fleet.run("policy", "select", "semver:>>1", "1.0.0", capsys=capsys)
    assert code == 64


def test_json_output_is_valid_for_a_missing_directory(
    fleet: Fleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = fleet.run("plan", str(tmp_path / "nope"), "--format", "json", capsys=capsys)
    assert code == 1
    assert json.loads(out)["errors"][0]["kind"] == "config"
