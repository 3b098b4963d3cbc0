"""A proxy in front of the real registry that can answer 500, 429, garbage, or be down."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode: str | None = None  # None | "500" | "429" | "garbage" | "down"
        self.requests = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _handle(self) -> None:
                proxy.requests += 1
                mode = proxy.mode
                if mode == "down":
                    self.close_connection = True
                    self.connection.close()
                    return
                if mode == "500":
                    self._answer(500, b"oops", {})
                    return
                if mode == "429":
                    self._answer(429, b"slow down", {"Retry-After": "0"})
                    return
                if mode == "garbage" and "/tags/list" in self.path:
                    self._answer(200, b"\x00not json{", {"Content-Type": "application/json"})
                    return
                request = urllib.request.Request(
                    proxy.upstream + self.path, method=self.command,
                    headers={k: v for k, v in self.headers.items() if k.lower() == "accept"},
                )  # fmt: skip
                try:
                    with urllib.request.urlopen(request, timeout=10) as r:
                        status, body, hdrs = r.status, r.read(), dict(r.headers.items())
                except urllib.error.HTTPError as exc:
                    status, body, hdrs = exc.code, exc.read(), dict(exc.headers.items())
                keep = ("content-type", "docker-content-digest", "link")
                self._answer(status, body, {k: v for k, v in hdrs.items() if k.lower() in keep})

            do_GET = do_HEAD = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
