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
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from imageupdater.declines import Decline, Key, find_declines
from imageupdater.discovery import Discovered, SourceFile, Target, discover_repository
from imageupdater.errors import (
    ConfigError,
    GitError,
    ImageUpdaterError,
    PolicyError,
    RewriteError,
)
from imageupdater.markers import LatestRef, Marker, setter_value
from imageupdater.model import ImageMetadata, ImageRef, ManifestInfo
from imageupdater.namedpolicies import NamedPolicy, PolicyBook
from imageupdater.policy import Ranking, TagPolicy, compare_tags, metadata_policy
from imageupdater.progress import MANIFESTS, RENDER, Progress, tally
from imageupdater.registry import RegistryClient, TagScan, parse_reference, scan_tags
from imageupdater.report import ErrorEntry, Report, Skip, SkipReason, Update
from imageupdater.workspace import Workspace
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


ManifestKey = tuple[str, str]
ManifestResult = ManifestInfo | None | ImageUpdaterError


class ManifestChecker:
    """Checks that chosen tags exist, once per (repository, tag), concurrently."""

    def __init__(
        self, client: RegistryClient, workers: int, progress: Progress | None = None
    ) -> None:
        self._client = client
        self._workers = workers
        self._known: dict[ManifestKey, ManifestResult] = {}
        self._tally = tally(progress, MANIFESTS)

    def check(self, wanted: Iterable[tuple[ImageRef, str]]) -> None:
        todo: dict[ManifestKey, tuple[ImageRef, str]] = {}
        for ref, tag in wanted:
            key = (ref.canonical, tag)
            if key not in self._known:
                todo[key] = (ref, tag)
        if not todo:
            return
        if self._tally is not None:
            self._tally.add(len(todo))
        with ThreadPoolExecutor(max_workers=min(self._workers, len(todo))) as pool:
            results = pool.map(lambda item: self._head(*item), todo.values())
            self._known.update(zip(todo, results, strict=True))

    def _head(self, ref: ImageRef, tag: str) -> ManifestResult:
        try:
            return self._client.manifest(ref, tag)
        except ImageUpdaterError as exc:
            return exc
        finally:
            if self._tally is not None:
                self._tally.finish()

    def result(self, ref: ImageRef, tag: str) -> ManifestResult:
        return self._known[(ref.canonical, tag)]


class RegistryMetadata:
    """The engine's `MetadataSource` for one image: HEADs through the shared checker
    (so the winner's existence check is free later), then metadata by digest from the
    client's cache; the fetches for one lookup run concurrently."""

    def __init__(
        self,
        client: RegistryClient,
        manifests: ManifestChecker,
        ref: ImageRef,
        workers: int,
        now: datetime,
    ) -> None:
        self.now = now
        self.seen: dict[str, ImageMetadata | None] = {}  # what was looked up, for --explain
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
        answer = {tag: found.get(digests[tag]) if tag in digests else None for tag in wanted}
        self.seen.update(answer)
        return answer


