"""The forge adapters on their own: validation, auth, pagination, duplicates, rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from imageupdater.errors import AuthError, ConfigError, ForgeUnavailable
from imageupdater.forge import RetryPolicy, connect
from tests.forge.conftest import KINDS, Env, deployment, make_env
from tests.forge.fakes import REPO, TOKEN, FakeGitHub, serve
from tests.gitenv import git


@pytest.fixture(params=KINDS)
def bare(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Env]:
    yield from make_env(
        tmp_path, monkeypatch, request.param, {"a.yaml": deployment("web", "1.0.0")}
    )


def push_branch(env: Env, branch: str) -> None:
    git(env.work, "push", "-q", "origin", f"HEAD:refs/heads/{branch}")


@pytest.mark.parametrize("kind", ["github", "gitea"])
def test_the_fakes_reject_requests_the_official_descriptions_reject(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in make_env(tmp_path, monkeypatch, kind, {"a.yaml": "x: 1\n"}):
        headers = {"Authorization": f"token {TOKEN}"}
        with httpx.Client(base_url=env.fake.url, headers=headers) as client:
            bad = client.post(f"/repos/{REPO}/pulls", json={"head": "x", "base": 5})
            assert bad.status_code == 422
            listing = client.get(f"/repos/{REPO}/pulls", params={"state": "bogus"})
            assert listing.status_code == 422
        assert len(env.fake.violations) == 2
        assert "5 is not of type 'string'" in env.fake.violations[0]
        env.fake.violations.clear()


def test_open_is_idempotent_through_the_duplicate_answer(bare: Env) -> None:
    push_branch(bare, "imageupdater/web")
    forge, http = bare.forge()
    with http:
        first = forge.open(head="imageupdater/web", base="main", title="t", body="b")
        # the list said nothing (a stale read): the forge answers 422/409 and we reuse the PR
        second = forge.open(head="imageupdater/web", base="main", title="t", body="b")
    assert second.number == first.number
    assert len(bare.fake.open_prs()) == 1
    assert bare.fake.count("POST", r"(pulls|merge_requests)$") == 2


def test_lists_walk_every_page(bare: Env) -> None:
    for i in range(5):
        push_branch(bare, f"imageupdater/w{i}")
        bare.fake.new_pr(f"imageupdater/w{i}", "main", f"t{i}", "b")
    bare.fake.new_pr("feature/other", "main", "human", "b")
    bare.fake.close_unmerged(1)
    forge, http = bare.forge()
    with http:
        found = forge.list_open(base="main", prefix="imageupdater/")
        closed = forge.list_closed(head="imageupdater/w0", base="main")
    assert sorted(pr.head for pr in found) == [f"imageupdater/w{i}" for i in range(1, 5)]
    assert [pr.number for pr in closed] == [1]
    gets = bare.fake.count("GET", r"(pulls|merge_requests)$")
    assert gets >= 3 + 1  # page size 2: three pages of open PRs, then the closed ones


def test_bad_token_is_an_auth_error_that_does_not_quote_it(bare: Env) -> None:
    forge, http = connect(bare.kind, bare.fake.url, REPO, "wrong-" + TOKEN)
    with http, pytest.raises(AuthError) as caught:
        forge.list_open(base="main", prefix="imageupdater/")
    assert "401" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_persistent_5xx_becomes_forge_unavailable_after_retries(bare: Env) -> None:
    bare.fake.fail_next(10, 503)
    forge, http = bare.forge()
    with http, pytest.raises(ForgeUnavailable, match="HTTP 503 after 4 tries"):
        forge.list_open(base="main", prefix="imageupdater/")
    assert len(bare.sleeps) == 3


def test_github_rate_limit_waits_for_the_reset(bare: Env) -> None:
    reset = str(int(time.time()) + 7)
    bare.fake.fail_next(1, 403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    forge, http = bare.forge()
    with http:
        assert forge.list_open(base="main", prefix="imageupdater/") == []
    assert 5 <= bare.sleeps[0] <= 7


def test_github_enterprise_base_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for _env in make_env(tmp_path, monkeypatch, "github", {"a.yaml": "x: 1\n"}):
        pass
    fake = FakeGitHub(tmp_path / "remote.git")
    fake.mount = "/api/v3"
    with serve(fake):
        assert fake.url.endswith("/api/v3")
        forge, http = connect(
            "github", fake.url, REPO, TOKEN, retry=RetryPolicy(sleep=lambda _: None)
        )
        with http:
            assert forge.list_open(base="main", prefix="imageupdater/") == []
        assert fake.seen[0].path == f"/repos/{REPO}/pulls"
        assert fake.violations == []


def test_gitlab_style_rate_limit_headers_are_honoured(bare: Env) -> None:
    reset = str(int(time.time()) + 4)
    bare.fake.fail_next(1, 429, {"RateLimit-Remaining": "0", "RateLimit-Reset": reset})
    forge, http = bare.forge()
    with http:
        assert forge.list_open(base="main", prefix="imageupdater/") == []
    assert 2 <= bare.sleeps[0] <= 4


def test_gitlab_reviewers_by_username_are_looked_up_and_an_unknown_one_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for env in make_env(tmp_path, monkeypatch, "gitlab", {"a.yaml": deployment("web", "1.0.0")}):
        push_branch(env, "imageupdater/web")
        forge, http = env.forge()
        with http:
            with pytest.raises(ConfigError, match="no user 'mallory'"):
                forge.open(head="imageupdater/web", base="main", title="t", body="b",
                           reviewers=["alice", "mallory"])  # fmt: skip
            assert env.fake.open_prs() == []  # nothing opened with a wrong reviewer list
            pr = forge.open(head="imageupdater/web", base="main", title="t", body="b",
                            reviewers=["@bob", "12"])  # fmt: skip
        assert env.fake.prs[pr.number].reviewers == ["8", "12"]
        assert env.fake.violations == []
