"""Registry access: reference parsing, auth, the OCI distribution client, batch scans.

The only package (with the forge client) that talks HTTP. Everything it raises is an
`imageupdater.errors` exception; see `client` for the request path and the README for
the user-visible decisions (plain-HTTP fallback, credential sources, retries).
"""

from __future__ import annotations

from .client import RegistryClient
from .reference import parse_reference
from .scan import TagScan, scan_tags

__all__ = ["RegistryClient", "TagScan", "parse_reference", "scan_tags"]
