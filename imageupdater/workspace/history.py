"""Reading history: the commits that touched some files, their trailers, and old contents.

Used by the layers that remember decisions in commit trailers (declines); nothing here
writes to the repository.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from imageupdater.workspace._core import _Repository


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One commit as history readers need it: who, when, and the trailers of one key."""

    sha: str
    parents: tuple[str, ...]
    author: str
    author_date: str  # strict ISO 8601, as `%aI` prints it
    trailers: tuple[str, ...]


class _History(_Repository):
    """History readers of :class:`~imageupdater.workspace.Workspace`."""

    def log(
        self, paths: Sequence[Path], *, trailer: str, limit: int | None = None
    ) -> list[LogEntry]:
        """Commits reachable from HEAD that touched ``paths``, newest first (topological),
        each with the values of its ``trailer`` trailers. Empty without commits."""
        if self._head_or_none() is None:
            return []
        top = self.root.resolve()
        rels = [
            "." if (self.root / path).resolve() == top else self._relative([path])[0]
            for path in paths
        ]
        fmt = (
            "%H%x1f%P%x1f%an <%ae>%x1f%aI%x1f"
            f"%(trailers:key={trailer},valueonly=true,separator=%x1d)%x1e"
        )
        args = ["log", "--topo-order", f"--format={fmt}"]
        if limit is not None:
            args.append(f"--max-count={limit}")
        done = self._ok([*args, "HEAD", "--", *(rels or ["."])], "cannot read the history")
        entries = []
        for record in done.stdout.decode("utf-8", "replace").split("\x1e"):
            fields = record.strip("\n").split("\x1f")
            if len(fields) != 5:
                continue
            sha, parents, author, date, values = fields
            entries.append(
                LogEntry(
                    sha,
                    tuple(parents.split()),
                    author,
                    date,
                    tuple(v.strip() for v in values.split("\x1d") if v.strip()),
                )
            )
        return entries

    def read_file_at(self, commit: str, path: Path) -> bytes | None:
        """The content of ``path`` in ``commit``; None when that commit has no such file."""
        (rel,) = self._relative([path])
        done = self._git(["cat-file", "blob", f"{commit}:{rel}"])
        return done.stdout if done.ok else None
