"""A fake Kubernetes API server: real HTTP on 127.0.0.1, the real paths and JSON shapes.

The official client runs unmodified against it through a generated kubeconfig (bearer
token auth included), so URL building, serialisation, status handling and our error
translation are all exercised. Implemented: Lease CRUD with `resourceVersion` conflicts
(409 on a stale PUT, 409 AlreadyExists on a duplicate POST) and label-selector lists;
`get` of Secrets; `list` of the pod-template kinds. Every Lease written is validated
against the official schema (kubernetes-validate, bundled offline). Every request is
recorded so tests can assert what was (never) asked, e.g. no `list secrets`.
"""

from __future__ import annotations

import copy
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import yaml

TOKEN = "fake-token-0123456789"
SCHEMA_VERSION = "1.33"

_LEASES = re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/([^/]+)/leases(?:/([^/]+))?$")
_SECRET = re.compile(r"^/api/v1/namespaces/([^/]+)/secrets/([^/]+)$")
_LIST = re.compile(
    r"^/(?:api/v1|apis/apps/v1|apis/batch/v1)/namespaces/([^/]+)/"
    r"(pods|deployments|statefulsets|daemonsets|replicasets|cronjobs|jobs)$"
)
KIND_OF = {
    "pods": ("v1", "Pod"),
    "deployments": ("apps/v1", "Deployment"),
    "statefulsets": ("apps/v1", "StatefulSet"),
    "daemonsets": ("apps/v1", "DaemonSet"),
    "replicasets": ("apps/v1", "ReplicaSet"),
    "cronjobs": ("batch/v1", "CronJob"),
    "jobs": ("batch/v1", "Job"),
}


