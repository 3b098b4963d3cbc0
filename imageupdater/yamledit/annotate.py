"""Set or remove one `metadata.annotations` entry of one document, changing as few bytes as
possible (SPEC §5 "Annotation edits").

`pin`, `freeze` and their inverses edit annotations; a ruamel round-trip would re-indent the
whole file, so, as for image values, the text is spliced:

* an existing key gets its value replaced in place (`rewrite.apply_edits`, same quoting rules);
* a new key in a block mapping becomes one new line after the mapping's last entry, at the
  column of its first key, with the file's own line ending;
* a new key in a flow mapping (`{a: b}`) becomes `, key: value` after the last entry;
* a missing `annotations` mapping is created after the last entry of `metadata`, indented one
  step deeper than `metadata`'s keys as the document itself indents (`annotations: {…}` when
  `metadata` is a flow mapping);
* removing a key drops its line (and the `annotations:` line when it was the only entry).

Every result is parsed again and compared with the intent: all documents must read exactly
as before except for that one annotation. Anything else is a `RewriteError` and nothing is
written, so a layout this module does not foresee costs a refused edit, never a broken file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from imageupdater.errors import RewriteError, YamlParseError

from .compose import compose_documents, scalar_of
from .events import Event, Kind
from .load import parse_stream
from .nodes import Edit, Node, Scalar
from .quoting import double_quoted, plain_is_safe
from .rewrite import apply_edits

_BREAKS = "\r\n\x85\u2028\u2029"


@dataclass
class _Map:
    start: Event
    end: Event | None = None
    keys: list[Event] = field(default_factory=list)
    values: list[_Tree] = field(default_factory=list)

    def get(self, key: str) -> tuple[Event, _Tree] | None:
        for k, v in zip(self.keys, self.values, strict=True):
            if k.kind == Kind.SCALAR and k.value == key:
                return k, v
        return None


@dataclass
class _Seq:
    start: Event
    end: Event | None = None
    items: list[_Tree] = field(default_factory=list)


_Tree = _Map | _Seq | Event  # an Event is a scalar or an alias


def _documents(events: tuple[Event, ...]) -> list[_Tree | None]:
    """A light tree per document that keeps every event (and so every offset)."""
    docs: list[_Tree | None] = []
    stack: list[_Map | _Seq] = []
    root: _Tree | None = None

    def attach(node: _Tree) -> None:
        nonlocal root
        if not stack:
            root = node
            return
        parent = stack[-1]
        if isinstance(parent, _Seq):
            parent.items.append(node)
        elif len(parent.keys) == len(parent.values):
            if not isinstance(node, Event):
                raise RewriteError("complex mapping keys are not supported here")
            parent.keys.append(node)
        else:
            parent.values.append(node)

    for event in events:
        if event.kind == Kind.DOC_START:
            root = None
        elif event.kind == Kind.DOC_END:
            docs.append(root)
        elif event.kind in (Kind.MAP_START, Kind.SEQ_START):
            container: _Map | _Seq = _Map(event) if event.kind == Kind.MAP_START else _Seq(event)
            attach(container)
            stack.append(container)
        elif event.kind in (Kind.MAP_END, Kind.SEQ_END):
            stack.pop().end = event
        else:
            attach(event)
    return docs


def _end(node: _Tree) -> int:
    """Where the text of a mapping value ends: after `}`/`]` for a flow collection, after
    the last scalar for a block one (a block collection's end event sits at the next token)."""
    while not isinstance(node, Event):
        if node.start.flow:
            assert node.end is not None
            return node.end.end
        children = node.values if isinstance(node, _Map) else node.items
        if not children:
            assert node.end is not None
            return node.end.start
        node = children[-1]
    return node.end


def _last_event(node: _Tree) -> Event | None:
    """The last scalar inside a block `node`, when it is one (block scalars end specially)."""
    while not isinstance(node, Event):
        children = node.values if isinstance(node, _Map) else node.items
        if node.start.flow or not children:
            return None
        node = children[-1]
    return node


def _column(text: str, offset: int) -> int:
    return offset - _line_start(text, offset)


def _line_start(text: str, offset: int) -> int:
    position = offset
    while position > 0 and text[position - 1] not in _BREAKS:
        position -= 1
    return position


def _after_line(text: str, offset: int) -> int:
    """The offset just after the line break ending the line that contains `offset`."""
    position = offset
    while position < len(text) and text[position] not in _BREAKS:
        position += 1
    if text.startswith("\r\n", position):
        return position + 2
    return min(position + 1, len(text))


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _first_on_line(text: str, offset: int) -> bool:
    return text[_line_start(text, offset) : offset].strip(" \t\ufeff") == ""


def _render_value(value: str, in_flow: bool) -> str:
    if plain_is_safe(value, in_flow=in_flow, colon_seen=False):
        return value
    return double_quoted(value)


def _render_key(key: str, in_flow: bool) -> str:
    if plain_is_safe(key, in_flow=in_flow, colon_seen=False) and ":" not in key:
        return key
    return double_quoted(key)


def _block_end(text: str, node: _Tree) -> int:
    """Where a new line may go after `node`, the last value of a block mapping."""
    last = _last_event(node)
    end = _end(node)
    if (
        last is not None
        and last.kind == Kind.SCALAR
        and last.style in ("|", ">")
        and text[end - 1 : end] in _BREAKS
    ):
        return end  # a block scalar's span already ends after its last line break
    return _after_line(text, end)


def _indent_step(text: str, metadata_key: Event, metadata: _Map) -> int:
    """How far this document indents a mapping under its key (2 unless it says otherwise)."""
    if metadata.start.flow or not metadata.keys:
        return 2
    step = _column(text, metadata.keys[0].start) - _column(text, metadata_key.start)
    return step if step > 0 else 2


def _insert(text: str, position: int, piece: str) -> str:
    return text[:position] + piece + text[position:]


def _metadata(doc: _Tree | None, index: int) -> tuple[Event, _Map]:
    if not isinstance(doc, _Map):
        raise RewriteError(f"document {index + 1} is not a mapping")
    found = doc.get("metadata")
    if found is None:
        raise RewriteError(f"document {index + 1} has no metadata mapping")
    key, metadata = found
    if isinstance(metadata, Event) and metadata.kind == Kind.ALIAS:
        raise RewriteError(
            f"line {key.line + 1}: metadata is the alias *{metadata.value}; editing it would "
            "change every other use of the anchor"
        )
    if not isinstance(metadata, _Map):
        raise RewriteError(f"document {index + 1} has no metadata mapping")
    if metadata.start.anchor is not None or doc.get("<<") is not None:
        raise RewriteError(f"line {key.line + 1}: metadata is shared through an anchor")
    return key, metadata


def _set(text: str, doc: _Tree | None, index: int, key: str, value: str) -> str:
    meta_key, metadata = _metadata(doc, index)
    nl = _newline(text)
    found = metadata.get("annotations")
    if found is None:
        if metadata.get("<<") is not None:
            raise RewriteError(f"line {meta_key.line + 1}: metadata uses a merge key")
        if metadata.start.flow:
            return _flow_append(text, metadata, f"annotations: {{{_entry(key, value, True)}}}")
        if not metadata.keys:
            raise RewriteError(f"line {meta_key.line + 1}: metadata is empty")
        column = _column(text, metadata.keys[0].start)
        step = _indent_step(text, meta_key, metadata)
        line = f"{' ' * column}annotations:{nl}{' ' * (column + step)}{_entry(key, value, False)}"
        return _block_append(text, metadata, line)
    ann_key, annotations = found
    if isinstance(annotations, Event):
        if annotations.kind == Kind.SCALAR and annotations.value == "" and not annotations.style:
            # `annotations:` with no value (null): give it its first entry on the next line
            column = _column(text, ann_key.start)
            step = _indent_step(text, meta_key, metadata)
            piece = f"{nl}{' ' * (column + step)}{_entry(key, value, False)}"
            return _insert(text, _line_break(text, _key_colon_end(text, ann_key)), piece)
        raise RewriteError(f"line {ann_key.line + 1}: annotations is not a mapping")
    if not isinstance(annotations, _Map):
        raise RewriteError(f"line {ann_key.line + 1}: annotations is not a mapping")
    if annotations.start.anchor is not None or annotations.get("<<") is not None:
        raise RewriteError(f"line {ann_key.line + 1}: annotations are shared through an anchor")
    existing = annotations.get(key)
    if existing is not None:
        scalar = existing[1]
        if not isinstance(scalar, Event) or scalar.kind != Kind.SCALAR:
            raise RewriteError(f"line {existing[0].line + 1}: {key} is not a plain value")
        target = scalar_of(text, scalar)
        return apply_edits(text, [Edit(target, value)])
    if annotations.start.flow:
        return _flow_append(text, annotations, _entry(key, value, True))
    if not annotations.keys:
        raise RewriteError(f"line {ann_key.line + 1}: empty block annotations")
    column = _column(text, annotations.keys[0].start)
    return _block_append(text, annotations, f"{' ' * column}{_entry(key, value, False)}")


def _line_break(text: str, offset: int) -> int:
    position = offset
    while position < len(text) and text[position] not in _BREAKS:
        position += 1
    return position


def _key_colon_end(text: str, key: Event) -> int:
    position = key.end
    while position < len(text) and text[position] in " \t":
        position += 1
    if position < len(text) and text[position] == ":":
        return position + 1
    raise RewriteError(f"line {key.line + 1}: cannot find the ':' after {key.value}")


def _entry(key: str, value: str, in_flow: bool) -> str:
    return f"{_render_key(key, in_flow)}: {_render_value(value, in_flow)}"


def _flow_append(text: str, mapping: _Map, entry: str) -> str:
    if not mapping.values:
        assert mapping.end is not None
        return _insert(text, mapping.end.start, entry)
    return _insert(text, _end(mapping.values[-1]), f", {entry}")


def _block_append(text: str, mapping: _Map, line: str) -> str:
    for k in mapping.keys:
        if not _first_on_line(text, k.start):
            raise RewriteError(f"line {k.line + 1}: the mapping's keys are not one per line")
    position = _block_end(text, mapping.values[-1])
    nl = _newline(text)
    if position > 0 and text[position - 1] not in _BREAKS:
        # the mapping ends the file and the file has no final newline: keep it that way
        return _insert(text, position, f"{nl}{line}")
    return _insert(text, position, f"{line}{nl}")


def _remove(text: str, doc: _Tree | None, index: int, key: str) -> str:
    _, metadata = _metadata(doc, index)
    found = metadata.get("annotations")
    if found is None:
        return text
    ann_key, annotations = found
    if not isinstance(annotations, _Map):
        return text
    existing = annotations.get(key)
    if existing is None:
        return text
    k, v = existing
    position = annotations.keys.index(k)
    if annotations.start.flow:
        value_end = _end(v)
        if len(annotations.keys) == 1:
            at = metadata.keys.index(ann_key)
            if metadata.start.flow and at > 0:  # drop `, annotations: {…}` altogether
                return text[: _end(metadata.values[at - 1])] + text[_end(annotations) :]
            return text[: k.start] + text[value_end:]
        if position > 0:
            return text[: _end(annotations.values[position - 1])] + text[value_end:]
        return text[: k.start] + text[annotations.keys[1].start :]
    if not _first_on_line(text, k.start) or not isinstance(v, Event):
        raise RewriteError(f"line {k.line + 1}: {key} does not sit on a line of its own")
    if len(annotations.keys) == 1 and _first_on_line(text, ann_key.start):
        start = _line_start(text, ann_key.start)
    else:
        start = _line_start(text, k.start)
    if v.kind == Kind.SCALAR and v.style in ("|", ">") and text[v.end - 1 : v.end] in _BREAKS:
        end = v.end  # a block scalar's span already ends after its last line break
    else:
        end = _after_line(text, v.end)
    if end == len(text) and text[end - 1 : end] not in _BREAKS and start > 0:
        # the removed lines ended the file without a final newline: so does the result
        start -= 2 if text[start - 2 : start] == "\r\n" else 1
    return text[:start] + text[end:]


def _plain(node: Node | None) -> Any:
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return None


def _expected(doc: Any, key: str, value: str | None) -> list[Any]:
    """What the document may read as afterwards (a removed last entry may leave `{}`)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("metadata"), dict):
        return [doc]
    metadata = dict(doc["metadata"])
    old = metadata.get("annotations")
    annotations = dict(old) if isinstance(old, dict) else {}
    if value is not None:
        annotations[key] = value
        return [{**doc, "metadata": {**metadata, "annotations": annotations}}]
    annotations.pop(key, None)
    if annotations:
        return [{**doc, "metadata": {**metadata, "annotations": annotations}}]
    bare = {k: v for k, v in metadata.items() if k != "annotations"}
    return [
        {**doc, "metadata": bare},
        {**doc, "metadata": {**metadata, "annotations": {}}},
        {**doc, "metadata": {**metadata, "annotations": ""}},
    ]


def _load_plain(text: str) -> list[Any]:
    stream = parse_stream(text)
    return [_plain(doc) for doc in compose_documents(text, stream.events)]


def set_annotation(text: str, document: int, key: str, value: str | None) -> str:
    """`text` with annotation `key` of document `document` (0-based) set, or removed when
    `value` is None. Raises `RewriteError` when the edit cannot be made and verified."""
    try:
        stream = parse_stream(text)
    except YamlParseError as exc:
        raise RewriteError(str(exc)) from None
    docs = _documents(stream.events)
    if not 0 <= document < len(docs):
        raise RewriteError(f"no document {document + 1} in this file")
    try:
        if value is None:
            result = _remove(text, docs[document], document, key)
        else:
            result = _set(text, docs[document], document, key, value)
    except RecursionError:
        raise RewriteError("the document nests too deeply") from None
    if result == text:
        return text
    _verify(text, result, document, key, value)
    return result


def _verify(before: str, after: str, document: int, key: str, value: str | None) -> None:
    try:
        old, new = _load_plain(before), _load_plain(after)
    except YamlParseError as exc:
        raise RewriteError(f"the edited text would not parse: {exc}") from None
    others_same = len(new) == len(old) and all(
        new[i] == old[i] for i in range(len(old)) if i != document
    )
    if not others_same or new[document] not in _expected(old[document], key, value):
        raise RewriteError(
            f"setting {key} in document {document + 1} would change more than that annotation"
        )


def iter_documents(text: str) -> Iterator[tuple[int, Node | None]]:
    """Documents with their index, as `set_annotation` counts them."""
    yield from enumerate(compose_documents(text, parse_stream(text).events))
