"""What a plan decides and changes: plain values handed from selection to rendering,
delivery and PR mode."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from imageupdater.discovery import Target
from imageupdater.markers import Marker
from imageupdater.report import Skip, SkipReason, Update


@dataclass(frozen=True, slots=True)
class Decision:
    target: Target
    tag: str
    digest: str | None
    policy: str
    value: str | None = None  # the value to write when it is not `name:tag[@digest]`


@dataclass(frozen=True, slots=True)
class MarkerEdit:
    """A marked field to rewrite, with the update row it reports."""

    marker: Marker
    value: str
    update: Update

    def skip(self, reason: SkipReason, detail: str) -> Skip:
        """The row for this edit when it is not made after all."""
        return Skip(
            file=self.marker.file,
            reason=reason,
            detail=detail,
            workload=self.marker.workload,
            image=self.update.image,
            line=self.marker.scalar.line,
            current=self.update.from_tag,
            policy=self.update.policy,
        )


@dataclass(frozen=True, slots=True)
class FileChange:
    path: Path
    relpath: str
    before: bytes
    after: bytes
    before_text: str
    after_text: str

    def unified_diff(self) -> str:
        lines = difflib.unified_diff(
            self.before_text.splitlines(keepends=True),
            self.after_text.splitlines(keepends=True),
            fromfile=f"a/{self.relpath}",
            tofile=f"b/{self.relpath}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
