"""One reconcile of a checkout: discover -> scan -> select -> plan (SPEC §1, ARCHITECTURE).

`make_plan` is the whole read-only half of every command: `plan` prints it, `apply`
writes and delivers it, the daemon runs it per cycle. Registry work is batched: one
`tags/list` walk per distinct repository, and manifest checks run concurrently and only
for the tags that would actually be written.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from imageupdater.declines import Decline, Key, find_declines
from imageupdater.discovery import SourceFile, Target, discover
from imageupdater.errors import GitError, ImageUpdaterError, RewriteError
from imageupdater.model import ImageRef, ManifestInfo
from imageupdater.registry import RegistryClient, scan_tags
from imageupdater.report import ErrorEntry, Report, Skip, Update
from imageupdater.workspace import Workspace
from imageupdater.yamledit import Edit, apply_edits, encode

DEFAULT_WORKERS = 16


@dataclass(frozen=True, slots=True)
class Decision:
    target: Target
    tag: str
    digest: str | None
    policy: str


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


@dataclass(slots=True)
class Plan:
    report: Report
    changes: list[FileChange]
    #: what the changes were rendered from, so PR mode can render one group at a time
    sources: list[SourceFile] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)

    def render_subset(self, decisions: Sequence[Decision]) -> list[FileChange]:
        """The file changes for only ``decisions`` (one PR's worth), from the same sources."""
        return render(self.sources, decisions, Report())

    def subset(self, keep: Callable[[Decision], bool]) -> Plan:
        """The plan for the decisions ``keep`` accepts (per-workload delivery modes); skips
        and errors are shared, updates and changes are only those of the kept decisions."""
        chosen = [d for d in self.decisions if keep(d)]
        report = Report(skipped=list(self.report.skipped), errors=list(self.report.errors))
        changes = render(self.sources, chosen, report)
        report.sort()
        return Plan(report, changes, self.sources, chosen)

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


ManifestKey = tuple[str, str]
ManifestResult = ManifestInfo | None | ImageUpdaterError


class ManifestChecker:
    """Checks that chosen tags exist, once per (repository, tag), concurrently."""

    def __init__(self, client: RegistryClient, workers: int) -> None:
        self._client = client
        self._workers = workers
        self._known: dict[ManifestKey, ManifestResult] = {}

    def check(self, wanted: Iterable[tuple[ImageRef, str]]) -> None:
        todo: dict[ManifestKey, tuple[ImageRef, str]] = {}
        for ref, tag in wanted:
            key = (ref.canonical, tag)
            if key not in self._known:
                todo[key] = (ref, tag)
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=min(self._workers, len(todo))) as pool:
            results = pool.map(lambda item: self._head(*item), todo.values())
            self._known.update(zip(todo, results, strict=True))

    def _head(self, ref: ImageRef, tag: str) -> ManifestResult:
        try:
            return self._client.manifest(ref, tag)
        except ImageUpdaterError as exc:
            return exc

    def result(self, ref: ImageRef, tag: str) -> ManifestResult:
        return self._known[(ref.canonical, tag)]


