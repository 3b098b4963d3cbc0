"""`apply --push` when someone else pushed first (SPEC §4, §6: fetch, rebase, re-plan, retry).

The race is deterministic: a second clone pushes to the bare `file://` remote *after* the
work clone was made, so the work clone plans on a stale head and its first push is rejected
(`fetch first`). Where the race must fall between planning and pushing, or repeat, the
second clone pushes from inside the planning step (`commands.make_plan` is wrapped).

Whatever happens, the remote may only grow: old heads stay ancestors, no merge commits,
no reset, no force-push; and the JSON report describes exactly what was pushed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from imageupdater import commands, delivery
from imageupdater.devtools import LocalRegistry
from imageupdater.devtools.seed import seed_storage
from imageupdater.engine import make_plan
from tests.e2e.conftest import run_cli
from tests.gitenv import clone_pair, git, make_hermetic

REPO = "race/app"
TAGS = ["1.0.0", "1.1.0", "1.2.0", "2.0.0"]
WORKLOAD = "Deployment/shop/app"
APP = "apps/app.yaml"


def app_yaml(host: str, tag: str, *, pin: str | None = None) -> str:
    pin_line = f"    imageupdater.io/pin: '{pin}'\n" if pin else ""
    return f"""\
# The app.  Owned by team-shop.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: shop
  annotations:
    imageupdater.io/policy: "semver:^1"
{pin_line}  labels:
    team: shop
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: app
          image: {host}/{REPO}:{tag}   # bumped by imageupdater