class Selector:
    """Turns targets into decisions, reporting every container it does not move."""

    def __init__(
        self,
        client: RegistryClient,
        report: Report,
        workers: int,
        now: datetime | None = None,
        declines: Mapping[Key, Decline] | None = None,
        scan: TagScan | None = None,
        progress: Progress | None = None,
    ) -> None:
        """`scan`: tag walks already under way (`make_plan` starts them during discovery);
        `progress` hears of the manifest checks."""
        self._now = now or datetime.now(UTC)
        self._tag_scan = scan
        self._client = client
        self._report = report
        self._workers = workers
        self._manifests = ManifestChecker(client, workers, progress)
        self._declines = declines or {}
        self._digest_targets: list[Target] = []  # filled by _rank, resolved after it
        self._tags: dict[str, list[str] | ImageUpdaterError] = {}  # canonical -> tags

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
            elif tracks_digest(target.policy):
                self._digest_targets.append(target)
            elif target.ref.tag is None:
                detail = "the value has no tag; only digest policies apply"
                self._report.skipped.append(target.skip("no-candidate", detail))
            else:
                scannable.append(target)
        tags_by_image = self._scan(t.ref for t in scannable)
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

    def _scan(self, refs: Iterable[ImageRef]) -> dict[str, list[str] | ImageUpdaterError]:
        """Tags per repository, walked once per cycle however many targets and markers use it."""
        wanted = {ref.canonical: ref for ref in refs}
        missing = [ref for key, ref in wanted.items() if key not in self._tags]
        if missing and self._tag_scan is not None:
            self._tags.update(self._tag_scan.results(missing))
        elif missing:
            self._tags.update(scan_tags(self._client, missing, workers=self._workers))
        return {key: self._tags[key] for key in wanted}

    def _ranking(self, target: Target, policy: TagPolicy, tags: Sequence[str]) -> Ranking:
        return self._ranking_for(target.ref, policy, tags, target.ref.tag)

    def _ranking_for(
        self, ref: ImageRef, policy: TagPolicy, tags: Sequence[str], current: str | None
    ) -> Ranking:
        needs = metadata_policy(policy)
        if needs is None:
            return policy.rank(tags, current)
        source = RegistryMetadata(self._client, self._manifests, ref, self._workers, self._now)
        return needs.rank_with(tags, current, source)

    # -- line markers (SPEC §2.2) -------------------------------------------------------

    def select_markers(self, markers: Sequence[Marker], book: PolicyBook) -> list[MarkerEdit]:
        """One result per named policy, written into every field that carries its marker.

        A Flux policy chooses as Flux does, over all tags; ours starts from the current tag
        of its first whole-reference or `:tag` marker (file order), keeping its shape. No
        marker is downgraded, and when nothing is newer the current tag's own digest still
        corrects `:digest` markers. Repositories already walked for annotated containers
        are not walked again.
        """
        groups: dict[tuple[str, str], list[Marker]] = {}
        for marker in sorted(markers, key=lambda m: (m.file, m.scalar.start)):
            groups.setdefault(marker.policy_key, []).append(marker)
        resolved: dict[tuple[str, str], tuple[NamedPolicy, ImageRef]] = {}
        for key, group in groups.items():
            try:
                named = book.find(*key)
                if named.image is None:
                    raise PolicyError("a policy used by a marker needs spec.image")
                resolved[key] = (named, parse_reference(named.image))
            except ConfigError as exc:
                first = group[0]
                message = f"marker {first.setter}: {exc}"
                self._report.add_error(
                    ErrorEntry("config", message, file=first.file, line=first.scalar.line)
                )
                self._marker_skips(group, "invalid-policy", str(exc))
        scannable = [
            ref
            for named, ref in resolved.values()
            if not getattr(named.policy, "tracks_digest", False)
        ]
        tags_by_image = self._scan(scannable)
        edits: list[MarkerEdit] = []
        for key, (named, ref) in resolved.items():
            group = groups[key]
            try:
                latest = self._latest(named, ref, group, tags_by_image)
            except ImageUpdaterError as exc:
                self._report.add_error(ErrorEntry(exc.kind, str(exc), image=ref.name))
                self._marker_skips(group, "registry-error", str(exc), ref.name)
                continue
            if latest is None:
                detail = f"no tag of {ref.name} matches {named.policy.expression}"
                self._marker_skips(group, "no-candidate", detail, ref.name)
                continue
            edits.extend(self._marker_edits(named, group, latest))
        return edits

    def _latest(
        self,
        named: NamedPolicy,
        ref: ImageRef,
        group: Sequence[Marker],
        tags_by_image: dict[str, list[str] | ImageUpdaterError],
    ) -> LatestRef | None:
        current = _current_tag(group)
        # Flux's own policies are chosen as Flux does (its status.latestRef does not depend
        # on the files), so markers written for Flux get Flux's answer; never-downgrade is
        # then checked per marker. Ours start from the current tag (shape, no downgrade).
        ranked_from = None if named.flux else current
        if getattr(named.policy, "tracks_digest", False):
            candidates = [current or "latest"]
        else:
            tags = tags_by_image[ref.canonical]
            if isinstance(tags, ImageUpdaterError):
                raise tags
            ranking = self._ranking_for(ref, named.policy, tags, ranked_from)
            candidates = list(ranking.upgrades)
            if current is not None and current in tags and current not in candidates:
                candidates.append(current)  # nothing newer: the current tag and its digest
        for tag in candidates:
            self._manifests.check([(ref, tag)])
            result = self._manifests.result(ref, tag)
            if isinstance(result, ImageUpdaterError):
                raise result
            if result is not None:
                return LatestRef(named.image or ref.name, tag, result.digest)
        return None

    def _marker_edits(
        self, named: NamedPolicy, group: Sequence[Marker], latest: LatestRef
    ) -> Iterable[MarkerEdit]:
        policy = f"@{named.namespace or ''}/{named.name}"
        for marker in group:
            old = marker.scalar.value.strip()
            pins_digest = marker.field == "" and "@" in old
            value = setter_value(marker, latest, with_digest=named.reflect_digest or pins_digest)
            if value is None or value == old:
                self._marker_skips([marker], "up-to-date", f"{marker.setter} is {old}", latest.name)
                continue
            if marker.field in ("", "tag"):
                written = _tag_of(old) if marker.field == "" else old
                if (compare_tags(written, latest.tag) or 0) > 0:
                    detail = f"{written} is newer than {latest.tag}: never a downgrade"
                    self._marker_skips([marker], "up-to-date", detail, latest.name)
                    continue
            if marker.field in ("", "tag"):
                before = _tag_of(old) if marker.field == "" else old
                after = latest.tag
            else:
                before, after = old, value
            update = Update(
                file=marker.file,
                line=marker.scalar.line,
                workload=marker.workload,
                container=None,
                image=latest.name,
                from_tag=before,
                to_tag=after,
                policy=policy,
                digest=latest.digest if (marker.field == "digest" or "@" in value) else None,
            )
            yield MarkerEdit(marker, value, update)

    def _marker_skips(
        self, group: Sequence[Marker], reason: SkipReason, detail: str, image: str | None = None
    ) -> None:
        for marker in group:
            self._report.skipped.append(
                Skip(
                    file=marker.file,
                    reason=reason,
                    detail=detail,
                    workload=marker.workload,
                    container=None,
                    image=image,
                    line=marker.scalar.line,
                )
            )

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


