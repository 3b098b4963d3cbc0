"""The Git failures callers handle by type: push rejected, rebase or work-tree conflict,
nothing to commit. All derive from :mod:`imageupdater.errors`, so layers above catch them
without knowing about Git.
"""

from __future__ import annotations

from collections.abc import Sequence

from imageupdater.errors import GitError, GitTransportError


class PushRejected(GitTransportError):
    """The remote has commits we do not have (non-fast-forward)."""


class RebaseConflict(GitError):
    """A local commit does not apply on top of the remote branch.

    Nothing was changed locally. ``commit`` is the local commit that failed to apply, so the
    caller can tell its own commit from one of the user's before calling
    :meth:`Workspace.undo_last_commit`.
    """

    def __init__(self, message: str, *, commit: str | None, paths: Sequence[str]) -> None:
        super().__init__(message)
        self.commit = commit
        self.paths = tuple(paths)


class WorkTreeConflict(GitError):
    """Moving the branch would overwrite an uncommitted change of the user, so it did not move."""


class NothingToCommit(GitError):
    """The files are identical to HEAD.

    Raised rather than returning HEAD, so a caller can never mistake someone else's commit
    for its own and later undo it.
    """
