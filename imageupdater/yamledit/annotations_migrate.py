"""Rename, rewrite or delete mapping entries in place: what `imageupdater migrate` needs.

Migration turns `fluxcd.io/tag.web: semver:^1` into `imageupdater.io/policy.web: semver:^1`
on the same line, so a reviewer sees one changed line per annotation. Each change names
the *value* scalar of an entry (as `load_documents` returned it): the key is found on the
same line right before it, the value's bytes are kept when it does not change (quotes
included), and a new value is written plain when YAML reads it back as the same string,
else double-quoted. Deleting an entry removes its whole line, which must hold nothing
else but a comment (kept on its own line).

After splicing, the text is parsed again and every document is compared with the intent
(the same tree with only these entries renamed, rewritten or removed); anything else is a
RewriteError and nothing is written. Kept apart from `rewrite` (image values) so the two
evolve independently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from imageupdater.errors import RewriteError, YamlParseError

from .load import load_documents
from .nodes import Node, Scalar
from .quoting import double_quoted, plain_is_safe


@dataclass(frozen=True, slots=True)
class EntryChange:
    """Change the entry `key: value` of the mapping at `path` in document `document`."""

    document: int
    path: tuple[str, ...]  # the mapping holding the entry, e.g. ("metadata", "annotations")
    key: str
    value: Scalar
    new_key: str | None  # None: delete the entry
    new_value: str | None = None  # None: keep the value as written


def _plain(node: Node | None) -> Any:
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, dict):
        return {key: _plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_plain(item) for item in node]
    return None


def _scalar_text(value: str) -> str:
    if plain_is_safe(value, in_flow=False, colon_seen=False):
        return value
    return double_quoted(value)


def _key_span(text: str, change: EntryChange) -> tuple[int, int, int]:
    """(line start, key start, key end) of the entry's key, on the value's line."""
    line_start = text.rfind("\n", 0, change.value.start) + 1
    before = text[line_start : change.value.start]
    key = re.escape(change.key)
    found = re.search(rf"(\"{key}\"|'{key}'|{key})[ \t]*:[ \t]*$", before)
    if found is None:
        raise RewriteError(
            f"line {change.value.line}: cannot find the key {change.key!r} before its value"
        )
    return line_start, line_start + found.start(1), line_start + found.end(1)


def _splice(text: str, change: EntryChange) -> tuple[int, int, str]:
    line_start, key_start, key_end = _key_span(text, change)
    if change.new_key is None:
        line_end = text.find("\n", change.value.end)
        line_end = len(text) if line_end == -1 else line_end + 1
        rest = text[change.value.end : line_end].strip()
        indent = text[line_start:key_start]
        if indent.strip() or (rest and not rest.startswith("#")):
            raise RewriteError(f"line {change.value.line}: the entry shares its line")
        newline = "\r\n" if text[:line_end].endswith("\r\n") else "\n"
        # a comment on the removed line is kept, on its own line at the same indentation
        return line_start, line_end, f"{indent}{rest}{newline}" if rest else ""
    value_text = text[change.value.start : change.value.end]
    if change.new_value is not None and change.new_value != change.value.value:
        value_text = _scalar_text(change.new_value)
    middle = text[key_end : change.value.start]
    return key_start, change.value.end, _scalar_text(change.new_key) + middle + value_text


def _expected(before: list[Any], changes: Sequence[EntryChange]) -> list[Any]:
    for change in changes:
        mapping = before[change.document]
        for step in change.path:
            mapping = mapping[step]
        value = mapping.pop(change.key)
        if change.new_key is not None:
            mapping[change.new_key] = value if change.new_value is None else change.new_value
    return before


def rewrite_entries(text: str, changes: Sequence[EntryChange]) -> str:
    """`text` with the entries changed; RewriteError when that cannot be done exactly."""
    if not changes:
        return text
    spans = sorted((_splice(text, change) for change in changes), reverse=True)
    for (start, _, _), (_, end, _) in pairwise(spans):
        if end > start:
            raise RewriteError("two annotation changes overlap")
    after = text
    for start, end, replacement in spans:
        after = after[:start] + replacement + after[end:]
    try:
        before_tree = [_plain(document) for document in load_documents(text)]
        after_tree = [_plain(document) for document in load_documents(after)]
    except YamlParseError as exc:
        raise RewriteError(f"the edited file does not parse: {exc}") from None
    if after_tree != _expected(before_tree, changes):
        raise RewriteError("the edited file differs from the intended annotation change")
    return after
