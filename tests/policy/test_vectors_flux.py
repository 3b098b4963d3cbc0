"""Flux test tables (image-reflector-controller, fluxcd/pkg, Flux v1) run through our policies.

Every table of the three files is run row by row here or listed in NOT_APPLICABLE with the
reason. Rows where SPEC §3.1 deliberately differs are in DIFFERENCES: the test asserts the
SPEC answer, or runs the row as a strict xfail where SPEC has no answer yet.
"""

from __future__ import annotations

from typing import Any

import pytest

from imageupdater.errors import PolicyError
from imageupdater.namedpolicies import compose, inner_policy
from imageupdater.policy import Ranking, parse_policy
from imageupdater.policy.buildtime import BuildTimePolicy
from imageupdater.policy.named import FilteredPolicy
from tests.policy.vectors import Key, is_semver_version, load, params

IRC_FILE = "flux-irc-policy-selection.json"
PKG_FILE = "fluxcd-pkg-version.json"
V1_FILE = "flux-v1-tag-patterns.json"
SCAN_FILE = "flux-irc-repository-scan.json"
IRC: dict[str, Any] = load(IRC_FILE)
PKG: dict[str, Any] = load(PKG_FILE)
V1: dict[str, Any] = load(V1_FILE)
SCAN: dict[str, Any] = load(SCAN_FILE)

NO_CANDIDATE_IS_NOT_AN_ERROR = (
    "Flux fails the policy when no tag qualifies; under SPEC §4 that is 'no candidate' "
    "(policy select prints nothing, exit 0): Ranking((), 0)"
)
ONE_OR_TWO_PARTS_ARE_VERSIONS = (
    "fluxcd/pkg ParseVersion needs two dots; SPEC reads 1-3 part tags as versions "
    "('-5' is a variant, 'beta5' a pre-release)"
)
NOT_A_NUMBER_IS_NOT_A_CANDIDATE = (
    "Flux fails the whole numerical policy on one non-number; SPEC: such a tag is simply not "
    "a candidate, so '0' wins"
)

DIFFERENCES: dict[Key, str] = {
    ("semver_latest", 2): NO_CANDIDATE_IS_NOT_AN_ERROR,  # only b1.2.3-style tags
    ("semver_latest", 3): NO_CANDIDATE_IS_NOT_AN_ERROR,  # empty tag list
    ("semver_latest", 4): NO_CANDIDATE_IS_NOT_AN_ERROR,  # nothing in range
    ("alphabetical_latest", 9): NO_CANDIDATE_IS_NOT_AN_ERROR,
    ("numerical_latest", 8): NOT_A_NUMBER_IS_NOT_A_CANDIDATE,
    ("numerical_latest", 9): NO_CANDIDATE_IS_NOT_AN_ERROR,
    ("ParseVersion", 2): ONE_OR_TWO_PARTS_ARE_VERSIONS,  # v1.0
    ("ParseVersion", 3): ONE_OR_TWO_PARTS_ARE_VERSIONS,  # v1
    ("ParseVersion", 5): ONE_OR_TWO_PARTS_ARE_VERSIONS,  # v1.2-5
    ("ParseVersion", 6): ONE_OR_TWO_PARTS_ARE_VERSIONS,  # v1.2-beta5
    ("Sort", 0): (
        "Flux keeps duplicates and the input order of equal versions; SPEC ranks distinct "
        "tags and breaks ties by the lexically smallest (no current tag): only the winner "
        "1.2.4 is the same"
    ),
    ("semver_ordering_TestImage_OrderBySemverTagDesc", 0): (
        "Flux v1 ranks 1.10.0 above the equal 1.10 and keeps non-versions at the end; SPEC "
        "picks 1.10 (lexically smallest) and drops non-versions"
    ),
}

NOT_APPLICABLE: dict[tuple[str, str], str] = {
    (SCAN_FILE, "latestTags_sort"): (
        "Flux's status display (first ten tags in plain descending string order); "
        "imageupdater has no such status field"
    ),
}
TESTED: dict[str, set[str]] = {
    IRC_FILE: {
        "semver_latest",
        "semver_range_validation",
        "alphabetical_latest",
        "numerical_latest",
        "alphabetical_constructor",
        "numerical_constructor",
        "regex_filter",
        "factory",
        "controller_applyPolicy",
        "controller_calculateImageFromRepoTags",
        "controller_filterTags",
    },
    SCAN_FILE: {"exclusion_filter"},
    PKG_FILE: {"ParseVersion", "Sort"},
    V1_FILE: {
        "TestGlobPattern_Matches",
        "TestSemverPattern_Matches",
        "TestRegexpPattern_Matches",
        "semver_ordering_TestImage_OrderBySemverTagDesc",
    },
}
METADATA = {"source", "implementation_notes"}


