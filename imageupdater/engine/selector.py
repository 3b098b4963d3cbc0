"""Select: targets and markers -> decisions, every container it does not move reported.

Tag lists come from one walk per repository (`TagScan`); a winner must exist (one HEAD,
best candidate first); declined versions and pins are honoured here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from imageupdater.declines import Decline, Key
from imageupdater.discovery import Target
from imageupdater.errors import ConfigError, ImageUpdaterError, PolicyError
from imageupdater.markers import LatestRef, Marker, setter_value
from imageupdater.model import ImageMetadata, ImageRef
from imageupdater.namedpolicies import NamedPolicy, PolicyBook
from imageupdater.policy import Ranking, TagPolicy, compare_tags, metadata_policy
from imageupdater.progress import Progress
from imageupdater.registry import RegistryClient, TagScan, parse_reference
from imageupdater.report import ErrorEntry, Report, Skip, SkipReason, Update

from .lookups import ManifestChecker, RegistryMetadata
from .results import Decision, MarkerEdit

DEFAULT_WORKERS = 16


class Selector:
    """Turns targets into decisions, reporting every container it does not move."""

    def __init__(
        self,
        client: RegistryClient,
        report: Report,
        workers: int,
        scan: TagScan,
        now: datetime | None = None,
        declines: Mapping[Key, Decline] | None = None,
        progress: Progress | None = None,
    ) -> None:
        """`scan`: the tag walks, one per repository (`make_plan` starts them as discovery
        ends); `progress` hears of the manifest checks."""
        self._now = now or datetime.now(UTC)
        self._tag_scan = scan
        self._client = client
        self._report = report
        self._workers = workers
        self._manifests = ManifestChecker(client, workers, progress)
        self._declines = declines or {}
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
            decline = self._declines.get(decline_key(target))
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
        """Tags per repository, walked once per cycle however many targets and markers use it
        (the scan keeps every walk it started)."""
        return self._tag_scan.results(refs)

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
        scannable = [ref for named, ref in resolved.values() if not tracks_digest(named.policy)]
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
        if tracks_digest(named.policy):
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
    if tracks_digest(policy):
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


def decline_key(target: Target) -> Key:
    return (target.file, target.workload, target.container)


def tracks_digest(policy: TagPolicy) -> bool:
    """Digest policies follow one tag's digest: they need no tag list."""
    return bool(getattr(policy, "tracks_digest", False))


def needs_tag_list(target: Target) -> bool:
    """Whether selection walks the target's tags: what `Selector.select` sends to
    `_rank`'s scannable branch (no pin, a policy that is not `never` nor a digest policy,
    a value with a tag)."""
    return (
        target.pin is None
        and target.policy is not None
        and target.policy_text != "never"
        and not tracks_digest(target.policy)
        and target.ref.tag is not None
    )
