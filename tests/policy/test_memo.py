from imageupdater.policy.base import _RankMemo, clear_rank_memo
from imageupdater.policy.keyed import NumericalPolicy
from imageupdater.policy.registry import parse_policy
from imageupdater.policy.semver import SemverPolicy


def test_equal_policies_share_rankings_and_new_tags_give_new_answers() -> None:
    clear_rank_memo()
    tags = ["1.0.0", "1.1.0", "2.0.0"]
    first = parse_policy("semver:^1.0").rank(tags, "1.0.0")
    assert parse_policy("semver:^1.0").rank(list(tags), "1.0.0") is first
    assert parse_policy("semver:^1.0").rank([*tags, "1.2.0"], "1.0.0").upgrades[0] == "1.2.0"
    assert parse_policy("semver:^2.0").rank(tags, "1.0.0").upgrades == ("2.0.0",)
    assert parse_policy("major").rank(tags, "1.0.0").upgrades[0] == "2.0.0"


def test_descending_is_part_of_the_key() -> None:
    tags = ["b-1", "b-3", "b-2"]
    up = NumericalPolicy("^b-(\\d+)$").rank(tags, "b-2")
    down = NumericalPolicy("^b-(\\d+)$", descending=True).rank(tags, "b-2")
    assert (up.upgrades, down.upgrades) == (("b-3",), ("b-1",))


def test_memo_is_bounded_by_entries_and_tags() -> None:
    memo = _RankMemo(entries=2, tags=100)
    ranking = SemverPolicy("^1").rank(["1.0.0"], None)
    for key in ("a", "b", "c"):
        memo.put(key, 10, ranking)
    assert memo.get("a") is None
    assert memo.get("c") is ranking
    memo.put("big", 26, ranking)  # over a quarter of the tag budget: never kept
    assert memo.get("big") is None
