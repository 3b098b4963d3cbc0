"""`semver:<range>`: the highest version in a Masterminds range (SPEC §3.1).

Candidates are tags that read as 1-3 part versions, are not excluded, keep the current
tag's shape (or, with no usable current tag, have no variant and no `_N`), and satisfy the
range by their numbers and pre-release. The variant takes no part in the range check —
`1.25.3-alpine` satisfies `^1.25` — the shape rule keeps it instead.
"""

from __future__ import annotations

from collections.abc import Sequence

from imageupdater.errors import PolicyError
from imageupdater.policy.base import Ranking, memoized_rank, rank_keyed
from imageupdater.policy.exclusions import is_excluded
from imageupdater.policy.ranges import Range, parse_range
from imageupdater.policy.tags import OrderKey, parse_tag


class SemverPolicy:
    """Parses the range once; `rank` is pure."""

    __slots__ = ("expression", "range")

    def __init__(self, argument: str) -> None:
        text = argument.strip()
        if not text:
            raise PolicyError("policy 'semver' needs a range, e.g. 'semver:^1.2'")
        self.range: Range = parse_range(text)
        self.expression = f"semver:{text}"

    @memoized_rank
    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        reference = parse_tag(current) if current is not None else None
        if reference is not None and not reference.is_semver:
            reference = None  # a four-part current tag is "not a version" for semver
        # with a current version: its shape; without: no variant and no `_N`, any length
        shape = reference.shape if reference is not None else None
        allows = self.range.allows
        candidates: list[tuple[OrderKey, str]] = []
        for tag in set(tags):
            parsed = parse_tag(tag)
            if (
                parsed is not None
                and parsed.shape[0] <= 3
                and (parsed.shape == shape if shape is not None else parsed.plain)
                and allows(parsed.core, parsed.prerelease)
                and not is_excluded(tag)
            ):
                candidates.append((parsed.key, tag))
        return rank_keyed(candidates, reference.key if reference else None, current)
