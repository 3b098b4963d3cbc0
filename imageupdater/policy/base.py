"""What every policy returns, and the one place that turns keyed tags into a ranking.

Each policy decides which tags are candidates and what key orders them; the rest is the
same for all of them and lives in `rank_keyed`: best first, deterministic ties (SPEC
§3.1: the tag with the current tag's `v` prefix, then the lexically smallest — never the
registry's listing order), and never a downgrade.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final, Protocol, TypeVar

from imageupdater.model import ImageMetadata

if TYPE_CHECKING:
    from _typeshed import SupportsDunderLT

Key = TypeVar("Key", bound="SupportsDunderLT[Any]")
P = TypeVar("P")


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


#: rankings kept by `memoized_rank`, and the tag references their keys may hold in all
MEMO_ENTRIES: Final = 16_384
MEMO_TAGS: Final = 2_000_000


class _RankMemo:
    """A thread-safe LRU of pure rankings, bounded in entries and in tags held by keys.

    A plan ranks every container, but containers share (policy, image, current tag): 20,000
    references to 1,000 images under five policies are 5,000 distinct rankings. Keys hold
    the tags as a tuple (the strings are the engine's, shared), so a daemon cycle with new
    tags gets a new key and never a stale answer.
    """

    def __init__(self, entries: int, tags: int) -> None:
        self._max_entries, self._max_tags, self._tags = entries, tags, 0
        self._entries: OrderedDict[Hashable, tuple[int, Ranking]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Ranking | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, size: int, ranking: Ranking) -> None:
        if size > self._max_tags // 4:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = (size, ranking)
            self._tags += size
            while len(self._entries) > self._max_entries or self._tags > self._max_tags:
                _, (evicted, _) = self._entries.popitem(last=False)
                self._tags -= evicted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._tags = 0


_memo = _RankMemo(MEMO_ENTRIES, MEMO_TAGS)


def memoized_rank(
    rank: Callable[[P, Sequence[str], str | None], Ranking],
) -> Callable[[P, Sequence[str], str | None], Ranking]:
    """Memoise the `rank` method of a pure policy whose behaviour is fully given by its
    class, `expression` and `descending` flag (if any): equal keys, equal rankings."""

    @functools.wraps(rank)
    def wrapper(self: P, tags: Sequence[str], current: str | None) -> Ranking:
        identity = (
            type(self),
            getattr(self, "expression", None),
            getattr(self, "descending", None),
        )
        names = tuple(tags)
        key = (identity, names, current)
        ranking = _memo.get(key)
        if ranking is None:
            ranking = rank(self, names, current)
            _memo.put(key, len(names), ranking)
        return ranking

    return wrapper


def clear_rank_memo() -> None:
    """Forget every memoised ranking (benchmarks time cold rankings with it)."""
    _memo.clear()