@pytest.mark.parametrize("name", [IRC_FILE, PKG_FILE, V1_FILE, SCAN_FILE])
def test_every_table_is_run_or_explained(name: str) -> None:
    tables = set(load(name)) - METADATA
    explained = {table for file, table in NOT_APPLICABLE if file == name}
    assert tables == TESTED[name] | explained
    assert not TESTED[name] & explained


# --- image-reflector-controller ---------------------------------------------------------


@pytest.mark.parametrize(("table", "index", "row"), params("semver_latest", IRC["semver_latest"]))
def test_semver_latest(table: str, index: int, row: dict[str, Any]) -> None:
    ranking = parse_policy(f"semver:{row['range']}").rank(row["tags"], None)
    if (table, index) in DIFFERENCES:
        assert ranking == Ranking((), 0)
    else:
        assert not row["expect_error"]
        assert ranking.upgrades[0] == row["expected"]


@pytest.mark.parametrize(
    ("expect_error", "text"),
    [
        pytest.param(row["expect_error"], text, id=f"semver_range_validation-{index}-{text!r}")
        for index, row in enumerate(IRC["semver_range_validation"])
        for text in row["ranges"]
    ],
)
def test_semver_range_validation(expect_error: bool, text: str) -> None:
    if expect_error:
        with pytest.raises(PolicyError):
            parse_policy(f"semver:{text}")
    else:
        assert parse_policy(f"semver:{text}").expression == f"semver:{text}"


@pytest.mark.parametrize(
    ("table", "index", "row"),
    [
        *params("alphabetical_latest", IRC["alphabetical_latest"]),
        *params("numerical_latest", IRC["numerical_latest"]),
    ],
)
def test_ordered_by_value(table: str, index: int, row: dict[str, Any]) -> None:
    kind = table.split("_")[0]
    # `order` is a named-policy field; the inline expression is the ascending default
    if row["order"] == "desc":
        policy = inner_policy({kind: {"order": "desc"}})
    else:
        policy = parse_policy(f"{kind}:.*")
    ranking = policy.rank(row["tags"], None)
    assert policy.rank(row["tags"][::-1], None) == ranking  # the upstream test shuffles
    reason = DIFFERENCES.get((table, index))
    if reason == NO_CANDIDATE_IS_NOT_AN_ERROR:
        assert ranking == Ranking((), 0)
    elif reason == NOT_A_NUMBER_IS_NOT_A_CANDIDATE:
        assert ranking == Ranking(("0",), 1)
    else:
        assert ranking.upgrades[0] == row["expected"]


# --- fluxcd/pkg version -----------------------------------------------------------------


@pytest.mark.parametrize(("table", "index", "row"), params("ParseVersion", PKG["ParseVersion"]))
def test_parse_version(table: str, index: int, row: dict[str, Any]) -> None:
    expected = not row["expect_error"]
    if (table, index) in DIFFERENCES:
        expected = not expected
    assert is_semver_version(row["version"]) is expected


def test_sort() -> None:
    sort = PKG["Sort"]
    assert ("Sort", 0) in DIFFERENCES
    ranking = parse_policy(f"semver:{sort['constraint']}").rank(sort["input"], None)
    assert ranking.upgrades[0] == sort["expected"][0]
    assert ranking.upgrades == ("1.2.4", "v1.2.4", "v1.2.3", "v1.2.0")  # SPEC: ties by text


# --- Flux v1 ----------------------------------------------------------------------------


def _spec_expression(pattern: str) -> str:
    """Flux v1 pattern -> SPEC expression, as `migrate` rewrites it (no prefix = glob)."""
    if pattern.startswith("regexp:"):
        return "regex:" + pattern.removeprefix("regexp:")
    if pattern.startswith(("semver:", "glob:", "regex:")):
        return pattern
    return "glob:" + pattern


@pytest.mark.parametrize(
    ("table", "index", "row"),
    [
        *params("TestSemverPattern_Matches", V1["TestSemverPattern_Matches"]),
        *params("TestGlobPattern_Matches", V1["TestGlobPattern_Matches"]),
        *params("TestRegexpPattern_Matches", V1["TestRegexpPattern_Matches"]),
    ],
)
def test_pattern_matches(table: str, index: int, row: dict[str, Any]) -> None:
    policy = parse_policy(_spec_expression(row["pattern"]))

    def candidates(tag: str) -> int:
        if isinstance(policy, BuildTimePolicy):  # ordering needs the registry; matching not
            return len(policy.candidates([tag]))
        return policy.rank([tag], None).candidates

    for tag in row["matches"]:
        assert candidates(tag) == 1, tag
    for tag in row["does_not_match"]:
        assert candidates(tag) == 0, tag


