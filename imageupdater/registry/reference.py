"""Parse image references the way Docker does, and normalise them for scanning.

The grammar is Distribution's (`distribution/reference`): an optional domain (a first
component with a `.` or `:`, `localhost`, or an uppercase letter), a lowercase path, an
optional `:tag` and an optional `@algorithm:hex` digest. Docker Hub aliases collapse to
`docker.io` and one-component Hub names gain `library/`, so `nginx`,
`docker.io/library/nginx` and `index.docker.io/nginx` are scanned as one repository.

Invalid input is a `ConfigError` that says which part is wrong: an image value in a
manifest is user configuration, and "repository must be lowercase" is more useful than
the registry's bare 404 for the same request.
"""

from __future__ import annotations

import re

from imageupdater.errors import ConfigError
from imageupdater.model import ImageRef

DOCKER_HUB = "docker.io"
#: names Docker accepts for its Hub; all normalise to `docker.io`
HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = re.compile(
    rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
)
_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[\w][\w.-]{0,127}")
DIGEST = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}")
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_DIGEST_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+._-]*:[0-9a-fA-F]*$")
_NAME_MAX = 255


def parse_reference(value: str) -> ImageRef:
    """`nginx`, `ghcr.io/acme/web:1.2.0@sha256:…`, `127.0.0.1:5000/team/app:1.0` -> ImageRef."""
    text = value.strip()
    shown = _redact(text)
    if not text:
        raise ConfigError("invalid image reference: empty value")
    if "://" in text:
        raise ConfigError(f"invalid image reference {shown!r}: must not contain a URL scheme")

    rest, at, digest = text.partition("@")
    if at and not is_digest(digest):
        raise ConfigError(
            f"invalid image reference {shown!r}: digest must look like sha256:<64 hex digits>"
        )
    name, tag = _split_tag(rest)
    if tag is not None and not is_tag(tag):
        raise ConfigError(
            f"invalid image reference {shown!r}: tag {tag!r} must be 1-128 characters of"
            " [A-Za-z0-9_.-] and must not start with '.' or '-'"
        )
    if not name:
        raise ConfigError(f"invalid image reference {shown!r}: no repository name")
    if len(name) > _NAME_MAX:
        raise ConfigError(f"invalid image reference {shown!r}: name longer than 255 characters")

    registry, path = _split_domain(name)
    if registry is not None and not _DOMAIN.fullmatch(registry):
        raise ConfigError(f"invalid image reference {shown!r}: bad registry host {registry!r}")
    for component in path.split("/"):
        if not _PATH_COMPONENT.fullmatch(component):
            hint = " (repository names must be lowercase)" if component.lower() != component else ""
            raise ConfigError(
                f"invalid image reference {shown!r}: bad repository component {component!r}{hint}"
            )

    host = (registry or DOCKER_HUB).lower()
    if host in HUB_ALIASES:
        host = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    return ImageRef(name=name, registry=host, repository=path, tag=tag, digest=digest or None)


def is_tag(value: str) -> bool:
    return TAG.fullmatch(value) is not None


def is_digest(value: str) -> bool:
    """A digest in the OCI grammar; sha256 ones must have exactly 64 lowercase hex digits."""
    if not DIGEST.fullmatch(value):
        return False
    return not value.startswith("sha256:") or _SHA256.fullmatch(value) is not None


def _split_tag(text: str) -> tuple[str, str | None]:
    """The tag is after the last ':' that follows the last '/' (a ':' before is a port)."""
    colon = text.rfind(":")
    if colon > text.rfind("/"):
        return text[:colon], text[colon + 1 :]
    return text, None


def _split_domain(name: str) -> tuple[str | None, str]:
    """Docker's rule: the first component is a registry host if it could not be a path."""
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost" or first.lower() != first):
        return first, rest
    return None, name


def _redact(text: str) -> str:
    """Hide `user:password@` in front of the host, so a mistyped value never leaks a secret."""
    scheme, sep, rest = text.partition("://") if "://" in text else ("", "", text)
    authority, slash, path = rest.partition("/")
    _, at, host = authority.rpartition("@")
    if at and (slash or not _DIGEST_LIKE.match(host)):
        authority = f"***@{host}"
    return f"{scheme}{sep}{authority}{slash}{path}"
