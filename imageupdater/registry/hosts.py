"""Where a registry name is reached, and how (TLS trust, plain-HTTP fallback).

Docker Hub is named `docker.io` in references but served by `registry-1.docker.io`.
HTTPS is always tried first. Only loopback hosts and hosts the user declared insecure
may fall back to plain HTTP, and for those HTTPS skips certificate verification, as
Docker does for insecure registries: a plain-HTTP fallback would be weaker still, so
verifying there would only break self-signed local registries without protecting anyone.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
from collections.abc import Iterable

import certifi

from imageupdater.errors import ConfigError

from .reference import DOCKER_HUB

DOCKER_HUB_ENDPOINT = "registry-1.docker.io"


def endpoint(registry: str) -> str:
    """The `host[:port]` that serves `registry` (an `ImageRef.registry`)."""
    return DOCKER_HUB_ENDPOINT if registry == DOCKER_HUB else registry


def split_host_port(hostport: str) -> tuple[str, int | None]:
    """`127.0.0.1:5000` -> ("127.0.0.1", 5000); `[::1]:5000` -> ("::1", 5000)."""
    text = hostport.strip().lower()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = text.rpartition(":") if text.count(":") == 1 else (text, "", "")
    if port and not port.isdigit():
        raise ConfigError(f"invalid registry host {hostport!r}: port must be a number")
    return host, int(port) if port else None


def is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class InsecureHosts:
    """Matcher for `--insecure-registry HOST[:PORT]`; a host without a port matches any port."""

    def __init__(self, entries: Iterable[str]) -> None:
        self._entries = {split_host_port(_bare(entry)) for entry in entries if entry.strip()}

    def allows_plain_http(self, hostport: str) -> bool:
        host, port = split_host_port(hostport)
        if is_loopback(host):
            return True
        return (host, None) in self._entries or (host, port) in self._entries


def _bare(entry: str) -> str:
    """Accept `http://registry.local:5000/` as well as `registry.local:5000`."""
    text = entry.strip()
    for scheme in ("http://", "https://"):
        if text.lower().startswith(scheme):
            text = text[len(scheme) :]
    return text.rstrip("/")


def ssl_context() -> ssl.SSLContext:
    """System trust store + certifi's bundle + `SSL_CERT_FILE` / `SSL_CERT_DIR` if set.

    httpx alone *replaces* certifi with `SSL_CERT_FILE`; the product contract says the
    variable *adds* a CA (a private registry's), so public registries keep working.
    """
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=certifi.where())
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    try:
        if cafile:
            ctx.load_verify_locations(cafile=cafile)
        if capath:
            ctx.load_verify_locations(capath=capath)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"cannot load CA certificates (SSL_CERT_FILE/SSL_CERT_DIR): {exc}"
        ) from exc
    return ctx


def unverified_ssl_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
