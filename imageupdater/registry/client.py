"""The registry client: `tags/list` walks and manifest HEADs over one shared httpx client.

Each call goes through three layers, innermost first:

* `_send_once` picks the URL scheme: HTTPS, or for loopback and insecure hosts HTTPS then
  plain HTTP, remembering per host which one answered (so the fallback costs one failed
  connection per host and process, not one per request);
* the per-request `httpx.Auth` from `auth.Authenticator` answers 401 challenges;
* `RetryPolicy.run` retries transient failures.

Then the answer is translated: 401/403 -> `AuthError`, 404 -> `RegistryError` (or None for
a manifest), garbage -> `RegistryUnavailable`. No httpx exception leaves this module, and
no message carries a secret: they name the registry, the repository and the status only.
There is no `/v2/` ping: the real request is sent and its 401 challenge answered, which
saves a round trip per host.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any

import httpx

from imageupdater import __version__
from imageupdater.errors import AuthError, ConfigError, RegistryError, RegistryUnavailable
from imageupdater.model import ImageMetadata, ImageRef, ManifestInfo

from .auth import Authenticator
from .credentials import CredentialStore
from .hosts import InsecureHosts, endpoint, ssl_context, unverified_ssl_context
from .mediatypes import MANIFEST_ACCEPT
from .metadata import MetadataCache
from .ratelimit import RateLimiter
from .reference import is_digest, is_tag
from .retry import RetryPolicy

log = logging.getLogger(__name__)

#: a registry that paginates forever (or in a loop) must not hang a cycle
MAX_PAGES = 10_000
_ERROR_CODE = re.compile(r"[A-Z][A-Z_]{1,63}")


class RegistryClient:
    """Thread-safe client for the Docker Registry HTTP API v2 / OCI distribution API."""

    def __init__(
        self,
        *,
        docker_config: str | None = None,
        insecure_hosts: Sequence[str] = (),
        transport: httpx.BaseTransport | None = None,
        timeout: float = 10.0,
        max_attempts: int = 4,
        backoff: float = 0.5,
        max_retry_after: float = 30.0,
        rate_limits: Mapping[str, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`rate_limits`: requests per second by registry name; `sleep`: for tests."""
        self.requests: Counter[tuple[str, int]] = Counter()
        self._count_lock = threading.Lock()
        self._insecure = InsecureHosts(insecure_hosts)
        self._retry = RetryPolicy(max_attempts, backoff, max_retry_after, sleep)
        self._limiter = RateLimiter(rate_limits or {}, sleep)
        self._schemes: dict[str, str] = {}
        self._schemes_lock = threading.Lock()
        self._probes: dict[str, threading.Event] = {}  # set once a host's first probe ended
        options: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout),
            "follow_redirects": True,  # cross-origin redirects drop Authorization (httpx)
            "headers": {"User-Agent": f"imageupdater/{__version__}"},
            "event_hooks": {"response": [self._count]},
        }
        self._options = options
        self._clients: dict[bool, httpx.Client] = {}  # verify TLS? -> client (made on demand)
        self._clients_lock = threading.Lock()
        if transport is not None:
            self._clients[True] = self._clients[False] = httpx.Client(
                transport=transport, **options
            )
        self._auth = Authenticator(
            CredentialStore(docker_config), self._send_absolute, self._insecure.allows_plain_http
        )
        self._metadata = MetadataCache(self._get_body, MANIFEST_ACCEPT)

    def _client(self, *, verify: bool) -> httpx.Client:
        """The HTTP client that verifies TLS, or the one for hosts allowed to skip it.

        Made at first use: the verifying one loads the system's and certifi's CA bundles
        (about 60 ms), which a run against only loopback or insecure registries never needs.
        """
        with self._clients_lock:
            client = self._clients.get(verify)
            if client is None:
                context = ssl_context() if verify else unverified_ssl_context()
                client = self._clients[verify] = httpx.Client(verify=context, **self._options)
            return client

    # -- public API ---------------------------------------------------------------------

    def list_tags(self, image: ImageRef) -> list[str]:
        """Every tag of the repository, in the registry's order, across all `Link` pages."""
        path: str | None = f"/v2/{image.repository}/tags/list"
        seen: set[str] = set()
        tags: list[str] = []
        while path is not None:
            if path in seen or len(seen) >= MAX_PAGES:
                raise RegistryUnavailable(f"{image.registry}: tags/list pagination does not end")
            seen.add(path)
            response = self._request("GET", image, path, {"Accept": "application/json"})
            self._raise_for_status(response, image)
            tags.extend(_tags_page(response, image))
            path = _next_page(response)
        return tags

    def manifest(self, image: ImageRef, reference: str) -> ManifestInfo | None:
        """Digest and media type of `reference` (a tag or digest); None if it does not exist.

        One HEAD with all four manifest types in Accept; a registry that leaves out
        `Docker-Content-Digest` costs a GET, whose body is hashed instead.
        """
        if not (is_tag(reference) or is_digest(reference)):
            raise ConfigError(f"invalid tag or digest {reference!r} for {image.name}")
        path = f"/v2/{image.repository}/manifests/{reference}"
        headers = {"Accept": MANIFEST_ACCEPT}
        response = self._request("HEAD", image, path, headers)
        if response.status_code == 404:
            return None
        self._raise_for_status(response, image)
        digest = response.headers.get("Docker-Content-Digest", "")
        media_type = _media_type(response)
        if not digest:
            response = self._request("GET", image, path, headers)
            if response.status_code == 404:
                return None
            self._raise_for_status(response, image)
            digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
            media_type = _media_type(response) or _body_media_type(response, image)
        if not is_digest(digest) or not media_type:
            raise RegistryUnavailable(f"invalid manifest headers from {image.registry}")
        return ManifestInfo(digest=digest, media_type=media_type)

    def metadata(self, image: ImageRef, digest: str) -> ImageMetadata | None:
        """Build time and platforms of the manifest `digest`, fetched once per digest.

        None when the manifest is gone. See `metadata` for what it costs.
        """
        if not is_digest(digest):
            raise ConfigError(f"invalid digest {digest!r} for {image.name}")
        return self._metadata.get(image, digest)

    def request_counts(self) -> dict[tuple[str, int], int]:
        """A consistent copy of `requests`, safe to read while other threads scan."""
        with self._count_lock:
            return dict(self.requests)

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, {}
        for client in {id(c): c for c in clients.values()}.values():
            client.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- transport ----------------------------------------------------------------------

    def _request(
        self, method: str, image: ImageRef, path: str, headers: dict[str, str]
    ) -> httpx.Response:
        host = endpoint(image.registry)
        auth = self._auth.for_request(image.registry, f"repository:{image.repository}:pull")

        def send() -> httpx.Response:
            self._limiter.wait(image.registry)
            return self._send_once(method, host, path, headers, auth)

        try:
            return self._retry.run(send, host)
        except httpx.HTTPError as exc:  # not transport errors (retried): decoding, redirects
            raise RegistryUnavailable(
                f"invalid response from {host} ({type(exc).__name__})"
            ) from exc

    def _get_body(self, image: ImageRef, path: str, accept: str) -> bytes | None:
        response = self._request("GET", image, path, {"Accept": accept})
        if response.status_code == 404:
            return None
        self._raise_for_status(response, image)
        return response.content

    def _send_once(
        self, method: str, host: str, path: str, headers: dict[str, str], auth: httpx.Auth
    ) -> httpx.Response:
        scheme = self._schemes.get(host)
        may_fall_back = self._insecure.allows_plain_http(host)
        client = self._client(verify=not may_fall_back)
        if scheme is not None or not may_fall_back:
            url = f"{scheme or 'https'}://{host}{path}"
            return client.request(method, url, headers=headers, auth=auth)
        # one request per host finds out whether it speaks HTTPS; the other threads wait for
        # its answer instead of each failing a TLS handshake of its own. When it fails
        # altogether (host down), they go on probing in parallel, as if nobody had.
        with self._schemes_lock:
            probing = self._probes.get(host)
            if probing is None:
                self._probes[host] = threading.Event()
        if probing is None:
            try:
                return self._probe(client, method, host, path, headers, auth)
            finally:
                self._probes[host].set()
        probing.wait()
        if host in self._schemes:
            return self._send_once(method, host, path, headers, auth)
        return self._probe(client, method, host, path, headers, auth)

    def _probe(
        self,
        client: httpx.Client,
        method: str,
        host: str,
        path: str,
        headers: dict[str, str],
        auth: httpx.Auth,
    ) -> httpx.Response:
        """HTTPS first, then plain HTTP (loopback and insecure hosts only); remembered."""
        try:
            response = client.request(method, f"https://{host}{path}", headers=headers, auth=auth)
        except httpx.TransportError as exc:
            log.debug("%s: HTTPS failed (%s), trying plain HTTP", host, type(exc).__name__)
            response = client.request(method, f"http://{host}{path}", headers=headers, auth=auth)
            scheme = "http"
        else:
            scheme = "https"
        with self._schemes_lock:
            self._schemes[host] = scheme
        if scheme == "http":
            log.info("%s: using plain HTTP (loopback or insecure registry)", host)
        return response

    def _send_absolute(self, request: httpx.Request) -> httpx.Response:
        """Send a request whose URL is complete (token realms): no scheme fallback, no auth."""
        host = request.url.netloc.decode("ascii")
        client = self._client(verify=not self._insecure.allows_plain_http(host))
        return client.send(request)

    def _count(self, response: httpx.Response) -> None:
        key = (response.request.url.netloc.decode("ascii"), response.status_code)
        with self._count_lock:
            self.requests[key] += 1

    def _raise_for_status(self, response: httpx.Response, image: ImageRef) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        registry = image.registry
        if status in (401, 403):
            what = "unauthorized" if status == 401 else "denied"
            if self._auth.has_credentials(registry):
                detail = f"credentials for {registry} rejected"
            else:
                detail = f"no credentials for {registry}; the repository may be private"
            raise AuthError(f"{status} {what} ({detail})")
        code = _error_code(response)
        suffix = f" ({code})" if code else ""
        if status == 404:
            raise RegistryError(f"repository {image.repository} not found on {registry}{suffix}")
        raise RegistryError(f"HTTP {status} from {registry} for {image.repository}{suffix}")


