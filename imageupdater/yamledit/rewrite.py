"""`apply_edits`: splice new values into the original text, then prove nothing else changed.

A ruamel round-trip dump would re-indent, re-wrap and drop comments, so the file is never
re-serialised. Each new value is rendered in its scalar's own style (see `quoting`) and
spliced into the text at the scalar's span; every byte outside the spans is kept as it was.
The result is then parsed again and its event stream compared with the original one:

* same number and kinds of events, same anchors, tags, flow styles and document markers;
* every scalar not edited reads the same value in the same style, at its old offset
  shifted by the length change of the edits before it;
* every edited scalar reads exactly the intended value, at exactly the spliced span.

Any difference raises `RewriteError` naming the line, and the caller leaves the file alone.

The re-parse is skipped only where it cannot find anything (`_provably_local`): every
splice swaps one *inert* value for another in the same plain or quoted style on one line.
An inert value starts with a letter or digit and holds only letters, digits and
``. _ / @ + = ~ -``, with a ``:`` only between two of those. Such text ends where the old
text ended (no space, break, ``#``, flow indicator or ``: ``), needs no escape or quote,
cannot start an indicator, a document marker or a continuation, so the new stream is the
old one with that value changed: exactly what the comparison would have confirmed. Image
references and tags, nearly every edit, are inert.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final, NamedTuple

from imageupdater.errors import RewriteError, YamlParseError

from .compose import value_start
from .events import Event, Kind, Stream, plain_reads_as_string
from .load import parse_stream
from .nodes import Edit
from .quoting import block_line_is_safe, double_quoted, plain_is_safe, single_quoted

_BREAKS = "\r\n\x85\u2028\u2029"


class _Splice(NamedTuple):
    start: int
    end: int
    text: str  # the source text that replaces [start, end)
    event: int  # index of the scalar's event in the stream
    value: str  # what the scalar must read as afterwards
    style: str  # the style it must have afterwards

    @property
    def delta(self) -> int:
        return len(self.text) - (self.end - self.start)


#: verified results of `apply_edits` kept (an LRU: `persist` carries it between runs)
SPLICE_ENTRIES: Final = 50_000
SPLICE_CHARS: Final = 16_000_000
_splices: OrderedDict[bytes, str] = OrderedDict()
_splice_chars = 0
_splice_stores = 0  # entries ever added: `persist` writes the file only after new ones
_splices_lock = threading.Lock()


def _splice_key(text: str, edits: Sequence[Edit]) -> bytes:
    """A hash of everything `apply_edits` reads: the text and every field of every edit."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=20)
    for edit in edits:
        s = edit.scalar
        fields = (s.value, s.start, s.end, s.line, s.style, s.tag, s.alias, edit.new_value)
        digest.update(b"\0" + repr(fields).encode("utf-8", "surrogatepass"))
    return digest.digest()


def export_splices() -> list[tuple[bytes, str]]:
    with _splices_lock:
        return list(_splices.items())


def import_splices(rows: list[tuple[bytes, str]]) -> None:
    for key, result in rows:
        if not isinstance(key, bytes) or not isinstance(result, str):
            raise TypeError("not a splice cache row")
        _remember(key, result)


def clear_splices() -> None:
    global _splice_chars
    with _splices_lock:
        _splices.clear()
        _splice_chars = 0


def splice_stores() -> int:
    return _splice_stores


def _remember(key: bytes, result: str) -> None:
    global _splice_chars, _splice_stores
    if len(result) > SPLICE_CHARS // 4:
        return
    with _splices_lock:
        if key in _splices:
            return
        _splices[key] = result
        _splice_stores += 1
        _splice_chars += len(result)
        while len(_splices) > SPLICE_ENTRIES or _splice_chars > SPLICE_CHARS:
            _, evicted = _splices.popitem(last=False)
            _splice_chars -= len(evicted)


def apply_edits(text: str, edits: Sequence[Edit], *, loaded_from_text: bool = False) -> str:
    """`text` with each edited scalar's value replaced, verified by a re-parse (module doc).
    A verified result is remembered by a hash of (text, edits); refusals are not.

    `loaded_from_text`: the caller vouches that every edit's scalar was loaded from this
    very `text` (so its span is known to be a whole scalar token). Edits that swap inert
    values then need neither the original stream nor a re-parse (`_direct`).
    """
    if not edits:
        return text
    if loaded_from_text:
        direct = _direct(text, edits)
        if direct is not None:
            return direct
    key = _splice_key(text, edits)
    with _splices_lock:
        known = _splices.get(key)
        if known is not None:
            _splices.move_to_end(key)
    if known is not None:
        return known
    result = _apply(text, edits)
    _remember(key, result)
    return result


