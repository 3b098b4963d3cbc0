"""The outcome of a cycle, shaped like the JSON contract of SPEC §4.

Every stage appends to one `Report`; the CLI renders it as JSON (the stable contract) or
as text for people. Rows are sorted before rendering so output never depends on thread
scheduling or directory order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SkipReason = Literal[
    "up-to-date",
    "frozen",
    "pinned",
    "declined",
    "never",
    "no-candidate",
    "invalid-policy",
    "registry-error",
    "unparseable-file",
    "ignored-file",
    "unsupported-value",
]

REPORT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Update:
    file: str
    line: int
    workload: str | None
    container: str | None
    image: str
    from_tag: str
    to_tag: str
    policy: str
    digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "file": self.file,
            "line": self.line,
            "workload": self.workload,
            "container": self.container,
            "image": self.image,
            "from": self.from_tag,
            "to": self.to_tag,
            "policy": self.policy,
        }
        if self.digest:
            row["digest"] = self.digest
        return row


@dataclass(frozen=True, slots=True)
class Skip:
    file: str
    reason: SkipReason
    detail: str = ""
    workload: str | None = None
    container: str | None = None
    image: str | None = None
    line: int | None = None
    current: str | None = None  # for `status`; not part of the plan JSON
    policy: str | None = None  # likewise

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"file": self.file}
        if self.workload is not None:
            row["workload"] = self.workload
            row["container"] = self.container
        if self.image is not None:
            row["image"] = self.image
        if self.line is not None:
            row["line"] = self.line
        row["reason"] = self.reason
        row["detail"] = self.detail
        return row


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    kind: str
    message: str
    image: str | None = None
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"kind": self.kind}
        if self.image is not None:
            row["image"] = self.image
        if self.file is not None:
            row["file"] = self.file
        if self.line is not None:
            row["line"] = self.line
        row["message"] = self.message
        return row


@dataclass(slots=True)
class Report:
    updates: list[Update] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    errors: list[ErrorEntry] = field(default_factory=list)
    commit: str | None = None
    pushed: bool = False
    pull_requests: list[dict[str, Any]] = field(default_factory=list)
    #: repository-wide facts a reader must know (suspended, change window closed)
    notes: list[str] = field(default_factory=list)

    def add_error(self, entry: ErrorEntry) -> None:
        """Add an error once: many containers hitting one broken image give one entry."""
        if entry not in self.errors:
            self.errors.append(entry)

    def sort(self) -> None:
        self.updates.sort(key=lambda u: (u.file, u.line, u.container or ""))
        self.skipped.sort(
            key=lambda s: (s.file, s.line or 0, s.workload or "", s.container or "", s.reason)
        )
        self.errors.sort(key=lambda e: (e.kind, e.file or "", e.image or "", e.message))

    def to_json(self) -> dict[str, Any]:
        self.sort()
        return {
            "version": REPORT_VERSION,
            "updates": [u.to_json() for u in self.updates],
            "skipped": [s.to_json() for s in self.skipped],
            "errors": [e.to_json() for e in self.errors],
            "commit": self.commit,
            "pushed": self.pushed,
            "pull_requests": list(self.pull_requests),
            **({"notes": list(self.notes)} if self.notes else {}),
        }

    def exit_code(self, *, detailed: bool) -> int:
        """SPEC §4: errors win (1); pending updates give 2 only when asked for."""
        if self.errors:
            return 1
        if detailed and self.updates:
            return 2
        return 0
