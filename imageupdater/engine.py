"""One reconcile of a checkout: discover -> scan -> select -> plan (SPEC §1, ARCHITECTURE).

`make_plan` is the whole read-only half of every command: `plan` prints it, `apply`
writes and delivers it, the daemon runs it per cycle. Registry work is batched: one
`tags/list` walk per distinct repository, and manifest checks run concurrently and only
for the tags that would actually be written.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from imageupdater.discovery import SourceFile, Target, discover
from imageupdater.errors import ImageUpdaterError, RewriteError
from imageupdater.model import ImageMetadata, ImageRef, ManifestInfo
from imageupdater.policy import Ranking, TagPolicy, metadata_policy
from imageupdater.registry import RegistryClient, scan_tags
from imageupdater.report import ErrorEntry, Report, Update
from imageupdater.yamledit import Edit, apply_edits, encode

DEFAULT_WORKERS = 16


@dataclass(frozen=True, slots=True)
class Decision:
    target: Target
    tag: str
    digest: str | None
    policy: str
    value: str | None = None  # the value to write when it is not `name:tag[@digest]`


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


class RegistryMetadata:
    """The engine's `MetadataSource` for one image: HEADs through the shared checker
    (so the winner's existence check is free later), then metadata by digest from the
    client's cache; the fetches for one lookup run concurrently."""

    def __init__(
        self, client: RegistryClient, manifests: ManifestChecker, ref: ImageRef, workers: int
    ) -> None:
        self._client = client
        self._manifests = manifests
        self._ref = ref
        self._workers = workers

    def lookup(self, tags: Sequence[str]) -> dict[str, ImageMetadata | None]:
        wanted = list(dict.fromkeys(tags))
        self._manifests.check((self._ref, tag) for tag in wanted)
        digests: dict[str, str] = {}
        for tag in wanted:
            result = self._manifests.result(self._ref, tag)
            if isinstance(result, ImageUpdaterError):
                raise result
            if result is not None:
                digests[tag] = result.digest
        distinct = sorted(set(digests.values()))
        found: dict[str, ImageMetadata | None] = {}
        if distinct:
            with ThreadPoolExecutor(max_workers=min(self._workers, len(distinct))) as pool:
                fetched = pool.map(lambda d: self._client.metadata(self._ref, d), distinct)
                found = dict(zip(distinct, fetched, strict=True))
        return {tag: found.get(digests[tag]) if tag in digests else None for tag in wanted}


class Selector:
    """Turns targets into decisions, reporting every container it does not move."""

    def __init__(self, client: RegistryClient, report: Report, workers: int) -> None:
        self._client = client
        self._report = report
        self._workers = workers
        self._manifests = ManifestChecker(client, workers)
        self._digest_targets: list[Target] = []  # filled by _rank, resolved after it

    def select(self, targets: Sequence[Target]) -> list[Decision]:
        ranked: list[tuple[Target, list[str], str]] = []
        pinned = [t for t in targets if t.pin is not None]
        ranked.extend(self._pins(pinned))
        by_policy = [t for t in targets if t.pin is None]
        self._digest_targets.clear()
        ranked.extend(self._rank(by_policy))
        return self._resolve(ranked) + self._digests(self._digest_targets)

    def _pins(self, targets: Sequence[Target]) -> Iterable[tuple[Target, list[str], str]]:
        for target in targets:
            assert target.pin is not None
            if target.pin == target.ref.tag:
                self._report.skipped.append(target.skip("pinned", f"pinned to {target.pin}"))
            else:
                yield target, [target.pin], "pin"

    def _rank(self, targets: Sequence[Target]) -> Iterable[tuple[Target, list[str], str]]:
        scannable: list[Target] = []
        for target in targets:
            assert target.policy is not None
            if target.policy_text == "never":
                self._report.skipped.append(target.skip("never", "policy is never"))
            elif getattr(target.policy, "tracks_digest", False):
                self._digest_targets.append(target)
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
            try:
                ranking = self._ranking(target, target.policy, tags)
            except ImageUpdaterError as exc:
                self._registry_failure(target, exc)
                continue
            if ranking.upgrades:
                yield target, list(ranking.upgrades), target.policy_text
            elif ranking.candidates:
                self._report.skipped.append(
                    target.skip("up-to-date", f"{target.current} is newest")
                )
            else:
                detail = f"no tag of {target.ref.name} matches {target.policy_text}"
                self._report.skipped.append(target.skip("no-candidate", detail))

    def _ranking(self, target: Target, policy: TagPolicy, tags: Sequence[str]) -> Ranking:
        needs = metadata_policy(policy)
        if needs is None:
            return policy.rank(tags, target.ref.tag)
        source = RegistryMetadata(self._client, self._manifests, target.ref, self._workers)
        return needs.rank_with(tags, target.ref.tag, source)

    def _digests(self, targets: Sequence[Target]) -> list[Decision]:
        """`digest` policies: write the current tag's digest when it moved."""
        self._manifests.check((t.ref, t.current) for t in targets)
        decisions: list[Decision] = []
        for target in targets:
            result = self._manifests.result(target.ref, target.current)
            if isinstance(result, ImageUpdaterError):
                self._registry_failure(target, result)
            elif result is None:
                detail = f"{target.ref.name}:{target.current} is not in the registry"
                self._report.skipped.append(target.skip("no-candidate", detail))
            elif result.digest == target.ref.digest:
                detail = f"{target.current} is still {result.digest}"
                self._report.skipped.append(target.skip("up-to-date", detail))
            else:
                ref = target.ref
                value = (
                    f"{ref.name}:{ref.tag}@{result.digest}"
                    if ref.tag
                    else f"{ref.name}@{result.digest}"
                )
                decisions.append(
                    Decision(target, target.current, result.digest, target.policy_text, value)
                )
        return decisions

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
        edits = [
            Edit(d.target.scalar, d.value or d.target.ref.with_tag(d.tag, d.digest)) for d in chosen
        ]
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


def make_plan(
    root: Path,
    client: RegistryClient,
    now: datetime,
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Callable[[str], None] | None = None,
) -> Plan:
    report = Report()
    sources = discover(root, report, now)
    if progress:
        progress(f"{sum(len(s.targets) for s in sources)} containers in {len(sources)} files")
    targets = [target for source in sources for target in source.targets]
    decisions = Selector(client, report, workers).select(targets)
    changes = render(sources, decisions, report)
    report.sort()
    return Plan(report, changes)
