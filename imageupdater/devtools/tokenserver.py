"""A Docker token server for a local registry's `auth: token` (needs PyJWT, cryptography).

Enough of the Docker token spec to exercise the real Bearer flow: `GET /token?service=
&scope=` (with Basic credentials when `users` is set) answers `{"token", "access_token",
"expires_in", "issued_at"}`. Tokens are RS256 JWTs whose `kid` is the libtrust key ID of
the signer certificate, with `aud` a string: Distribution 2.8 rejects an array. Every
request is recorded in `.requests`, so tests can count token fetches.

    with start_token_server(tmp, users={"alice": "s3cret"}) as tokens:
        with start_registry(tmp, token_auth=tokens.auth) as registry: ...
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .localregistry import TokenAuth
from .pki import make_signer

Access = list[dict[str, Any]]
#: grant(user, requested access) -> granted access; default grants what was asked
Grant = Callable[[str, Access], Access]


def libtrust_kid(key: rsa.RSAPublicKey) -> str:
    """base32(sha256(DER SubjectPublicKeyInfo)[:30]) in 4-character groups joined by ':'."""
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    text = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(text[i : i + 4] for i in range(0, len(text), 4))


def parse_scope(scope: str) -> dict[str, Any]:
    """`repository:team/app:pull,push` -> {"type", "name", "actions"}."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    return {"type": kind, "name": name, "actions": actions.split(",")}


class TokenServer:
    def __init__(
        self,
        workdir: str | Path,
        *,
        users: Mapping[str, str] | None = None,
        ttl: int = 300,
        service: str = "local-registry",
        issuer: str = "imageupdater-devtools",
        grant: Grant | None = None,
    ) -> None:
        self._key, cert_path = make_signer(workdir)
        self._kid = libtrust_kid(self._key.public_key())
        self.users = dict(users) if users is not None else None
        self.ttl, self.service, self.issuer, self.grant = ttl, service, issuer, grant
        self.requests: list[dict[str, Any]] = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.realm = f"http://127.0.0.1:{self._server.server_address[1]}/token"
        self.auth = TokenAuth(self.realm, service, issuer, str(cert_path))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def issue(self, subject: str, access: Access, **claims: Any) -> str:
        """A signed token; `claims` override the defaults (tests of bad tokens)."""
        now = int(time.time())
        payload = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + self.ttl,
            "nbf": now - 5,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
            **claims,
        }
        return jwt.encode(payload, self._key, algorithm="RS256", headers={"kid": self._kid})

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> TokenServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _answer(self, authorization: str, query: str) -> tuple[int, bytes]:
        user = "anonymous"
        if self.users is not None:
            user, ok = _check_basic(authorization, self.users)
            if not ok:
                return 401, b""
        params = urllib.parse.parse_qs(query)
        scopes = [s for value in params.get("scope", []) for s in value.split(" ") if s]
        requested = [parse_scope(s) for s in scopes]
        access = self.grant(user, requested) if self.grant else requested
        self.requests.append(
            {"user": user, "service": params.get("service", [""])[0], "scopes": scopes}
        )
        token = self.issue(user, access)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        body = {"token": token, "access_token": token, "expires_in": self.ttl, "issued_at": issued}
        return 200, json.dumps(body).encode()


def start_token_server(workdir: str | Path, **options: Any) -> TokenServer:
    return TokenServer(workdir, **options)


def _check_basic(header: str, users: Mapping[str, str]) -> tuple[str, bool]:
    if not header.startswith("Basic "):
        return "anonymous", False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return "anonymous", False
    return user, users.get(user) == password


def _handler(server: TokenServer) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet in tests
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            status, body = server._answer(self.headers.get("Authorization", ""), url.query)
            self.send_response(status)
            if status == 401:
                self.send_header("WWW-Authenticate", 'Basic realm="token"')
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
