"""commit_files commits exactly the given files and leaves the user's other work alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.errors import GitError
from imageupdater.workspace import FALLBACK_IDENTITY, NothingToCommit, Workspace
from tests.workspace.conftest import API, NOTES, WEB, Repos, deployment, git, write

MESSAGE = "chore(images): update web to 1.1.0\n\nImage-Update: Deployment/web web 1.0.0 -> 1.1.0\n"


def changed_files(root: Path, rev: str = "HEAD") -> list[str]:
    return git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", rev).splitlines()


def test_commits_only_the_given_files_and_keeps_the_users_changes(repos: Repos) -> None:
    work = repos.work
    write(work, API, "user: staged\n")
    git(work, "add", API)
    write(work, API, "user: staged, then edited again\n")
    write(work, NOTES, "user: unstaged\n")
    write(work, "scratch.txt", "user: untracked\n")
    write(work, WEB, deployment("web", "1.1.0"))
    before = git(work, "rev-parse", "HEAD")

    sha = Workspace(work).commit_files([work / WEB], MESSAGE)

    assert git(work, "rev-parse", "HEAD") == sha
    assert git(work, "rev-parse", "HEAD^") == before
    assert changed_files(work) == [WEB]
    assert git(work, "show", f"HEAD:{WEB}") == deployment("web", "1.1.0").rstrip("\n")
    assert git(work, "log", "-1", "--format=%B") == MESSAGE.rstrip("\n")
    # staged stays staged (with the staged content), unstaged stays unstaged
    assert git(work, "diff", "--cached", "--name-only").splitlines() == [API]
    assert git(work, "show", f":{API}") == "user: staged"
    assert (work / API).read_text() == "user: staged, then edited again\n"
    assert (work / NOTES).read_text() == "user: unstaged\n"
    assert (work / "scratch.txt").read_text() == "user: untracked\n"
    status = git(work, "status", "--porcelain").splitlines()
    assert sorted(status) == sorted([f"MM {API}", f" M {NOTES}", "?? scratch.txt"])


def test_staged_content_of_the_committed_file_is_replaced_by_the_work_tree(repos: Repos) -> None:
    work = repos.work
    write(work, WEB, "staged version\n")
    git(work, "add", WEB)
    write(work, WEB, deployment("web", "1.1.0"))
    Workspace(work).commit_files([Path(WEB)], MESSAGE)
    assert git(work, "status", "--porcelain") == ""


def test_new_and_deleted_files(repos: Repos) -> None:
    work = repos.work
    write(work, "apps/new.yaml", "new: true\n")
    (work / API).unlink()
    Workspace(work).commit_files([Path("apps/new.yaml"), Path(API)], MESSAGE)
    assert sorted(changed_files(work)) == [API, "apps/new.yaml"]
    assert git(work, "status", "--porcelain") == ""


def test_commit_without_configured_identity_uses_the_fallback(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    write(repos.work, WEB, deployment("web", "1.1.0"))
    Workspace(repos.work).commit_files([Path(WEB)], MESSAGE)
    name, email = FALLBACK_IDENTITY
    expected = f"{name} <{email}>|{name} <{email}>"
    assert git(repos.work, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == expected


def test_configured_identity_is_used(repos: Repos, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(key)
    git(repos.work, "config", "user.name", "Carol Config")
    git(repos.work, "config", "user.email", "carol@example.com")
    write(repos.work, WEB, deployment("web", "1.1.0"))
    Workspace(repos.work).commit_files([Path(WEB)], MESSAGE)
    assert git(repos.work, "log", "-1", "--format=%an <%ae>") == "Carol Config <carol@example.com>"


def test_explicit_author_is_author_and_committer(repos: Repos) -> None:
    write(repos.work, WEB, deployment("web", "1.1.0"))
    Workspace(repos.work).commit_files([Path(WEB)], MESSAGE, author=("bot", "bot@example.com"))
    log = git(repos.work, "log", "-1", "--format=%an <%ae>|%cn <%ce>")
    assert log == "bot <bot@example.com>|bot <bot@example.com>"


def test_unchanged_files_are_not_committed(repos: Repos) -> None:
    ws = Workspace(repos.work)
    before = ws.head()
    with pytest.raises(NothingToCommit):
        ws.commit_files([Path(WEB)], MESSAGE)
    assert ws.head() == before
    with pytest.raises(ValueError, match="at least one path"):
        ws.commit_files([], MESSAGE)
    with pytest.raises(ValueError, match="message"):
        ws.commit_files([Path(WEB)], "  \n")


def test_missing_file_is_a_git_error(repos: Repos) -> None:
    with pytest.raises(GitError, match="cannot stage"):
        Workspace(repos.work).commit_files([Path("apps/nope.yaml")], MESSAGE)


def test_glob_characters_in_names_are_literal(repos: Repos) -> None:
    write(repos.work, "apps/[ab].yaml", "one: 1\n")
    write(repos.work, "apps/a.yaml", "two: 2\n")
    Workspace(repos.work).commit_files([Path("apps/[ab].yaml")], MESSAGE)
    assert changed_files(repos.work) == ["apps/[ab].yaml"]


def test_hooks_and_signing_config_do_not_interfere(repos: Repos) -> None:
    hooks = repos.work / ".git" / "hooks"
    for name in ("pre-commit", "commit-msg", "reference-transaction", "post-commit"):
        write(hooks, name, "#!/bin/sh\necho hook ran >&2\nexit 1\n").chmod(0o755)
    git(repos.work, "config", "commit.gpgSign", "true")
    git(repos.work, "config", "user.signingKey", "0xDOESNOTEXIST")
    write(repos.work, WEB, deployment("web", "1.1.0"))
    sha = Workspace(repos.work).commit_files([Path(WEB)], MESSAGE)
    assert git(repos.work, "cat-file", "-p", sha).count("gpgsig") == 0


def test_first_commit_of_an_empty_repository(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "fresh")
    root = tmp_path / "fresh"
    write(root, WEB, deployment("web", "1.0.0"))
    write(root, NOTES, "not committed\n")
    ws = Workspace(root)
    sha = ws.commit_files([Path(WEB)], MESSAGE)
    assert ws.head() == sha
    assert git(root, "ls-tree", "-r", "--name-only", "HEAD") == WEB
    assert git(root, "status", "--porcelain") == f"?? {NOTES}"


def test_commit_refuses_when_head_moves_underneath(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = Workspace(repos.work)
    write(repos.work, WEB, deployment("web", "1.1.0"))
    real = ws._head_or_none
    stale = real()

    def user_commits_meanwhile() -> str | None:
        git(repos.work, "commit", "-q", "--allow-empty", "-m", "user meanwhile")
        return stale

    monkeypatch.setattr(ws, "_head_or_none", user_commits_meanwhile)
    with pytest.raises(GitError, match="HEAD moved"):
        ws.commit_files([Path(WEB)], MESSAGE)
    assert git(repos.work, "log", "-1", "--format=%s") == "user meanwhile"
