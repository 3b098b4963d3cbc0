"""Finding the work tree and reading its state."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from imageupdater.errors import GitError
from imageupdater.workspace import Workspace, _git_executable
from tests.workspace.conftest import API, NOTES, WEB, Repos, git, write


def test_find_outside_a_repository_is_none(tmp_path: Path) -> None:
    plain = tmp_path / "plain" / "deeper"
    plain.mkdir(parents=True)
    assert Workspace.find(plain) is None
    assert Workspace.find(tmp_path / "does-not-exist") is None


def test_find_in_a_subdirectory_or_file_gives_the_top(repos: Repos) -> None:
    by_dir = Workspace.find(repos.work / "apps")
    by_file = Workspace.find(repos.work / WEB)
    assert by_dir is not None
    assert by_file is not None
    assert by_dir.root == by_file.root == repos.work.resolve()


def test_find_on_a_bare_repository_is_none(repos: Repos) -> None:
    assert Workspace.find(repos.remote) is None


def test_git_dir_from_a_surrounding_hook_is_ignored(
    repos: Repos, monkeypatch: pytest.MonkeyPatch
) -> None:
    # git exports these to hooks; they must not redirect our commands to the other clone
    monkeypatch.setenv("GIT_DIR", str(repos.other / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(repos.other / ".git" / "index"))
    git(
        repos.other,
        "--git-dir",
        str(repos.other / ".git"),
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "other only",
    )
    ws = Workspace.find(repos.work)
    assert ws is not None
    assert ws.root == repos.work.resolve()
    assert ws.head() == git(repos.work, "--git-dir", str(repos.work / ".git"), "rev-parse", "HEAD")


def test_head_and_branch(repos: Repos) -> None:
    ws = Workspace(repos.work)
    assert ws.head() == git(repos.work, "rev-parse", "HEAD")
    assert ws.current_branch() == "main"
    git(repos.work, "checkout", "-q", "--detach")
    assert ws.current_branch() is None


def test_head_without_commits_is_an_error(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "fresh")
    ws = Workspace(tmp_path / "fresh")
    with pytest.raises(GitError, match="no commits"):
        ws.head()
    assert ws.current_branch() == "main"
    assert ws.read_head_file(Path("x.yaml")) is None


def test_read_head_file(repos: Repos) -> None:
    ws = Workspace(repos.work)
    original = (repos.work / WEB).read_bytes()
    write(repos.work, WEB, "changed in the work tree\n")
    assert ws.read_head_file(Path(WEB)) == original
    assert ws.read_head_file(repos.work / WEB) == original
    assert ws.read_head_file(Path("apps/missing.yaml")) is None
    assert ws.read_head_file(Path("apps")) is None


def test_dirty_paths(repos: Repos) -> None:
    ws = Workspace(repos.work)
    web, api, notes = Path(WEB), repos.work / API, Path(NOTES)
    new, ignored = Path("apps/new.yaml"), Path("apps/local.yaml")
    write(repos.work, ".gitignore", "apps/local.yaml\n")
    git(repos.work, "add", ".gitignore")
    git(repos.work, "commit", "-q", "-m", "ignore")
    assert ws.dirty_paths([web, api, notes]) == set()

    write(repos.work, WEB, "unstaged\n")
    write(repos.work, API, "staged\n")
    git(repos.work, "add", API)
    write(repos.work, "apps/new.yaml", "untracked\n")
    write(repos.work, "apps/local.yaml", "ignored\n")
    assert ws.dirty_paths([web, api, notes, new, ignored]) == {web, api, new}

    (repos.work / NOTES).unlink()
    assert notes in ws.dirty_paths([notes])


def test_paths_outside_the_work_tree_are_refused(repos: Repos) -> None:
    ws = Workspace(repos.work)
    with pytest.raises(GitError, match="outside the work tree"):
        ws.dirty_paths([repos.other / WEB])
    with pytest.raises(GitError, match="outside the work tree"):
        ws.read_head_file(Path("../other") / WEB)


def test_git_is_found_even_when_gitpython_cannot_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "git", None)  # what a failed GitPython import looks like
    assert _git_executable() == "git"


def test_a_push_updates_the_remote_tracking_branch(repos: Repos) -> None:
    write(repos.work, WEB, "changed\n")
    ws = Workspace(repos.work)
    sha = ws.commit_files([Path(WEB)], "change")
    ws.push()
    assert git(repos.work, "rev-parse", "refs/remotes/origin/main") == sha
