"""The :class:`Workspace` class: finding a work tree and reading its state.

The class itself only adds what does not belong to one job (finding the work tree, which
files are dirty, reading a file at HEAD); committing, history, remotes and bot branches come
from the mixins in the sibling modules.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from imageupdater.errors import GitError
from imageupdater.workspace._git import _run_git
from imageupdater.workspace.branches import _BotBranches
from imageupdater.workspace.commits import _Commits
from imageupdater.workspace.history import _History
from imageupdater.workspace.remote import _Remote


class Workspace(_Commits, _History, _Remote, _BotBranches):
    """A non-bare Git work tree, addressed by its top directory.

    Paths given to methods may be absolute or relative to :attr:`root`; they must lie inside
    the work tree.
    """

    @classmethod
    def find(cls, path: Path) -> Workspace | None:
        """The work tree containing ``path``, or None when it is not inside one.

        Git itself answers (``rev-parse --show-toplevel``), so linked worktrees, submodules
        and ``GIT_CEILING_DIRECTORIES`` behave as they do for git. A repository git refuses
        to use (``safe.directory``) is an error, not None: silently not committing would
        be worse.
        """
        start = path if path.is_dir() else path.parent
        if not start.is_dir():
            return None
        done = _run_git(["rev-parse", "--show-toplevel"], cwd=start)
        if done.ok and done.text:
            return cls(Path(done.text))
        said = done.stderr.lower()
        if "not a git repository" in said or "must be run in a work tree" in said:
            return None
        raise GitError(done.failure(f"cannot use the Git repository containing {start}"))

    def dirty_paths(self, paths: Sequence[Path]) -> set[Path]:
        """Which of ``paths`` differ from HEAD, staged or not, or are untracked.

        Returns the given Path objects themselves. Ignored files are not dirty.
        """
        wanted = self._relative(paths)
        if not wanted:
            return set()
        done = self._ok(
            [
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--ignored=no",
                "--no-renames",
                "--",
                *dict.fromkeys(wanted),
            ],
            "cannot read the status of the work tree",
        )
        changed = [os.fsdecode(entry[3:]) for entry in done.stdout.split(b"\0") if len(entry) > 3]
        return {
            original
            for original, rel in zip(paths, wanted, strict=True)
            if any(name == rel or name.startswith(rel + "/") for name in changed)
        }

    def read_head_file(self, path: Path) -> bytes | None:
        """The content of ``path`` at HEAD; None when HEAD has no such file."""
        (rel,) = self._relative([path])
        if self._head_or_none() is None:
            return None
        done = self._ok(["ls-tree", "-z", "HEAD", "--", rel], f"cannot list {rel} at HEAD")
        for entry in done.stdout.split(b"\0"):
            meta, _, name = entry.partition(b"\t")
            fields = meta.split(b" ")
            if os.fsdecode(name) == rel and len(fields) == 3 and fields[1] == b"blob":
                blob = fields[2].decode("ascii")
                return self._ok(["cat-file", "blob", blob], f"cannot read {rel}").stdout
        return None
