"""Registry authentication: anonymous, Basic, and the Bearer token challenge.

Every registry request carries a per-request `httpx.Auth` whose `auth_flow` sends the
request, answers a `401` challenge once (Basic credentials, or a token fetched from the
challenge's realm) and sends it again. What it learns is shared by all threads:

* the challenge of each host, so the next request to that host authenticates up front
  (Basic at once; Bearer by fetching the new repository's token before the first try),
  which saves one 401 round trip per repository;
* tokens per (realm, service, scope, registry) until `expires_in` (default 60 s, as the
  Docker token spec says) minus a safety margin. A token the registry rejects is
  refetched once, then the 401 is final and the caller reports an `AuthError`.

Credentials go to the token realm only over HTTPS, or to a host where plain HTTP is
allowed anyway (loopback, `--insecure-registry`).
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

import httpx

from imageupdater.errors import AuthError, RegistryUnavailable

from .credentials import Credentials, CredentialStore

#: tokens are refreshed this long before the registry would reject them
EXPIRY_MARGIN = 0.1
DEFAULT_TOKEN_TTL = 60.0
CLIENT_ID = "imageupdater"

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')
_SCHEME = re.compile(r"(?:^|,)\s*(basic|bearer)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # "basic" or "bearer"
    params: Mapping[str, str] = field(default_factory=dict)

    def without_scope(self) -> Challenge:
        return Challenge(self.scheme, {k: v for k, v in self.params.items() if k != "scope"})


def parse_challenges(headers: list[str]) -> Challenge | None:
    """The most useful challenge in `WWW-Authenticate` headers: Bearer, else Basic."""
    found: dict[str, Challenge] = {}
    for header in headers:
        starts = list(_SCHEME.finditer(header))
        for i, match in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(header)
            body = header[match.end() : end]
            params = {
                key.lower(): (quoted.replace('\\"', '"') if quoted else bare)
                for key, quoted, bare in _PARAM.findall(body)
            }
            scheme = match.group(1).lower()
            found.setdefault(scheme, Challenge(scheme, params))
    return found.get("bearer") or found.get("basic")


class Authenticator:
    """Shared state of the challenge dance; `for_request` gives the per-request `httpx.Auth`."""

    def __init__(
        self,
        credentials: CredentialStore,
        send: Callable[[httpx.Request], httpx.Response],
        allows_plain_http: Callable[[str], bool],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._credentials = credentials
        self._send = send
        self._allows_plain_http = allows_plain_http
        self._clock = clock
        self._lock = threading.Lock()
        self._challenges: dict[str, Challenge] = {}
        self._tokens: dict[tuple[str, str, str, str], tuple[str, float]] = {}
        self._fetch_locks: dict[tuple[str, str, str, str], threading.Lock] = {}

    def for_request(self, registry: str, scope: str) -> httpx.Auth:
        return _ChallengeAuth(self, registry, scope)

    def has_credentials(self, registry: str) -> bool:
        return self._credentials.lookup(registry) is not None

    # -- used by _ChallengeAuth ---------------------------------------------------------

    def remember(self, host: str, challenge: Challenge) -> None:
        with self._lock:
            self._challenges[host] = challenge.without_scope()

    def known_challenge(self, host: str) -> Challenge | None:
        with self._lock:
            return self._challenges.get(host)

    def answer(
        self, challenge: Challenge, registry: str, scope: str, *, stale: str | None = None
    ) -> str | None:
        """The Authorization header that answers `challenge`, or None if we have nothing."""
        creds = self._credentials.lookup(registry)
        if challenge.scheme == "basic":
            if creds is None or not (creds.username or creds.password):
                return None
            pair = f"{creds.username}:{creds.password}".encode()
            return "Basic " + base64.b64encode(pair).decode("ascii")
        realm = challenge.params.get("realm")
        if not realm:
            raise AuthError(f"registry {registry} sent a Bearer challenge without a realm")
        scope = challenge.params.get("scope") or scope
        stale_token = stale[7:] if stale and stale.startswith("Bearer ") else None
        token = self._token(
            realm, challenge.params.get("service", ""), scope, registry, creds, stale_token
        )
        return f"Bearer {token}"

    # -- tokens -------------------------------------------------------------------------

    def _token(
        self,
        realm: str,
        service: str,
        scope: str,
        registry: str,
        creds: Credentials | None,
        stale: str | None,
    ) -> str:
        key = (realm, service, scope, registry)
        with self._lock:
            fetch_lock = self._fetch_locks.setdefault(key, threading.Lock())
        with fetch_lock:  # one fetch per scope, however many threads want it
            with self._lock:
                cached = self._tokens.get(key)
            if cached and cached[0] != stale and cached[1] > self._clock():
                return cached[0]
            token, ttl = self._fetch(realm, service, scope, registry, creds)
            with self._lock:
                self._tokens[key] = (token, self._clock() + ttl * (1 - EXPIRY_MARGIN))
            return token

    def _fetch(
        self, realm: str, service: str, scope: str, registry: str, creds: Credentials | None
    ) -> tuple[str, float]:
        url = httpx.URL(realm)
        if url.scheme not in ("http", "https"):
            raise AuthError(f"registry {registry} sent a token realm that is not an HTTP URL")
        realm_host = url.netloc.decode("ascii")
        if creds and url.scheme == "http" and not self._allows_plain_http(realm_host):
            raise AuthError(
                f"token service {realm_host} for {registry} is not HTTPS;"
                " refusing to send credentials in clear"
            )
        params: list[tuple[str, str | int | float | bool | None]] = []
        if service:
            params.append(("service", service))
        params += [("scope", s) for s in scope.split() if s]
        if creds and creds.identity_token:
            form = dict(params)
            form.update(
                grant_type="refresh_token",
                refresh_token=creds.identity_token,
                client_id=CLIENT_ID,
                access_type="offline",
            )
            request = httpx.Request("POST", url, data=form)
        else:
            headers = {}
            if creds and (creds.username or creds.password):
                pair = f"{creds.username}:{creds.password}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
            request = httpx.Request("GET", url.copy_merge_params(params), headers=headers)
        response = self._send(request)
        return _read_token(response, realm_host, registry, creds is not None)


def _read_token(
    response: httpx.Response, realm_host: str, registry: str, with_creds: bool
) -> tuple[str, float]:
    status = response.status_code
    if status == 429 or status >= 500:
        raise RegistryUnavailable(f"token service {realm_host}: HTTP {status}")
    if status != 200:
        who = f"credentials for {registry} rejected" if with_creds else "anonymous access denied"
        raise AuthError(f"{status} from token service {realm_host} ({who})")
    try:
        body = response.json()
        token = body.get("token") or body.get("access_token")
        expires_in = body.get("expires_in")
        ttl = DEFAULT_TOKEN_TTL if expires_in is None else float(expires_in)
    except (ValueError, AttributeError, TypeError):
        raise RegistryUnavailable(f"token service {realm_host}: invalid response") from None
    if not isinstance(token, str) or not token:
        raise RegistryUnavailable(f"token service {realm_host}: response without a token")
    return token, ttl


class _ChallengeAuth(httpx.Auth):
    """One request: authenticate up front if the host's scheme is known, else on a 401."""

    def __init__(self, authenticator: Authenticator, registry: str, scope: str) -> None:
        self._auth = authenticator
        self._registry = registry
        self._scope = scope

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        host = request.url.netloc.decode("ascii")
        known = self._auth.known_challenge(host)
        sent = self._auth.answer(known, self._registry, self._scope) if known else None
        if sent:
            request.headers["Authorization"] = sent
        response = yield request
        if response.status_code != 401:
            return
        challenge = parse_challenges(response.headers.get_list("www-authenticate"))
        if challenge is None:
            return
        self._auth.remember(host, challenge)
        header = self._auth.answer(challenge, self._registry, self._scope, stale=sent)
        if header is None or header == sent:
            return
        request.headers["Authorization"] = header
        yield request
