"""Policy expressions and rankings: the SPEC §3.1 rules, one table per policy kind."""

from __future__ import annotations

import dataclasses

import pytest

from imageupdater.errors import ConfigError, PolicyError
from imageupdater.policy import POLICIES, Ranking, parse_policy, select
from imageupdater.policy.exclusions import DEFAULT_EXCLUSIONS, is_excluded

# --- parse_policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expression"),
    [
        ("semver:^1.2", "semver:^1.2"),
        ("  semver: >=1.0 <2  ", "semver:>=1.0 <2"),
        ("major", "major"),
        ("minor", "minor"),
        ("patch", "patch"),
        ("never", "never"),
        ("alphabetical:^main-(.*)$", "alphabetical:^main-(.*)$"),
        ("numerical:build-(\\d+)", "numerical:build-(\\d+)"),
    ],
)
def test_expression(text: str, expression: str) -> None:
    assert parse_policy(text).expression == expression


def test_policies_table() -> None:
    assert set(POLICIES) == {
        "semver",
        "major",
        "minor",
        "patch",
        "never",
        "alphabetical",
        "numerical",
        "glob",
        "regex",
        "digest",
    }
    for kind, factory in POLICIES.items():
        if kind in {"major", "minor", "patch", "never", "digest"}:
            assert factory("").expression == kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "policy expression is empty"),
        ("   ", "policy expression is empty"),
        ("semver", "policy 'semver' needs a range"),
        ("semver:", "nothing after ':'"),
        ("semver:  ", "nothing after ':'"),
        ("semver:>= bar", "cannot read '>= bar'"),
        ("semver:1.2.3.4", "cannot read '.4'"),
        ("semver:^1 ||", "empty alternative"),
        ("foo", "unknown policy kind 'foo'"),
        ("all", "unknown policy kind 'all'"),
        ("SemVer:^1", "kinds are lowercase: 'semver'"),
        ("Major", "kinds are lowercase: 'major'"),
        ("major:1", "policy 'major' takes no argument"),
        ("patch:", "nothing after ':'"),
        ("never:x", "policy 'never' takes no argument"),
        ("glob:", "nothing after ':'"),
        ("regex:(", "invalid regular expression"),
        ("digest:x", "policy 'digest' takes no argument"),
        ("@shop/web", "no named policy 'shop/web'"),
        ("@web", "'@<namespace>/<name>'"),
        ("alphabetical", "needs a regular expression"),
        ("alphabetical:(", "invalid regular expression"),
        ("numerical:[=", "invalid regular expression"),
    ],
)
def test_errors(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_policy(text)
    assert message in str(caught.value)
    assert isinstance(caught.value, ConfigError)


def test_build_time_policies_need_the_registry() -> None:
    policy = parse_policy("glob:main-*")
    with pytest.raises(PolicyError) as caught:
        policy.rank(["main-1"], None)
    assert "needs the registry" in str(caught.value)


def test_ranking_is_immutable() -> None:
    ranking = Ranking(("1.2.3",), 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ranking.candidates = 2  # type: ignore[misc]


def test_select() -> None:
    policy = parse_policy("semver:^1")
    assert select(policy, ["1.0.0", "1.1.0", "2.0.0"], "1.0.0") == "1.1.0"
    assert select(policy, ["1.0.0", "1.1.0"], "1.1.0") is None  # up to date
    assert select(policy, ["latest"], "1.1.0") is None  # no candidate


# --- semver -----------------------------------------------------------------------------

JAMMY = [
    "17.0.9_9-jdk-jammy",
    "17.0.10_7-jdk-jammy",
    "17.0.9_10-jdk-jammy",
    "17.0.10-jdk-jammy",
    "17.0.10_7-jre-jammy",
    "21.0.1_12-jdk-jammy",
    "17.0.10_7",
]


@pytest.mark.parametrize(
    ("expression", "tags", "current", "upgrades", "candidates"),
    [
        pytest.param(
            "semver:^1.25",
            ["1.25.3-alpine", "1.27.0-alpine", "1.27.0", "1.27-alpine", "1.27.0-alpine3.20"],
            "1.25.3-alpine",
            ["1.27.0-alpine"],
            2,
            id="keeps-variant-and-part-count",
        ),
        pytest.param(
            "semver:^1",
            ["1.27.0-Alpine", "1.27.0-alpine"],
            "1.25.3-alpine",
            ["1.27.0-alpine"],
            1,
            id="variant-is-case-sensitive",
        ),
        pytest.param(
            "semver:^1.25",
            ["1.25.3", "1.27.0", "1.26", "1.28.0-alpine", "1.29.0_1"],
            "1.25.3",
            ["1.27.0"],
            2,
            id="plain-current-stays-plain",
        ),
        pytest.param(
            "semver:^17",
            JAMMY,
            "17.0.9_9-jdk-jammy",
            ["17.0.10_7-jdk-jammy", "17.0.9_10-jdk-jammy"],
            3,
            id="build-number-kept",
        ),
        pytest.param(
            "semver:^17",
            JAMMY,
            "17.0.9-jdk-jammy",
            ["17.0.10-jdk-jammy"],
            1,
            id="no-build-number-stays-without",
        ),
        pytest.param(
            "semver:^1", ["v1.3.0", "1.1.0"], "1.2.0", ["v1.3.0"], 2, id="v-prefix-not-shape"
        ),
        pytest.param(
            "semver:>=1.0.0-0",
            ["1.0.0-rc2", "1.0.0-RC3", "1.0.0-rc1"],
            "1.0.0-rc2",
            ["1.0.0-RC3"],
            3,
            id="RC3-newer-than-rc2",
        ),
        pytest.param(
            "semver:>=1.0.0-0",
            ["1.0.0-rc9", "1.0.0-rc10", "1.0.0-rc.11", "1.0.0-rc.8"],
            "1.0.0-rc9",
            ["1.0.0-rc.11", "1.0.0-rc10"],
            4,
            id="rc10-newer-than-rc9",
        ),
        pytest.param(
            "semver:>=1.1.0-0",
            ["1.1.0rc1", "1.1.0rc2", "1.1.0", "1.1.0b3"],
            "1.1.0rc1",
            ["1.1.0", "1.1.0rc2"],
            4,
            id="glued-pre-release",
        ),
        pytest.param(
            "semver:^1.2",
            ["1.2.0-rc.1", "1.2.0-rc.2", "1.2.0", "1.3.0-rc.1"],
            "1.2.0-rc.1",
            ["1.2.0"],
            1,
            id="masterminds-pre-release-rule",
        ),
        pytest.param(
            "semver:>1.2.3-alpha.1",
            ["1.2.3-alpha.2", "1.3.3-alpha.2", "1.3.3"],
            "1.2.3-alpha.1",
            ["1.3.3", "1.3.3-alpha.2", "1.2.3-alpha.2"],
            3,
            id="pre-release-group-admits-any-version",
        ),
        pytest.param(
            "semver:^1",
            ["1.2.4", "v1.2.4", "1.2.3"],
            "v1.2.3",
            ["v1.2.4", "1.2.4"],
            3,
            id="tie-same-prefix-as-current",
        ),
        pytest.param(
            "semver:^1",
            ["v1.2.4", "1.2.4", "V1.2.4"],
            "1.2.3",
            ["1.2.4", "V1.2.4", "v1.2.4"],
            3,
            id="tie-unprefixed-current",
        ),
        pytest.param(
            "semver:^1",
            ["v1.2.4", "V1.2.4"],
            "1.2.3",
            ["V1.2.4", "v1.2.4"],
            2,
            id="tie-lexically-smallest",
        ),
        pytest.param(
            "semver:^1",
            ["1.2.4", "v1.2.4", "1.2.3", "1.02.3"],
            None,
            ["1.2.4", "v1.2.4", "1.02.3", "1.2.3"],
            4,
            id="tie-without-current",
        ),
        pytest.param(
            "semver:^1", ["1.2.3", "v1.2.3"], "1.2.3", [], 2, id="equal-version-is-no-upgrade"
        ),
        pytest.param("semver:^1", ["1.0.0", "1.5.0"], "2.0.0", [], 2, id="never-a-downgrade"),
        pytest.param(
            "semver:^1", ["1.0.0", "1.5.0"], "1.7.0", [], 2, id="current-not-listed-newer"
        ),
        pytest.param("semver:^1", ["2.0.0", "latest"], "1.0.0", [], 0, id="nothing-in-range"),
        pytest.param("semver:*", [], "1.0.0", [], 0, id="no-tags"),
        pytest.param(
            "semver:>=1",
            ["1.3.0", "1.2.0-alpine", "1.4.0_2", "latest", "1.1", "main-3f2a1c", "1.5.0.1"],
            "latest",
            ["1.3.0", "1.1"],
            2,
            id="latest-current-plain-tags-only",
        ),
        pytest.param(
            "semver:>=1", ["1.3.0", "1.3.0-alpine", "2"], None, ["2", "1.3.0"], 2, id="no-current"
        ),
        pytest.param(
            "semver:*", ["1.3.0", "1.2.3.5"], "1.2.3.4", ["1.3.0"], 1, id="four-part-current"
        ),
        pytest.param(
            "semver:*",
            ["1.3.0", "1.3.0.sig", "sha256-abc.sig", "1.4.0.att", "1.5.0.sbom", "sha256-1.6.0"],
            "1.0.0",
            ["1.3.0"],
            1,
            id="exclusions",
        ),
        pytest.param(
            "semver:^1", ["1.1.0", "1.1.0", "1.2.0"], "1.0.0", ["1.2.0", "1.1.0"], 2, id="dupes"
        ),
        pytest.param("semver:~1.2.0", ["1.2", "1.2.1", "1.3"], "1.2", [], 1, id="two-part-shape"),
        pytest.param(
            "semver:^2024", ["20240615", "2024.07", "2025"], "2024", [], 0, id="one-part-shape"
        ),
    ],
)
def test_semver(
    expression: str, tags: list[str], current: str | None, upgrades: list[str], candidates: int
) -> None:
    assert parse_policy(expression).rank(tags, current) == Ranking(tuple(upgrades), candidates)


# --- major / minor / patch --------------------------------------------------------------

RELEASES = ["1.2.3", "1.2.4", "1.3.0", "2.0.0", "2.0.0-alpine", "3.0.0-rc.1", "1.2.5-rc.1", "1.2"]


@pytest.mark.parametrize(
    ("expression", "tags", "current", "upgrades", "candidates"),
    [
        ("major", RELEASES, "1.2.3", ["2.0.0", "1.3.0", "1.2.4"], 4),
        ("minor", RELEASES, "1.2.3", ["1.3.0", "1.2.4"], 3),
        ("patch", RELEASES, "1.2.3", ["1.2.4"], 2),
        ("patch", RELEASES, "v1.2.3", ["1.2.4"], 2),
        ("major", RELEASES, "2.0.0", [], 4),
        ("major", RELEASES, "9.0.0", [], 4),
        ("major", RELEASES, "2.0.0-alpine", [], 1),
        ("minor", RELEASES, "1.2", [], 1),
        # pre-releases only while the current tag is one of the same numbers
        (
            "patch",
            ["1.2.0-rc.1", "1.2.0-rc.2", "1.2.0", "1.2.1", "1.2.1-rc.1", "1.3.0-rc.1"],
            "1.2.0-rc.1",
            ["1.2.1", "1.2.0", "1.2.0-rc.2"],
            4,
        ),
        ("major", ["1.2.0-rc.2", "2.0.0-rc.1", "1.2.0"], "1.2.0-rc.1", ["1.2.0", "1.2.0-rc.2"], 2),
        ("major", ["1.2.1-rc.1", "2.0.0-rc.1", "1.2.1"], "1.2.0", ["1.2.1"], 1),
        ("minor", ["1.2.0-RC2", "1.2.0-rc10"], "1.2.0-rc9", ["1.2.0-rc10"], 2),
        # four-part tags are ordered among themselves
        (
            "patch",
            ["1.2.3.5", "1.2.4.0", "1.3.0.0", "1.2.4", "1.2.3.4"],
            "1.2.3.4",
            ["1.2.4.0", "1.2.3.5"],
            3,
        ),
        ("minor", ["1.2.3.5", "1.3.0.0", "2.0.0.0"], "1.2.3.4", ["1.3.0.0", "1.2.3.5"], 2),
        ("major", ["1.2.3.5", "2.0.0.0", "2.0.0"], "1.2.3.4", ["2.0.0.0", "1.2.3.5"], 2),
        # one-part tags: the number is the major
        ("major", ["20240615", "20241231", "2024.12", "20230101"], "20240615", ["20241231"], 3),
        ("minor", ["20240615", "20241231"], "20240615", [], 0),
        ("patch", ["1.2", "1.3"], "1.2", [], 0),
        ("patch", ["1", "2"], "1", [], 0),
        ("minor", ["1.2", "1.3", "2.0"], "1.2", ["1.3"], 2),
        # no current version: relative policies have nothing to be relative to
        ("major", RELEASES, "latest", [], 0),
        ("major", RELEASES, None, [], 0),
        # shape and exclusions as for semver
        (
            "major",
            ["17.0.10_7-jdk-jammy", "17.0.10-jdk-jammy"],
            "17.0.9_9-jdk-jammy",
            ["17.0.10_7-jdk-jammy"],
            1,
        ),
        ("major", ["1.3.0.sig", "sha256-1.3.0", "1.3.0"], "1.2.0", ["1.3.0"], 1),
        ("major", ["v1.3.0", "1.3.0"], "v1.2.0", ["v1.3.0", "1.3.0"], 2),
    ],
)
def test_relative(
    expression: str, tags: list[str], current: str | None, upgrades: list[str], candidates: int
) -> None:
    assert parse_policy(expression).rank(tags, current) == Ranking(tuple(upgrades), candidates)


def test_never() -> None:
    assert parse_policy("never").rank(["1.0.0", "2.0.0"], "1.0.0") == Ranking((), 0)


# --- alphabetical / numerical -----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "tags", "current", "upgrades", "candidates"),
    [
        ("alphabetical:.*", ["xenial", "zesty", "bionic"], "xenial", ["zesty"], 3),
        ("alphabetical:.*", ["xenial", "zesty", "bionic"], None, ["zesty", "xenial", "bionic"], 3),
        (
            "alphabetical:^main-[0-9a-f]+-(\\d{8}T\\d{6})$",
            ["main-3f2a1c-20240101T000000", "main-abcdef-20240301T120000", "dev-1-20250101T0"],
            "main-3f2a1c-20240101T000000",
            ["main-abcdef-20240301T120000"],
            2,
        ),
        ("alphabetical:^rel-", ["rel-b", "rel-a", "other"], "unrelated", ["rel-b", "rel-a"], 2),
        ("alphabetical:(x)?y", ["y", "xy"], None, ["xy"], 1),  # group not taking part
        ("alphabetical:.*", ["b.sig", "sha256-z", "a"], None, ["a"], 1),
        ("alphabetical:^(.)", ["b1", "a1", "b0"], "a9", ["b0", "b1"], 3),  # tie: smallest
        (
            "numerical:^build-(\\d+)$",
            ["build-9", "build-10", "build-x"],
            "build-9",
            ["build-10"],
            2,
        ),
        (
            "numerical:(.*)",
            ["1.5", "-2", "1e3", "nan", "inf", "1_000"],
            None,
            ["1e3", "1.5", "-2"],
            3,
        ),
        ("numerical:(.*)", ["10", "10.0", "9"], "9", ["10", "10.0"], 3),
        ("numerical:(.*)", ["10", "9"], "11", [], 2),
    ],
)
def test_ordered_by_value(
    expression: str, tags: list[str], current: str | None, upgrades: list[str], candidates: int
) -> None:
    assert parse_policy(expression).rank(tags, current) == Ranking(tuple(upgrades), candidates)


# --- exclusions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "excluded"),
    [
        ("sha256-3f2a.sig", True),
        ("sha256-3f2a.att", True),
        ("sha256-3f2a.sbom", True),
        ("sha256-3f2a", True),
        ("1.2.3.sig", True),
        ("1.2.3", False),
        ("sig", False),
        ("1.2.3-sig", False),
        ("SHA256-3f2a", False),
        ("x.SIG", False),
    ],
)
def test_default_exclusions(tag: str, excluded: bool) -> None:
    assert DEFAULT_EXCLUSIONS == ("*.sig", "*.att", "*.sbom", "sha256-*")
    assert is_excluded(tag) is excluded
