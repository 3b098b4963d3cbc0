"""Talking to a remote: clone, push, and catching up without touching the user's checkout.

Catching up is ``git pull --rebase`` done in a scratch worktree, so a conflict never leaves
rebase state behind; :meth:`_Remote.align_with_remote` is the only destructive operation and
is meant for private clones the daemon owns.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from imageupdater.errors import GitError, GitTransportError
from imageupdater.workspace._core import _Repository
from imageupdater.workspace._git import (
    DEFAULT_NETWORK_TIMEOUT,
    _log,
    _network_error,
    _redact,
    _run_git,
)
from imageupdater.workspace.errors import PushRejected, RebaseConflict


class _Remote(_Repository):
    """Clone, push and sync of :class:`~imageupdater.workspace.Workspace`."""

    @classmethod
    def clone(
        cls,
        url: str,
        dest: Path,
        branch: str,
        *,
        env: Mapping[str, str] | None = None,
        network_timeout: float = DEFAULT_NETWORK_TIMEOUT,
    ) -> Self:
        """Clone ``branch`` of ``url`` into ``dest`` (a private checkout the daemon owns).

        The clone goes to a temporary sibling first and is renamed at the end, so a process
        killed mid-clone leaves no half-made ``dest`` behind.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(dest.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        done = _run_git(
            ["clone", "--no-tags", "--branch", branch, "--", url, str(partial)],
            cwd=dest.parent,
            env=env,
            timeout=network_timeout,
        )
        if not done.ok:
            shutil.rmtree(partial, ignore_errors=True)
            raise _network_error(done, f"clone of {_redact(url)}")
        os.replace(partial, dest)
        return cls(dest, network_timeout=network_timeout, env=env)

    def align_with_remote(self, branch: str, remote: str = "origin") -> str:
        """Make a *private* checkout exactly ``remote``'s ``branch``: fetch, check it out,
        and throw away anything local (a commit or edit left by a killed cycle, a stale
        lock). Only for a clone this tool owns; a user's checkout goes through
        :meth:`sync_with_remote`, which never discards anything. Returns the new HEAD."""
        for lock in ("index.lock", "HEAD.lock", f"refs/heads/{branch}.lock"):
            (self.root / ".git" / lock).unlink(missing_ok=True)
        upstream = self._fetch(branch, remote)
        self._ok(["checkout", "-q", "--force", "-B", branch, upstream], "cannot check out")
        self._ok(["clean", "-q", "-d", "-f", "-x"], "cannot clean the checkout")
        return upstream

    def push(self, branch: str | None = None, remote: str = "origin") -> None:
        """Push HEAD to ``remote``'s ``branch``, never forced.

        The default branch is the upstream of the current branch when it tracks ``remote``,
        else the current branch's name. The refspec is explicit, so configured push
        refspecs (even forcing ones) and ``push.default`` do not apply; tags are not pushed.
        """
        target = self._target_branch(branch, remote)
        sha = self.head()
        done = self._git(
            [
                "push",
                "--porcelain",
                "--no-follow-tags",
                "--recurse-submodules=no",
                "--",
                remote,
                f"{sha}:refs/heads/{target}",
            ],
            timeout=self.network_timeout,
        )
        what = f"push to {_redact(remote)} {target}"
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            flag, _, rest = line.partition("\t")
            summary = rest.partition("\t")[2]
            if flag != "!":
                continue
            if summary.startswith("[rejected]") and (
                "non-fast-forward" in summary or "fetch first" in summary
            ):
                raise PushRejected(f"{what} rejected: the remote has new commits")
            raise GitTransportError(f"{what} refused: {_redact(summary)}")
        if not done.ok:
            raise _network_error(done, what)
        _log.info("pushed %s to %s %s", sha[:12], _redact(remote), target)

    def sync_with_remote(
        self,
        branch: str | None = None,
        remote: str = "origin",
        *,
        committer: tuple[str, str] | None = None,
    ) -> None:
        """Fetch ``remote``'s ``branch`` and put the local commits on top of it.

        Like ``git pull --rebase``: local commits not on the remote (ours and the user's) are
        replayed without merge commits; those whose change the remote already has are
        dropped. The replay happens in a scratch worktree, so on :class:`RebaseConflict` the
        checkout is untouched. Uncommitted changes are carried over like ``git checkout``
        does, or :class:`WorkTreeConflict` is raised and nothing moves.

        Replayed commits keep their authors; ``committer`` (else git's configured identity,
        else :data:`FALLBACK_IDENTITY`) becomes their committer.
        """
        target = self._target_branch(branch, remote)
        old = self.head()
        upstream = self._fetch(target, remote)
        where = f"{_redact(remote)}/{target}"
        if self._is_ancestor(upstream, old):
            return
        if self._is_ancestor(old, upstream):
            new = upstream
        else:
            new = self._rebase_elsewhere(old, upstream, where, committer)
        self._move_head(old, new, f"imageupdater: sync onto {where}")
        _log.info("synced with %s: HEAD %s -> %s", where, old[:12], new[:12])

    def _is_ancestor(self, ancestor: str, descendant: str) -> bool:
        done = self._git(["merge-base", "--is-ancestor", ancestor, descendant])
        if done.returncode not in (0, 1):
            raise GitError(done.failure("cannot compare commits"))
        return done.ok

    def _fetch(self, branch: str, remote: str) -> str:
        """Fetch one branch into a private ref (FETCH_HEAD is shared with the user's fetches)."""
        ref = f"refs/imageupdater/sync/{uuid.uuid4().hex}"
        done = self._git(
            [
                "fetch",
                "--no-tags",
                "--recurse-submodules=no",
                "--",
                remote,
                f"+refs/heads/{branch}:{ref}",
            ],
            timeout=self.network_timeout,
        )
        try:
            if not done.ok:
                raise _network_error(done, f"fetch of {_redact(remote)} {branch}")
            return self._ok(["rev-parse", "--verify", f"{ref}^{{commit}}"], "fetch failed").text
        finally:
            self._git(["update-ref", "-d", ref])

    def _rebase_elsewhere(
        self, old: str, upstream: str, where: str, committer: tuple[str, str] | None
    ) -> str:
        """Rebase ``old`` onto ``upstream`` in a scratch worktree; the new tip's sha."""
        holder = Path(tempfile.mkdtemp(prefix="imageupdater-sync-"))
        scratch = holder / "worktree"
        env = {"GIT_LFS_SKIP_SMUDGE": "1", **self._identity_env(committer, ("COMMITTER",))}
        try:
            self._ok(
                ["worktree", "add", "--detach", str(scratch), old],
                "cannot create a scratch worktree",
                env=env,
            )
            done = self._git(["rebase", upstream], cwd=scratch, env=env)
            if done.ok:
                return self._ok(["rev-parse", "HEAD"], "", cwd=scratch).text
            stopped = self._git(["rev-parse", "-q", "--verify", "REBASE_HEAD"], cwd=scratch)
            if not stopped.ok:
                raise GitError(done.failure(f"cannot rebase onto {where}"))
            unmerged = self._git(["diff", "--name-only", "-z", "--diff-filter=U"], cwd=scratch)
            paths = sorted(os.fsdecode(p) for p in unmerged.stdout.split(b"\0") if p)
            self._git(["rebase", "--abort"], cwd=scratch)
            commit = stopped.text
            raise RebaseConflict(
                f"local commit {commit[:12]} does not apply on top of {where}: "
                f"conflict in {', '.join(paths) or 'the work tree'}",
                commit=commit,
                paths=paths,
            )
        finally:
            removed = self._git(["worktree", "remove", "--force", str(scratch)])
            shutil.rmtree(holder, ignore_errors=True)
            if not removed.ok and scratch.exists():
                _log.warning("%s", removed.failure("cannot remove the scratch worktree"))