class Selector:
    """Turns targets into decisions, reporting every container it does not move."""

    def __init__(
        self,
        client: RegistryClient,
        report: Report,
        workers: int,
        declines: Mapping[Key, Decline] | None = None,
    ) -> None:
        self._client = client
        self._report = report
        self._workers = workers
        self._manifests = ManifestChecker(client, workers)
        self._declines = declines or {}

    def select(self, targets: Sequence[Target]) -> list[Decision]:
        ranked: list[tuple[Target, list[str], str]] = []
        pinned = [t for t in targets if t.pin is not None]
        ranked.extend(self._pins(pinned))
        by_policy = [t for t in targets if t.pin is None]
        ranked.extend(self._rank(by_policy))
        return self._resolve(ranked)

    def _pins(self, targets: Sequence[Target]) -> Iterable[tuple[Target, list[str], str]]:
        for target in targets:
            assert target.pin is not None
            if target.pin == target.ref.tag:
                reason = f": {target.pin_reason}" if target.pin_reason else ""
                detail = f"pinned to {target.pin}{reason}"
                self._report.skipped.append(target.skip("pinned", detail))
            else:
                yield target, [target.pin], "pin"

    def _rank(self, targets: Sequence[Target]) -> Iterable[tuple[Target, list[str], str]]:
        scannable: list[Target] = []
        for target in targets:
            assert target.policy is not None
            if target.policy_text == "never":
                self._report.skipped.append(target.skip("never", "policy is never"))
            elif target.ref.tag is None:
                detail = "the value has no tag; only digest policies apply"
                self._report.skipped.append(target.skip("no-candidate", detail))
            else:
                scannable.append(target)
        tags_by_image = scan_tags(
            self._client,
            {t.ref.canonical: t.ref for t in scannable}.values(),
            workers=self._workers,
        )
        for target in scannable:
            assert target.policy is not None
            tags = tags_by_image[target.ref.canonical]
            if isinstance(tags, ImageUpdaterError):
                self._registry_failure(target, tags)
                continue
            ranking = target.policy.rank(tags, target.ref.tag)
            decline = self._declines.get(_key(target))
            upgrades = list(ranking.upgrades)
            if decline is not None and upgrades:
                upgrades = [tag for tag in upgrades if decline.allows(tag)]
                if not upgrades:
                    self._report.skipped.append(target.skip("declined", decline.detail))
                    continue
            if upgrades:
                yield target, upgrades, target.policy_text
            elif ranking.candidates:
                self._report.skipped.append(
                    target.skip("up-to-date", f"{target.current} is newest")
                )
            else:
                detail = f"no tag of {target.ref.name} matches {target.policy_text}"
                self._report.skipped.append(target.skip("no-candidate", detail))

    def _registry_failure(self, target: Target, error: ImageUpdaterError) -> None:
        self._report.add_error(ErrorEntry(error.kind, str(error), image=target.ref.name))
        self._report.skipped.append(target.skip("registry-error", str(error)))

    def _resolve(self, ranked: list[tuple[Target, list[str], str]]) -> list[Decision]:
        """Walk each target's candidates best first until one really exists."""
        decisions: list[Decision] = []
        pending = [(target, list(candidates), policy) for target, candidates, policy in ranked]
        while pending:
            self._manifests.check((t.ref, candidates[0]) for t, candidates, _ in pending)
            still: list[tuple[Target, list[str], str]] = []
            for target, candidates, policy in pending:
                result = self._manifests.result(target.ref, candidates[0])
                if isinstance(result, ImageUpdaterError):
                    self._registry_failure(target, result)
                elif result is not None:
                    digest = result.digest if target.ref.digest else None
                    decisions.append(Decision(target, candidates[0], digest, policy))
                elif len(candidates) > 1:
                    still.append((target, candidates[1:], policy))
                elif policy == "pin":
                    message = f"pinned tag {target.pin} does not exist in {target.ref.name}"
                    self._report.add_error(ErrorEntry("registry", message, image=target.ref.name))
                    self._report.skipped.append(target.skip("pinned", message))
                else:
                    detail = "no candidate tag has a manifest in the registry"
                    self._report.skipped.append(target.skip("no-candidate", detail))
            pending = still
        return decisions


def render(
    sources: Sequence[SourceFile], decisions: Sequence[Decision], report: Report
) -> list[FileChange]:
    """Plan stage: splice decisions into each file; a file failing verification is left alone."""
    by_file: dict[str, list[Decision]] = {}
    for decision in decisions:
        by_file.setdefault(decision.target.file, []).append(decision)
    changes: list[FileChange] = []
    for source in sources:
        chosen = by_file.get(source.relpath)
        if not chosen:
            continue
        edits = [Edit(d.target.scalar, d.target.ref.with_tag(d.tag, d.digest)) for d in chosen]
        try:
            after_text = apply_edits(source.text, edits)
        except RewriteError as exc:
            report.add_error(ErrorEntry("rewrite", str(exc), file=source.relpath))
            for d in chosen:
                report.skipped.append(d.target.skip("unsupported-value", f"file not edited: {exc}"))
            continue
        changes.append(
            FileChange(
                source.path,
                source.relpath,
                source.data,
                encode(after_text),
                source.text,
                after_text,
            )
        )
        report.updates.extend(_update_row(d) for d in chosen)
    return changes


def _update_row(decision: Decision) -> Update:
    target = decision.target
    return Update(
        file=target.file,
        line=target.scalar.line,
        workload=target.workload,
        container=target.container,
        image=target.ref.name,
        from_tag=target.current,
        to_tag=decision.tag,
        policy=decision.policy,
        digest=decision.digest,
    )


def _key(target: Target) -> Key:
    return (target.file, target.workload, target.container)


def make_plan(
    root: Path,
    client: RegistryClient,
    now: datetime,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[str], None] | None = None,
    history: Workspace | None = None,
) -> Plan:
    """Discover, scan, select and render. With `history` (the Git work tree holding `root`)
    versions a human rolled back are declined (see `declines`)."""
    report = Report()
    sources = discover(root, report, now)
    if progress:
        progress(f"{sum(len(s.targets) for s in sources)} containers in {len(sources)} files")
    targets = [target for source in sources for target in source.targets]
    declines: dict[Key, Decline] = {}
    if history is not None and targets:
        cleared = {_key(t): t.declines_cleared for t in targets if t.declines_cleared}
        try:
            declines = find_declines(history, root, [_key(t) for t in targets], cleared)
        except GitError as exc:
            report.add_error(ErrorEntry("git", f"cannot read rollbacks from history: {exc}"))
    decisions = Selector(client, report, workers, declines).select(targets)
    changes = render(sources, decisions, report)
    report.sort()
    return Plan(report, changes, list(sources), decisions)
