"""The cheap pre-parse filter of SPEC §5.

Parsing dominates the cost of a scan, and most YAML in a fleet repository opts into
nothing. A file that mentions none of the opt-in tokens cannot declare an update, so it is
skipped before it is decoded or parsed. The test is a substring search, so it may let
through files that only mention a token in a comment; the parser decides those.
"""

from __future__ import annotations

TOKENS: tuple[str, ...] = ("imageupdater.io/", "$imagepolicy", "fluxcd.io/", "keel.sh/")
_BYTE_TOKENS: tuple[bytes, ...] = tuple(token.encode("ascii") for token in TOKENS)


def screen(data: bytes | str) -> bool:
    """True when `data` contains any opt-in token; works on raw bytes so no decode is needed."""
    if isinstance(data, bytes):
        return any(token in data for token in _BYTE_TOKENS)
    return any(token in data for token in TOKENS)
