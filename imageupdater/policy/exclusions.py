"""Tags no policy may ever select (SPEC §3.1 "Default exclusions").

Cosign pushes signatures, attestations and SBOMs as ordinary tags next to the image
(`sha256-<digest>.sig`); moving a workload to one of them would break it, whatever the
policy says. Named policies add their own `exclude` patterns on top of these.
"""

from __future__ import annotations

import fnmatch
import re

#: shell-style patterns, matched case-sensitively against the whole tag
DEFAULT_EXCLUSIONS: tuple[str, ...] = ("*.sig", "*.att", "*.sbom", "sha256-*")

_EXCLUDED = re.compile("|".join(fnmatch.translate(pattern) for pattern in DEFAULT_EXCLUSIONS))


def is_excluded(tag: str) -> bool:
    """True for a tag matching one of DEFAULT_EXCLUSIONS."""
    return _EXCLUDED.match(tag) is not None
