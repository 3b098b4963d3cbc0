"""Tag policies: which tag a container should run next (the `select` stage, SPEC §3.1).

Pure functions, no I/O. A policy expression is parsed once (`parse_policy`, errors are
PolicyError at load time); `TagPolicy.rank(tags, current)` then returns a `Ranking`:
the upgrades best first (the engine checks each one's manifest in turn until one exists)
and how many tags were candidates at all (no-candidate versus up-to-date).

Modules: `tags` reads a tag as a version and orders versions, `ranges` is the
Masterminds range language, `semver`, `relative`, `keyed` and `buildtime` are the policy
kinds, `named` the filters of named policies, `exclusions` the tags no policy selects,
`registry` the table of kinds and the parser, `explain` the reasons behind a ranking.

Build-time policies (`glob:`, `regex:`, and named policies with `platforms` / `minAge`)
declare `needs_metadata` and rank through `rank_with(tags, current, source)`: the engine
passes a `MetadataSource` that fetches build times and platforms for exactly the tags the
policy asks about, so the pure policies stay pure and these fetch no more than needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from imageupdater.errors import PolicyError
from imageupdater.policy.base import (
    MetadataPolicy,
    MetadataSource,
    Ranking,
    TagPolicy,
    metadata_policy,
)
from imageupdater.policy.registry import POLICIES, parse_policy
from imageupdater.policy.tags import compare_tags

__all__ = [
    "POLICIES",
    "MetadataPolicy",
    "MetadataSource",
    "PolicyError",
    "Ranking",
    "TagPolicy",
    "compare_tags",
    "metadata_policy",
    "parse_policy",
    "select",
]


def select(policy: TagPolicy, tags: Sequence[str], current: str | None) -> str | None:
    """The tag `policy select` prints: the best upgrade, or None when there is nothing to do.

    None covers both "no candidate" and "the current tag is already the newest"; callers
    that must tell them apart (status, plan) use `policy.rank` directly. For never-downgrade
    checks outside a ranking (a version a human reverted), use `compare_tags`.
    """
    upgrades = policy.rank(tags, current).upgrades
    return upgrades[0] if upgrades else None