@dataclass(frozen=True, slots=True)
class SelectOutcome:
    """`policy select --image`: the ranking, the existing winner and what was looked up."""

    tags: list[str]
    ranking: Ranking
    tag: str | None
    digest: str | None
    metadata: dict[str, ImageMetadata | None]


def select_from_registry(
    client: RegistryClient,
    ref: ImageRef,
    policy: TagPolicy,
    current: str | None,
    now: datetime,
    *,
    workers: int = DEFAULT_WORKERS,
) -> SelectOutcome:
    """One image, one policy, the registry's tags: what a workload with it would get.

    The winner must exist (its manifest is checked, best first), as in a plan. Registry
    failures raise.
    """
    tags = client.list_tags(ref)
    manifests = ManifestChecker(client, workers)
    if getattr(policy, "tracks_digest", False):
        tag = current or "latest"
        manifests.check([(ref, tag)])
        result = manifests.result(ref, tag)
        if isinstance(result, ImageUpdaterError):
            raise result
        ranking = policy.rank(tags, tag)
        digest = result.digest if result is not None else None
        return SelectOutcome(tags, ranking, tag if digest else None, digest, {})
    source = RegistryMetadata(client, manifests, ref, workers, now)
    needs = metadata_policy(policy)
    ranking = needs.rank_with(tags, current, source) if needs else policy.rank(tags, current)
    for tag in ranking.upgrades:
        manifests.check([(ref, tag)])
        result = manifests.result(ref, tag)
        if isinstance(result, ImageUpdaterError):
            raise result
        if result is not None:
            return SelectOutcome(tags, ranking, tag, result.digest, source.seen)
        source.seen[tag] = None
    return SelectOutcome(tags, ranking, None, None, source.seen)


