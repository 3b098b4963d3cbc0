"""Write a new value in the style the old one had, adding quotes only where YAML needs them.

The rules are deliberately conservative: when in doubt a plain value gets double quotes,
because a quoted string always reads back as the same string, while a plain one may turn
into a float (`1.10`), a bool (`on`), a date or a comment (` #`). Whatever is decided here
is checked again by the re-parse in `rewrite`, so a mistake costs a refused edit, never a
wrong file.
"""

from __future__ import annotations

from typing import Final

from .events import plain_reads_as_string

#: characters that may not start a plain scalar (`-`, `?`, `:` could in some cases; never mind)
_INDICATORS: Final = frozenset("-?:,[]{}#&*!|>'\"%@`")
_FLOW_INDICATORS: Final = frozenset(",[]{}")
_ESCAPES: Final = {
    "\0": "\\0",
    "\x07": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\r": "\\r",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
    "\x85": "\\N",
    "\u2028": "\\L",
    "\u2029": "\\P",
}


def is_printable(ch: str) -> bool:
    """YAML's c-printable minus line breaks and the BOM: safe to write as is on one line."""
    return (
        "\x20" <= ch <= "\x7e"
        or ("\xa0" <= ch <= "\ud7ff" and ch not in "\u2028\u2029")
        or ("\ue000" <= ch <= "\ufffd" and ch != "\ufeff")
        or "\U00010000" <= ch <= "\U0010ffff"
    )


def plain_is_safe(value: str, *, in_flow: bool, colon_seen: bool) -> bool:
    """True when `value` written plain reads back as exactly this string.

    `colon_seen`: the old plain value already had a `:` in the same flow collection. An old
    libyaml (and so old go-yaml) rejects `{image: nginx:1.2}`; we do not introduce that
    construct into a file that did not already rely on it.
    """
    if not value or value[0] in _INDICATORS or value[0] == " " or value[-1] in " :":
        return False
    if not all(is_printable(ch) for ch in value):
        return False  # also excludes tabs and line breaks
    if ": " in value or " #" in value or value.startswith(("---", "...")):
        return False
    if in_flow and (
        any(ch in _FLOW_INDICATORS for ch in value) or (":" in value and not colon_seen)
    ):
        return False
    return plain_reads_as_string(value)


def single_quoted(value: str) -> str | None:
    """`'value'` with `'` doubled, or None when it cannot be written on one line that way."""
    if not all(ch == "\t" or is_printable(ch) for ch in value):
        return None
    return "'" + value.replace("'", "''") + "'"


def double_quoted(value: str) -> str:
    """`"value"` with YAML escapes for quotes, backslashes and anything not printable."""
    out = ['"']
    for ch in value:
        escape = _ESCAPES.get(ch)
        if escape is not None:
            out.append(escape)
        elif is_printable(ch):
            out.append(ch)
        elif ch <= "\xff":
            out.append(f"\\x{ord(ch):02X}")
        elif ch <= "\uffff":
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(f"\\U{ord(ch):08X}")
    out.append('"')
    return "".join(out)


def block_line_is_safe(line: str) -> bool:
    """True when `line` can be the single content line of a `|` or `>` block scalar."""
    return (
        bool(line) and line[0] not in " \t" and all(ch == "\t" or is_printable(ch) for ch in line)
    )