def status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class State:
    leases: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: (plural, namespace) -> objects
    workloads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    #: path regex -> HTTP status to answer instead (outages, RBAC denials)
    faults: dict[str, int] = field(default_factory=dict)
    #: called with (namespace, name) before a Lease PUT is checked: lets a test sneak in
    #: a competing write between our GET and PUT
    before_put: Callable[[str, str], None] | None = None
    version: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)

    def next_version(self) -> str:
        self.version += 1
        return str(self.version)

    def add_workload(self, obj: dict[str, Any]) -> None:
        plural = next(p for p, (_, kind) in KIND_OF.items() if kind == obj["kind"])
        namespace = obj["metadata"].get("namespace", "default")
        obj["metadata"]["namespace"] = namespace
        self.workloads.setdefault((plural, namespace), []).append(obj)

    def bump_lease(self, namespace: str, name: str, holder: str) -> None:
        """Another replica's write: new holder, new resourceVersion."""
        with self.lock:
            lease = self.leases[namespace, name]
            lease["spec"]["holderIdentity"] = holder
            lease["metadata"]["resourceVersion"] = self.next_version()


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        loaded: dict[str, Any] = json.loads(self.rfile.read(length) or b"{}")
        return loaded

    def _handle(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        with state.lock:
            state.requests.append((method, url.path))
            faults = dict(state.faults)
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._send(401, status(401, "Unauthorized", "Unauthorized"))
            return
        for pattern, code in faults.items():
            if re.search(pattern, url.path):
                self._send(code, status(code, "Forbidden" if code == 403 else "InternalError",
                                        f"injected {code}"))  # fmt: skip
                return
        body = self._body() if method in ("POST", "PUT") else {}
        if m := _LEASES.match(url.path):
            self._send(*self._lease(method, m[1], m[2], body, parse_qs(url.query)))
        elif (m := _SECRET.match(url.path)) and method == "GET":
            with state.lock:
                secret = state.secrets.get((m[1], m[2]))
            if secret is None:
                self._send(404, status(404, "NotFound", f'secrets "{m[2]}" not found'))
            else:
                self._send(200, secret)
        elif (m := _LIST.match(url.path)) and method == "GET":
            api_version, kind = KIND_OF[m[2]]
            with state.lock:
                items = copy.deepcopy(state.workloads.get((m[2], m[1]), []))
            for item in items:
                item.setdefault("apiVersion", api_version)
                item.setdefault("kind", kind)
            self._send(200, {"apiVersion": api_version, "kind": f"{kind}List",
                             "metadata": {"resourceVersion": "1"}, "items": items})  # fmt: skip
        else:
            self._send(404, status(404, "NotFound", "the server could not find the resource"))

    def _lease(
        self, method: str, ns: str, name: str | None, body: dict[str, Any], query: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        state = self.server.state
        with state.lock:
            if name is None and method == "GET":
                text = (query.get("labelSelector") or [""])[0]
                selector = dict(part.split("=", 1) for part in text.split(",") if part)
                items = [
                    copy.deepcopy(lease)
                    for (namespace, _), lease in sorted(state.leases.items())
                    if namespace == ns
                    and all(lease["metadata"].get("labels", {}).get(k) == v
                            for k, v in selector.items())
                ]  # fmt: skip
                meta = {"resourceVersion": str(state.version)}
                kind = {"apiVersion": "coordination.k8s.io/v1", "kind": "LeaseList"}
                return 200, {**kind, "metadata": meta, "items": items}
            if name is None and method == "POST":
                _validate(body)
                key = (ns, body["metadata"]["name"])
                if key in state.leases:
                    return 409, status(409, "AlreadyExists", f'leases "{key[1]}" already exists')
                return 201, self._store(key, body)
            key = (ns, str(name))
            if method == "GET":
                if key not in state.leases:
                    return 404, status(404, "NotFound", f'leases "{name}" not found')
                return 200, copy.deepcopy(state.leases[key])
            if method == "PUT":
                _validate(body)
                if state.before_put is not None:
                    hook, state.before_put = state.before_put, None
                    hook(*key)
                if key not in state.leases:
                    return 404, status(404, "NotFound", f'leases "{name}" not found')
                wanted = body["metadata"].get("resourceVersion")
                if wanted and wanted != state.leases[key]["metadata"]["resourceVersion"]:
                    return 409, status(
                        409, "Conflict",
                        f'Operation cannot be fulfilled on leases.coordination.k8s.io "{name}":'
                        " the object has been modified; please apply your changes to the latest"
                        " version and try again",
                    )  # fmt: skip
                return 200, self._store(key, body)
            if method == "DELETE":
                if state.leases.pop(key, None) is None:
                    return 404, status(404, "NotFound", f'leases "{name}" not found')
                return 200, status(200, "", "deleted") | {"status": "Success"}
        return 405, status(405, "MethodNotAllowed", method)

    def _store(self, key: tuple[str, str], body: dict[str, Any]) -> dict[str, Any]:
        state = self.server.state
        stored = copy.deepcopy(body)
        stored["metadata"]["namespace"] = key[0]
        stored["metadata"]["resourceVersion"] = state.next_version()
        stored["metadata"].setdefault("uid", f"uid-{key[1]}")
        state.leases[key] = stored
        return copy.deepcopy(stored)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")


_MICROTIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}(?:Z|[+-]\d\d:\d\d)$")


def _validate(body: dict[str, Any]) -> None:
    """A Lease the real API server would reject is a bug in our code: fail loudly (the
    schema, plus the RFC3339Micro layout the server parses MicroTime with)."""
    kubernetes_validate.validate(body, SCHEMA_VERSION, strict=True)
    for key in ("acquireTime", "renewTime"):
        value = (body.get("spec") or {}).get(key)
        if value is not None and not _MICROTIME.match(value):
            raise AssertionError(f"{key} {value!r} is not a MicroTime")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: State


@dataclass
class FakeApi:
    state: State
    url: str
    kubeconfig: Path


def write_kubeconfig(path: Path, url: str, *, namespace: str = "imageupdater") -> Path:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "bot", "user": {"token": TOKEN}}],
        "contexts": [
            {"name": "fake", "context": {"cluster": "fake", "user": "bot", "namespace": namespace}},
            {"name": "other", "context": {"cluster": "fake", "user": "bot"}},
            {"name": "nobody", "context": {"cluster": "fake", "user": "nobody"}},
        ],
        "current-context": "fake",
    }
    config["users"].append({"name": "nobody", "user": {"token": "wrong"}})
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


@contextmanager
def fake_api(directory: Path) -> Iterator[FakeApi]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.state = State()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield FakeApi(server.state, url, write_kubeconfig(directory / "kubeconfig", url))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
