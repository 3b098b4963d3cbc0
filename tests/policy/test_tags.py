"""Reading tags as versions and ordering them (SPEC §3.1 "Reading a tag", pre-release order)."""

from __future__ import annotations

import itertools

import pytest

from imageupdater.policy import compare_tags
from imageupdater.policy.tags import parse_tag


@pytest.mark.parametrize(
    ("tag", "numbers", "prefix", "prerelease_of", "variant", "build"),
    [
        ("1", (1,), "", None, "", None),
        ("v1.2", (1, 2), "v", None, "", None),
        ("V1.2.3", (1, 2, 3), "V", None, "", None),
        ("1.2.3.4", (1, 2, 3, 4), "", None, "", None),
        ("1.01.0", (1, 1, 0), "", None, "", None),
        ("20240615", (20240615,), "", None, "", None),
        ("1.2.0-rc.1", (1, 2, 0), "", "rc.1", "", None),
        ("1.2.0-rc.1-alpine", (1, 2, 0), "", "rc.1", "alpine", None),
        ("1.2.0-beta-2", (1, 2, 0), "", "beta.2", "", None),
        ("1.2.0-RC3", (1, 2, 0), "", "rc.3", "", None),
        ("1.2.0-a1", (1, 2, 0), "", "alpha.1", "", None),
        ("1.2.0-b2-slim", (1, 2, 0), "", "beta.2", "slim", None),
        ("1.2.0-preview.3.4-x", (1, 2, 0), "", "pre.3.4", "x", None),
        ("1.1.0rc1", (1, 1, 0), "", "rc.1", "", None),
        ("2.0.0b3", (2, 0, 0), "", "beta.3", "", None),
        ("2.0.0b3-alpine", (2, 0, 0), "", "beta.3", "alpine", None),
        ("3.13a1", (3, 13), "", "alpha.1", "", None),
        ("1.25.3-alpine", (1, 25, 3), "", None, "alpine", None),
        ("1.25.3-alpine3.19", (1, 25, 3), "", None, "alpine3.19", None),
        ("3.12-slim-bookworm", (3, 12), "", None, "slim-bookworm", None),
        ("17.0.9_9-jdk-jammy", (17, 0, 9), "", None, "jdk-jammy", 9),
        ("17.0.9_9", (17, 0, 9), "", None, "", 9),
        ("1.2.3-devel", (1, 2, 3), "", None, "devel", None),
        ("1.2.3-precise", (1, 2, 3), "", None, "precise", None),
        ("1.2.3-b4e5f6a", (1, 2, 3), "", None, "b4e5f6a", None),
        ("1.2.3-a", (1, 2, 3), "", None, "a", None),
        ("1.2-5", (1, 2), "", None, "5", None),
        ("1.2.3-0abc123", (1, 2, 3), "", None, "0abc123", None),
        ("1.2.0-x.Y.0+metadata", (1, 2, 0), "", None, "x.Y.0", None),
        ("20221209-update-renovatejson-v4", (20221209,), "", None, "update-renovatejson-v4", None),
        ("1.2.3-rc1.", (1, 2, 3), "", "rc.1", ".", None),
    ],
)
def test_reading(
    tag: str,
    numbers: tuple[int, ...],
    prefix: str,
    prerelease_of: str | None,
    variant: str,
    build: int | None,
) -> None:
    parsed = parse_tag(tag)
    assert parsed is not None
    assert parsed.tag == tag
    assert parsed.numbers == numbers
    assert parsed.prefix == prefix
    assert parsed.variant == variant
    assert parsed.build == build
    if prerelease_of is None:
        assert parsed.prerelease == ()
    else:
        reference = parse_tag(f"0-{prerelease_of}")
        assert reference is not None
        assert parsed.prerelease == reference.prerelease


