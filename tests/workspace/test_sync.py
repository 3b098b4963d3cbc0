"""Catching up after a rejected push, the way the apply loop uses it."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.errors import GitError
from imageupdater.workspace import PushRejected, RebaseConflict, Workspace, WorkTreeConflict
from tests.workspace.conftest import API, NOTES, WEB, Repos, commit_all, deployment, git, write
from tests.workspace.test_push import our_commit, their_push


def assert_no_rebase_state(root: Path) -> None:
    gitdir = root / ".git"
    assert not (gitdir / "rebase-merge").exists()
    assert not (gitdir / "rebase-apply").exists()
    assert not (gitdir / "REBASE_HEAD").exists()
    assert not (gitdir / "worktrees").exists() or not any((gitdir / "worktrees").iterdir())
    assert git(root, "worktree", "list", "--porcelain").count("worktree ") == 1
    assert git(root, "for-each-ref", "refs/imageupdater") == ""
    assert git(root, "diff", "--name-only", "--diff-filter=U") == ""


def subjects(root: Path, rev: str = "HEAD") -> list[str]:
    return git(root, "log", "--format=%s", rev).splitlines()


def test_sync_rebases_our_commit_on_top_of_theirs(repos: Repos) -> None:
    ws = Workspace(repos.work)
    ours = our_commit(repos)
    theirs = their_push(repos)
    with pytest.raises(PushRejected):
        ws.push()

    ws.sync_with_remote()

    head = ws.head()
    assert head != ours
    assert git(repos.work, "rev-parse", "HEAD^") == theirs
    assert git(repos.work, "rev-list", "--merges", "HEAD") == ""
    assert subjects(repos.work) == ["update web to 1.1.0", f"their change to {API}", "initial"]
    assert ws.read_head_file(Path(WEB)) == deployment("web", "1.1.0").encode()
    assert ws.read_head_file(Path(API)) == b"theirs\n"
    assert git(repos.work, "status", "--porcelain") == ""
    assert_no_rebase_state(repos.work)

    before = repos.remote_log()
    ws.push()
    after = repos.remote_log()
    assert repos.remote_head() == head
    assert after[-len(before) :] == before  # the remote history only grew


def test_sync_keeps_the_users_uncommitted_changes(repos: Repos) -> None:
    ws = Workspace(repos.work)
    our_commit(repos)
    their_push(repos, name="apps/extra.yaml", text="theirs\n")
    write(repos.work, API, "user: staged\n")
    git(repos.work, "add", API)
    write(repos.work, NOTES, "user: unstaged\n")
    write(repos.work, "scratch.txt", "user: untracked\n")

    ws.sync_with_remote()

    assert ws.read_head_file(Path("apps/extra.yaml")) == b"theirs\n"
    assert (repos.work / "apps/extra.yaml").read_text() == "theirs\n"
    status = sorted(git(repos.work, "status", "--porcelain").splitlines())
    assert status == sorted([f"M  {API}", f" M {NOTES}", "?? scratch.txt"])
    assert git(repos.work, "show", f":{API}") == "user: staged"


def test_a_local_change_in_the_way_stops_the_sync_and_changes_nothing(repos: Repos) -> None:
    ws = Workspace(repos.work)
    ours = our_commit(repos)
    their_push(repos, name=API, text="theirs\n")
    write(repos.work, API, "user: unstaged edit of the same file\n")

    with pytest.raises(WorkTreeConflict):
        ws.sync_with_remote()

    assert ws.head() == ours
    assert (repos.work / API).read_text() == "user: unstaged edit of the same file\n"
    assert_no_rebase_state(repos.work)


def test_conflict_is_resolved_by_dropping_our_commit(repos: Repos) -> None:
    """The apply loop: push rejected -> sync conflicts -> undo ours -> sync -> re-plan."""
    ws = Workspace(repos.work)
    write(repos.work, NOTES, "user: unpushed commit\n")
    users = commit_all(repos.work, "user's own unpushed work")
    write(repos.work, "scratch.txt", "user: untracked\n")
    write(repos.work, API, "user: unstaged\n")
    ours = our_commit(repos, "1.1.0")
    theirs = their_push(repos, name=WEB, text=deployment("web", "1.2.0"))
    remote_before = repos.remote_log()

    with pytest.raises(PushRejected):
        ws.push()
    with pytest.raises(RebaseConflict) as caught:
        ws.sync_with_remote()
    assert caught.value.commit == ours
    assert caught.value.paths == (WEB,)
    assert ws.head() == ours  # nothing moved
    assert_no_rebase_state(repos.work)

    ws.undo_last_commit(ours)
    assert ws.head() == users
    assert (repos.work / WEB).read_text() == deployment("web", "1.0.0")
    ws.sync_with_remote()

    assert subjects(repos.work) == ["user's own unpushed work", f"their change to {WEB}", "initial"]
    assert git(repos.work, "rev-parse", "HEAD^") == theirs
    assert (repos.work / WEB).read_text() == deployment("web", "1.2.0")  # their version won
    assert (repos.work / NOTES).read_text() == "user: unpushed commit\n"
    assert (repos.work / API).read_text() == "user: unstaged\n"
    assert (repos.work / "scratch.txt").read_text() == "user: untracked\n"
    assert sorted(git(repos.work, "status", "--porcelain").splitlines()) == sorted(
        [f" M {API}", "?? scratch.txt"]
    )
    assert_no_rebase_state(repos.work)
    assert repos.remote_log() == remote_before  # sync never writes to the remote

    ws.push()
    assert repos.remote_log()[1:] == remote_before


def test_their_identical_change_drops_our_commit(repos: Repos) -> None:
    ws = Workspace(repos.work)
    our_commit(repos, "1.1.0")
    theirs = their_push(repos, name=WEB, text=deployment("web", "1.1.0"))
    ws.sync_with_remote()
    assert ws.head() == theirs


def test_sync_fast_forwards_and_is_a_no_op_when_ahead(repos: Repos) -> None:
    ws = Workspace(repos.work)
    theirs = their_push(repos)
    ws.sync_with_remote()
    assert ws.head() == theirs
    ours = our_commit(repos)
    ws.sync_with_remote()
    assert ws.head() == ours


def test_sync_with_a_missing_remote_branch_is_a_git_error(repos: Repos) -> None:
    with pytest.raises(GitError, match="couldn't find remote ref"):
        Workspace(repos.work).sync_with_remote(branch="nope")


def test_undo_refuses_anything_but_the_expected_head(repos: Repos) -> None:
    ws = Workspace(repos.work)
    ours = our_commit(repos)
    write(repos.work, NOTES, "user commits after us\n")
    user = commit_all(repos.work, "user after us")
    with pytest.raises(GitError, match="refusing to undo"):
        ws.undo_last_commit(ours)
    assert ws.head() == user
    with pytest.raises(GitError, match="refusing to undo"):
        ws.undo_last_commit("not-a-commit")
    root = git(repos.work, "rev-list", "--max-parents=0", "HEAD")
    git(repos.work, "checkout", "-q", "--detach", root)
    with pytest.raises(GitError, match="first commit"):
        ws.undo_last_commit(root)


def test_undo_keeps_other_changes_and_refuses_to_lose_edits(repos: Repos) -> None:
    ws = Workspace(repos.work)
    write(repos.work, API, "user: staged\n")
    git(repos.work, "add", API)
    ours = our_commit(repos)
    write(repos.work, WEB, "user edited our file after the commit\n")
    with pytest.raises(WorkTreeConflict):
        ws.undo_last_commit(ours)
    assert ws.head() == ours
    assert (repos.work / WEB).read_text() == "user edited our file after the commit\n"

    write(repos.work, WEB, deployment("web", "1.1.0"))
    ws.undo_last_commit(ours)
    assert sorted(git(repos.work, "status", "--porcelain").splitlines()) == [f"M  {API}"]
    assert git(repos.work, "show", f":{API}") == "user: staged"
    assert (repos.work / WEB).read_text() == deployment("web", "1.0.0")


def test_replayed_commits_keep_their_author(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(repos.work)
    write(repos.work, NOTES, "user: unpushed commit\n")
    git(repos.work, "commit", "-q", "-am", "user's work", "--author", "User <user@example.com>")
    our_commit(repos)
    their_push(repos)
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)  # like a daemon with no identity configured

    ws.sync_with_remote(committer=("bot", "bot@example.com"))

    log = git(repos.work, "log", "-2", "--format=%s|%an <%ae>|%cn <%ce>").splitlines()
    assert log == [
        "update web to 1.1.0|Alice Author <alice@example.com>|bot <bot@example.com>",
        "user's work|User <user@example.com>|bot <bot@example.com>",
    ]
    their_push(repos, name="apps/more.yaml")
    ws.sync_with_remote()
    assert git(repos.work, "log", "-1", "--format=%an|%cn") == "Alice Author|imageupdater"
