"""`alphabetical:<regex>` and `numerical:<regex>`: tags ordered by a captured value.

For tags that are not versions: date stamps, build numbers, `main-<sha>-<timestamp>`.
The regex is searched (unanchored, as in Flux) in the tag; the value that orders is the
first capture group, or the whole tag when the regex has none. A tag whose first group does
not take part in the match, or (numerical) whose value is not a number, is simply not a
candidate: one odd tag in a registry must not stop every update. Python `re` syntax.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from imageupdater.errors import PolicyError
from imageupdater.policy.base import Ranking, memoized_rank, rank_keyed
from imageupdater.policy.exclusions import is_excluded

# a decimal number as `strconv.ParseFloat` reads the usual ones; no nan/inf/underscores
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _compile(kind: str, argument: str) -> re.Pattern[str]:
    text = argument.strip()
    if not text:
        raise PolicyError(f"policy {kind!r} needs a regular expression, e.g. '{kind}:^build-(.*)$'")
    try:
        return re.compile(text)
    except re.error as error:
        raise PolicyError(f"policy '{kind}:{text}': invalid regular expression: {error}") from None


def _same(value: Any) -> Any:
    return value


class Descending:
    """A key that orders backwards: `order: desc` of named policies picks the smallest."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Descending) -> bool:
        return bool(other.value < self.value)


def _captured(pattern: re.Pattern[str], tag: str) -> str | None:
    match = pattern.search(tag)
    if match is None:
        return None
    return match.group(1) if pattern.groups else tag


class _KeyedPolicy:
    """Order the tags a regex accepts by a key taken from each; subclasses say which key.

    `descending` (named policies' `order: desc`) picks the smallest key instead.
    """

    __slots__ = ("descending", "expression", "pattern")
    kind = ""

    def __init__(self, argument: str, *, descending: bool = False) -> None:
        self.pattern = _compile(self.kind, argument)
        self.descending = descending
        self.expression = f"{self.kind}:{self.pattern.pattern}"

    def _key(self, tag: str) -> Any:
        raise NotImplementedError

    @memoized_rank
    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        wrap = Descending if self.descending else _same
        keyed = [
            (wrap(value), tag)
            for tag in set(tags)
            if not is_excluded(tag) and (value := self._key(tag)) is not None
        ]
        reference = self._key(current) if current is not None else None
        return rank_keyed(keyed, wrap(reference) if reference is not None else None, current)


class AlphabeticalPolicy(_KeyedPolicy):
    """The greatest captured string (code-point order, as Go's byte order for ASCII)."""

    __slots__ = ()
    kind = "alphabetical"

    def _key(self, tag: str) -> str | None:
        return _captured(self.pattern, tag)


class NumericalPolicy(_KeyedPolicy):
    """The greatest captured number (integers, decimals, exponents; exact comparison)."""

    __slots__ = ()
    kind = "numerical"

    def _key(self, tag: str) -> Decimal | None:
        text = _captured(self.pattern, tag)
        if text is None or _NUMBER.fullmatch(text) is None:
            return None
        return Decimal(text)