@pytest.mark.parametrize(
    "tag",
    [
        "",
        "latest",
        "main-3f2a1c",
        "v",
        "V",
        "version1",
        "1.0.0p",
        "1.2.beta",
        "1.2.3.4.5",
        "1.2.3-",
        "1.2.3_x",
        "1.2.3+",
        "9.8.7+meta+meta",
        "1.1.2+.123",
        "\n1.2",
        "1.2\n",
        " 1.2",
        "-1",
        "sha256-abc",
        "b4e5f6a",
        "1b23456",  # a short sha, not 1-beta.23456: glued words need two numeric parts
        "3a14159",
    ],
)
def test_not_a_version(tag: str) -> None:
    assert parse_tag(tag) is None


OLDEST_FIRST = [
    "1.2.0-dev",
    "1.2.0-snapshot.1",
    "1.2.0-nightly",
    "1.2.0-canary.5",
    "1.2.0-alpha",
    "1.2.0-alpha.1",
    "1.2.0-beta",
    "1.2.0-beta.2",
    "1.2.0-beta.10",
    "1.2.0-pre",
    "1.2.0-preview2",
    "1.2.0-rc",
    "1.2.0-rc1",
    "1.2.0-rc2",
    "1.2.0-RC3",
    "1.2.0-rc9",
    "1.2.0-rc.10",
    "1.2.0",
    "1.2.0_1",
    "1.2.0_2",
    "1.2.0_10",
    "1.2.1",
    "1.10",
    "2",
]


@pytest.mark.parametrize(("older", "newer"), list(itertools.pairwise(OLDEST_FIRST)))
def test_order(older: str, newer: str) -> None:
    assert compare_tags(older, newer) == -1
    assert compare_tags(newer, older) == 1


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1.01.0", "1.1.0"),
        ("v1.2.3", "1.2.3"),
        ("V1.2.3", "1.2.3"),
        ("1.2", "1.2.0"),
        ("1", "1.0.0"),
        ("1.2.0-rc1", "1.2.0-rc.1"),
        ("1.2.0-RC1", "1.2.0-rc.1"),
        ("1.2.0-beta-2", "1.2.0-beta.2"),
        ("1.2.0-a1", "1.2.0-alpha.1"),
        ("1.2.0-b1", "1.2.0-beta.1"),
        ("1.2.0-pre", "1.2.0-preview"),
        ("1.2.0-rc.01", "1.2.0-rc.1"),
        ("1.1.0rc1", "1.1.0-rc.1"),
        ("1.2.3-alpine", "1.2.3"),  # variants do not order versions
        ("1.2.3+build.1", "1.2.3+build.2"),
        ("4.2-beta", "4.2-beta.foo"),
    ],
)
def test_equal_versions(left: str, right: str) -> None:
    assert compare_tags(left, right) == 0


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        # the SPEC answers for the Masterminds rows listed in DIFFERENCES
        ("1.0.0-beta.4", "1.0.0-beta.-2", 1),
        ("1.0.0-beta.-2", "1.0.0-beta.-3", 0),
        ("7.43.0-SNAPSHOT.FOO", "7.43.0-SNAPSHOT.103", -1),
        ("7.43.0-SNAPSHOT.99", "7.43.0-SNAPSHOT.BAR", 1),
        ("1.2.3.4", "1.2.3", 1),
        ("1.2.3.0", "1.2.3", 0),
    ],
)
def test_compare(left: str, right: str, expected: int) -> None:
    assert compare_tags(left, right) == expected


@pytest.mark.parametrize(("left", "right"), [("latest", "1.2.3"), ("1.2.3", "main"), ("", "")])
def test_compare_needs_versions(left: str, right: str) -> None:
    assert compare_tags(left, right) is None


@pytest.mark.parametrize(
    ("tag", "shape"),
    [
        ("1.25.3-alpine", (3, "alpine", False)),
        ("v1.25.3-alpine", (3, "alpine", False)),
        ("1.27-alpine", (2, "alpine", False)),
        ("1.2.0-rc.1", (3, "", False)),
        ("17.0.9_9-jdk-jammy", (3, "jdk-jammy", True)),
        ("1.2.3.4", (4, "", False)),
    ],
)
def test_shape(tag: str, shape: tuple[int, str, bool]) -> None:
    parsed = parse_tag(tag)
    assert parsed is not None
    assert parsed.shape == shape
