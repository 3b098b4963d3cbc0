"""In-process registries for httpx.MockTransport: what Distribution 2.8 cannot do
(pagination, 429, outages, garbage) and hosts we must not reach (Docker Hub)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import httpx

from imageupdater.registry import RegistryClient

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that keeps every request it saw."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        # a snapshot: the auth flow re-sends the same Request object with new headers
        copy = httpx.Request(
            request.method, request.url, headers=request.headers.copy(), content=request.read()
        )
        with self._lock:
            self.requests.append(copy)
        return self.handler(request)

    def urls(self) -> list[str]:
        return [str(r.url) for r in self.requests]

    def paths(self, host: str | None = None) -> list[str]:
        return [r.url.path for r in self.requests if host is None or r.url.host == host]


def client(handler: Handler, **options: Any) -> tuple[RegistryClient, Recorder, list[float]]:
    """A RegistryClient over `handler` with recorded requests and recorded (not slept) waits."""
    recorder = Recorder(handler)
    sleeps: list[float] = []
    registry = RegistryClient(
        transport=httpx.MockTransport(recorder), sleep=sleeps.append, **options
    )
    return registry, recorder, sleeps


def errors(status: int, code: str) -> httpx.Response:
    return httpx.Response(status, json={"errors": [{"code": code, "message": code.lower()}]})


def tags_response(
    repo: str, tags: list[str] | None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(200, json={"name": repo, "tags": tags}, headers=headers or {})


def paginated(repo: str, tags: list[str], page_size: int, *, absolute: bool = False) -> Handler:
    """OCI pagination: ?n=&last=, `Link: <…>; rel="next"` relative or absolute."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != f"/v2/{repo}/tags/list":
            return errors(404, "NAME_UNKNOWN")
        n = int(request.url.params.get("n", page_size))
        last = request.url.params.get("last")
        start = tags.index(last) + 1 if last in tags else 0
        page = tags[start : start + n]
        headers = {}
        if start + n < len(tags):
            link = f"/v2/{repo}/tags/list?n={n}&last={page[-1]}"
            if absolute:
                link = f"{request.url.scheme}://{request.url.netloc.decode()}{link}"
            headers["Link"] = f'<{link}>; rel="next"'
        return tags_response(repo, page, headers)

    return handler


def token_response(token: str, expires_in: int | None = 300) -> httpx.Response:
    body: dict[str, Any] = {"token": token}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return httpx.Response(200, content=json.dumps(body).encode())


def write_docker_config(path: Any, auths: dict[str, tuple[str, str]], **extra: Any) -> str:
    """A docker config.json with base64 `auth` entries; returns its path."""
    import base64

    entries = {
        host: {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
        for host, (user, password) in auths.items()
    }
    path.write_text(json.dumps({"auths": entries, **extra}))
    return str(path)
