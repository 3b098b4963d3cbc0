"""Properties every ranking must have, whatever the registry returns."""

from __future__ import annotations

from random import Random

from hypothesis import given, settings
from hypothesis import strategies as st

from imageupdater.errors import PolicyError
from imageupdater.policy import compare_tags, parse_policy
from imageupdater.policy.ranges import parse_range
from imageupdater.policy.tags import parse_tag

VERSION_POLICIES = [
    "semver:*",
    "semver:>=0.0.0-0",
    "semver:^1",
    "semver:~0.1 || >=2.0.0-rc.1",
    "semver:1.0 - 2.1, !=1.1.1",
    "major",
    "minor",
    "patch",
]
VALUE_POLICIES = ["alphabetical:.*", "numerical:([0-9]+)$"]

SUFFIXES = ["", "-rc.1", "-RC2", "rc3", "-beta-2", "-b1", "-alpine", "-rc.1-alpine", "_3"]

versions = st.builds(
    lambda prefix, numbers, suffix: prefix + ".".join(map(str, numbers)) + suffix,
    st.sampled_from(["", "", "v", "V"]),
    st.lists(st.integers(0, 3), min_size=1, max_size=4),
    st.sampled_from(SUFFIXES),
)
others = st.one_of(
    st.sampled_from(["latest", "main-3f2a1c", "sha256-ab.sig", "1.2.3.sig", "stable"]),
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True),
)
tag_lists = st.lists(st.one_of(versions, others), max_size=30)
currents = st.one_of(st.none(), versions, others)


@given(
    st.sampled_from(VERSION_POLICIES + VALUE_POLICIES),
    tag_lists,
    currents,
    st.randoms(use_true_random=False),
)
def test_rank_does_not_depend_on_input_order(
    expression: str, tags: list[str], current: str | None, rng: Random
) -> None:
    policy = parse_policy(expression)
    shuffled = list(tags)
    rng.shuffle(shuffled)
    assert policy.rank(shuffled, current) == policy.rank(tags, current)
    assert policy.rank(tags + tags, current) == policy.rank(tags, current)


@given(st.sampled_from(VERSION_POLICIES), tag_lists, versions)
def test_every_upgrade_is_newer_and_best_comes_first(
    expression: str, tags: list[str], current: str
) -> None:
    ranking = parse_policy(expression).rank(tags, current)
    assert len(set(ranking.upgrades)) == len(ranking.upgrades) <= ranking.candidates
    assert set(ranking.upgrades) <= set(tags)
    reference = parse_tag(current)  # None for the odd generated tag such as `1rc1`
    if reference is None and not expression.startswith("semver:"):
        assert ranking.candidates == 0
    if reference is not None and (reference.is_semver or not expression.startswith("semver:")):
        for tag in ranking.upgrades:
            assert compare_tags(tag, current) == 1
            upgrade = parse_tag(tag)
            assert upgrade is not None
            assert upgrade.shape == reference.shape
    for better, worse in zip(ranking.upgrades, ranking.upgrades[1:], strict=False):
        assert compare_tags(better, worse) in (0, 1)


@given(st.text(max_size=40))
def test_reading_any_text_never_fails(text: str) -> None:
    parsed = parse_tag(text)
    assert parsed is None or parsed.tag == text


@settings(max_examples=300)
@given(st.text(alphabet=" 0123456789.xX*vV^~=<>!,|-+abrc", max_size=24))
def test_ranges_fail_only_with_policy_error_and_round_trip(text: str) -> None:
    try:
        parsed = parse_range(text)
    except PolicyError:
        return
    assert parse_range(str(parsed)).groups == parsed.groups
