"""`decode`/`encode`, `screen` and `load_documents`: spans, styles, anchors, merges, limits."""

from __future__ import annotations

import pytest

from imageupdater.errors import YamlParseError
from imageupdater.yamledit import Scalar, decode, encode, load_documents, screen
from imageupdater.yamledit.load import _ParseCache, parse_stream

from .paths import lookup, walk


def source(text: str, scalar: Scalar) -> str:
    return text[scalar.start : scalar.end]


class TestCodec:
    @pytest.mark.parametrize(
        "data",
        [b"a: 1\n", b"\xef\xbb\xbfa: 1\r\n", b"a: \xc3\xa9\r\n# \t\n", b"", b"x: 1\r"],
        ids=["plain", "bom-crlf", "utf8", "empty", "lone-cr"],
    )
    def test_round_trip_is_exact(self, data: bytes) -> None:
        assert encode(decode(data)) == data

    def test_bom_is_kept_in_the_text(self) -> None:
        assert decode(b"\xef\xbb\xbfa: 1\n").startswith("\ufeff")

    def test_invalid_utf8_names_the_line(self) -> None:
        with pytest.raises(YamlParseError) as info:
            decode(b"a: 1\nb: 2\nc: \xff\n")
        assert info.value.line == 3
        assert "line 3" in str(info.value)

    def test_utf16_is_not_utf8(self) -> None:
        with pytest.raises(YamlParseError):
            decode("a: 1\n".encode("utf-16"))


class TestScreen:
    @pytest.mark.parametrize(
        "token",
        [
            "imageupdater.io/policy",
            '{"$imagepolicy": "a:b"}',
            "fluxcd.io/tag.web",
            "keel.sh/policy",
        ],
    )
    def test_tokens_pass_as_bytes_and_text(self, token: str) -> None:
        assert screen(f"metadata:\n  x: {token}\n".encode())
        assert screen(f"metadata:\n  x: {token}\n")

    def test_other_files_are_screened_out(self) -> None:
        assert not screen(b"apiVersion: v1\nkind: ConfigMap\nimage: nginx:1.2\n")
        assert not screen("imageupdater.io without slash")


class TestSpans:
    def test_span_covers_quotes_and_skips_anchor_and_tag(self) -> None:
        text = "a: &x !!str \"v1\"   # c\nb: 'w'\nc: plain\n"
        doc = load_documents(text)[0]
        assert isinstance(doc, dict)
        assert source(text, lookup(doc, "a")) == '"v1"'
        assert lookup(doc, "a").tag == "!!str"
        assert lookup(doc, "a").style == '"'
        assert source(text, lookup(doc, "b")) == "'w'"
        assert (lookup(doc, "c").value, lookup(doc, "c").style, lookup(doc, "c").line) == (
            "plain",
            "",
            3,
        )

    @pytest.mark.parametrize("bom", ["", "\ufeff"])
    @pytest.mark.parametrize("newline", ["\n", "\r\n"])
    def test_offsets_are_characters_with_bom_crlf_and_astral_text(
        self, bom: str, newline: str
    ) -> None:
        lines = ["# 監視 😀 é", "note: 'ü😀ü'", "image: nginx:1.2 # ← x", 'next: "😀"']
        text = bom + newline.join(lines) + newline
        assert parse_stream(text).parser == "c"
        doc = load_documents(text)[0]
        assert source(text, lookup(doc, "image")) == "nginx:1.2"
        assert lookup(doc, "image").line == 3
        assert source(text, lookup(doc, "next")) == '"😀"'

    def test_flow_mapping_with_colons_falls_back_to_the_pure_parser(self) -> None:
        text = "- {name: web, image: nginx:1.2}\n"
        assert parse_stream(text).parser == "pure"
        assert source(text, lookup(load_documents(text)[0], "0.image")) == "nginx:1.2"

    def test_pure_parser_offsets_with_astral_text(self) -> None:
        text = "\ufeff# 😀 監視\r\n- {note: '😀é', image: nginx:1.2}\r\n"
        assert parse_stream(text).parser == "pure"
        doc = load_documents(text)[0]
        assert source(text, lookup(doc, "0.note")) == "'😀é'"
        assert source(text, lookup(doc, "0.image")) == "nginx:1.2"

    def test_a_bom_inside_the_stream_is_left_to_the_pure_parser(self) -> None:
        text = "a: 1\n---\n\ufeffb: 2\n"
        assert parse_stream(text).parser == "pure"
        ((_, value),) = list(walk(load_documents(text)[1]))  # ruamel keeps that BOM in the key
        assert source(text, value) == "2"

    def test_block_scalar_span_starts_at_the_indicator(self) -> None:
        text = "a: |-\n  x\nb: >\n  y\n"
        doc = load_documents(text)[0]
        assert source(text, lookup(doc, "a")).startswith("|-")
        assert (lookup(doc, "a").value, lookup(doc, "a").style) == ("x", "|")
        assert (lookup(doc, "b").value, lookup(doc, "b").style) == ("y\n", ">")


