"""What every policy returns, and the one place that turns keyed tags into a ranking.

Each policy decides which tags are candidates and what key orders them; the rest is the
same for all of them and lives in `rank_keyed`: best first, deterministic ties (SPEC
§3.1: the tag with the current tag's `v` prefix, then the lexically smallest — never the
registry's listing order), and never a downgrade.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from imageupdater.model import ImageMetadata

if TYPE_CHECKING:
    from _typeshed import SupportsDunderLT

Key = TypeVar("Key", bound="SupportsDunderLT[Any]")


@dataclass(frozen=True, slots=True)
class Ranking:
    """The answer of a policy for one container.

    `upgrades` are the tags the policy would move to, best first. When the current tag has
    a place in the policy's order each is strictly newer than it; when there is no current
    tag, or it has no place (e.g. `latest`), every candidate except the current tag itself.
    `candidates` counts the tags that passed the policy's filters: 0 means "no-candidate",
    more than 0 with no upgrades means "up-to-date".
    """

    upgrades: tuple[str, ...]
    candidates: int


NO_CANDIDATE = Ranking((), 0)


class TagPolicy(Protocol):
    """A parsed policy expression; `rank` is pure and independent of the input order."""

    expression: str  # the normalised expression as written, e.g. "semver:^1.2"

    def rank(self, tags: Sequence[str], current: str | None) -> Ranking: ...


class MetadataSource(Protocol):
    """Registry metadata for tags of the image being ranked, supplied by the engine.

    `lookup` answers for exactly the tags asked (None: the tag has no manifest) and may
    raise `ImageUpdaterError` on a registry failure. The engine caches by digest, so a
    policy may ask for the same tag twice without cost.
    """

    #: the clock of the cycle (`--now`), for cool-downs (`minAge`)
    now: datetime

    def lookup(self, tags: Sequence[str]) -> Mapping[str, ImageMetadata | None]: ...


class MetadataPolicy(TagPolicy, Protocol):
    """A policy that needs build times or platforms, which only the registry knows.

    The ranking stays a sync function of its inputs; the metadata is one more input,
    pulled through `source` for the candidates the policy actually needs, so pure
    policies never pay for it and these fetch no more than necessary.
    """

    needs_metadata: bool

    def rank_with(
        self, tags: Sequence[str], current: str | None, source: MetadataSource
    ) -> Ranking: ...


def metadata_policy(policy: TagPolicy) -> MetadataPolicy | None:
    """`policy` as a MetadataPolicy when it needs registry metadata, else None."""
    if getattr(policy, "needs_metadata", False):
        return policy  # type: ignore[return-value]
    return None


def rank_keyed(
    items: Iterable[tuple[Key, str]], current_key: Key | None, current: str | None
) -> Ranking:
    """Rank `(key, tag)` candidates (tags unique) against the current tag's key.

    A greater key is newer. `current_key` None means the current tag has no place in the
    order: then every candidate but the current tag itself is an upgrade.
    """
    ranked = list(items)
    preferred = v_prefix(current) if current is not None else None
    # two stable sorts: ties by prefix then text ascending, then by key descending
    if preferred is None:
        ranked.sort(key=itemgetter(1))
    else:
        ranked.sort(key=lambda item: (v_prefix(item[1]) != preferred, item[1]))
    ranked.sort(key=itemgetter(0), reverse=True)
    if current_key is None:
        upgrades = tuple(tag for _, tag in ranked if tag != current)
    else:
        upgrades = tuple(tag for key, tag in ranked if current_key < key)
    return Ranking(upgrades, len(ranked))


def v_prefix(tag: str) -> str:
    """`v` or `V` when the tag is a prefixed version (`v1.2`), else ""."""
    return tag[0] if tag[:1] in ("v", "V") and tag[1:2].isdigit() else ""
