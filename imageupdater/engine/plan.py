"""One reconcile of a checkout: discover -> scan -> select -> render (SPEC §1).

`make_plan` is the whole read-only half of every command: `plan` prints it, `apply`
writes and delivers it, the daemon runs it per cycle."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

from imageupdater.declines import Decline, Key, find_declines
from imageupdater.discovery import Discovered, SourceFile, Target, discover_repository
from imageupdater.errors import GitError
from imageupdater.progress import Progress
from imageupdater.registry import RegistryClient, TagScan
from imageupdater.report import ErrorEntry, Report, Skip
from imageupdater.workspace import Workspace

from .render import render
from .results import Decision, FileChange, MarkerEdit
from .selector import DEFAULT_WORKERS, Selector, decline_key, needs_tag_list


@dataclass(slots=True)
class Plan:
    report: Report
    changes: list[FileChange]
    #: what the changes were rendered from, so PR mode can render one group at a time
    sources: list[SourceFile] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    #: line-marker edits (SPEC §2.2), delivered like decisions: in the run's mode, or in
    #: the mode of the workload that encloses the marker (`Marker.update_mode`)
    marker_edits: list[MarkerEdit] = field(default_factory=list)

    def render_subset(
        self, decisions: Sequence[Decision], marker_edits: Sequence[MarkerEdit] = ()
    ) -> list[FileChange]:
        """The file changes for only ``decisions`` and ``marker_edits`` (one PR's worth),
        from the same sources."""
        return render(self.sources, decisions, Report(), marker_edits)

    def subset(
        self,
        keep: Callable[[Decision], bool],
        *,
        markers: bool | Callable[[MarkerEdit], bool] = False,
    ) -> Plan:
        """The plan for the decisions ``keep`` accepts (per-workload delivery modes), plus
        the marker edits ``markers`` accepts (all with True, none with False); skips and
        errors are shared, updates and changes are only those of what is kept."""
        chosen = [d for d in self.decisions if keep(d)]
        if isinstance(markers, bool):
            kept_markers = list(self.marker_edits) if markers else []
        else:
            kept_markers = [m for m in self.marker_edits if markers(m)]
        report = Report(skipped=list(self.report.skipped), errors=list(self.report.errors))
        changes = render(self.sources, chosen, report, kept_markers)
        report.sort()
        return Plan(report, changes, self.sources, chosen, kept_markers)

    def hold_back(self, detail: str) -> None:
        """Nothing may be written now (suspended, change window closed): every update
        becomes a `frozen` skip row with `detail`, and no file is changed."""
        for update in self.report.updates:
            self.report.skipped.append(
                Skip(
                    file=update.file,
                    reason="frozen",
                    detail=detail,
                    workload=update.workload,
                    container=update.container,
                    image=update.image,
                    line=update.line,
                    current=update.from_tag,
                    policy=update.policy,
                )
            )
        self.report.updates.clear()
        self.changes.clear()
        self.report.notes.append(detail)
        self.report.sort()


def make_plan(
    root: Path,
    client: RegistryClient,
    now: datetime,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
    history: Workspace | None = None,
) -> Plan:
    """Discover, scan, select and render. With `history` (the Git work tree holding `root`)
    versions a human rolled back are declined (see `declines`). `progress` hears how far
    each stage has got (`imageupdater.progress`); without it nothing is counted."""
    report = Report()
    with TagScan(client, workers=workers, progress=progress) as scan:
        discovered = discover_repository(
            root, report, now, found=partial(_prefetch, scan), progress=progress
        )
        return _plan(discovered, root, client, now, workers, progress, history, report, scan)


def _prefetch(scan: TagScan, target: Target) -> None:
    """Start the tag walk a target will need."""
    if needs_tag_list(target):
        scan.want(target.ref)


def _plan(
    discovered: Discovered,
    root: Path,
    client: RegistryClient,
    now: datetime,
    workers: int,
    progress: Progress | None,
    history: Workspace | None,
    report: Report,
    scan: TagScan,
) -> Plan:
    sources = discovered.sources
    targets = [target for source in sources for target in source.targets]
    declines: dict[Key, Decline] = {}
    if history is not None and targets:
        cleared = {decline_key(t): t.declines_cleared for t in targets if t.declines_cleared}
        try:
            declines = find_declines(history, root, [decline_key(t) for t in targets], cleared)
        except GitError as exc:
            report.add_error(ErrorEntry("git", f"cannot read rollbacks from history: {exc}"))
    selector = Selector(client, report, workers, scan, now, declines, progress)
    decisions = selector.select(targets)
    markers = [marker for source in sources for marker in source.markers]
    marker_edits = selector.select_markers(markers, discovered.book) if markers else []
    changes = render(sources, decisions, report, marker_edits, progress)
    report.sort()
    return Plan(report, changes, list(sources), decisions, list(marker_edits))