def _tags_page(response: httpx.Response, image: ImageRef) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        raise RegistryUnavailable(f"invalid JSON from {image.registry} (tags/list)") from None
    tags = body.get("tags") if isinstance(body, dict) else ()
    if tags is None:  # Distribution sends `"tags": null` for a repository without tags
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise RegistryUnavailable(f"unexpected tags/list answer from {image.registry}")
    return tags


def _next_page(response: httpx.Response) -> str | None:
    """Path and query of the `Link: <…>; rel="next"` URL, relative or absolute.

    Only the path is kept: the next page is fetched from the same host with the same
    scheme and credentials, so a Link that names another host cannot receive them.
    """
    url: str | None = response.links.get("next", {}).get("url")
    if not url:
        return None
    try:
        return response.url.join(url).raw_path.decode("ascii")
    except (httpx.InvalidURL, UnicodeError):
        raise RegistryUnavailable("invalid Link header in tags/list answer") from None


def _media_type(response: httpx.Response) -> str:
    value: str = response.headers.get("Content-Type", "")
    return value.split(";")[0].strip()


def _body_media_type(response: httpx.Response, image: ImageRef) -> str:
    try:
        body = response.json()
    except ValueError:
        raise RegistryUnavailable(f"invalid manifest JSON from {image.registry}") from None
    value = body.get("mediaType") if isinstance(body, dict) else None
    return value if isinstance(value, str) else ""


def _error_code(response: httpx.Response) -> str:
    """The registry's error code (`NAME_UNKNOWN`), never its free-text message."""
    try:
        code = response.json()["errors"][0]["code"]
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
    if isinstance(code, str) and _ERROR_CODE.fullmatch(code):
        return code
    return ""
