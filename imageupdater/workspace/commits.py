"""Committing exactly the files we edited, on a private index, and taking such a commit back.

The user's staged and unstaged changes are never touched: a commit is built on a scratch
index and the branch moves with a compare-and-swap; undoing moves HEAD like ``git checkout``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from imageupdater.errors import GitError
from imageupdater.workspace._core import _Repository
from imageupdater.workspace._git import _log, _normalise_message
from imageupdater.workspace.errors import NothingToCommit


class _Commits(_Repository):
    """Staging and committing of :class:`~imageupdater.workspace.Workspace`."""

    def stage(self, paths: Sequence[Path]) -> None:
        """``git add`` exactly these files (``--no-commit`` leaves an edit staged)."""
        rels = list(dict.fromkeys(self._relative(paths)))
        if rels:
            self._ok(["add", "--", *rels], "cannot stage the edited files")

    def commit_files(
        self, paths: Sequence[Path], message: str, *, author: tuple[str, str] | None = None
    ) -> str:
        """Commit exactly ``paths``, as they are in the work tree, and return the new sha.

        The commit is built on a private index (HEAD plus these files), so other staged and
        unstaged changes stay exactly as they were; for these files, what was staged is
        replaced by what was committed. A new file is added, a deleted one removed. The
        branch moves only if HEAD did not move meanwhile.

        ``author`` is used as author and committer; without it git's configured identity
        is used, or :data:`FALLBACK_IDENTITY` when git has none.
        """
        rels = list(dict.fromkeys(self._relative(paths)))
        if not rels:
            raise ValueError("commit_files needs at least one path")
        if not message.strip():
            raise ValueError("commit_files needs a commit message")
        parent = self._head_or_none()

        with tempfile.TemporaryDirectory(prefix="imageupdater-index-") as scratch:
            index = {"GIT_INDEX_FILE": str(Path(scratch, "index"))}
            self._ok(["read-tree", parent or "--empty"], "cannot prepare the commit", env=index)
            self._ok(["add", "--all", "--", *rels], "cannot stage the edited files", env=index)
            tree = self._ok(["write-tree"], "cannot write the commit tree", env=index).text

        if parent is not None and tree == self._ok(["rev-parse", f"{parent}^{{tree}}"], "").text:
            raise NothingToCommit(f"nothing to commit: {', '.join(rels)} match HEAD")

        commit_args = ["commit-tree", tree, *(["-p", parent] if parent else [])]
        sha = self._ok(
            commit_args,
            "cannot create the commit",
            stdin=_normalise_message(message).encode("utf-8"),
            env=self._identity_env(author),
        ).text
        subject = message.strip().splitlines()[0]
        self._ok(
            ["update-ref", "-m", f"imageupdater: commit: {subject}", "HEAD", sha, parent or ""],
            "HEAD moved while committing; nothing was committed",
        )
        # Let the real index agree with the new HEAD for these files, and nothing else.
        for args in (["reset", "-q", "--", *rels], ["update-index", "-q", "--refresh"]):
            done = self._git(args)
            if not done.ok:
                _log.warning("%s", done.failure(f"committed {sha[:12]}, but the index is stale"))
        return sha

    def undo_last_commit(self, expected_sha: str) -> None:
        """Drop HEAD, which must be ``expected_sha``, keeping every other local change.

        The files of that commit go back to the parent's content in index and work tree;
        this refuses (:class:`WorkTreeConflict`) if one of them was changed since.
        """
        head = self.head()
        expected = self._ok(
            ["rev-parse", "--verify", "-q", f"{expected_sha}^{{commit}}"],
            f"refusing to undo: {expected_sha!r} is not a commit",
        ).text
        if head != expected:
            raise GitError(f"refusing to undo {expected[:12]}: HEAD is {head[:12]}")
        parents = self._ok(["rev-list", "--parents", "-n", "1", head], "").text.split()[1:]
        if not parents:
            raise GitError(f"refusing to undo {head[:12]}: it is the first commit")
        self._move_head(head, parents[0], f"imageupdater: undo {head[:12]}")
