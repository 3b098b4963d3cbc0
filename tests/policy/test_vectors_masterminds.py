"""Masterminds/semver v3 test tables: the range language must behave as upstream's.

Every table of both files is either run row by row here or listed in NOT_APPLICABLE with
the reason; rows where SPEC §3.1 deliberately differs are in DIFFERENCES, and the test
asserts the SPEC behaviour for them (or, for orderings, runs them as strict xfails).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from functools import cmp_to_key
from typing import Any

import pytest

from imageupdater.errors import PolicyError
from imageupdater.policy.ranges import parse_range
from imageupdater.policy.tags import compare_tags, parse_tag
from tests.policy.vectors import Key, is_semver_version, load, params

CONSTRAINTS_FILE = "masterminds-semver-constraints.json"
VERSIONS_FILE = "masterminds-semver-versions.json"
CONSTRAINTS: dict[str, Any] = load(CONSTRAINTS_FILE)["tables"]
VERSIONS: dict[str, Any] = load(VERSIONS_FILE)["tables"]

EMPTY_RANGE = (
    "'' is '*' only for Masterminds' internal parseConstraint; NewConstraint, Flux and SPEC "
    "reject an empty range (PolicyError)"
)
NO_INCLUDE_PRERELEASE = (
    "SPEC has no include-prerelease switch: a pre-release tag needs a pre-release in its own "
    "AND-group of the range, so these IncludePrerelease=true rows are false under SPEC"
)
LEADING_ZERO_PRERELEASE = (
    "SPEC compares pre-release numbers as numbers, so a tag 'alpha.01' is a version equal to "
    "'alpha.1' (Masterminds rejects it; in a range operand the leading zero stays an error)"
)
ODD_SUFFIX_IS_VARIANT = (
    "SPEC reads any suffix of tag characters that does not start with a pre-release word as "
    "a variant, so the tag is a version with a variant (Masterminds rejects the identifiers)"
)
IDENTIFIER_AFTER_WORD_IS_VARIANT = (
    "SPEC: the pre-release is the word plus the numeric identifiers after it; 'foo', '-2', "
    "'FOO', 'BAR' are the variant, which does not order versions"
)

DIFFERENCES: dict[Key, str] = {
    ("TestConstraintCheck", 71): EMPTY_RANGE,
    ("TestConstraintCheck", 72): EMPTY_RANGE,
    ("TestConstraintCheck", 73): EMPTY_RANGE,
    # rows 0-7: a pre-release version against a range without pre-release
    **{("TestConstraintsCheckIncludePrerelease", i): NO_INCLUDE_PRERELEASE for i in range(8)},
    # rows 0-10: the same for Validate
    **{("TestConstraintsValidateIncludePrerelease", i): NO_INCLUDE_PRERELEASE for i in range(11)},
    ("TestNewVersion_default_coercing", 1): LEADING_ZERO_PRERELEASE,  # 1.2.3-alpha.01
    ("TestNewVersion_default_coercing", 25): LEADING_ZERO_PRERELEASE,  # 1.2.3-beta.01
    ("TestNewVersion_default_coercing", 36): ODD_SUFFIX_IS_VARIANT,  # 1.0.0-alpha_beta
    ("TestNewVersion_default_coercing", 37): ODD_SUFFIX_IS_VARIANT,  # 1.0.0-alpha..
    ("TestNewVersion_default_coercing", 38): ODD_SUFFIX_IS_VARIANT,  # 1.0.0-alpha..1
    ("TestNewVersion_default_coercing", 40): ODD_SUFFIX_IS_VARIANT,  # 1.2.31----RC-SNAPSHOT...
    ("TestCompare", 12): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # 4.2-beta = 4.2-beta.foo
    ("TestCompare", 14): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # 4.2-beta.foo = 4.2-beta
    ("TestCompare", 16): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # beta.4 > beta(.-2)
    ("TestCompare", 17): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # beta(.-2) = beta(.-3)
    ("TestCompare", 18): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # beta(.-3) < beta.5
    ("TestGreaterThan", 6): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # SNAPSHOT(.FOO) < SNAPSHOT.103
    ("TestGreaterThan", 7): IDENTIFIER_AFTER_WORD_IS_VARIANT,  # SNAPSHOT.99 > SNAPSHOT(.BAR)
}

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    (VERSIONS_FILE, "TestStrictNewVersion"): (
        "strict SemVer 2.0 parser; SPEC reads tags loosely (v/V, 1-3 parts, leading zeros)"
    ),
    (VERSIONS_FILE, "TestNewVersion_CoerceNewVersion_false"): (
        "Masterminds' non-coercing mode, used neither by Flux nor by SPEC (leading zeros allowed)"
    ),
}

CHECK_TABLES = [
    "TestConstraintCheck",
    "TestConstraintsCheck",
    "TestConstraintsValidate",
    "TestConstraintsCheckIncludePrerelease",
    "TestConstraintsValidateIncludePrerelease",
]
FAILING_VALIDATE_TABLES = [
    "TestConstraintsValidate_messages",
    "TestConstraintsValidateIncludePrerelease_messages",
]
COMPARISONS: dict[str, Callable[[int, int], bool]] = {
    "TestLessThan": operator.lt,
    "TestLessThanEqual": operator.le,
    "TestGreaterThan": operator.gt,
    "TestGreaterThanEqual": operator.ge,
    "TestEqual": operator.eq,
}

TESTED: dict[str, set[str]] = {
    CONSTRAINTS_FILE: {
        *CHECK_TABLES,
        *FAILING_VALIDATE_TABLES,
        "TestNewConstraint",
        "TestParseConstraint",
        "TestRewriteRange",
        "TestConstraintString",
    },
    VERSIONS_FILE: {
        "TestNewVersion_default_coercing",
        "TestCompare",
        *COMPARISONS,
        "TestCollection",
    },
}


def allows(constraint: str, version: str) -> bool:
    parsed = parse_tag(version)
    assert parsed is not None, f"{version!r} must read as a version"
    assert parsed.is_semver, f"{version!r} must have 1-3 parts"
    return parse_range(constraint).allows(parsed.core, parsed.prerelease)


@pytest.mark.parametrize("name", [CONSTRAINTS_FILE, VERSIONS_FILE])
def test_every_table_is_run_or_explained(name: str) -> None:
    tables = set(load(name)["tables"])
    explained = {table for file, table in NOT_APPLICABLE if file == name}
    assert tables == TESTED[name] | explained
    assert not TESTED[name] & explained


@pytest.mark.parametrize(
    ("table", "index", "row"),
    [p for table in CHECK_TABLES for p in params(table, CONSTRAINTS[table]["rows"])],
)
def test_check(table: str, index: int, row: dict[str, Any]) -> None:
    reason = DIFFERENCES.get((table, index))
    if reason == EMPTY_RANGE:
        with pytest.raises(PolicyError, match="empty"):
            parse_range(row["constraint"])
    elif reason is not None:
        assert allows(row["constraint"], row["version"]) is (not row["expected"]), reason
    else:
        assert allows(row["constraint"], row["version"]) is row["expected"]


@pytest.mark.parametrize(
    ("table", "index", "row"),
    [p for table in FAILING_VALIDATE_TABLES for p in params(table, CONSTRAINTS[table]["rows"])],
)
def test_validate_failures_are_not_allowed(table: str, index: int, row: dict[str, Any]) -> None:
    """Validate gave an error message; IncludePrerelease only widens, so SPEC says no too."""
    assert not allows(row["constraint"], row["version"])


@pytest.mark.parametrize(
    ("table", "index", "row"), params("TestNewConstraint", CONSTRAINTS["TestNewConstraint"]["rows"])
)
def test_new_constraint(table: str, index: int, row: dict[str, Any]) -> None:
    if row["expect_error"]:
        with pytest.raises(PolicyError):
            parse_range(row["input"])
        return
    parsed = parse_range(row["input"])
    assert len(parsed.groups) == row["or_groups"]
    assert len(parsed.groups[0]) == row["and_count_first_group"]


@pytest.mark.parametrize(
    ("table", "index", "row"),
    params("TestParseConstraint", CONSTRAINTS["TestParseConstraint"]["rows"]),
)
def test_parse_constraint(table: str, index: int, row: dict[str, Any]) -> None:
    if row["expect_error"]:
        with pytest.raises(PolicyError):
            parse_range(row["input"])
        return
    (term,) = parse_range(row["input"]).groups[0]
    assert term.op == row["operator"].split()[0]  # "= (tilde when wildcard)" -> "="
    assert ".".join(map(str, term.core)) == row["normalized_version"]


@pytest.mark.parametrize(
    ("table", "index", "row"), params("TestRewriteRange", CONSTRAINTS["TestRewriteRange"]["rows"])
)
def test_hyphen_range_reads_as_its_rewrite(table: str, index: int, row: dict[str, Any]) -> None:
    assert parse_range(row["input"]).groups == parse_range(row["rewritten"]).groups


@pytest.mark.parametrize(
    ("table", "index", "row"),
    params("TestConstraintString", CONSTRAINTS["TestConstraintString"]["rows"]),
)
def test_canonical_string(table: str, index: int, row: dict[str, Any]) -> None:
    assert str(parse_range(row["input"])) == row["string"]


@pytest.mark.parametrize(
    ("table", "index", "row"),
    params("TestNewVersion_default_coercing", VERSIONS["TestNewVersion_default_coercing"]["rows"]),
)
def test_tag_reads_as_version(table: str, index: int, row: dict[str, Any]) -> None:
    expected = not row["expect_error"]
    if (table, index) in DIFFERENCES:
        expected = not expected
    assert is_semver_version(row["version"]) is expected


@pytest.mark.parametrize(
    ("table", "index", "row"), params("TestCompare", VERSIONS["TestCompare"]["rows"], DIFFERENCES)
)
def test_compare(table: str, index: int, row: dict[str, Any]) -> None:
    assert compare_tags(row["v1"], row["v2"]) == row["expected"]


@pytest.mark.parametrize(
    ("table", "index", "row"),
    [p for table in COMPARISONS for p in params(table, VERSIONS[table]["rows"], DIFFERENCES)],
)
def test_comparison_operators(table: str, index: int, row: dict[str, Any]) -> None:
    order = compare_tags(row["v1"], row["v2"])
    assert order is not None
    assert COMPARISONS[table](order, 0) is row["expected"]


def _compare(left: str, right: str) -> int:
    order = compare_tags(left, right)
    assert order is not None
    return order


def test_collection_sorts_like_masterminds() -> None:
    collection = VERSIONS["TestCollection"]
    ordered = sorted(collection["input"], key=cmp_to_key(_compare))
    rendered = []
    for tag in ordered:
        parsed = parse_tag(tag)
        assert parsed is not None
        rendered.append(".".join(map(str, parsed.core)))  # Masterminds' String()
    assert rendered == collection["expected_sorted"]
