"""Hermetic Git for tests: no user or system config, a known identity, no prompts."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def git(cwd: Path, *args: str) -> str:
    """Run git as a user would (inheriting the hermetic environment); return stdout."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.rstrip("\n")


def make_hermetic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    for key in list(os.environ):
        if key.startswith("GIT_") or key in {"EMAIL", "XDG_CONFIG_HOME"}:
            monkeypatch.delenv(key)
    (home / ".gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    for role in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{role}_NAME", "Alice Author")
        monkeypatch.setenv(f"GIT_{role}_EMAIL", "alice@example.com")


def clone_pair(tmp_path: Path, files: dict[str, str]) -> tuple[Path, Path]:
    """A bare `file://` remote holding `files` on main, and a clone of it to work in."""
    remote = tmp_path / "remote.git"
    seed = tmp_path / "seed"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(tmp_path, "init", "-q", str(seed))
    for name, text in files.items():
        path = seed / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "initial manifests")
    git(seed, "push", "-q", f"file://{remote}", "HEAD:refs/heads/main")
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", f"file://{remote}", str(work))
    return remote, work
