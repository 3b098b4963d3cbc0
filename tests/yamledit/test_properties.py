"""Property tests over generated YAML: mappings and sequences of printable scalars written in
every style (plain, single, double, literal block; block and flow collections), with random
comments, blank lines, document markers, BOM and CRLF.

The emitter here is deliberately independent of the editor's `quoting` module: it only
chooses styles that are obviously valid, so the tests check the editor against YAML, not
against itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from imageupdater.errors import RewriteError, YamlParseError
from imageupdater.yamledit import Edit, Node, Scalar, apply_edits, decode, load_documents, rewrite
from imageupdater.yamledit.events import Kind, Stream, _convert, _pure_events, _try_c

from .paths import PathPart, lookup

SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("YE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
_PLAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_./@ -]|:(?=[A-Za-z0-9]))*[A-Za-z0-9]|[A-Za-z]")
_LINE_BREAKS = "\n\r\x85\u2028\u2029"


@dataclass(frozen=True)
class Leaf:
    value: str
    style: str  # "", "'", '"', "|", "|-"


Tree: TypeAlias = Leaf | dict[str, "Tree"] | list["Tree"]
Draw = Callable[[st.SearchStrategy[Any]], Any]


def _printable(ch: str) -> bool:
    return (
        ch == "\t"
        or "\x20" <= ch <= "\x7e"
        or ("\xa0" <= ch <= "\ud7ff" and ch not in "\u2028\u2029")
        or ("\ue000" <= ch <= "\ufffd" and ch != "\ufeff")
        or ch >= "\U00010000"
    )


def _styles(value: str) -> list[str]:
    styles = ['"']
    if all(_printable(ch) for ch in value):
        styles.append("'")
        if value and value[0] not in " \t#" and value[-1] not in " \t":
            styles += ["|", "|-"]
    if _PLAIN.fullmatch(value):
        styles.append("")
    return styles


def _double(value: str) -> str:
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\t" or not _printable(ch):
            out.append(f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _inline(leaf: Leaf) -> str:
    if leaf.style == "":
        return leaf.value
    if leaf.style == "'":
        return "'" + leaf.value.replace("'", "''") + "'"
    return _double(leaf.value)


TEXT = st.text(st.characters(codec="utf-8"), max_size=12)
WORDS = st.from_regex(r"[a-z][a-z0-9.:/_-]{0,10}[a-z0-9]", fullmatch=True)
COMMENT = st.text(st.characters(codec="utf-8").filter(_printable), max_size=10)


@st.composite
def leaves(draw: Draw) -> Leaf:
    value = draw(WORDS | TEXT)
    return Leaf(value, draw(st.sampled_from(_styles(value))))


KEYS = st.from_regex(r"[a-zA-Z][a-zA-Z0-9_-]{0,8}", fullmatch=True)
TREES: st.SearchStrategy[Tree] = st.recursive(
    leaves(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)


class Emitter:
    """Writes a Tree as YAML, drawing every layout choice; records each leaf's path."""

    def __init__(self, draw: Draw) -> None:
        self.draw = draw
        self.lines: list[str] = []
        self.block_lines: set[int] = set()  # a `|` scalar needs the line break after it

    def comment(self, indent: int) -> None:
        if self.draw(st.integers(0, 5)) == 0:
            self.lines.append(" " * indent + "# " + self.draw(COMMENT))
        if self.draw(st.integers(0, 7)) == 0:
            # spaces beyond `indent` would be a content line of a block scalar just above
            self.lines.append(" " * self.draw(st.integers(0, indent)))

    def trailing(self) -> str:
        return " # " + self.draw(COMMENT) if self.draw(st.integers(0, 4)) == 0 else ""

    def flow(self, node: Tree) -> str:
        if isinstance(node, Leaf):  # no block scalars inside flow: same value, double-quoted
            return _inline(node if node.style in ("", "'", '"') else Leaf(str(expected(node)), '"'))
        if isinstance(node, dict):
            return "{" + ", ".join(f"{k}: {self.flow(v)}" for k, v in node.items()) + "}"
        return "[" + ", ".join(self.flow(v) for v in node) + "]"

    def value(self, prefix: str, node: Tree, indent: int) -> None:
        """`prefix` is `key:` or `-` at `indent`; the value follows on this line or below."""
        if isinstance(node, Leaf) and node.style.startswith("|"):
            self.lines.append(f"{prefix} {node.style}{self.trailing()}")
            self.lines.append(" " * (indent + 2) + node.value)
            self.block_lines.add(len(self.lines) - 1)
        elif isinstance(node, Leaf) or not node or self.draw(st.integers(0, 3)) == 0:
            self.lines.append(f"{prefix} {self.flow(node)}{self.trailing()}")
        else:
            self.lines.append(prefix + self.trailing())
            self.block(node, indent + 2)

    def block(self, node: dict[str, Tree] | list[Tree], indent: int) -> None:
        pad = " " * indent
        items = node.items() if isinstance(node, dict) else (("-", v) for v in node)
        for key, child in items:
            self.comment(indent)
            self.value(f"{pad}{key}:" if isinstance(node, dict) else f"{pad}-", child, indent)


def expected(node: Tree) -> object:
    if isinstance(node, Leaf):
        return node.value + ("\n" if node.style == "|" else "")
    if isinstance(node, dict):
        return {k: expected(v) for k, v in node.items()}
    return [expected(v) for v in node]


def values(node: Node | None) -> object:
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, dict):
        return {k: values(v) for k, v in node.items()}
    if isinstance(node, list):
        return [values(v) for v in node]
    return None


