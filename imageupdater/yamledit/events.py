"""The ruamel.yaml adapter: text in, a flat and typed event stream with source offsets out.

This is the only module that touches ruamel. It works on parser *events* rather than on
composed nodes because the editor needs what composition throws away: whether a tag was
written explicitly, whether a scalar sits inside a flow collection, and which occurrence of
an anchored node is the definition and which ones are aliases. Events are also cheaper:
the composer would call the Python resolver once per scalar for nothing.

Two parsers are used. The C parser of ruamel.yaml.clib (libyaml) makes loading ten times
faster than the pure-Python one, and its marks are character offsets into the `str` (tests
check this against the pure parser, with CRLF and astral characters) — except that a leading
BOM is not counted, which is corrected here. Its libyaml is old, though: it rejects some
valid YAML (`{image: nginx:1.2}`, a colon inside a plain scalar in a flow mapping), and a
BOM anywhere but at the start would shift its offsets. So the pure parser runs whenever the
C one is missing, fails, or cannot be trusted with the text. The verifying re-parse of an
edit compares full event streams, so should the two parsers ever read a text differently,
the result is a refused edit, never a wrong one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Final, NamedTuple

from ruamel.yaml import YAML
from ruamel.yaml import events as ry
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver

from imageupdater.errors import YamlParseError

CParser: Any
try:
    from ruamel.yaml import cyaml

    CParser = getattr(cyaml, "CParser", None)
except ImportError:  # pragma: no cover - ruamel.yaml.clib is a declared dependency
    CParser = None

_BOM: Final = "\ufeff"


class Kind:
    """Event kinds. Plain ints, not an Enum: a tuple of atoms is untracked by the cyclic GC,
    which matters with a hundred thousand events in the cache."""

    DOC_START = 1
    DOC_END = 2
    MAP_START = 3
    MAP_END = 4
    SEQ_START = 5
    SEQ_END = 6
    SCALAR = 7
    ALIAS = 8


class Event(NamedTuple):
    """One parser event. A NamedTuple because a stream holds one per token and speed counts."""

    kind: int  # a Kind constant
    start: int  # str offset of the first source char, anchor and tag included
    end: int  # str offset one past the last source char
    line: int  # 0-based line of `start`
    value: str  # scalar: its value; alias: the anchor name it refers to
    style: str  # scalar: "", "'", '"', "|" or ">"
    anchor: str | None
    tag: str | None  # explicit tag, shorthand for the core schema ("!!str")
    flow: bool  # collection: written in flow style; scalar or alias: inside one
    explicit: bool  # document start or end: the `---` / `...` marker is written


class Stream(NamedTuple):
    events: tuple[Event, ...]
    parser: str  # "c" or "pure": which parser produced the offsets


_KINDS: Final[dict[type, int]] = {
    ry.DocumentStartEvent: Kind.DOC_START,
    ry.DocumentEndEvent: Kind.DOC_END,
    ry.MappingStartEvent: Kind.MAP_START,
    ry.MappingEndEvent: Kind.MAP_END,
    ry.SequenceStartEvent: Kind.SEQ_START,
    ry.SequenceEndEvent: Kind.SEQ_END,
    ry.ScalarEvent: Kind.SCALAR,
    ry.AliasEvent: Kind.ALIAS,
}
_CORE_TAG: Final = "tag:yaml.org,2002:"


def parse(text: str) -> Stream:
    """All events of all documents in `text`; anything unreadable raises `YamlParseError`."""
    if CParser is not None and _BOM not in text[1:]:
        stream = _try_c(text)
        if stream is not None:
            return stream
    try:
        return Stream(_convert(_pure_events(text), 0), "pure")
    except Exception as exc:  # the adapter boundary: no ruamel exception may leave it
        raise _parse_error(exc, text) from None


def _try_c(text: str) -> Stream | None:
    """The C parser's stream, or None when it cannot read `text` (the pure one decides)."""
    shift = 1 if text.startswith(_BOM) else 0
    try:
        return Stream(_convert(_c_events(text), shift), "c")
    except Exception:  # any C failure, including encoding errors, is retried in pure Python
        return None


