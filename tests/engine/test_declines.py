"""Rollback respect: exactly which history counts as a human moving a version back."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.engine import Plan, make_plan
from imageupdater.report import ErrorEntry
from imageupdater.workspace import Workspace
from tests.engine.fakeregistry import FakeRegistry
from tests.gitenv import git, make_hermetic

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TRAILER = "Image-Update: Deployment/shop/web {c} {a} -> {b}"


def manifest(web: str, side: str = "1.0.0", extra: str = "") -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: shop\n"
        f"  annotations:\n    imageupdater.io/policy: minor\n{extra}"
        "spec:\n  template:\n    spec:\n      containers:\n"
        f"        - name: web\n          image: reg.test/acme/web:{web}\n"
        f"        - name: side\n          image: reg.test/acme/web:{side}\n"
    )


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_hermetic(tmp_path, monkeypatch)
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q")
    (root / "web.yaml").write_text(manifest("1.0.0"))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "initial")
    return root


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry(tags={"acme/web": ["1.0.0", "1.1.0", "1.2.0"]})


def commit(root: Path, text: str, message: str) -> str:
    (root / "web.yaml").write_text(text)
    git(root, "commit", "-qam", message)
    return git(root, "rev-parse", "HEAD")


def tool_commit(root: Path, web: str, side: str, *moves: tuple[str, str, str]) -> str:
    trailers = "\n".join(TRAILER.format(c=c, a=a, b=b) for c, a, b in moves)
    return commit(root, manifest(web, side), f"Update images\n\n{trailers}")


def plan(root: Path, registry: FakeRegistry, history: bool = True) -> Plan:
    with registry.client() as client:
        return make_plan(root, client, NOW, history=Workspace.find(root) if history else None)


def states(result: Plan) -> dict[str, str]:
    rows = {u.container or "": f"update {u.to_tag}" for u in result.report.updates}
    rows.update({s.container or "": s.reason for s in result.report.skipped})
    return rows


def test_human_rollback_declines_that_version_and_older(repo: Path, registry: FakeRegistry) -> None:
    tool_commit(repo, "1.2.0", "1.2.0", ("web", "1.0.0", "1.2.0"), ("side", "1.0.0", "1.2.0"))
    sha = commit(repo, manifest("1.1.0", "1.2.0"), "web 1.2.0 is broken")
    result = plan(repo, registry)
    assert states(result) == {"web": "declined", "side": "up-to-date"}
    (row,) = [s for s in result.report.skipped if s.reason == "declined"]
    assert row.detail.startswith(f"1.2.0 and older declined: rolled back in {sha[:12]} by Alice")
    registry.tags["acme/web"].append("1.3.0")
    assert states(plan(repo, registry)) == {"web": "update 1.3.0", "side": "update 1.3.0"}


def test_git_revert_of_the_tool_commit_is_a_rollback(repo: Path, registry: FakeRegistry) -> None:
    sha = tool_commit(repo, "1.1.0", "1.0.0", ("web", "1.0.0", "1.1.0"))
    git(repo, "revert", "--no-edit", sha)
    result = plan(repo, registry)
    assert states(result) == {"web": "update 1.2.0", "side": "update 1.2.0"}
    registry.tags["acme/web"].remove("1.2.0")
    assert states(plan(repo, registry)) == {"web": "declined", "side": "update 1.1.0"}


def test_moving_forward_or_editing_something_else_declines_nothing(
    repo: Path, registry: FakeRegistry
) -> None:
    tool_commit(repo, "1.1.0", "1.0.0", ("web", "1.0.0", "1.1.0"))
    commit(repo, manifest("1.1.0", "1.0.0", "    team: shop\n"), "label")  # unrelated edit
    commit(repo, manifest("1.2.0", "1.0.0", "    team: shop\n"), "by hand, forward")
    commit(repo, manifest("1.2.0", "1.1.0", "    team: shop\n"), "side by hand")
    assert states(plan(repo, registry)) == {"web": "up-to-date", "side": "update 1.2.0"}


def test_a_version_the_tool_never_wrote_is_not_declined(repo: Path, registry: FakeRegistry) -> None:
    tool_commit(repo, "1.1.0", "1.0.0", ("web", "1.0.0", "1.1.0"))
    commit(repo, manifest("1.2.0", "1.0.0"), "hand-picked 1.2.0")
    commit(repo, manifest("1.1.0", "1.0.0"), "back to what the bot wrote")
    assert states(plan(repo, registry))["web"] == "update 1.2.0"


def test_clearing_declines_is_durable_and_later_rollbacks_count_again(
    repo: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-20T10:00:00Z")
    tool_commit(repo, "1.2.0", "1.0.0", ("web", "1.0.0", "1.2.0"))
    commit(repo, manifest("1.1.0", "1.0.0"), "roll back")
    assert states(plan(repo, registry))["web"] == "declined"
    cleared = "    imageupdater.io/declined-cleared.web: 2026-11-21T00:00:00Z\n"
    monkeypatch.setenv("GIT_AUTHOR_DATE", "2026-11-21T10:00:00Z")
    commit(repo, manifest("1.1.0", "1.0.0", cleared), "clear")
    assert states(plan(repo, registry))["web"] == "update 1.2.0"
    tool_commit(repo, "1.2.0", "1.0.0", ("web", "1.1.0", "1.2.0"))
    commit(repo, manifest("1.1.0", "1.0.0", cleared), "roll back again")
    assert states(plan(repo, registry))["web"] == "declined"


def test_without_history_nothing_is_declined(repo: Path, registry: FakeRegistry) -> None:
    tool_commit(repo, "1.2.0", "1.0.0", ("web", "1.0.0", "1.2.0"))
    commit(repo, manifest("1.1.0", "1.0.0"), "roll back")
    assert states(plan(repo, registry, history=False))["web"] == "update 1.2.0"


def test_unreadable_history_is_an_error_not_silence(
    repo: Path, registry: FakeRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    from imageupdater import errors, workspace

    def broken(*_: object, **__: object) -> list[object]:
        raise errors.GitError("cannot read the history")

    monkeypatch.setattr(workspace.Workspace, "log", broken)
    result = plan(repo, registry)
    assert ErrorEntry("git", "cannot read rollbacks from history: cannot read the history") in (
        result.report.errors
    )
