"""The tag filters of named policies around an inner policy (SPEC §3.2).

A `kind: ImagePolicy` document (ours or Flux's) is an inner policy (semver, alphabetical,
numerical, newest build, relative) plus filters, applied in this order:

1. `exclude` patterns (added to the default exclusions; unanchored search, as Flux's
   `exclusionList`);
2. `filterTags.pattern` (unanchored search) with `extract`, a Go `Regexp.Expand` template
   (`$1`, `$name`, `${name}`): the inner policy ranks the *extracted* values and the
   answer is mapped back to the original tag. When two tags extract the same value, the
   lexically smallest tag stands for it (Flux keeps whichever its map iteration saw last);
3. `platforms` and `minAge`: checked on the inner policy's upgrades, best first, so
   metadata is fetched for the tags that could win and no others.

Pure except through the `MetadataSource` the engine passes in.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta

from imageupdater.errors import PolicyError
from imageupdater.model import ImageMetadata
from imageupdater.policy.base import (
    MetadataSource,
    Ranking,
    TagPolicy,
    metadata_policy,
)

_TEMPLATE = re.compile(r"\$(?:(\$)|\{(\w+)\}|(\w+))")
#: how many upgrades are checked per metadata round trip for platforms / minAge
CHUNK = 8


def compile_pattern(what: str, text: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as error:
        raise PolicyError(f"{what}: invalid regular expression pattern {text!r}: {error}") from None


def expand(template: str, match: re.Match[str]) -> str:
    """Go's `Regexp.ExpandString`: `$1`, `$name`, `${name}`, `$$`; unknown groups are ""."""

    def group(token: re.Match[str]) -> str:
        if token[1]:
            return "$"
        name = token[2] or token[3]
        try:
            value = match.group(int(name) if name.isdigit() else name)
        except IndexError:  # no such group
            return ""
        return value or ""

    return _TEMPLATE.sub(group, template)


def provides(available: Sequence[str], wanted: str) -> bool:
    """`linux/arm64` is provided by `linux/arm64` and by any variant (`linux/arm64/v8`)."""
    return any(p == wanted or p.startswith(wanted + "/") for p in available)


class _MappedSource:
    """A MetadataSource for the inner policy, which sees extracted values, not tags."""

    def __init__(self, source: MetadataSource, originals: Mapping[str, str]) -> None:
        self._source = source
        self._originals = originals
        self.now = source.now

    def lookup(self, tags: Sequence[str]) -> dict[str, ImageMetadata | None]:
        wanted = {value: self._originals.get(value, value) for value in tags}
        found = self._source.lookup(list(wanted.values()))
        return {value: found.get(tag) for value, tag in wanted.items()}


class FilteredPolicy:
    """An inner policy behind a named policy's exclude / filterTags / platforms / minAge."""

    __slots__ = (
        "exclude",
        "expression",
        "extract",
        "inner",
        "min_age",
        "needs_metadata",
        "pattern",
        "platforms",
    )

    def __init__(
        self,
        inner: TagPolicy,
        *,
        expression: str,
        pattern: re.Pattern[str] | None = None,
        extract: str = "",
        exclude: Sequence[re.Pattern[str]] = (),
        platforms: Sequence[str] = (),
        min_age: timedelta | None = None,
    ) -> None:
        self.inner = inner
        self.expression = expression
        self.pattern = pattern
        self.extract = extract
        self.exclude = tuple(exclude)
        self.platforms = tuple(platforms)
        self.min_age = min_age
        self.needs_metadata = bool(
            metadata_policy(inner) is not None or self.platforms or self.min_age
        )

    def _value(self, tag: str) -> str | None:
        if any(pattern.search(tag) for pattern in self.exclude):
            return None
        if self.pattern is None:
            return tag
        match = self.pattern.search(tag)
        if match is None:
            return None
        return expand(self.extract, match) if self.extract else tag

    def values(self, tags: Sequence[str]) -> dict[str, str]:
        """`extracted value -> original tag` for the tags that pass exclude and filterTags."""
        originals: dict[str, str] = {}
        for tag in sorted(set(tags)):
            value = self._value(tag)
            if value is not None and value not in originals:
                originals[value] = tag
        return originals

    def _inner_ranking(
        self, tags: Sequence[str], current: str | None, source: MetadataSource | None
    ) -> tuple[Ranking, dict[str, str]]:
        originals = self.values(tags)
        current_value = self._value(current) if current is not None else None
        inner = metadata_policy(self.inner)
        if inner is not None:
            if source is None:
                return self.inner.rank(list(originals), current_value), originals
            mapped = _MappedSource(source, originals)
            return inner.rank_with(list(originals), current_value, mapped), originals
        return self.inner.rank(list(originals), current_value), originals

    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        """Without metadata: platforms and minAge cannot be checked, so they must be unset."""
        if self.platforms or self.min_age:
            raise PolicyError(
                f"policy {self.expression!r} checks platforms or build age and needs the registry"
            )
        ranking, originals = self._inner_ranking(tags, current, None)
        return Ranking(tuple(originals[v] for v in ranking.upgrades), ranking.candidates)

    def rank_with(
        self, tags: Sequence[str], current: str | None, source: MetadataSource
    ) -> Ranking:
        ranking, originals = self._inner_ranking(tags, current, source)
        upgrades = [originals[v] for v in ranking.upgrades]
        if not (self.platforms or self.min_age):
            return Ranking(tuple(upgrades), ranking.candidates)
        for start in range(0, len(upgrades), CHUNK):
            chunk = upgrades[start : start + CHUNK]
            found = source.lookup(chunk)
            for tag in chunk:
                if self._acceptable(found.get(tag), source):
                    return Ranking((tag,), ranking.candidates)
        return Ranking((), ranking.candidates)

    def _acceptable(self, metadata: ImageMetadata | None, source: MetadataSource) -> bool:
        if metadata is None:
            return False
        if not all(provides(metadata.platforms, wanted) for wanted in self.platforms):
            return False
        if self.min_age is None:
            return True
        return metadata.created is not None and source.now - metadata.created >= self.min_age
