"""The Git and template pieces of PR mode on their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from imageupdater.errors import ConfigError, GitError
from imageupdater.report import Update
from imageupdater.templates import DEFAULT_PR_BODY_TEMPLATE, pr_text
from imageupdater.workspace import BranchUpdate, Workspace
from tests.gitenv import clone_pair, git, make_hermetic


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    make_hermetic(tmp_path, monkeypatch)
    return clone_pair(tmp_path, {"a.yaml": "image: x:1\n", "b.yaml": "b\n"})


def test_only_bot_branches_can_be_forced_or_deleted(pair: tuple[Path, Path]) -> None:
    _, work = pair
    workspace = Workspace(work)
    head = git(work, "rev-parse", "HEAD")
    for name in ("main", "feature/imageupdater/x", "imageupdater/../main"):
        with pytest.raises(GitError, match="refusing"):
            workspace.push_bot_branches([BranchUpdate(name, head, None)])


def test_plumbing_commit_and_lease(pair: tuple[Path, Path]) -> None:
    remote, work = pair
    workspace = Workspace(work)
    base, branches = workspace.fetch_bot_branches("main", "imageupdater/")
    assert branches == {}
    sha = workspace.commit_on(
        base, {"a.yaml": b"image: x:2\n"}, "bump", author=("imageupdater", "bot@x")
    )
    assert workspace.changed_blobs(base, sha).keys() == {"a.yaml"}
    assert workspace.push_bot_branches([BranchUpdate("imageupdater/a", sha, None)]) == {
        "imageupdater/a": None
    }
    # the lease: a branch that moved since we looked is not overwritten
    other = workspace.commit_on(base, {"b.yaml": b"c\n"}, "other", author=("h", "h@x"))
    stale = workspace.push_bot_branches([BranchUpdate("imageupdater/a", other, None)])
    assert stale["imageupdater/a"] is not None
    assert git(remote, "rev-parse", "imageupdater/a") == sha
    _, branches = workspace.fetch_bot_branches("main", "imageupdater/")
    assert branches == {"imageupdater/a": sha}
    assert [c.author_email for c in workspace.branch_commits(base, sha)] == ["bot@x"]
    assert git(work, "status", "--porcelain") == ""
    assert workspace.push_bot_branches([BranchUpdate("imageupdater/a", None, sha)]) == {
        "imageupdater/a": None
    }
    assert "imageupdater/a" not in git(remote, "branch", "--list")


def test_pr_templates_are_sandboxed() -> None:
    update = Update("a.yaml", 3, "Deployment/web", "web", "ghcr.io/acme/web", "1.0", "1.1", "p")
    assert "[ghcr.io/acme/web](https://github.com/acme/web/pkgs/container/web)" in pr_text(
        [update], None, DEFAULT_PR_BODY_TEMPLATE, "body"
    )
    custom = "{{ updates|length }} for {{ updates[0].workload }}"
    assert pr_text([update], custom, "", "title") == "1 for Deployment/web"
    with pytest.raises(ConfigError, match="body template"):
        pr_text([update], "{{ ''.__class__.__mro__[1].__subclasses__() }}", "", "body")


def test_branch_names_are_readable_and_never_shared() -> None:
    from imageupdater.prmode import Group, _disambiguate, slug

    assert slug("Deployment/shop/web") == "deployment-shop-web"
    assert slug("ghcr.io/acme/web") == "ghcr.io-acme-web"
    assert slug("x..lock") == "x"
    groups = [Group(key, "imageupdater/" + slug(key), []) for key in ("a/b", "a.b", "c")]
    groups[1].branch = groups[0].branch  # force a clash
    _disambiguate(groups)
    assert len({g.branch for g in groups}) == 3
    assert groups[2].branch == "imageupdater/c"
