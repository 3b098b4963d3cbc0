"""Local registries for the demo, the tests and the benchmark (no Docker engine needed).

`start_registry` runs Debian's `docker-registry` as a child process; `seed` pushes or
writes images into it. `pki` (TLS files) and `tokenserver` (Bearer auth) need the
`cryptography`/`PyJWT` dev dependencies and are imported from their modules on demand,
so the plain demo path does not need them.
"""

from __future__ import annotations

from .localregistry import LocalRegistry, RegistryNotInstalled, TlsFiles, TokenAuth, start_registry
from .seed import Platform, Pusher, seed_storage

__all__ = [
    "LocalRegistry",
    "Platform",
    "Pusher",
    "RegistryNotInstalled",
    "TlsFiles",
    "TokenAuth",
    "seed_storage",
    "start_registry",
]