def test_semver_ordering() -> None:
    table = V1["semver_ordering_TestImage_OrderBySemverTagDesc"]
    assert ("semver_ordering_TestImage_OrderBySemverTagDesc", 0) in DIFFERENCES
    ranking = parse_policy("semver:*").rank(table["input_tags"], None)
    assert ranking.upgrades == ("3", "1.10", "1.10.0", "1.2.30", "v1")
    versions = [tag for tag in table["expected_newest_first"] if is_semver_version(tag)]
    assert sorted(ranking.upgrades) == sorted(versions)  # the same tags, ties aside


# --- named policies: Flux ImagePolicy objects (order, filterTags, factory, controller) ---


@pytest.mark.parametrize(
    ("table", "index", "row"),
    [
        *params("alphabetical_constructor", IRC["alphabetical_constructor"]),
        *params("numerical_constructor", IRC["numerical_constructor"]),
    ],
)
def test_order_argument(table: str, index: int, row: dict[str, Any]) -> None:
    kind = table.split("_")[0]
    choice = {kind: {"order": row["order_argument"]} if row["order_argument"] else {}}
    if row["expect_error"]:
        with pytest.raises(PolicyError):
            inner_policy(choice, flux=True)
    else:
        inner_policy(choice, flux=True)


@pytest.mark.parametrize(("table", "index", "row"), params("regex_filter", IRC["regex_filter"]))
def test_regex_filter(table: str, index: int, row: dict[str, Any]) -> None:
    filter_tags = {"pattern": row["pattern"], "extract": row["extract"]}
    policy = compose({"alphabetical": {}}, expression="t", filter_tags=filter_tags, flux=True)
    if not row["pattern"]:
        assert not isinstance(policy, FilteredPolicy)  # nothing to filter
        return
    assert isinstance(policy, FilteredPolicy)
    assert sorted(policy.values(row["tags"])) == row["expected_items_sorted"]


@pytest.mark.parametrize(("table", "index", "row"), params("factory", IRC["factory"]))
def test_factory(table: str, index: int, row: dict[str, Any]) -> None:
    if row["expect_error"]:
        with pytest.raises(PolicyError):
            inner_policy(row["policy"], flux=True)
    else:
        inner_policy(row["policy"], flux=True)


CONTROLLER_ROWS = [
    *params("controller_applyPolicy", IRC["controller_applyPolicy"]),
    *params("controller_calculateImageFromRepoTags", IRC["controller_calculateImageFromRepoTags"]),
    *params("controller_filterTags", IRC["controller_filterTags"]),
]
NOT_AN_ERROR_HERE = {
    ("controller_applyPolicy", 1): "a database read failure; here a registry error, tested "
    "in tests/engine (a registry failure is an error, never 'no new tag')",
    ("controller_applyPolicy", 2): NO_CANDIDATE_IS_NOT_AN_ERROR,
}


@pytest.mark.parametrize(("table", "index", "row"), CONTROLLER_ROWS)
def test_controller(table: str, index: int, row: dict[str, Any]) -> None:
    tags = row.get("tags_in_db", row.get("tags"))
    failing = row.get("expect_error") or row.get("expect_failure")
    if (table, index) in NOT_AN_ERROR_HERE:
        if isinstance(tags, list):
            assert compose(row["policy"], expression="t", flux=True).rank(tags, None) == Ranking(
                (), 0
            )
        return
    if failing:
        with pytest.raises(PolicyError) as caught:
            compose(row["policy"], expression="t", filter_tags=row.get("filterTags"), flux=True)
        if "expected_ready_message_contains" in row:
            assert row["expected_ready_message_contains"] in str(caught.value)
        return
    policy = compose(row["policy"], expression="t", filter_tags=row.get("filterTags"), flux=True)
    ranking = policy.rank(tags, None)
    assert ranking.upgrades[0] == row.get("expected", row.get("expected_tag"))


EXCLUSION_LIST_ADDS = (
    "Flux's exclusionList replaces its default ^.*\\.sig$; SPEC's exclude adds to the "
    "default exclusions, which no row's tags hit except *.sig (excluded either way)"
)


@pytest.mark.parametrize(
    ("table", "index", "row"), params("exclusion_filter", SCAN["exclusion_filter"])
)
def test_exclusion_filter(table: str, index: int, row: dict[str, Any]) -> None:
    patterns = row["exclusion_patterns"] or None
    if row["expect_error"]:
        with pytest.raises(PolicyError):
            compose({"alphabetical": {}}, expression="t", exclude=patterns, flux=True)
        return
    policy = compose({"alphabetical": {}}, expression="t", exclude=patterns, flux=True)
    ranking = policy.rank(row["tags"], None)
    assert sorted(ranking.upgrades) == sorted(row["expected_tags"]), EXCLUSION_LIST_ADDS
