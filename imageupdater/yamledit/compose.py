"""Events -> the engine's Node tree, with anchors, aliases and merge keys resolved as YAML does.

The tree is built with an explicit stack, not recursion, so deep nesting cannot overflow
the interpreter. Aliases are where the care goes:

* The first occurrence of an anchored node is its definition and keeps `alias=False`; every
  scalar reached through `*ref`, or through a merge key `<<`, is marked `alias=True` because
  its text belongs to the anchor and editing it would change all other uses as well.
* The alias copy of an anchored node is made once and shared, and the number of nodes the
  aliases expand to is bounded, so a "billion laughs" file is refused instead of eating
  memory.
* Duplicate keys are refused (as Kubernetes and ruamel do): with two `image:` keys there is
  no single value to edit. Explicit keys win over merged ones; among merged mappings the
  first wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Final

from imageupdater.errors import YamlParseError

from .events import Event, Kind
from .nodes import Node, Scalar

MERGE_KEY: Final = "<<"
_BREAKS: Final = "\r\n\x85\u2028\u2029"
_PROPERTY_END: Final = " \t,[]{}" + _BREAKS
#: aliases may expand to this many nodes beyond ten per event before a file is refused
_EXPANSION_ALLOWANCE: Final = 100_000


def value_start(text: str, event: Event) -> int:
    """Offset of the scalar's own text: after its anchor, tag and any gap or comment."""
    if event.anchor is None and event.tag is None:
        return event.start
    pos, end = event.start, event.end
    while pos < end:
        ch = text[pos]
        if ch == "!" and text.startswith("!<", pos):
            close = text.find(">", pos)
            pos = end if close < 0 else close + 1
        elif ch in "&!":
            pos += 1
            while pos < end and text[pos] not in _PROPERTY_END:
                pos += 1
        elif ch in " \t" or ch in _BREAKS:
            pos += 1
        elif ch == "#":
            while pos < end and text[pos] not in _BREAKS:
                pos += 1
        else:
            break
    return min(pos, end)


def scalar_of(text: str, event: Event) -> Scalar:
    """The public `Scalar` of a scalar event (definition occurrence, so `alias=False`)."""
    start = value_start(text, event)
    line = event.line + 1
    if start != event.start:
        line += text.count("\n", event.start, start)
    return Scalar(event.value, start, event.end, line, event.style, event.tag, False)


class _Frame:
    """A collection being built: its children so far and how many nodes they expand to.

    `items` are a sequence's entries or a mapping's values, `keys` a mapping's keys. A plain
    scalar key is kept as its `Event`: keys are half the scalars of a manifest and only
    their value is ever needed.
    """

    __slots__ = ("anchor", "is_map", "items", "keys", "weight")

    def __init__(self, is_map: bool, anchor: str | None) -> None:
        self.is_map = is_map
        self.anchor = anchor
        self.items: list[Node] = []
        self.keys: list[Event | Node] = []
        self.weight = 1

    def wants_key(self) -> bool:
        return self.is_map and len(self.keys) == len(self.items)


class _Anchors:
    """Anchored nodes of one document, and their alias copies (made once, then shared)."""

    def __init__(self) -> None:
        self.nodes: dict[str, tuple[Node, int]] = {}
        self._views: dict[int, tuple[Node, Node]] = {}

    def define(self, name: str, node: Node, weight: int) -> None:
        self.nodes[name] = (node, weight)

    def view(self, node: Node) -> Node:
        """`node` as seen through an alias: the same tree with every scalar `alias=True`."""
        if isinstance(node, Scalar):
            return node if node.alias else replace(node, alias=True)
        cached = self._views.get(id(node))
        if cached is not None:
            return cached[1]
        copy: Node
        if isinstance(node, dict):
            copy = {key: self.view(value) for key, value in node.items()}
        else:
            copy = [self.view(value) for value in node]
        self._views[id(node)] = (node, copy)  # keeps `node` alive so its id stays unique
        return copy


