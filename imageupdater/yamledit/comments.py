"""The trailing comment on a scalar's line: where Flux-style line markers live (SPEC §2.2).

Markers are read from the text, not from the parser's comment tokens: the comment that
follows a value on its own line is exactly the bytes after the scalar up to the end of
that line, when they are blanks and then a `#`. Block scalars (`|`, `>`) are skipped:
their last line is content, and a marker-looking line inside one is a string, not a marker
(Flux regression fluxcd/flux2#3284).
"""

from __future__ import annotations

from .nodes import Scalar


def line_comment(text: str, scalar: Scalar) -> str | None:
    """The comment text after `scalar` on its line (without the `#`), or None."""
    if scalar.style in ("|", ">"):
        return None
    end = len(text)
    for stop in ("\n", "\r"):
        found = text.find(stop, scalar.end)
        if found != -1:
            end = min(end, found)
    rest = text[scalar.end : end]
    stripped = rest.lstrip(" \t")
    # only blanks between the value and the `#`, and at least one (`a#b` is a plain scalar)
    if not stripped.startswith("#") or len(stripped) == len(rest):
        return None
    return stripped[1:]