def leaf_paths(
    node: Tree, path: tuple[PathPart, ...] = ()
) -> list[tuple[tuple[PathPart, ...], Leaf]]:
    if isinstance(node, Leaf):
        return [(path, node)]
    items = node.items() if isinstance(node, dict) else enumerate(node)
    return [found for key, child in items for found in leaf_paths(child, (*path, key))]


@dataclass(frozen=True)
class Generated:
    text: str
    trees: list[Tree]


@st.composite
def documents(draw: Draw) -> Generated:
    trees: list[Tree] = draw(
        st.lists(
            st.dictionaries(KEYS, TREES, min_size=1, max_size=4)
            | st.lists(TREES, min_size=1, max_size=4),
            min_size=1,
            max_size=3,
        )
    )
    emitter = Emitter(draw)
    if draw(st.booleans()):
        emitter.lines.append("# leading comment " + draw(COMMENT))
    for index, tree in enumerate(trees):
        if index or draw(st.booleans()):
            emitter.lines.append("---" + emitter.trailing())
        assert isinstance(tree, dict | list)
        emitter.block(tree, 0)
        if draw(st.booleans()):
            emitter.lines.append("...")
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    ends_in_block = len(emitter.lines) - 1 in emitter.block_lines
    text = newline.join(emitter.lines) + (
        newline if ends_in_block else draw(st.sampled_from([newline, ""]))
    )
    if draw(st.booleans()):
        text = "\ufeff" + text
    return Generated(text, trees)


@SETTINGS
@given(documents())
def test_generated_yaml_loads_and_no_edit_is_identity(generated: Generated) -> None:
    loaded = load_documents(generated.text)
    assert [values(doc) for doc in loaded] == [expected(tree) for tree in generated.trees]
    assert apply_edits(generated.text, []) == generated.text


@SETTINGS
@given(documents(), st.data())
def test_an_edit_changes_only_the_value(generated: Generated, data: st.DataObject) -> None:
    text = generated.text
    targets = [
        (doc, path, leaf)
        for doc, tree in enumerate(generated.trees)
        for path, leaf in leaf_paths(tree)
    ]
    assume(targets)
    doc, path, _leaf = data.draw(st.sampled_from(targets))
    new_value = data.draw(WORDS | TEXT, label="new value")
    scalar = lookup(load_documents(text)[doc], path)
    try:
        result = apply_edits(text, [Edit(scalar, new_value)])
    except RewriteError:
        # only a block scalar can be unable to take a value; quoting handles everything else
        assert scalar.style in ("|", ">")
        return
    assert result[: scalar.start] == text[: scalar.start]
    assert result[len(result) - (len(text) - scalar.end) :] == text[scalar.end :]
    want = [expected(tree) for tree in generated.trees]
    edited: Any = want[doc]
    for part in path[:-1]:
        edited = edited[part]
    if scalar.style in ("|", ">"):  # the header's chomping keeps deciding the final breaks
        edited[path[-1]] = new_value.rstrip("\n") + scalar.value[len(scalar.value.rstrip("\n")) :]
    else:
        edited[path[-1]] = new_value
    if new_value == scalar.value:
        assert result == text
    assert [values(d) for d in load_documents(result)] == want


INERTISH = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._/@+=~:-]{0,14}", fullmatch=True)


@SETTINGS
@given(documents(), st.data())
def test_the_parse_free_splice_is_the_verified_one(
    generated: Generated, data: st.DataObject
) -> None:
    """Whenever `apply_edits` may skip parsing (inert values, same style), its result is
    byte for byte what the parse-and-verify path gives, which never refuses it."""
    text = generated.text
    targets = [
        (doc, path) for doc, tree in enumerate(generated.trees) for path, _ in leaf_paths(tree)
    ]
    assume(targets)
    chosen = data.draw(st.lists(st.sampled_from(targets), min_size=1, max_size=3, unique=True))
    documents_ = load_documents(text)
    edits = [
        Edit(lookup(documents_[doc], path), data.draw(INERTISH | WORDS | TEXT))
        for doc, path in chosen
    ]
    direct = rewrite._direct(text, edits)
    event("parse-free" if direct is not None else "verified path")
    if direct is None:
        return
    assert direct == rewrite._apply(text, edits)
    assert apply_edits(text, edits, loaded_from_text=True) == direct


@SETTINGS
@given(documents())
def test_c_offsets_match_the_pure_parser(generated: Generated) -> None:
    """BOM, CRLF and astral characters: the C parser's marks must be str offsets too."""
    fast = _try_c(generated.text)
    if fast is None:
        return
    reference = Stream(_convert(_pure_events(generated.text), 0), "pure")

    def scalars(stream: Stream) -> list[tuple[str, str, int, int]]:
        return [
            (e.value, e.style, e.start, e.end)
            for e in stream.events
            if e.kind == Kind.SCALAR and (e.value or e.style)
        ]

    assert scalars(fast) == scalars(reference)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        st.characters(codec="utf-8") | st.sampled_from(list("-:{}[]&*!|>'\"#%@` \n\t?,")),
        max_size=40,
    )
)
def test_arbitrary_text_fails_only_with_yaml_parse_error(text: str) -> None:
    line: int | None = 1
    try:
        load_documents(text)
    except YamlParseError as exc:
        line = exc.line
    assert line is None or line >= 1


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40))
def test_arbitrary_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        text = decode(data)
    except YamlParseError as exc:
        line = exc.line
    else:
        assert text.encode("utf-8") == data
        return
    assert line is not None
    assert line >= 1
