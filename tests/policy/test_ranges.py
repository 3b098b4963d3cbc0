"""The `semver:` range language beyond the Masterminds tables: SPEC ordering, grammar, errors."""

from __future__ import annotations

import pytest

from imageupdater.errors import PolicyError
from imageupdater.policy.ranges import parse_range
from imageupdater.policy.tags import parse_tag


def allows(text: str, tag: str) -> bool:
    parsed = parse_tag(tag)
    assert parsed is not None
    return parse_range(text).allows(parsed.core, parsed.prerelease)


@pytest.mark.parametrize(
    ("text", "tag", "expected"),
    [
        # SPEC order inside ranges: numbers as numbers, word ranks, case-insensitive words
        (">=1.0.0-rc9", "1.0.0-rc10", True),
        (">1.0.0-rc.9", "1.0.0-rc.10", True),
        ("<1.0.0-RC3", "1.0.0-rc2", True),
        (">=1.0.0-beta", "1.0.0-alpha.9", False),
        (">=1.0.0-alpha", "1.0.0-b1", True),
        (">=1.0.0-0", "1.0.0-dev", True),  # a numeric identifier is the lowest pre-release
        ("<1.0.0-z", "1.0.0-rc.99", True),  # other identifiers sort above the words
        # a glued or case-variant pre-release tag is a pre-release for the group rule
        ("^1.1", "1.1.5rc1", False),
        (">=1.1.0-0", "1.1.5rc1", True),
        # the variant does not take part; the build number neither
        ("^1.25", "1.25.3-alpine", True),
        ("~17.0.9", "17.0.9_9-jdk-jammy", True),
        ("=1.2.3", "v1.2.3-slim", True),
        ("<1.25.3", "1.25.3-alpine", False),
        # v prefix on both sides, 1 and 2 part tags
        ("v1.0.x", "1.0.4", True),
        ("1.0.x", "v1.0.4", True),
        ("^1", "1", True),
        ("~1.2", "v1.2", True),
        # pre-release per AND-group, OR of groups
        (">=1.0.0-0 <2 || >=3", "1.5.0-rc.1", True),
        (">=1.0.0-0 <2 || >=3", "3.1.0-rc.1", False),
        (">=1.0.0-0 <2 || >=3", "3.1.0", True),
        # hyphen ranges
        ("1.2 - 1.4", "1.4.9", True),  # `<=1.4` keeps all of 1.4.x, as in Masterminds
        ("1.2 - 1.4", "1.5.0", False),
        ("1.2 - 1.4", "1.1.9", False),
        ("1.2.0-rc.1 - 1.4", "1.2.0-rc.2", True),
        # a hyphen range after a space-separated term (Masterminds' rewrite rejects this)
        (">1 2 - 3", "2.5.0", True),
        # wildcard quirks kept from Masterminds
        ("!=*", "1.2.3", True),
        ("<=*", "1.2.3", False),
        ("^*", "1.2.3", False),
        ("~*", "1.2.3", True),
        (">*", "0.0.1", True),
        ("x", "7.0.0", True),
        ("*", "7.0.0-rc.1", False),
        (">=1.2.3+build.5", "1.2.3", True),
    ],
)
def test_allows(text: str, tag: str, expected: bool) -> None:
    assert allows(text, tag) is expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (">= bar", "'>= bar'"),
        ("BAR >= 1.2.3", "'BAR >= 1.2.3'"),
        ("1.2 ||", "'||'"),
        ("|| 1.2", "'||'"),
        ("1.2,", "','"),
        (",1.2", "',1.2'"),
        ("1.2,,1.3", "',1.3'"),
        ("1.2.3.4", "'.4'"),
        ("1x", "'x'"),
        ("x1", "'1'"),
        ("-1", "'-1'"),
        ("a", "'a'"),
        ("1.0.0p", "'p'"),
        ("*-*", "'-*'"),
        (">=1.2 - 1.4", "'- 1.4'"),
        ("1.2 -1.4", "'-1.4'"),
        ("1.2 - 1.4 - 1.6", "'- 1.6'"),
        ("12.3.34~ 1.2.3", "'~ 1.2.3'"),
        (">1.1<2", "'<2'"),
        ("V1.2", "'V1.2'"),
        ("1.2.3-beta.01", "'beta.01'"),
        ("1.2.3-", "'-'"),
        ("1.2.3+", "'+'"),
    ],
)
def test_errors_name_the_bad_part(text: str, names: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_range(text)
    assert names in str(caught.value)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        (">=1.0 <2", ">=1.0 <2"),
        ("  ^1.2  ", "^1.2"),
        (">= 1.2, <  1.4", ">=1.2 <1.4"),
        ("1.2 - 1.4", ">=1.2 <=1.4"),
        ("=> 1, =< 2 || ~> 3", "=>1 =<2 || ~>3"),
        ("v1.2.x", "v1.2.x"),
    ],
)
def test_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_range(text)) == canonical
