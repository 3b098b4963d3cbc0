"""push: fast-forward only, typed failures, no credentials in messages."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from imageupdater.errors import AuthError, GitError, GitTransportError, ImageUpdaterError
from imageupdater.workspace import PushRejected, Workspace, _redact
from tests.workspace.conftest import API, WEB, Repos, commit_all, deployment, git, write


def our_commit(repos: Repos, tag: str = "1.1.0") -> str:
    write(repos.work, WEB, deployment("web", tag))
    return Workspace(repos.work).commit_files([Path(WEB)], f"update web to {tag}")


def their_push(repos: Repos, name: str = API, text: str = "theirs\n") -> str:
    git(repos.other, "pull", "-q", "--rebase")
    write(repos.other, name, text)
    sha = commit_all(repos.other, f"their change to {name}")
    git(repos.other, "push", "-q", "origin", "main")
    return sha


def test_push_fast_forwards_the_remote(repos: Repos) -> None:
    sha = our_commit(repos)
    Workspace(repos.work).push()
    assert repos.remote_head() == sha


def test_push_to_another_branch_creates_it(repos: Repos) -> None:
    sha = our_commit(repos)
    Workspace(repos.work).push(branch="release")
    assert repos.remote_head("release") == sha
    assert repos.remote_head("main") != sha


def test_push_defaults_to_the_upstream_branch(repos: Repos) -> None:
    git(repos.work, "checkout", "-q", "-b", "local-name", "--track", "origin/main")
    sha = our_commit(repos)
    Workspace(repos.work).push()
    assert repos.remote_head("main") == sha


def test_concurrent_push_is_rejected_and_nothing_is_forced(repos: Repos) -> None:
    our_commit(repos)
    theirs = their_push(repos)
    # even a forcing push refspec in the user's config must not apply
    git(repos.work, "config", "remote.origin.push", "+refs/heads/*:refs/heads/*")
    git(repos.work, "config", "push.default", "matching")
    with pytest.raises(PushRejected) as caught:
        Workspace(repos.work).push()
    assert isinstance(caught.value, GitTransportError)
    assert repos.remote_head() == theirs


def test_detached_head_needs_a_branch(repos: Repos) -> None:
    sha = our_commit(repos)
    git(repos.work, "checkout", "-q", "--detach")
    ws = Workspace(repos.work)
    with pytest.raises(GitError, match="detached"):
        ws.push()
    ws.push(branch="main")
    assert repos.remote_head() == sha


def test_unreachable_repository_is_a_git_error(repos: Repos, tmp_path: Path) -> None:
    our_commit(repos)
    git(repos.work, "remote", "set-url", "origin", (tmp_path / "gone.git").as_uri())
    with pytest.raises(GitError, match="does not appear to be a git repository"):
        Workspace(repos.work).push()


def test_option_like_remote_is_refused(repos: Repos) -> None:
    with pytest.raises(GitError, match="invalid remote"):
        Workspace(repos.work).push(remote="--receive-pack=touch /tmp/x")


# --- remotes over HTTP, with credentials in the URL ----------------------------------


class _Deny(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Basic realm="git"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def denying_server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Deny)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _assert_no_secret(error: ImageUpdaterError) -> None:
    assert "s3cr3t" not in str(error)
    assert "s3cr3t" not in repr(error)


def test_auth_failure_is_an_auth_error_without_the_secret(
    repos: Repos, denying_server: int
) -> None:
    our_commit(repos)
    url = f"http://user:s3cr3t@127.0.0.1:{denying_server}/fleet.git"
    git(repos.work, "remote", "set-url", "origin", url)
    ws = Workspace(repos.work)
    with pytest.raises(AuthError) as by_name:
        ws.push()
    _assert_no_secret(by_name.value)
    with pytest.raises(AuthError) as by_url:
        ws.push(branch="main", remote=url)
    _assert_no_secret(by_url.value)
    with pytest.raises(AuthError) as on_fetch:
        ws.sync_with_remote()
    _assert_no_secret(on_fetch.value)


def test_missing_credentials_fail_instead_of_prompting(repos: Repos, denying_server: int) -> None:
    our_commit(repos)
    git(repos.work, "remote", "set-url", "origin", f"http://127.0.0.1:{denying_server}/fleet.git")
    with pytest.raises(AuthError, match=r"terminal prompts disabled|could not read Username"):
        Workspace(repos.work).push()


def test_connection_failure_is_transient_without_the_secret(repos: Repos) -> None:
    our_commit(repos)
    url = f"https://user:s3cr3t@127.0.0.1:{_closed_port()}/fleet.git"
    git(repos.work, "remote", "set-url", "origin", url)
    with pytest.raises(GitTransportError) as caught:
        Workspace(repos.work).push()
    assert not isinstance(caught.value, PushRejected)
    _assert_no_secret(caught.value)


def test_a_hanging_remote_times_out(repos: Repos, silent_port: int) -> None:
    our_commit(repos)
    url = f"http://user:s3cr3t@127.0.0.1:{silent_port}/fleet.git"
    git(repos.work, "remote", "set-url", "origin", url)
    ws = Workspace(repos.work, network_timeout=1)
    with pytest.raises(GitTransportError, match="took longer than 1s") as caught:
        ws.push()
    _assert_no_secret(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "fatal: unable to access 'https://user:s3cr3t@git.example/fleet.git/': 403",
            "fatal: unable to access 'https://git.example/fleet.git/': 403",
        ),
        ("To https://x-access-token:s3cr3t@github.com/a/b", "To https://github.com/a/b"),
        (
            "https://s3cr3t@host/a and ssh://git:s3cr3t@host:22/b",
            "https://host/a and ssh://host:22/b",
        ),
        ("https://us@er:p@ss:s3cr3t@host/a", "https://host/a"),
        (
            "> Authorization: Basic s3cr3t\n< HTTP/1.1 401",
            "> Authorization: <redacted>\n< HTTP/1.1 401",
        ),
        ("git@github.com:acme/fleet.git", "git@github.com:acme/fleet.git"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert _redact(text) == expected
