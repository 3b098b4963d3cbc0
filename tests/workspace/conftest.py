"""Real Git repositories for the workspace tests, in a hermetic git environment.

Layout per test: a bare ``remote.git`` (reached through a ``file://`` URL), ``work`` — the
clone imageupdater works in — and ``other``, a second clone standing for a colleague who
pushes concurrently.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

WEB = "apps/web.yaml"
API = "apps/api.yaml"
NOTES = "README.md"


def deployment(name: str, tag: str) -> str:
    return (
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        f"metadata:\n  name: {name}\n"
        "  annotations:\n    imageupdater.io/policy: semver:^1\n"
        "spec:\n  template:\n    spec:\n      containers:\n"
        f"        - name: {name}\n          image: ghcr.io/acme/{name}:{tag}  # keep me\n"
    )


def git(cwd: Path, *args: str, input: str | None = None) -> str:
    """Run git as a user would (inheriting the hermetic environment); return stdout."""
    done = subprocess.run(
        ["git", *args],
        cwd=cwd,
        input=input,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.rstrip("\n")


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, newline="")
    return path


def commit_all(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture(autouse=True)
def hermetic_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No system or user git config, a known identity, no repository variables, no prompts."""
    home = tmp_path / "home"
    home.mkdir()
    for key in list(os.environ):
        if key.startswith("GIT_") or key in {"EMAIL", "XDG_CONFIG_HOME"}:
            monkeypatch.delenv(key)
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
    )
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Alice Author")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "alice@example.com")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Alice Author")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "alice@example.com")
    return home


@dataclass(frozen=True)
class Repos:
    remote: Path
    work: Path
    other: Path

    @property
    def url(self) -> str:
        return self.remote.as_uri()

    def remote_head(self, branch: str = "main") -> str:
        return git(self.remote, "rev-parse", f"refs/heads/{branch}")

    def remote_log(self, branch: str = "main") -> list[str]:
        return git(self.remote, "rev-list", f"refs/heads/{branch}").splitlines()


@pytest.fixture
def repos(tmp_path: Path) -> Repos:
    seed = tmp_path / "seed"
    seed.mkdir()
    git(seed, "init", "-q")
    write(seed, WEB, deployment("web", "1.0.0"))
    write(seed, API, deployment("api", "2.0.0"))
    write(seed, NOTES, "fleet\n")
    commit_all(seed, "initial")
    remote = tmp_path / "remote.git"
    git(tmp_path, "clone", "-q", "--bare", str(seed), str(remote))
    work, other = tmp_path / "work", tmp_path / "other"
    for clone in (work, other):
        git(tmp_path, "clone", "-q", remote.as_uri(), str(clone))
    git(other, "config", "user.name", "Bob Other")
    git(other, "config", "user.email", "bob@example.com")
    return Repos(remote=remote, work=work, other=other)
