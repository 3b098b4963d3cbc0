"""`apply_edits`: quoting decisions, refusals, and the verifying re-parse as a safety net."""

from __future__ import annotations

import pytest

from imageupdater.errors import RewriteError, YamlParseError
from imageupdater.yamledit import Edit, Scalar, apply_edits, load_documents
from imageupdater.yamledit import rewrite as rewrite_module

from .paths import lookup


def edit(text: str, path: str, value: str, document: int = 0) -> str:
    scalar = lookup(load_documents(text)[document], path)
    return apply_edits(text, [Edit(scalar, value)])


class TestPlain:
    @pytest.mark.parametrize(
        "value",
        [
            "nginx:1.2",
            "v1.2.3",
            "latest",
            "ghcr.io/a/b:1.0@sha256:" + "0" * 64,
            "1.2.3",
            "a b",
            'mid"quote\\',
        ],
    )
    def test_stays_plain(self, value: str) -> None:
        assert edit("image: old\n", "image", value) == f"image: {value}\n"

    @pytest.mark.parametrize(
        ("value", "written"),
        [
            ("1.10", '"1.10"'),  # float
            ("20240615", '"20240615"'),  # int
            ("2024-06-15", '"2024-06-15"'),  # date
            ("yes", '"yes"'),  # YAML 1.1 bool, as go-yaml reads it
            ("on", '"on"'),
            ("1:20", '"1:20"'),  # YAML 1.1 sexagesimal
            ("~", '"~"'),
            ("null", '"null"'),
            ("", '""'),
            ("0x1F", '"0x1F"'),
            ("a: b", '"a: b"'),
            ("a #b", '"a #b"'),
            ("ends:", '"ends:"'),
            ("- x", '"- x"'),
            ("&anchor", '"&anchor"'),
            ("!tag", '"!tag"'),
            ("{x}", '"{x}"'),
            ("---", '"---"'),
            (" lead", '" lead"'),
            ("trail ", '"trail "'),
            ("two\nlines", '"two\\nlines"'),
            ("tab\there", '"tab\\there"'),
            ("bell\x07", '"bell\\a"'),
            ("nel\x85", '"nel\\N"'),
            ("bom\ufeff", '"bom\\uFEFF"'),
            ("ctl\x01", '"ctl\\x01"'),
        ],
    )
    def test_gets_quotes_when_yaml_needs_them(self, value: str, written: str) -> None:
        result = edit("image: old # c\n", "image", value)
        assert result == f"image: {written} # c\n"
        assert lookup(load_documents(result)[0], "image").value == value

    def test_flow_context_quotes_flow_indicators(self) -> None:
        assert edit("a: [x, y]\n", "a.1", "p,q") == 'a: [x, "p,q"]\n'
        assert edit("a: {k: v}\n", "a.k", "w]") == 'a: {k: "w]"}\n'

    def test_flow_colon_only_where_the_old_value_had_one(self) -> None:
        assert edit("- {image: nginx}\n", "0.image", "nginx:1") == '- {image: "nginx:1"}\n'
        assert edit("- {image: nginx:1}\n", "0.image", "nginx:2") == "- {image: nginx:2}\n"


class TestQuoted:
    def test_single_quotes_double_the_quote(self) -> None:
        assert edit("a: 'x'\n", "a", "it's") == "a: 'it''s'\n"

    def test_single_quotes_switch_to_double_for_a_line_break(self) -> None:
        assert edit("a: 'x'\n", "a", "a\nb") == 'a: "a\\nb"\n'

    def test_double_quotes_escape(self) -> None:
        assert edit('a: "x"\n', "a", 'say "hi" \\ 😀') == 'a: "say \\"hi\\" \\\\ 😀"\n'

    def test_multi_line_quoted_becomes_one_line(self) -> None:
        text = 'a: "one\n  two"\nb: 1\n'
        assert edit(text, "a", "three") == 'a: "three"\nb: 1\n'


class TestBlock:
    def test_content_line_replaced_header_kept(self) -> None:
        text = "a: |  # keep\n    old\nb: 1\n"
        assert edit(text, "a", "new") == "a: |  # keep\n    new\nb: 1\n"
        assert edit(text, "a", "new\n") == "a: |  # keep\n    new\nb: 1\n"

    @pytest.mark.parametrize("value", ["two\nlines", " leading", "", "x\n\n"])
    def test_values_a_single_line_cannot_hold_are_refused(self, value: str) -> None:
        with pytest.raises(RewriteError, match="line 1"):
            edit("a: |\n  old\nb: 1\n", "a", value)