def compose_documents(text: str, events: Sequence[Event]) -> list[Node | None]:
    """One Node (or None for an empty document) per document of the stream."""
    try:
        return _compose(text, events)
    except RecursionError:
        raise YamlParseError("aliases nest too deeply to be resolved") from None


def _compose(text: str, events: Sequence[Event]) -> list[Node | None]:
    documents: list[Node | None] = []
    stack: list[_Frame] = []
    parent: _Frame | None = None
    anchors = _Anchors()
    root: Node | None = None
    expanded = 0
    limit = _EXPANSION_ALLOWANCE + 10 * len(events)
    scalar_kind = Kind.SCALAR
    for event in events:
        kind = event.kind
        node: Node
        if kind == scalar_kind:
            if parent is not None and event.anchor is None and parent.wants_key():
                parent.keys.append(event)  # a plain key: see _Frame
                parent.weight += 1
                continue
            if event.anchor is None and event.tag is None:  # the common case, inlined
                node = Scalar(
                    event.value, event.start, event.end, event.line + 1, event.style, None, False
                )
            else:
                node = scalar_of(text, event)
                if event.anchor is not None:
                    anchors.define(event.anchor, node, 1)
            weight = 1
        elif kind == Kind.ALIAS:
            target = anchors.nodes.get(event.value)
            if target is None:
                line = event.line + 1
                raise YamlParseError(
                    f"line {line}: alias *{event.value} refers to no anchor defined before it",
                    line,
                )
            node, weight = anchors.view(target[0]), target[1]
            expanded += weight
            if expanded > limit:
                line = event.line + 1
                raise YamlParseError(f"line {line}: aliases expand to too many nodes", line)
        elif kind == Kind.MAP_START or kind == Kind.SEQ_START:
            parent = _Frame(kind == Kind.MAP_START, event.anchor)
            stack.append(parent)
            continue
        elif kind == Kind.MAP_END or kind == Kind.SEQ_END:
            frame = stack.pop()
            parent = stack[-1] if stack else None
            node = _mapping(frame, anchors) if frame.is_map else frame.items
            weight = frame.weight
            if frame.anchor is not None:
                anchors.define(frame.anchor, node, weight)
        elif kind == Kind.DOC_START:
            anchors = _Anchors()
            root = None
            expanded = 0
            continue
        else:  # DOC_END
            documents.append(None if _is_empty(root) else root)
            continue
        if parent is not None:
            if parent.wants_key():
                parent.keys.append(node)
            else:
                parent.items.append(node)
            parent.weight += weight
        else:
            root = node
    return documents


def _is_empty(root: Node | None) -> bool:
    """An empty document parses as one plain, untagged, empty scalar."""
    return root is None or (
        isinstance(root, Scalar)
        and root.value == ""
        and root.style == ""
        and root.tag is None
        and root.start == root.end
    )


def _mapping(frame: _Frame, anchors: _Anchors) -> dict[str, Node]:
    own: dict[str, Node] = {}
    merged: dict[str, Node] = {}
    for key, value in zip(frame.keys, frame.items, strict=True):
        if isinstance(key, Event):
            line = key.line + 1
        elif isinstance(key, Scalar):  # an anchored or aliased key
            line = key.line
        else:
            continue  # complex keys (`? [a, b]`) never name a Kubernetes field
        name = key.value
        if _is_merge_key(name, key.style, key.tag):
            for source in _merge_sources(value, line):
                for item_name, item in source.items():
                    if item_name not in merged:
                        merged[item_name] = anchors.view(item)
            continue
        if name in own:
            raise YamlParseError(f"line {line}: duplicate key {name!r}", line)
        own[name] = value
    for item_name, item in merged.items():
        own.setdefault(item_name, item)
    return own


def _is_merge_key(value: str, style: str, tag: str | None) -> bool:
    return value == MERGE_KEY and ((style == "" and tag is None) or tag == "!!merge")


def _merge_sources(value: Node, line: int) -> list[dict[str, Node]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return [item for item in value if isinstance(item, dict)]
    raise YamlParseError(
        f"line {line}: a merge key (<<) needs a mapping or a list of mappings", line
    )
