"""Bytes <-> text without normalising anything.

Files are read as bytes and decoded as strict UTF-8 with the plain `utf-8` codec, which
keeps a leading BOM as U+FEFF in the text; `encode` therefore writes it back, and CRLF or
lone CR line endings pass through untouched (no universal-newline translation anywhere).
"""

from __future__ import annotations

from imageupdater.errors import RewriteError, YamlParseError


def decode(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM); invalid bytes raise `YamlParseError` with the line."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlParseError(
            f"line {line}: not valid UTF-8 (byte offset {exc.start}: {exc.reason})", line
        ) from None


def encode(text: str) -> bytes:
    """The exact inverse of `decode`; text that cannot be UTF-8 raises `RewriteError`."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise RewriteError(f"line {line}: text cannot be encoded as UTF-8: {exc.reason}") from None