"""


@pytest.fixture(scope="module")
def race_registry(registry: LocalRegistry) -> LocalRegistry:
    seed_storage(registry.root, REPO, TAGS)
    return registry


@dataclass
class Race:
    host: str
    remote: Path
    work: Path
    other: Path
    start: str  # remote head when the work clone was made
    backoffs: list[float] = field(default_factory=list)

    def remote_head(self) -> str:
        return git(self.remote, "rev-parse", "refs/heads/main")

    def other_pushes(self, files: dict[str, str], message: str) -> str:
        """The concurrent user: commit `files` in the second clone and push them."""
        git(self.other, "pull", "-q", "--ff-only", "origin", "main")
        for name, text in files.items():
            path = self.other / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(self.other, "add", "-A")
        git(self.other, "commit", "-q", "-m", message)
        git(self.other, "push", "-q", "origin", "HEAD:main")
        return git(self.other, "rev-parse", "HEAD")

    def apply(self, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
        code = run_cli(["apply", str(self.work), "--push", "--format", "json"], capsys)
        captured = capsys.readouterr()
        report: dict[str, Any] = json.loads(captured.out)
        return code, report

    def remote_file(self, name: str = APP, rev: str = "main") -> str:
        return git(self.remote, "show", f"{rev}:{name}") + "\n"

    def assert_only_grew(self, *old_heads: str) -> None:
        head = self.remote_head()
        for old in (self.start, *old_heads):
            git(self.remote, "merge-base", "--is-ancestor", old, head)  # raises if not
        assert git(self.remote, "rev-list", "--merges", head) == ""

    def commits_since(self, rev: str) -> list[str]:
        return git(self.remote, "rev-list", "--reverse", f"{rev}..main").splitlines()

    def pushed_trailers(self) -> list[str]:
        """`Image-Update` trailers of every commit that reached the remote during the test."""
        trailers = []
        for sha in self.commits_since(self.start):
            text = git(self.remote, "log", "-1", "--format=%(trailers:key=Image-Update)", sha)
            trailers += [line for line in text.splitlines() if line]
        return trailers

    def assert_report_matches_history(self, report: dict[str, Any]) -> None:
        """The report's updates are exactly what the pushed commits' trailers say."""
        reported = [
            f"Image-Update: {u['workload']} {u['container']} {u['from']} -> {u['to']}"
            for u in report["updates"]
        ]
        assert sorted(self.pushed_trailers()) == sorted(reported)


@pytest.fixture
def race(race_registry: LocalRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Race:
    make_hermetic(tmp_path, monkeypatch)
    host = race_registry.host
    files = {APP: app_yaml(host, "1.0.0"), "README.md": "fleet\n"}
    remote, work = clone_pair(tmp_path, files)
    # a forced push or a branch deletion would now fail loudly instead of rewriting history
    git(remote, "config", "receive.denyNonFastForwards", "true")
    git(remote, "config", "receive.denyDeletes", "true")
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", f"file://{remote}", str(other))
    race = Race(host, remote, work, other, git(remote, "rev-parse", "refs/heads/main"))
    # the retry backoff is real sleeping (0.5 s, 1 s, ...): record it instead
    monkeypatch.setattr(delivery, "time", SimpleNamespace(sleep=race.backoffs.append))
    return race


def race_while_planning(
    monkeypatch: pytest.MonkeyPatch, pushes: Sequence[Callable[[], str]]
) -> list[str]:
    """Let the other clone push right after each of the first `len(pushes)` plans."""
    pushed: list[str] = []

    def planning(*args: Any, **kwargs: Any) -> Any:
        plan = make_plan(*args, **kwargs)
        if len(pushed) < len(pushes):
            pushed.append(pushes[len(pushed)]())
        return plan

    monkeypatch.setattr(commands, "make_plan", planning)
    return pushed


def test_unrelated_commit_is_kept_and_ours_is_rebased_on_top(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({"README.md": "fleet of apps\n"}, "docs: README")

    code, report = race.apply(capsys)

    assert code == 0, report
    assert report["errors"] == []
    assert report["pushed"] is True
    head = race.remote_head()
    assert report["commit"] == head
    race.assert_only_grew(theirs)
    assert race.commits_since(race.start) == [theirs, head]  # linear: theirs, then ours
    assert [(u["from"], u["to"], u["policy"]) for u in report["updates"]] == [
        ("1.0.0", "1.2.0", "semver:^1")
    ]
    race.assert_report_matches_history(report)
    assert race.pushed_trailers() == [f"Image-Update: {WORKLOAD} app 1.0.0 -> 1.2.0"]
    assert race.remote_file("README.md") == "fleet of apps\n"
    assert race.remote_file() == app_yaml(race.host, "1.2.0")
    assert git(race.work, "rev-parse", "HEAD") == head
    assert git(race.work, "status", "--porcelain") == ""
    assert race.backoffs == [0.5]  # exactly one rejected push


def test_same_update_already_pushed_by_someone_else_is_not_duplicated(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({APP: app_yaml(race.host, "1.2.0")}, "bump app by hand")

    code, _ = race.apply(capsys)

    assert code == 0
    race.assert_only_grew(theirs)
    assert race.remote_head() == theirs  # no empty commit, no second copy of the change
    assert race.remote_file() == app_yaml(race.host, "1.2.0")
    assert git(race.work, "rev-parse", "HEAD") == theirs
    assert git(race.work, "status", "--porcelain") == ""


def test_same_update_already_pushed_is_not_reported_as_ours(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({APP: app_yaml(race.host, "1.2.0")}, "bump app by hand")

    code, report = race.apply(capsys)

    assert code == 0
    assert report["commit"] != theirs
    assert report["updates"] == []
    race.assert_report_matches_history(report)


def test_conflicting_tag_drops_our_commit_and_replans_on_their_head(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({APP: app_yaml(race.host, "1.1.0")}, "app to 1.1.0")

    code, report = race.apply(capsys)

    assert code == 0, report
    assert report["pushed"] is True
    head = race.remote_head()
    assert report["commit"] == head
    race.assert_only_grew(theirs)
    assert race.commits_since(race.start) == [theirs, head]
    assert [(u["from"], u["to"]) for u in report["updates"]] == [("1.1.0", "1.2.0")]
    race.assert_report_matches_history(report)
    assert race.pushed_trailers() == [f"Image-Update: {WORKLOAD} app 1.1.0 -> 1.2.0"]
    assert race.remote_file() == app_yaml(race.host, "1.2.0")
    assert git(race.work, "status", "--porcelain") == ""


def test_conflicting_tag_that_needs_no_update_leaves_the_remote_alone(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    """They moved the app past the range by hand (2.0.0): never a downgrade, nothing to push."""
    theirs = race.other_pushes({APP: app_yaml(race.host, "2.0.0")}, "app to 2.0.0")

    code, report = race.apply(capsys)

    assert code == 0, report
    assert report["updates"] == []
    assert report["commit"] is None
    assert report["pushed"] is False
    assert race.remote_head() == theirs
    assert git(race.work, "rev-parse", "HEAD") == theirs  # our commit dropped, not reset
    assert race.remote_file() == app_yaml(race.host, "2.0.0")
    assert [(s["container"], s["reason"]) for s in report["skipped"]] == [("app", "up-to-date")]


def test_pin_pushed_meanwhile_wins_after_the_replan(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({APP: app_yaml(race.host, "1.0.0", pin="1.1.0")}, "pin app")

    code, report = race.apply(capsys)

    assert code == 0, report
    assert report["pushed"] is True
    assert report["commit"] == race.remote_head()
    race.assert_only_grew(theirs)
    assert race.remote_file() == app_yaml(race.host, "1.1.0", pin="1.1.0")
    assert report["updates"][-1]["to"] == "1.1.0"
    assert report["updates"][-1]["policy"] == "pin"
    race.assert_report_matches_history(report)
    assert git(race.work, "status", "--porcelain") == ""


def test_pin_pushed_meanwhile_gives_one_commit_straight_to_the_pin(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({APP: app_yaml(race.host, "1.0.0", pin="1.1.0")}, "pin app")

    _, report = race.apply(capsys)

    assert len(race.commits_since(theirs)) == 1
    assert race.pushed_trailers() == [f"Image-Update: {WORKLOAD} app 1.0.0 -> 1.1.0"]
    assert [(u["from"], u["to"], u["policy"], u["line"]) for u in report["updates"]] == [
        ("1.0.0", "1.1.0", "pin", 18)
    ]


def test_users_unpushed_commit_is_rebased_and_kept(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({"README.md": "theirs\n"}, "their readme")
    (race.work / "NOTES.md").write_text("mine\n")
    git(race.work, "add", "NOTES.md")
    git(race.work, "commit", "-q", "-m", "my notes")

    code, report = race.apply(capsys)

    assert code == 0, report
    assert report["commit"] == race.remote_head()
    race.assert_only_grew(theirs)
    subjects = git(race.remote, "log", "--format=%s", f"{race.start}..main").splitlines()
    assert subjects == ["Update Deployment/shop/app app to 1.2.0", "my notes", "their readme"]
    assert race.remote_file("NOTES.md") == "mine\n"
    assert race.remote_file("README.md") == "theirs\n"
    race.assert_report_matches_history(report)


def test_users_own_conflicting_commit_stops_without_touching_the_remote(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    theirs = race.other_pushes({"README.md": "theirs\n"}, "their readme")
    (race.work / "README.md").write_text("mine\n")
    git(race.work, "commit", "-q", "-am", "my readme")
    mine = git(race.work, "rev-parse", "HEAD")

    code, report = race.apply(capsys)

    assert code == 1
    assert report["pushed"] is False
    assert [e["kind"] for e in report["errors"]] == ["git"]
    assert mine[:12] in report["errors"][0]["message"]
    assert "README.md" in report["errors"][0]["message"]
    assert race.remote_head() == theirs  # nothing pushed, nothing forced
    # the user's commit is still there, under ours; no rebase left half-done
    assert git(race.work, "rev-parse", "HEAD~1") == mine
    assert (race.work / "README.md").read_text() == "mine\n"
    assert git(race.work, "status", "--porcelain") == ""
    assert not (race.work / ".git" / "rebase-merge").exists()
    assert git(race.work, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_users_own_conflicting_commit_still_reports_the_local_commit(
    race: Race, capsys: pytest.CaptureFixture[str]
) -> None:
    race.other_pushes({"README.md": "theirs\n"}, "their readme")
    (race.work / "README.md").write_text("mine\n")
    git(race.work, "commit", "-q", "-am", "my readme")

    _, report = race.apply(capsys)

    assert report["commit"] == git(race.work, "rev-parse", "HEAD")
    assert [(u["from"], u["to"]) for u in report["updates"]] == [("1.0.0", "1.2.0")]


def test_push_between_planning_and_pushing_twice_then_success(
    race: Race, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone pushes during each of the first two plans; the third attempt goes through."""
    pushed = race_while_planning(
        monkeypatch,
        [
            lambda: race.other_pushes({"README.md": "one\n"}, "readme one"),
            lambda: race.other_pushes({"docs/two.md": "two\n"}, "docs two"),
        ],
    )

    code, report = race.apply(capsys)

    assert code == 0, report
    assert len(pushed) == 2
    assert race.backoffs == [0.5, 1.0]  # two rejections, growing backoff
    head = race.remote_head()
    assert report["commit"] == head
    assert report["pushed"] is True
    race.assert_only_grew(*pushed)
    assert race.commits_since(race.start) == [*pushed, head]
    race.assert_report_matches_history(report)
    assert [(u["from"], u["to"]) for u in report["updates"]] == [("1.0.0", "1.2.0")]


def test_push_rejected_every_time_gives_up_with_a_git_error(
    race: Race, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    pushes = [
        functools.partial(race.other_pushes, {f"docs/{n}.md": f"{n}\n"}, f"docs {n}")
        for n in range(4)
    ]
    pushed = race_while_planning(monkeypatch, pushes)

    code, report = race.apply(capsys)

    assert code == 1
    assert len(pushed) == 4
    assert race.backoffs == [0.5, 1.0, 1.5]
    assert report["pushed"] is False
    assert [e["kind"] for e in report["errors"]] == ["git"]
    assert "rejected 4 times" in report["errors"][0]["message"]
    assert race.remote_head() == pushed[-1]  # only ever the other user's commits
    race.assert_only_grew(*pushed)
    # our commit waits locally, on top of everything fetched so far
    assert report["commit"] == git(race.work, "rev-parse", "HEAD")
    assert git(race.work, "rev-parse", "HEAD~1") == pushed[-2]