def _c_events(text: str) -> Iterator[Any]:
    parser = CParser(text)
    try:
        get_event = parser.get_event
        while (event := get_event()) is not None:  # None after the stream end
            yield event
    finally:
        parser.dispose()


def _pure_events(text: str) -> Iterator[Any]:
    events: Iterator[Any] = YAML(typ="safe", pure=True).parse(text)
    return events


def _convert(raw: Iterable[Any], shift: int) -> tuple[Event, ...]:
    """Copy what the editor needs out of ruamel's events (hot loop: one pass, few lookups)."""
    out: list[Event] = []
    append = out.append
    new = tuple.__new__
    flow_stack: list[bool] = []
    in_flow = False
    scalar_type, kinds = ry.ScalarEvent, _KINDS
    for ev in raw:
        if type(ev) is scalar_type:
            tag = ev.ctag
            mark = ev.start_mark
            append(
                new(
                    Event,
                    (
                        Kind.SCALAR,
                        mark.index + shift,
                        ev.end_mark.index + shift,
                        mark.line,
                        ev.value,
                        ev.style or "",
                        ev.anchor,
                        None if tag is None else _short_tag(tag),
                        in_flow,
                        False,
                    ),
                )
            )
            continue
        kind = kinds.get(type(ev))
        if kind is None:  # stream start and end carry nothing
            continue
        mark = ev.start_mark
        start, end, line = mark.index + shift, ev.end_mark.index + shift, mark.line
        if kind == Kind.MAP_START or kind == Kind.SEQ_START:
            tag = ev.ctag
            is_flow = bool(ev.flow_style)
            short = None if tag is None else _short_tag(tag)
            append(Event(kind, start, end, line, "", "", ev.anchor, short, is_flow, False))
            flow_stack.append(in_flow)
            in_flow = in_flow or is_flow
        elif kind == Kind.MAP_END or kind == Kind.SEQ_END:
            append(Event(kind, start, end, line, "", "", None, None, in_flow, False))
            in_flow = flow_stack.pop()
        elif kind == Kind.ALIAS:
            append(Event(kind, start, end, line, ev.anchor, "", None, None, in_flow, False))
        else:
            explicit = bool(ev.explicit)
            append(Event(kind, start, end, line, "", "", None, None, False, explicit))
    return tuple(out)


def _short_tag(tag: object) -> str:
    text = str(tag)
    if text.startswith(_CORE_TAG):
        return "!!" + text[len(_CORE_TAG) :]
    return text


def _parse_error(exc: Exception, text: str) -> YamlParseError:
    """Translate a ruamel (or any parser) exception into our error, keeping the 1-based line."""
    line: int | None = None
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    position = getattr(exc, "position", None)
    if mark is not None and isinstance(getattr(mark, "line", None), int):
        line = mark.line + 1
    elif isinstance(position, int):
        line = text.count("\n", 0, position) + 1
    parts = [
        str(part) for part in (getattr(exc, "problem", None), getattr(exc, "context", None)) if part
    ]
    detail = " ".join(parts) if parts else (str(exc).strip().splitlines() or [""])[0]
    if not detail:
        detail = type(exc).__name__
    prefix = f"line {line}: " if line is not None else ""
    return YamlParseError(f"{prefix}{detail}", line)


_STR_TAG: Final = "tag:yaml.org,2002:str"
_RESOLVERS: Final = (VersionedResolver(version=(1, 1)), VersionedResolver(version=(1, 2)))


def plain_reads_as_string(value: str) -> bool:
    """True when `value`, written as a plain scalar, is a string for YAML 1.1 *and* 1.2.

    Kubernetes tooling reads YAML 1.1 (go-yaml: `yes`, `1:20`, `017`), Python tools read
    1.2; a value that either would turn into a number, bool, null or date must be quoted.
    """
    return all(
        str(resolver.resolve(ScalarNode, value, (True, False))) == _STR_TAG
        for resolver in _RESOLVERS
    )


plain_reads_as_string("warm-up")  # build the resolvers' lazy tables now, not racing in threads
