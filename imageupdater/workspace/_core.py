"""The state every part of :class:`~imageupdater.workspace.Workspace` shares.

:class:`_Repository` knows the work tree's root, the extra environment and the network
timeout, and holds the helpers the mixins build on: running git in the work tree, mapping
paths into it, reading HEAD and the current branch, choosing identities, and moving HEAD
safely. The mixins in ``commits``, ``remote``, ``branches`` and ``history`` derive from it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from imageupdater.errors import GitError
from imageupdater.workspace._git import (
    DEFAULT_NETWORK_TIMEOUT,
    FALLBACK_IDENTITY,
    _Done,
    _redact,
    _run_git,
)
from imageupdater.workspace.errors import WorkTreeConflict


class _Repository:
    """A work tree and how to run git in it; see :class:`~imageupdater.workspace.Workspace`."""

    def __init__(
        self,
        root: Path,
        *,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: extra variables for every git process (credentials: ``GIT_ASKPASS`` and
        the token it reads, or ``GIT_SSH_COMMAND``), so they never reach ``.git/config``."""
        self.root = root
        self.network_timeout = network_timeout
        self.env: dict[str, str] = dict(env or {})

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def head(self) -> str:
        """The commit HEAD points to."""
        sha = self._head_or_none()
        if sha is None:
            raise GitError(f"the repository at {self.root} has no commits yet")
        return sha

    def current_branch(self) -> str | None:
        """The checked-out branch (possibly without commits yet), or None when detached."""
        done = self._git(["symbolic-ref", "-q", "HEAD"])
        if not done.ok or not done.text.startswith("refs/heads/"):
            return None
        return done.text.removeprefix("refs/heads/")

    def _git(
        self,
        args: Sequence[str],
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> _Done:
        merged = {**self.env, **env} if env else self.env
        return _run_git(args, cwd=cwd or self.root, stdin=stdin, env=merged, timeout=timeout)

    def _ok(
        self,
        args: Sequence[str],
        what: str,
        *,
        cwd: Path | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> _Done:
        done = self._git(args, cwd=cwd, stdin=stdin, env=env)
        if not done.ok:
            raise GitError(done.failure(what or "git failed"))
        return done

    def _head_or_none(self) -> str | None:
        done = self._git(["rev-parse", "--verify", "-q", "HEAD^{commit}"])
        return done.text if done.ok else None

    def _relative(self, paths: Sequence[Path]) -> list[str]:
        """Repository-relative POSIX names; symlinked directories are resolved, the file not."""
        root = self.root.resolve()
        names = []
        for path in paths:
            full = Path(os.path.normpath(self.root / path))
            full = full.parent.resolve() / full.name
            try:
                rel = full.relative_to(root)
            except ValueError:
                raise GitError(f"{path} is outside the work tree {self.root}") from None
            if not rel.parts or rel.parts[0] == ".git":
                raise GitError(f"{path} is not a file of the work tree {self.root}")
            names.append(rel.as_posix())
        return names

    def _config(self, key: str) -> str | None:
        done = self._git(["config", "--get", key])
        return done.text if done.ok else None

    def _target_branch(self, branch: str | None, remote: str) -> str:
        if remote.startswith("-") or not remote:
            raise GitError(f"invalid remote name {_redact(remote)!r}")
        if branch is None:
            current = self.current_branch()
            if current is None:
                raise GitError("HEAD is detached: name the branch to push to")
            merge = self._config(f"branch.{current}.merge")
            tracks = self._config(f"branch.{current}.remote") == remote
            branch = merge.removeprefix("refs/heads/") if tracks and merge else current
        if not self._git(["check-ref-format", f"refs/heads/{branch}"]).ok:
            raise GitError(f"invalid branch name {branch!r}")
        return branch

    def _identity_env(
        self, identity: tuple[str, str] | None, roles: Sequence[str] = ("AUTHOR", "COMMITTER")
    ) -> dict[str, str]:
        """Environment naming ``roles`` where given or where git would otherwise not know them."""
        env: dict[str, str] = {}
        for role in roles:
            name, email = identity or FALLBACK_IDENTITY
            if identity is None:
                probe = ["-c", "user.useConfigOnly=true", "var", f"GIT_{role}_IDENT"]
                if self._git(probe).ok:
                    continue
            env[f"GIT_{role}_NAME"] = name
            env[f"GIT_{role}_EMAIL"] = email
        return env

    def _move_head(self, old: str, new: str, reason: str) -> None:
        """Move HEAD (and its branch) from ``old`` to ``new`` like ``git checkout`` would.

        Index and work tree take ``new``'s content where ``old`` and ``new`` differ and keep
        every local change elsewhere; a local change in the way aborts before anything is
        touched. The ref moves only if it still points at ``old``.
        """
        self._git(["update-index", "-q", "--refresh"])  # stale stat data looks like an edit
        done = self._git(["read-tree", "-m", "-u", old, new])
        if not done.ok:
            raise WorkTreeConflict(
                f"local changes are in the way of moving to {new[:12]}; commit or stash "
                f"them: {done.detail()}"
            )
        moved = self._git(["update-ref", "-m", reason, "HEAD", new, old])
        if not moved.ok:
            self._git(["read-tree", "-m", "-u", new, old])
            raise GitError(moved.failure("HEAD moved meanwhile; it was left where it is"))
