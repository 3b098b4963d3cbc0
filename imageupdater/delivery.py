"""Deliver a plan in commit mode: write the files, commit them, push with retry (SPEC §4, §6).

The loop is the one the SPEC asks for: on a rejected push, fetch and rebase our commit
onto what someone else pushed, plan again on the new head (their commit may already hold
the update, or move a pin), and push again. Our own unpublished commit is the only thing
ever dropped; a user's branch is never reset or force-pushed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from imageupdater.engine import FileChange, Plan
from imageupdater.errors import AuthError, GitError, GitTransportError
from imageupdater.report import ErrorEntry, Report, Update
from imageupdater.templates import commit_message
from imageupdater.workspace import NothingToCommit, PushRejected, RebaseConflict, Workspace

MAX_PUSH_ATTEMPTS = 4


@dataclass(frozen=True, slots=True)
class CommitSettings:
    commit: bool
    push: bool
    branch: str | None = None
    template: str | None = None
    author: tuple[str, str] | None = None
    backoff: float = 0.5


def write_file(change: FileChange) -> None:
    """Replace the file atomically, keeping its mode; refuse if it changed since we read it."""
    if change.path.read_bytes() != change.before:
        raise GitError(f"{change.relpath} changed while planning; not written")
    mode = change.path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=change.path.parent, prefix=".imageupdater-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(change.after)
        os.chmod(tmp, mode)
        os.replace(tmp, change.path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _drop_file(report: Report, relpath: str) -> None:
    report.updates[:] = [u for u in report.updates if u.file != relpath]


def write_changes(plan: Plan, workspace: Workspace | None) -> list[FileChange]:
    """Write what can be written; files with a user's uncommitted changes are left alone."""
    dirty: set[Path] = set()
    if workspace is not None and plan.changes:
        dirty = workspace.dirty_paths([c.path for c in plan.changes])
    written: list[FileChange] = []
    for change in plan.changes:
        if change.path in dirty:
            message = f"{change.relpath} has uncommitted changes; not edited"
            plan.report.add_error(ErrorEntry("git", message, file=change.relpath))
            _drop_file(plan.report, change.relpath)
            continue
        try:
            write_file(change)
        except (OSError, GitError) as exc:
            plan.report.add_error(ErrorEntry("rewrite", str(exc), file=change.relpath))
            _drop_file(plan.report, change.relpath)
            continue
        written.append(change)
    return written


def _merge(report: Report, carried: Sequence[Update]) -> None:
    """Updates committed by an earlier attempt stay reported, not as 'up-to-date'."""
    moved = {(u.file, u.workload, u.container) for u in carried}
    report.skipped[:] = [
        s
        for s in report.skipped
        if not (s.reason == "up-to-date" and (s.file, s.workload, s.container) in moved)
    ]
    report.updates[:0] = carried


def deliver(
    make_plan: Callable[[], Plan], workspace: Workspace | None, settings: CommitSettings
) -> Report:
    carried: list[Update] = []
    plan = make_plan()
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        written = write_changes(plan, workspace)
        report = plan.report
        if workspace is None or not settings.commit:
            return report
        sha: str | None = None
        if written:
            ours = [u for u in report.updates if u.file in {c.relpath for c in written}]
            message = commit_message(ours, settings.template)
            try:
                sha = workspace.commit_files(
                    [c.path for c in written], message, author=settings.author
                )
            except NothingToCommit:
                sha = None
        _merge(report, carried)
        report.commit = workspace.head() if (sha or carried) else None
        if not settings.push or report.commit is None:
            return report
        try:
            workspace.push(settings.branch)
        except PushRejected:
            if attempt == MAX_PUSH_ATTEMPTS:
                report.add_error(ErrorEntry("git", f"push rejected {attempt} times; giving up"))
                return report
            carried = _rebase(workspace, settings, sha, report.updates)
            time.sleep(settings.backoff * attempt)
            plan = make_plan()
            continue
        except (GitTransportError, AuthError) as exc:
            report.add_error(ErrorEntry(exc.kind, str(exc)))
            return report
        report.pushed = True
        return report
    raise AssertionError("unreachable")  # pragma: no cover


def _rebase(
    workspace: Workspace, settings: CommitSettings, sha: str | None, updates: list[Update]
) -> list[Update]:
    """Rebase onto the remote; when our own commit conflicts, drop it and plan again.

    Any other failure (a conflict in one of the user's own unpushed commits, uncommitted
    changes in the way) is the user's to resolve and propagates as a `GitError`.
    """
    try:
        workspace.sync_with_remote(settings.branch)
        return list(updates)
    except RebaseConflict as exc:
        if sha is None or exc.commit != sha:
            raise
        workspace.undo_last_commit(sha)
        workspace.sync_with_remote(settings.branch)
        return []
