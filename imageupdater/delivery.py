"""Deliver a plan in commit mode: write the files, commit them, push with retry (SPEC §4, §6).

On a rejected push the branch is brought up to date with what someone else pushed and
the plan is made again on the new head (their commit may already hold the update, or
move a pin), then pushed again. Our own unpublished commit is the only thing ever
dropped; a user's branch is never reset or force-pushed.
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
from imageupdater.report import ErrorEntry, Report
from imageupdater.templates import commit_message
from imageupdater.workspace import NothingToCommit, PushRejected, Workspace

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


def _commit(
    plan: Plan, workspace: Workspace, written: Sequence[FileChange], settings: CommitSettings
) -> str | None:
    if not written:
        return None
    files = {c.relpath for c in written}
    message = commit_message([u for u in plan.report.updates if u.file in files], settings.template)
    try:
        return workspace.commit_files([c.path for c in written], message, author=settings.author)
    except NothingToCommit:
        return None


def deliver(
    make_plan: Callable[[], Plan], workspace: Workspace | None, settings: CommitSettings
) -> Report:
    """Plan, write, commit and push; on a rejected push start over from the remote's head.

    Our commit is never stacked on a stale one: it is dropped (it was never published),
    the branch is brought up to date like `git pull --rebase` (rebasing the user's own
    unpushed commits), and the plan is made again, so the report always describes exactly
    the one commit that was pushed.
    """
    plan = make_plan()
    for attempt in range(1, MAX_PUSH_ATTEMPTS + 1):
        report = plan.report
        written = write_changes(plan, workspace)
        if workspace is None or not settings.commit:
            return report
        sha = _commit(plan, workspace, written, settings)
        report.commit = sha
        if not settings.push or sha is None:
            return report
        try:
            workspace.push(settings.branch)
        except PushRejected:
            if attempt == MAX_PUSH_ATTEMPTS:
                report.add_error(ErrorEntry("git", f"push rejected {attempt} times; giving up"))
                return report
            workspace.undo_last_commit(sha)
            try:
                workspace.sync_with_remote(settings.branch)
            except GitError as exc:
                return _commit_locally(make_plan, workspace, settings, exc)
            time.sleep(settings.backoff * attempt)
            plan = make_plan()
            continue
        except (GitError, GitTransportError, AuthError) as exc:
            report.add_error(ErrorEntry(exc.kind, str(exc)))
            return report
        report.pushed = True
        return report
    raise AssertionError("unreachable")  # pragma: no cover


def _commit_locally(
    make_plan: Callable[[], Plan], workspace: Workspace, settings: CommitSettings, exc: GitError
) -> Report:
    """The branch cannot follow the remote (the user's own commits conflict): keep our
    updates as a local commit, report why nothing was pushed, and leave the rest to them."""
    plan = make_plan()
    written = write_changes(plan, workspace)
    plan.report.commit = _commit(plan, workspace, written, settings)
    plan.report.add_error(ErrorEntry(exc.kind, f"not pushed: {exc}"))
    return plan.report