def _apply(text: str, edits: Sequence[Edit]) -> str:
    stream = parse_stream(text)
    splices = _plan(text, stream, edits)
    if not splices:
        return text
    result = _join(text, [(splice.start, splice.end, splice.text) for splice in splices])
    if not _provably_local(text, stream, splices):
        _verify(stream, result, splices)
    return result


#: a value whose text reads as itself in plain, single- and double-quoted style (doc above)
_INERT = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._/@+=~-]|:(?=[A-Za-z0-9._/@+=~-]))*")
_QUOTES: Final = {"": "", "'": "'", '"': '"'}
_MAX_INERT = 1000  # below YAML's 1024-character limit on implicit keys


def _join(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    """`text` with each `(start, end, replacement)` span replaced (spans in text order)."""
    pieces: list[str] = []
    position = 0
    for start, end, replacement in spans:
        pieces.append(text[position:start])
        pieces.append(replacement)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _inert_swap(text: str, start: int, end: int, style: str, old: str, new: str) -> str | None:
    """The source text for `new` when swapping it for `old` at `[start, end)` provably
    changes nothing else (module doc): both inert, the span is `old` as written in a plain
    or quoted `style`, and it is a value, not a key. None otherwise."""
    quote = _QUOTES.get(style)
    if (
        quote is None
        or len(new) > _MAX_INERT
        or _INERT.fullmatch(old) is None
        or _INERT.fullmatch(new) is None
        or text[start:end] != f"{quote}{old}{quote}"
        or text.startswith(":", end)  # a key, not a value: the full check decides
    ):
        return None
    return f"{quote}{new}{quote}"


def _direct(text: str, edits: Sequence[Edit]) -> str | None:
    """The result without any parse when every edit is an inert swap (`_inert_swap`, read
    off the scalars themselves); None when any edit needs the full path."""
    chosen: dict[int, tuple[int, int, str]] = {}
    for edit in edits:
        scalar, new = edit.scalar, edit.new_value
        swap = (
            None
            if scalar.alias
            else _inert_swap(text, scalar.start, scalar.end, scalar.style, scalar.value, new)
        )
        # plain stays plain only when it reads as a string, and a `:` may be new only where
        # flow context cannot matter (`plain_is_safe`): otherwise quoting decides
        if swap is None or (
            not scalar.style
            and ((":" in new and ":" not in scalar.value) or not plain_reads_as_string(new))
        ):
            return None
        span = (scalar.start, scalar.end, swap)
        if chosen.setdefault(scalar.start, span) != span:
            return None  # conflicting edits: the full path names the problem
    return _join(text, [chosen[start] for start in sorted(chosen)])


def _provably_local(text: str, stream: Stream, splices: Sequence[_Splice]) -> bool:
    """True when no splice can change how anything but its own value is read (module doc):
    the re-parse would only confirm the result, so it is not needed."""
    for splice in splices:
        event = stream.events[splice.event]
        swap = _inert_swap(text, splice.start, splice.end, event.style, event.value, splice.value)
        if splice.style != event.style or swap is None or swap != splice.text:
            return False
    return True


def _plan(text: str, stream: Stream, edits: Sequence[Edit]) -> list[_Splice]:
    """One splice per scalar that actually changes, in text order; conflicts are refused."""
    events = stream.events
    by_start = {
        value_start(text, event): index
        for index, event in enumerate(events)
        if event.kind == Kind.SCALAR
    }
    chosen: dict[int, tuple[str, _Splice | None]] = {}
    for edit in edits:
        scalar = edit.scalar
        if scalar.alias:
            raise RewriteError(
                f"line {scalar.line}: the value {scalar.value!r} is used through an alias or"
                " merge key; editing it there would change the anchor and every other use"
            )
        index = by_start.get(scalar.start)
        if index is None or events[index].end != scalar.end or events[index].value != scalar.value:
            raise RewriteError(
                f"line {scalar.line}: no scalar {scalar.value!r} at this place of the text"
                " (was it loaded from a different version of the file?)"
            )
        previous = chosen.get(index)
        if previous is not None:
            if previous[0] != edit.new_value:
                raise RewriteError(f"line {scalar.line}: two different new values for one scalar")
            continue
        splice = None
        if edit.new_value != scalar.value:
            splice = _render(text, events[index], index, scalar.start, edit.new_value)
        chosen[index] = (edit.new_value, splice)
    return sorted(
        (splice for _, splice in chosen.values() if splice is not None),
        key=lambda splice: splice.start,
    )


def _render(text: str, event: Event, index: int, start: int, new: str) -> _Splice:
    line = event.line + 1
    try:
        new.encode("utf-8")
    except UnicodeEncodeError:
        raise RewriteError(f"line {line}: the new value is not valid Unicode") from None
    style = event.style
    if style == "":
        if start == event.end:
            raise RewriteError(f"line {line}: the value is empty; there is no text to replace")
        if plain_is_safe(new, in_flow=event.flow, colon_seen=":" in event.value):
            return _Splice(start, event.end, new, index, new, "")
    elif style == "'":
        quoted = single_quoted(new)
        if quoted is not None:
            return _Splice(start, event.end, quoted, index, new, "'")
    elif style in "|>":
        return _render_block(text, event, index, start, new)
    return _Splice(start, event.end, double_quoted(new), index, new, '"')


def _render_block(text: str, event: Event, index: int, start: int, new: str) -> _Splice:
    """Replace the one content line of a block scalar; header, indent and chomping stay."""
    line = event.line + 1
    content = _content_lines(text, start, event.end)
    old_core = event.value.rstrip("\n")
    if len(content) != 1 or text[content[0][0] : content[0][1]] != old_core:
        raise RewriteError(
            f"line {line}: only a block scalar with a single content line can be edited"
        )
    trailing = event.value[len(old_core) :]  # line breaks the chomping indicator adds
    core = new.rstrip("\n")
    if new[len(core) :] not in ("", trailing) or not block_line_is_safe(core):
        raise RewriteError(
            f"line {line}: {new!r} cannot be the content of this {event.style} block scalar"
        )
    return _Splice(content[0][0], content[0][1], core, index, core + trailing, event.style)


def _content_lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(first non-space, line end) of each non-blank line after the block header."""
    lines: list[tuple[int, int]] = []
    position = _line_end(text, start, end)
    while position < end:
        position += 2 if text.startswith("\r\n", position) else 1
        line_end = _line_end(text, position, end)
        first = position
        while first < line_end and text[first] == " ":
            first += 1
        if first < line_end:
            lines.append((first, line_end))
        position = line_end
    return lines


def _line_end(text: str, position: int, end: int) -> int:
    while position < end and text[position] not in _BREAKS:
        position += 1
    return position


def _verify(old: Stream, result: str, splices: Sequence[_Splice]) -> None:
    """Raise `RewriteError` unless `result` differs from the original only as planned."""
    try:
        new = parse_stream(result, store=False)
    except YamlParseError as exc:
        raise RewriteError(f"the edited text would not parse: {exc}") from None
    planned = {splice.event: splice for splice in splices}
    shift, pending = 0, list(reversed(splices))
    for index, (before, after) in enumerate(zip(old.events, new.events, strict=False)):
        while pending and pending[-1].end <= before.start:
            shift += pending.pop().delta
        splice = planned.get(index)
        _compare(before, after, shift, splice)
    if len(old.events) != len(new.events):
        last = old.events[min(len(old.events), len(new.events)) - 1]
        raise RewriteError(f"line {last.line + 1}: the edit would change the document structure")


def _compare(before: Event, after: Event, shift: int, splice: _Splice | None) -> None:
    line = before.line + 1
    if (
        before.kind != after.kind
        or before.anchor != after.anchor
        or before.tag != after.tag
        or before.flow != after.flow
        or before.explicit != after.explicit
    ):
        raise RewriteError(f"line {line}: the edit would change the document structure")
    if before.kind == Kind.ALIAS and before.value != after.value:
        raise RewriteError(f"line {line}: the edit would change an alias")
    if before.kind != Kind.SCALAR:
        return
    if splice is None:
        value, style, growth = before.value, before.style, 0
    else:
        value, style, growth = splice.value, splice.style, splice.delta
    if after.value != value or after.style != style:
        raise RewriteError(
            f"line {line}: the value would read back as {after.value!r} ({after.style or 'plain'})"
            f" instead of {value!r} ({style or 'plain'})"
        )
    if after.start != before.start + shift or after.end != before.end + shift + growth:
        raise RewriteError(f"line {line}: the edit would move the value's text unexpectedly")
