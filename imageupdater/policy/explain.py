"""Why a policy did not pick a tag: `policy select --explain` (SPEC §4).

The reasons restate each policy's candidate rules (SPEC §3.1) tag by tag, in the words a
user needs to fix an expression: "not a version", "variant 'alpine' differs from the
current tag's", "outside the range", "a pre-release, and no constraint of the range
carries one". Explaining is kept apart from ranking so that `rank` stays the fast path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from imageupdater.model import ImageMetadata
from imageupdater.policy.base import Ranking, TagPolicy
from imageupdater.policy.buildtime import BuildTimePolicy, DigestPolicy
from imageupdater.policy.exclusions import is_excluded
from imageupdater.policy.keyed import AlphabeticalPolicy, NumericalPolicy, _captured
from imageupdater.policy.named import FilteredPolicy, expand, provides
from imageupdater.policy.relative import RelativePolicy
from imageupdater.policy.semver import SemverPolicy
from imageupdater.policy.tags import ParsedTag, parse_tag

SELECTED = "selected"
NOT_NEWER = "not newer than the current tag"
LOWER = "a candidate, but older than the selected tag"


def explain(
    policy: TagPolicy,
    tags: Sequence[str],
    current: str | None,
    ranking: Ranking,
    selected: str | None,
    metadata: Mapping[str, ImageMetadata | None] | None = None,
) -> dict[str, str]:
    """`tag -> reason` for every distinct tag (the selected one says "selected")."""
    upgrades = set(ranking.upgrades)
    reasons: dict[str, str] = {}
    for tag in sorted(set(tags)):
        if tag == selected:
            reasons[tag] = SELECTED
        elif tag in upgrades:
            reasons[tag] = LOWER
        else:
            reasons[tag] = _why(policy, tag, current, metadata or {})
    return reasons


def _why(
    policy: TagPolicy, tag: str, current: str | None, metadata: Mapping[str, ImageMetadata | None]
) -> str:
    if isinstance(policy, FilteredPolicy):
        return _filtered(policy, tag, current, metadata)
    if is_excluded(tag):
        return "default exclusion (cosign signature, attestation or SBOM tag)"
    if tag == current:
        return "the current tag"
    if isinstance(policy, SemverPolicy):
        return _semver(policy, tag, current)
    if isinstance(policy, RelativePolicy):
        return _relative(policy, tag, current)
    if isinstance(policy, AlphabeticalPolicy | NumericalPolicy):
        return _keyed(policy, tag)
    if isinstance(policy, BuildTimePolicy):
        if not policy.matches(tag):
            return f"does not match {policy.expression}"
        found = metadata.get(tag)
        if tag in metadata and found is None:
            return "no manifest in the registry"
        return "not built after the current tag"
    if isinstance(policy, DigestPolicy):
        return "digest follows the current tag only"
    if policy.expression == "never":
        return "the policy is never"
    return NOT_NEWER


def _shape(parsed: ParsedTag, current: ParsedTag | None) -> str | None:
    if current is None:
        if parsed.variant:
            return f"has a variant ({parsed.variant!r}); without a current version only plain tags"
        if parsed.build is not None:
            return "has a _N build number; without a current version only plain tags"
        return None
    if parsed.shape == current.shape:
        return None
    if parsed.shape[0] != current.shape[0]:
        return f"{parsed.shape[0]} numeric parts; the current tag has {current.shape[0]}"
    if parsed.variant != current.variant:
        return f"variant {parsed.variant!r} differs from the current tag's {current.variant!r}"
    return "_N build number differs from the current tag's"


def _semver(policy: SemverPolicy, tag: str, current: str | None) -> str:
    parsed = parse_tag(tag)
    if parsed is None:
        return "not a version"
    if not parsed.is_semver:
        return "four numeric parts: not a version for semver"
    reference = parse_tag(current) if current is not None else None
    if reference is not None and not reference.is_semver:
        reference = None
    shape = _shape(parsed, reference)
    if shape:
        return shape
    if not policy.range.allows(parsed.core, parsed.prerelease):
        if parsed.prerelease and policy.range.allows(parsed.core, ()):
            return "a pre-release, and no constraint of the range carries one"
        return f"outside the range {policy.range}"
    return NOT_NEWER


def _relative(policy: RelativePolicy, tag: str, current: str | None) -> str:
    reference = parse_tag(current) if current is not None else None
    if reference is None:
        return f"{policy.expression} needs a current version"
    if len(reference.numbers) <= policy.fixed:
        return f"{policy.expression} needs a current tag with more numeric parts"
    parsed = parse_tag(tag)
    if parsed is None:
        return "not a version"
    shape = _shape(parsed, reference)
    if shape:
        return shape
    if parsed.numbers[: policy.fixed] != reference.numbers[: policy.fixed]:
        kept = ".".join(map(str, reference.numbers[: policy.fixed]))
        return f"{policy.expression} stays on {kept}"
    if parsed.prerelease and not (reference.prerelease and parsed.numbers == reference.numbers):
        return "a pre-release of another version"
    return NOT_NEWER


def _keyed(policy: AlphabeticalPolicy | NumericalPolicy, tag: str) -> str:
    captured = _captured(policy.pattern, tag)
    if captured is None:
        return f"does not match {policy.pattern.pattern!r}"
    if isinstance(policy, NumericalPolicy) and policy._key(tag) is None:
        return f"{captured!r} is not a number"
    return NOT_NEWER


def _filtered(
    policy: FilteredPolicy,
    tag: str,
    current: str | None,
    metadata: Mapping[str, ImageMetadata | None],
) -> str:
    for pattern in policy.exclude:
        if pattern.search(tag):
            return f"excluded by {pattern.pattern!r}"
    if policy.pattern is not None and policy.pattern.search(tag) is None:
        return f"does not match filterTags {policy.pattern.pattern!r}"
    found = metadata.get(tag)
    if found is not None:
        missing = [p for p in policy.platforms if not provides(found.platforms, p)]
        if missing:
            return f"no image for {', '.join(missing)}"
        if policy.min_age is not None:
            return "built too recently (minAge) or not newer"
    value = tag
    if policy.pattern is not None and policy.extract:
        match = policy.pattern.search(tag)
        assert match is not None
        value = expand(policy.extract, match)
    reason = _why(policy.inner, value, None if current is None else current, metadata)
    return reason if value == tag else f"{reason} (extracted {value!r})"
