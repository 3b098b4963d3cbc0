"""`glob:`, `regex:` (newest build time) and `digest` (SPEC §3.1).

Flux v1 and Keel users pick images by a tag pattern and take the most recently *built*
matching image, whatever the tag says (`main-*`, short shas). The order therefore comes
from the image config's `created`, which only the registry knows: these policies declare
`needs_metadata` and rank through `rank_with`, asking the engine's `MetadataSource` for the
matching tags (and the current one, so that an older build is never a "newer" tag). Ties
(tags of the same image) break as for every policy: the lexically smallest. A matching tag
without a build time orders as the oldest.

Globs follow Flux v1 (`ryanuber/go-glob`): only `*` is special and it matches anything,
including `/`; the whole tag must match. Regexes are searched unanchored as in Flux
(Python `re` syntax). An invalid pattern is a PolicyError (Flux v1 matched everything).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from imageupdater.errors import PolicyError
from imageupdater.model import ImageMetadata
from imageupdater.policy.base import NO_CANDIDATE, MetadataSource, Ranking, rank_keyed
from imageupdater.policy.exclusions import is_excluded

_OLDEST = datetime.min.replace(tzinfo=UTC)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """The glob as an anchored regex: `*` matches any text, everything else is literal."""
    return re.compile(
        "".join(".*" if part == "*" else re.escape(part) for part in _split(pattern)), re.DOTALL
    )


def _split(pattern: str) -> list[str]:
    return [piece for piece in re.split(r"(\*)", pattern) if piece]


def _built(metadata: ImageMetadata | None) -> datetime:
    return metadata.created if metadata is not None and metadata.created else _OLDEST


class BuildTimePolicy:
    """Tags matching a pattern, newest image build first."""

    __slots__ = ("_anchored", "expression", "pattern")
    needs_metadata = True

    def __init__(self, kind: str, pattern: re.Pattern[str] | None, anchored: bool) -> None:
        self.pattern = pattern
        self._anchored = anchored
        self.expression = kind

    def matches(self, tag: str) -> bool:
        """Whether `tag` is a candidate (before exclusions)."""
        if self.pattern is None:
            return True
        if self._anchored:
            return self.pattern.fullmatch(tag) is not None
        return self.pattern.search(tag) is not None

    def candidates(self, tags: Sequence[str]) -> list[str]:
        """The tags this policy would rank by build time (sorted, excluded tags removed)."""
        return sorted(tag for tag in set(tags) if not is_excluded(tag) and self.matches(tag))

    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        """Without metadata there is no order: callers must use `rank_with`."""
        raise PolicyError(
            f"policy {self.expression!r} orders tags by image build time and needs the "
            "registry (use 'policy select --image')"
        )

    def rank_with(
        self, tags: Sequence[str], current: str | None, source: MetadataSource
    ) -> Ranking:
        candidates = self.candidates(tags)
        if not candidates:
            return NO_CANDIDATE
        wanted = list(candidates)
        if current is not None and current in tags and current not in candidates:
            wanted.append(current)  # `latest` now: is a matching tag really newer?
        metadata = source.lookup(wanted)
        keyed = [(_built(metadata[t]), t) for t in candidates if metadata.get(t) is not None]
        current_key = None
        if current is not None and metadata.get(current) is not None:
            current_key = _built(metadata[current])
        ranking = rank_keyed(keyed, current_key, current)
        return Ranking(ranking.upgrades, len(candidates))


def glob(argument: str) -> BuildTimePolicy:
    """Factory for `glob:<glob>`."""
    text = argument.strip()
    if not text:
        raise PolicyError("policy 'glob' needs a pattern, e.g. 'glob:main-*'")
    return BuildTimePolicy(f"glob:{text}", glob_regex(text), anchored=True)


def regex(argument: str) -> BuildTimePolicy:
    """Factory for `regex:<regex>` (Flux v1 also spells it `regexp:`)."""
    text = argument.strip()
    if not text:
        raise PolicyError("policy 'regex' needs a regular expression, e.g. 'regex:^main-'")
    try:
        pattern = re.compile(text)
    except re.error as error:
        raise PolicyError(f"policy 'regex:{text}': invalid regular expression: {error}") from None
    return BuildTimePolicy(f"regex:{text}", pattern, anchored=False)


def newest_build() -> BuildTimePolicy:
    """Named policies' `newestBuild: {}`: every tag (after filters), newest build first."""
    return BuildTimePolicy("newestBuild", None, anchored=True)


class DigestPolicy:
    """`digest`: stay on the current tag and follow its digest (`repo:tag@sha256:…`).

    The ranking is trivial (the current tag, if the registry lists it); the engine asks
    the registry for the tag's digest and writes it when it changed. `tracks_digest` is
    how the engine recognises the kind without importing it.
    """

    __slots__ = ("expression",)
    tracks_digest = True

    def __init__(self, argument: str = "") -> None:
        if argument.strip():
            raise PolicyError(f"policy 'digest' takes no argument (got digest:{argument.strip()})")
        self.expression = "digest"

    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        tag = current or "latest"
        return Ranking((tag,), 1) if tag in set(tags) else NO_CANDIDATE