def _current_tag(group: Sequence[Marker]) -> str | None:
    for marker in group:
        value = marker.scalar.value.strip()
        if marker.field == "tag" and value:
            return value
        if marker.field == "":
            try:
                tag = parse_reference(value).tag
            except ConfigError:
                continue
            if tag is not None:
                return tag
    return None


def _tag_of(value: str) -> str:
    try:
        return parse_reference(value).tag or "latest"
    except ConfigError:
        return value


def render(
    sources: Sequence[SourceFile],
    decisions: Sequence[Decision],
    report: Report,
    marker_edits: Sequence[MarkerEdit] = (),
    progress: Progress | None = None,
) -> list[FileChange]:
    """Plan stage: splice decisions into each file; a file failing verification is left alone."""
    by_file: dict[str, list[Decision]] = {}
    for decision in decisions:
        by_file.setdefault(decision.target.file, []).append(decision)
    markers_by_file: dict[str, list[MarkerEdit]] = {}
    for marker_edit in marker_edits:
        markers_by_file.setdefault(marker_edit.marker.file, []).append(marker_edit)
    counted = tally(progress, RENDER) if by_file or markers_by_file else None
    if counted is not None:
        counted.add(len(by_file.keys() | markers_by_file.keys()))
    changes: list[FileChange] = []
    for source in sources:
        chosen = by_file.get(source.relpath, [])
        marked = markers_by_file.get(source.relpath, [])
        if not chosen and not marked:
            continue
        edits = [
            Edit(d.target.scalar, d.value or d.target.ref.with_tag(d.tag, d.digest)) for d in chosen
        ]
        edits.extend(Edit(m.marker.scalar, m.value) for m in marked)
        try:
            # every scalar was discovered in this very text (parsed, or remembered by it)
            after_text = apply_edits(source.text, edits, loaded_from_text=True)
        except RewriteError as exc:
            report.add_error(ErrorEntry("rewrite", str(exc), file=source.relpath))
            for d in chosen:
                report.skipped.append(d.target.skip("unsupported-value", f"file not edited: {exc}"))
            for m in marked:
                report.skipped.append(m.skip("unsupported-value", f"file not edited: {exc}"))
            continue
        finally:
            if counted is not None:
                counted.finish()
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
        report.updates.extend(m.update for m in marked)
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
    """Start the tag walk a target will need (the same test `Selector._rank` applies)."""
    if (
        target.pin is None
        and target.policy is not None
        and target.policy_text != "never"
        and not tracks_digest(target.policy)
        and target.ref.tag is not None
    ):
        scan.want(target.ref)


def tracks_digest(policy: TagPolicy) -> bool:
    """Digest policies follow one tag's digest: they need no tag list."""
    return bool(getattr(policy, "tracks_digest", False))


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
        cleared = {_key(t): t.declines_cleared for t in targets if t.declines_cleared}
        try:
            declines = find_declines(history, root, [_key(t) for t in targets], cleared)
        except GitError as exc:
            report.add_error(ErrorEntry("git", f"cannot read rollbacks from history: {exc}"))
    selector = Selector(client, report, workers, now, declines, scan, progress)
    decisions = selector.select(targets)
    markers = [marker for source in sources for marker in source.markers]
    marker_edits = selector.select_markers(markers, discovered.book) if markers else []
    changes = render(sources, decisions, report, marker_edits, progress)
    report.sort()
    return Plan(report, changes, list(sources), decisions, list(marker_edits))
