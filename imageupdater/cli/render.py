"""Rendering results: JSON (the stable contract of SPEC §4) or text tables for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from imageupdater.engine import FileChange
from imageupdater.report import Report

# Piped output (CI logs, `| less`) gets wide tables instead of 80 truncated columns.
stdout = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: dict[str, Any]) -> None:
    print(json.dumps(document, indent=2, sort_keys=False))


def print_report(report: Report, *, applied: bool) -> None:
    report.sort()
    if report.updates:
        table = Table(
            title="Updates applied" if applied else "Updates pending", title_justify="left"
        )
        for column in ("file:line", "workload", "container", "image", "from", "to", "policy"):
            table.add_column(column)
        for u in report.updates:
            table.add_row(*_cells(
                f"{u.file}:{u.line}", u.workload or "-", u.container or "-", u.image,
                u.from_tag, u.to_tag, u.policy,
            ))  # fmt: skip
        stdout.print(table)
    else:
        stdout.print("No updates.")
    if report.skipped:
        table = Table(title="Skipped", title_justify="left")
        for column in ("file", "workload", "container", "reason", "detail"):
            table.add_column(column)
        for s in report.skipped:
            table.add_row(
                *_cells(s.file, s.workload or "-", s.container or "-", s.reason, s.detail)
            )
        stdout.print(table)
    for note in report.notes:
        stdout.print(f"Note: {note}")
    for e in report.errors:
        where = e.image or e.file or ""
        stdout.print(f"[bold red]error[/] ({e.kind}) {escape(where)}: {escape(e.message)}")
    if report.commit:
        pushed = " and pushed" if report.pushed else ""
        stdout.print(f"Committed {report.commit[:12]}{pushed}.")
    if report.pull_requests:
        table = Table(title="Pull requests", title_justify="left")
        for column in ("number", "action", "branch", "url"):
            table.add_column(column)
        for pr in report.pull_requests:
            table.add_row(f"#{pr['number']}", pr["action"], pr.get("branch", ""), pr["url"])
        stdout.print(table)


def _cells(*values: str) -> list[Text]:
    """Table cells as plain text: a policy such as `regex:^[a-f0-9]+$` is not markup."""
    return [Text(value) for value in values]


def print_diffs(changes: Sequence[FileChange]) -> None:
    for change in changes:
        stdout.out(change.unified_diff(), end="")