class TestDocuments:
    def test_empty_documents_are_none_and_markers_count(self) -> None:
        text = "# c\n---\na: 1\n...\n---\n# only a comment\n---\n- x\n"
        docs = load_documents(text)
        assert len(docs) == 3
        assert docs[1] is None
        assert isinstance(docs[2], list)

    @pytest.mark.parametrize("text", ["", "# just a comment\n", "\ufeff"])
    def test_no_documents(self, text: str) -> None:
        assert load_documents(text) == []

    def test_explicit_empty_string_is_not_an_empty_document(self) -> None:
        (doc,) = load_documents("--- ''\n")
        assert isinstance(doc, Scalar)
        assert (doc.value, doc.style) == ("", "'")

    def test_complex_keys_are_skipped(self) -> None:
        doc = load_documents("? [a, b]\n: c\nd: e\n")[0]
        assert isinstance(doc, dict)
        assert list(doc) == ["d"]

    def test_duplicate_keys_are_refused(self) -> None:
        with pytest.raises(YamlParseError) as info:
            load_documents("a: 1\nimage: x\nimage: y\n")
        assert info.value.line == 3

    def test_returned_trees_are_fresh(self) -> None:
        text = "a: [1, 2]\n"
        first = load_documents(text)[0]
        assert isinstance(first, dict)
        first.clear()
        assert load_documents(text)[0] != {}


class TestAliases:
    def test_alias_occurrences_are_marked_and_the_definition_is_not(self) -> None:
        text = "x: &img nginx:1.2\ny: *img\nz: [*img]\n"
        doc = load_documents(text)[0]
        x, y, z = lookup(doc, "x"), lookup(doc, "y"), lookup(doc, "z.0")
        assert (x.alias, y.alias, z.alias) == (False, True, True)
        assert (y.start, y.end, y.value) == (x.start, x.end, x.value)

    def test_collections_through_aliases_mark_every_scalar(self) -> None:
        text = "base: &b {image: a, env: [{name: X, value: y}]}\nuse: *b\n"
        doc = load_documents(text)[0]
        assert not any(s.alias for _, s in walk(doc["base"] if isinstance(doc, dict) else None))
        assert all(s.alias for _, s in walk(doc["use"] if isinstance(doc, dict) else None))

    def test_merge_keys_resolve_like_yaml(self) -> None:
        text = (
            "a: &a {image: one, x: 1}\n"
            "b: &b {image: two, y: 2}\n"
            "c:\n  <<: [*a, *b]\n  x: own\n"
            "d:\n  '<<': *a\n"
        )
        doc = load_documents(text)[0]
        assert lookup(doc, "c.image").value == "one"  # first merged mapping wins
        assert lookup(doc, "c.image").alias
        assert lookup(doc, "c.y").alias
        assert (lookup(doc, "c.x").value, lookup(doc, "c.x").alias) == ("own", False)
        assert isinstance(doc, dict)
        assert isinstance(doc["d"], dict)
        assert "<<" in doc["d"]

    def test_inline_merged_values_count_as_aliases(self) -> None:
        doc = load_documents("a:\n  <<: {image: x}\n")[0]
        assert lookup(doc, "a.image").alias

    @pytest.mark.parametrize(
        "text",
        ["a: *nowhere\n", "a: &x [*x]\n", "a: {<<: 3}\n"],
        ids=["undefined", "recursive", "bad-merge"],
    )
    def test_bad_aliases_are_parse_errors(self, text: str) -> None:
        with pytest.raises(YamlParseError):
            load_documents(text)

    def test_billion_laughs_is_refused(self) -> None:
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
        with pytest.raises(YamlParseError, match="too many"):
            load_documents("\n".join(lines) + "\n")


def test_deep_nesting_does_not_crash() -> None:
    depth = 3000
    try:
        doc = load_documents("[" * depth + "x" + "]" * depth + "\n")
    except YamlParseError:
        return
    assert isinstance(doc[0], list)


class TestCache:
    def test_hits_return_the_same_stream_and_errors_are_raised_fresh(self) -> None:
        cache = _ParseCache(entries=4, chars=1000)
        text = "k: &a !!str 'v'\nl: [*a, \"q\"]\nb: |\n  x\n--- >\n f\n...\n"
        first = cache.parse(text)
        assert cache.parse(text) == first  # unpacked from the cache
        assert (cache.hits, cache.misses) == (1, 1)
        assert cache.parse(text, store=False) == first
        with pytest.raises(YamlParseError) as first:
            cache.parse("a: [\n")
        with pytest.raises(YamlParseError) as second:
            cache.parse("a: [\n")
        assert first.value is not second.value
        assert (first.value.line, str(first.value)) == (second.value.line, str(second.value))

    def test_bounded_by_entries_and_by_size(self) -> None:
        cache = _ParseCache(entries=2, chars=400)
        for i in range(3):
            cache.parse(f"k{i}: v\n")
        cache.parse("k0: v\n")  # evicted by the entry bound: a miss
        cache.parse("k2: v\n")  # a hit
        assert (cache.hits, cache.misses) == (1, 4)
        big = "x: " + "y" * 150 + "\n"  # over a quarter of the budget: never kept
        assert cache.parse(big) == cache.parse(big)
        assert (cache.hits, cache.misses) == (1, 6)

    def test_store_false_does_not_fill_the_cache(self) -> None:
        cache = _ParseCache(entries=4, chars=1000)
        cache.parse("a: 1\n", store=False)
        cache.parse("a: 1\n")
        assert (cache.hits, cache.misses) == (0, 2)