class TestRefusals:
    def test_alias_edit_is_refused_with_the_line(self) -> None:
        text = "x: &i nginx:1\ny: *i\n"
        with pytest.raises(RewriteError, match=r"line 1.*alias"):
            edit(text, "y", "nginx:2")

    def test_stale_scalar_is_refused(self) -> None:
        scalar = lookup(load_documents("image: nginx:1\n")[0], "image")
        with pytest.raises(RewriteError, match="no scalar"):
            apply_edits("# moved\nimage: nginx:1\n", [Edit(scalar, "nginx:2")])

    def test_two_values_for_one_scalar_are_refused(self) -> None:
        scalar = lookup(load_documents("image: a\n")[0], "image")
        with pytest.raises(RewriteError, match="two different"):
            apply_edits("image: a\n", [Edit(scalar, "b"), Edit(scalar, "c")])
        assert apply_edits("image: a\n", [Edit(scalar, "b"), Edit(scalar, "b")]) == "image: b\n"

    def test_empty_plain_value_is_refused(self) -> None:
        with pytest.raises(RewriteError, match="empty"):
            edit("image:\nother: 1\n", "image", "nginx")

    def test_surrogates_are_refused(self) -> None:
        with pytest.raises(RewriteError, match="Unicode"):
            edit("image: a\n", "image", "bad\ud800")

    def test_unparseable_text_raises_yaml_parse_error(self) -> None:
        scalar = lookup(load_documents("image: a\n")[0], "image")
        with pytest.raises(YamlParseError):
            apply_edits("image: [a\n", [Edit(scalar, "b")])

    def test_same_value_changes_nothing(self) -> None:
        text = 'image: "a\\x62"\n'  # reads "ab"; rewriting it would normalise the escape
        assert edit(text, "image", "ab") == text


class TestVerification:
    """The re-parse catches what a rendering bug would write wrong."""

    def test_a_wrong_plain_decision_is_caught(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(rewrite_module, "plain_is_safe", lambda *args, **kwargs: True)
        for value in ["a: b", "x # y", "[z]", "- w"]:
            with pytest.raises(RewriteError, match="line 2"):
                edit("k: 1\nimage: old\n", "image", value)

    def test_a_wrong_escape_is_caught(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(rewrite_module, "double_quoted", lambda value: '"' + value + '"')
        with pytest.raises(RewriteError, match="read back"):
            edit('image: "old"\n', "image", "a\\tb")


class TestMultipleEdits:
    def test_edits_in_any_order_shift_correctly(self) -> None:
        text = "a: x\nb: 'y'\nc: \"z\"\n"
        doc = load_documents(text)[0]
        edits = [
            Edit(lookup(doc, "c"), "zzz"),
            Edit(lookup(doc, "a"), "1.10"),
            Edit(lookup(doc, "b"), ""),
        ]
        assert apply_edits(text, edits) == 'a: "1.10"\nb: \'\'\nc: "zzz"\n'

    def test_anchor_definition_edit_moves_every_alias(self) -> None:
        text = "x: &i nginx:1\ny: *i\n"
        result = edit(text, "x", "nginx:2")
        assert result == "x: &i nginx:2\ny: *i\n"
        assert lookup(load_documents(result)[0], "y").value == "nginx:2"


# --- the parse-free path (`loaded_from_text=True`) ---------------------------------------

DIRECT = """\
a: nginx:1.2.0  # web
b: 'ghcr.io/acme/api:3.1'
c: "v1"
key:1: x
d: [x, y]
"""


def scalar_at(text: str, key: str) -> Scalar:
    document = load_documents(text)[0]
    assert isinstance(document, dict)
    found = document[key]
    assert isinstance(found, Scalar)
    return found


@pytest.mark.parametrize(
    ("key", "new", "expected"),
    [
        ("a", "nginx:1.3.0", "a: nginx:1.3.0  # web"),
        ("b", "ghcr.io/acme/api:3.2", "b: 'ghcr.io/acme/api:3.2'"),
        ("c", "v2", 'c: "v2"'),
    ],
)
def test_inert_swaps_need_no_parse(key: str, new: str, expected: str) -> None:
    edit = Edit(scalar_at(DIRECT, key), new)
    assert rewrite_module._direct(DIRECT, [edit]) is not None
    result = apply_edits(DIRECT, [edit], loaded_from_text=True)
    assert result == apply_edits(DIRECT, [edit])
    assert expected in result.splitlines()


@pytest.mark.parametrize(
    ("text", "key", "new"),
    [
        ("tag: v1\n", "tag", "1.10"),  # plain 1.10 is a float: quoting must decide
        ("tag: v1\n", "tag", "true"),  # a bool
        ("tag: v1\n", "tag", "a:b"),  # a new `:` in what may be a flow collection
        ("tag: v1\n", "tag", "has space"),  # not inert
        ("tag: 'it''s'\n", "tag", "v2"),  # the old text is not the value as written
        ("tag: |\n  v1\n", "tag", "v2"),  # block scalars always take the full path
        ("tag: &a v1\nother: *a\n", "other", "v2"),  # through an alias
    ],
)
def test_everything_else_takes_the_verified_path(text: str, key: str, new: str) -> None:
    edit = Edit(scalar_at(text, key), new)
    assert rewrite_module._direct(text, [edit]) is None


def test_a_scalar_from_another_text_is_not_spliced_blindly() -> None:
    stale = scalar_at("tag: v1\n", "tag")
    assert rewrite_module._direct("tag: v9\n", [Edit(stale, "v2")]) is None
    with pytest.raises(RewriteError):
        apply_edits("tag: v9\n", [Edit(stale, "v2")], loaded_from_text=True)


def test_conflicting_edits_are_left_to_the_full_path() -> None:
    scalar = scalar_at(DIRECT, "a")
    edits = [Edit(scalar, "nginx:1.3.0"), Edit(scalar, "nginx:1.4.0")]
    assert rewrite_module._direct(DIRECT, edits) is None
    with pytest.raises(RewriteError, match="two different new values"):
        apply_edits(DIRECT, edits, loaded_from_text=True)
