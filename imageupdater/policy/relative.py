"""`major`, `minor`, `patch`: move forward from the current tag (SPEC §3.1).

These policies are relative to the current tag, so without a current version there is
nothing to be relative to and the container is skipped (`Ranking((), 0)`, reported as
no-candidate). Candidates keep the current tag's shape and, for `minor` / `patch`, its
leading one / two numbers; four-part tags (`1.2.3.4`) are ordered among themselves. A
pre-release is only a candidate while the current tag is a pre-release of the very same
numbers (`1.2.0-rc.1` -> `1.2.0-rc.2` or `1.2.0`): nobody on `patch` wants `1.3.0-rc.1`.
"""

from __future__ import annotations

from collections.abc import Sequence

from imageupdater.errors import PolicyError
from imageupdater.policy.base import NO_CANDIDATE, Ranking, memoized_rank, rank_keyed
from imageupdater.policy.exclusions import is_excluded
from imageupdater.policy.tags import OrderKey, ParsedTag, parse_tag

#: how many leading numbers a candidate shares with the current tag
SCOPES: dict[str, int] = {"major": 0, "minor": 1, "patch": 2}


class RelativePolicy:
    """One of `major` / `minor` / `patch`; takes no argument."""

    __slots__ = ("expression", "fixed")

    def __init__(self, kind: str, argument: str = "") -> None:
        if argument.strip():
            raise PolicyError(f"policy {kind!r} takes no argument (got {kind}:{argument.strip()})")
        self.expression = kind
        self.fixed = SCOPES[kind]

    @memoized_rank
    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        reference = parse_tag(current) if current is not None else None
        # `minor` needs a minor part to keep, `patch` a patch part
        if reference is None or len(reference.numbers) <= self.fixed:
            return NO_CANDIDATE
        candidates: list[tuple[OrderKey, str]] = []
        for tag in set(tags):
            parsed = parse_tag(tag)
            if parsed is not None and self._admits(parsed, reference) and not is_excluded(tag):
                candidates.append((parsed.key, tag))
        return rank_keyed(candidates, reference.key, current)

    def _admits(self, parsed: ParsedTag, reference: ParsedTag) -> bool:
        if parsed.shape != reference.shape:
            return False
        if parsed.numbers[: self.fixed] != reference.numbers[: self.fixed]:
            return False
        if parsed.prerelease:
            return bool(reference.prerelease) and parsed.numbers == reference.numbers
        return True


def major(argument: str) -> RelativePolicy:
    """Factory for `major`: any newer version of the same shape."""
    return RelativePolicy("major", argument)


def minor(argument: str) -> RelativePolicy:
    """Factory for `minor`: newer versions with the same major."""
    return RelativePolicy("minor", argument)


def patch(argument: str) -> RelativePolicy:
    """Factory for `patch`: newer versions with the same major.minor."""
    return RelativePolicy("patch", argument)
