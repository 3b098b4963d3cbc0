"""The daemon's HTTP side: `/metrics`, `/healthz`, `/readyz`, `POST /webhooks/<source>`.

stdlib `ThreadingHTTPServer`: four routes and small bodies do not justify a framework.

Webhooks only say *which image was pushed*; they never carry a decision. The daemon drops
that image's cached tag list and runs a cycle of every automation whose last plan used the
image, and the cycle asks the registry as usual. So a forged or replayed event can at most
cause an extra cycle; it still needs the shared secret (SPEC §8), compared in constant time:
``X-Imageupdater-Secret: <secret>`` or ``X-Hub-Signature-256: sha256=<HMAC-SHA256(body)>``.
Without a configured secret every webhook is refused (401).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from imageupdater.errors import ConfigError
from imageupdater.registry import parse_reference

log = logging.getLogger(__name__)

MAX_BODY = 1 << 20
SOURCES = ("distribution", "dockerhub", "harbor", "github", "generic")


@dataclass(frozen=True, slots=True)
class Hooks:
    """What the server asks the daemon."""

    metrics: Callable[[], bytes]
    metrics_type: str
    ready: Callable[[], bool]
    healthy: Callable[[], bool]
    #: canonical images pushed -> names of the automations woken up
    pushed: Callable[[Sequence[str]], list[str]]
    secret: str | None


class WebhookError(ValueError):
    """The body is not an event of the named source."""


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _strip_tag(value: str) -> str:
    """`host/repo:tag` or `host/repo@sha256:…` -> `host/repo` (a port colon stays)."""
    value = value.split("@", 1)[0]
    slash = value.rfind("/")
    colon = value.rfind(":")
    return value[:colon] if colon > slash else value


def pushed_images(source: str, body: bytes) -> list[str]:
    """The images (as written, without tags) a push event names; WebhookError if none."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("body is not JSON") from None
    images: list[str] = []
    if source == "distribution":
        for event in _get(data, "events") or []:
            if _get(event, "action") != "push":
                continue
            repo, host = _get(event, "target", "repository"), _get(event, "request", "host")
            if isinstance(repo, str) and isinstance(host, str):
                images.append(f"{host}/{repo}")
    elif source == "dockerhub":
        name = _get(data, "repository", "repo_name")
        if isinstance(name, str):
            images.append(f"docker.io/{name}")
    elif source == "harbor":
        for resource in _get(data, "event_data", "resources") or []:
            url = _get(resource, "resource_url")
            if isinstance(url, str):
                images.append(_strip_tag(url))
    elif source == "github":
        url = _get(data, "package", "package_version", "package_url")
        owner, name = _get(data, "package", "owner", "login"), _get(data, "package", "name")
        if isinstance(url, str) and url:
            images.append(_strip_tag(url))
        elif isinstance(owner, str) and isinstance(name, str):
            images.append(f"ghcr.io/{owner.lower()}/{name}")
    elif source == "generic":
        image = _get(data, "image")
        if isinstance(image, str):
            images.append(_strip_tag(image))
    if not images:
        raise WebhookError(f"no pushed image in this {source} event")
    return images


def canonical(images: Sequence[str]) -> list[str]:
    """`nginx` -> `docker.io/library/nginx`, as the scan keys repositories."""
    out: list[str] = []
    for image in images:
        try:
            out.append(parse_reference(image).canonical)
        except ConfigError:
            continue
    return sorted(set(out))


def authorized(secret: str | None, headers: Any, body: bytes) -> bool:
    if not secret:
        return False
    given = headers.get("X-Imageupdater-Secret")
    if given is not None:
        return hmac.compare_digest(given.encode(), secret.encode())
    signature = headers.get("X-Hub-Signature-256")
    if signature is not None and signature.startswith("sha256="):
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.removeprefix("sha256=").encode(), expected.encode())
    return False


def _handler(hooks: Hooks) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "imageupdater"
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            log.debug("http: " + format, *args)

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path == "/metrics":
                self._send(200, hooks.metrics(), hooks.metrics_type)
            elif self.path == "/healthz":
                ok = hooks.healthy()
                self._send(200 if ok else 503, b"ok\n" if ok else b"unhealthy\n")
            elif self.path == "/readyz":
                ok = hooks.ready()
                self._send(200 if ok else 503, b"ready\n" if ok else b"no successful cycle yet\n")
            else:
                self._send(404, b"not found\n")

        def do_POST(self) -> None:
            source = self.path.removeprefix("/webhooks/")
            if not self.path.startswith("/webhooks/") or source not in SOURCES:
                self._send(404, b"not found\n")
                return
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 <= length <= MAX_BODY:
                self._send(413, b"body missing or too large\n")
                return
            body = self.rfile.read(length)
            if not authorized(hooks.secret, self.headers, body):
                self._send(401, b"unauthorized\n")
                return
            try:
                images = canonical(pushed_images(source, body))
            except WebhookError as exc:
                self._send(400, f"{exc}\n".encode())
                return
            woken = hooks.pushed(images)
            log.info("webhook %s: %s -> %s", source, ", ".join(images), ", ".join(woken) or "-")
            answer = json.dumps({"images": images, "automations": woken}).encode()
            self._send(202, answer, "application/json")

    return Handler


class Server:
    def __init__(self, host: str, port: int, hooks: Hooks) -> None:
        self.httpd = ThreadingHTTPServer((host, port), _handler(hooks))
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, name="http", kwargs={"poll_interval": 0.5}
        )

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join()
