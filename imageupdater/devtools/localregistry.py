"""Run Debian's `docker-registry` (CNCF Distribution 2.8) as a child process.

Used by the demo, the test suite and the benchmark: a real registry is the honest
oracle for the client, and this one is a single Go binary that starts in ~50 ms with no
Docker engine. Decisions, each from a failure seen in practice:

* the port is a free 127.0.0.1 port picked by binding port 0 (loopback only), and a
  random `X-Registry-Instance` header proves that the process answering `/v2/` is ours,
  not another registry that won the port; a lost race is retried with a new port;
* storage goes under `/dev/shm` when writable (pushes are ~2x faster than on disk);
* the config is JSON (a subset of YAML), so no YAML library is needed;
* stop is SIGTERM then wait (SIGINT is ignored by the registry when started in the
  background), so no zombie or storage is left behind.

The binary is `/usr/bin/docker-registry`, or `$IMAGEUPDATER_REGISTRY_BIN`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

DEFAULT_REGISTRY_BIN = "/usr/bin/docker-registry"
REGISTRY_BIN_ENV = "IMAGEUPDATER_REGISTRY_BIN"
#: Linux tmpfs; mkdtemp makes a private (0700), unguessable directory in it
TMPFS = "/dev/shm"  # noqa: S108


class RegistryNotInstalled(RuntimeError):
    """The registry binary is missing: say how to get it instead of a bare ENOENT."""


@dataclass(frozen=True, slots=True)
class TokenAuth:
    """Registry side of Bearer token auth (`auth.token` in the registry config)."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: str  # PEM certificate of the key that signs the tokens


@dataclass(frozen=True, slots=True)
class TlsFiles:
    certificate: str
    key: str
    ca: str  # the CA that signed `certificate`, for clients


def registry_binary() -> str:
    path = os.environ.get(REGISTRY_BIN_ENV) or DEFAULT_REGISTRY_BIN
    if not os.access(path, os.X_OK):
        raise RegistryNotInstalled(
            f"registry binary {path} not found or not executable: install Debian's"
            f" docker-registry package (apt-get install docker-registry) or set {REGISTRY_BIN_ENV}"
        )
    return path


class LocalRegistry:
    """A running registry; `stop()` (or leaving the `with` block) ends it and its storage."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        port: int,
        scheme: str,
        root: str,
        config_path: str,
        log_path: str,
        owns_root: bool,
    ) -> None:
        self.process = process
        self.host = f"127.0.0.1:{port}"
        self.url = f"{scheme}://{self.host}"
        self.root = root
        self.config_path = config_path
        self.log_path = log_path
        self._owns_root = owns_root

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, timeout: float = 5.0) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalRegistry:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_registry(
    workdir: str | os.PathLike[str],
    *,
    htpasswd: tuple[str, str] | None = None,
    token_auth: TokenAuth | None = None,
    tls: TlsFiles | None = None,
    storage_root: str | None = None,
    ready_timeout: float = 10.0,
) -> LocalRegistry:
    """Start a registry on a free 127.0.0.1 port and wait until it answers.

    `htpasswd=(user, password)` turns on Basic auth (bcrypt, needs the `bcrypt`
    package); `token_auth` turns on Bearer tokens (see `devtools.tokenserver`); `tls`
    serves HTTPS. `storage_root` keeps data across restarts (not removed on stop).
    """
    if htpasswd and token_auth:
        raise ValueError("the registry supports one auth method: htpasswd or token_auth")
    binary = registry_binary()
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    owns_root = storage_root is None
    if storage_root is None:
        base = TMPFS if os.access(TMPFS, os.W_OK) else str(work)
        storage_root = tempfile.mkdtemp(prefix="imageupdater-registry-", dir=base)
    auth = _auth_config(work, htpasswd, token_auth)
    try:
        for _ in range(3):
            started = _start_once(binary, work, storage_root, auth, tls, ready_timeout, owns_root)
            if started is not None:
                return started
        raise RuntimeError("registry could not bind a free port after 3 tries")
    except BaseException:
        if owns_root:
            shutil.rmtree(storage_root, ignore_errors=True)
        raise


def _start_once(
    binary: str,
    work: Path,
    storage_root: str,
    auth: dict[str, Any] | None,
    tls: TlsFiles | None,
    ready_timeout: float,
    owns_root: bool,
) -> LocalRegistry | None:
    """One start; None when another process took the port first (the caller retries)."""
    port, nonce = _free_port(), uuid.uuid4().hex
    http: dict[str, Any] = {
        "addr": f"127.0.0.1:{port}",
        "secret": "local-registry-secret",
        "headers": {"X-Content-Type-Options": ["nosniff"], "X-Registry-Instance": [nonce]},
    }
    if tls:
        http["tls"] = {"certificate": tls.certificate, "key": tls.key}
    config: dict[str, Any] = {
        "version": "0.1",
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": storage_root},
            "delete": {"enabled": True},
            "cache": {"blobdescriptor": "inmemory"},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": http,
    }
    if auth:
        config["auth"] = auth
    config_path = work / f"registry-{port}.json"
    config_path.write_text(json.dumps(config, indent=1))
    log_path = work / f"registry-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [binary, "serve", str(config_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a terminal's Ctrl-C is for the parent, not the registry
        )
    scheme = "https" if tls else "http"
    registry = LocalRegistry(
        process,
        port=port,
        scheme=scheme,
        root=storage_root,
        config_path=str(config_path),
        log_path=str(log_path),
        owns_root=False,  # start_registry cleans up on failure; set below on success
    )
    context = ssl.create_default_context(cafile=tls.ca) if tls else None
    deadline = time.monotonic() + ready_timeout
    while True:
        if process.poll() is not None:
            output = registry.log()
            if "address already in use" in output:
                return None
            raise RuntimeError(f"registry exited with {process.returncode}: {output.strip()}")
        if _instance(registry.url + "/v2/", context) == nonce:
            registry._owns_root = owns_root
            return registry
        if time.monotonic() > deadline:
            registry.stop()
            raise RuntimeError(f"registry did not answer within {ready_timeout}s")
        time.sleep(0.02)


def _instance(url: str, context: ssl.SSLContext | None) -> str | None:
    """The X-Registry-Instance header of `url`, whatever the status (401 with auth on)."""
    try:
        with urllib.request.urlopen(url, timeout=1, context=context) as response:  # noqa: S310
            return str(response.headers.get("X-Registry-Instance"))
    except urllib.error.HTTPError as exc:
        return str(exc.headers.get("X-Registry-Instance"))
    except OSError:
        return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _auth_config(
    work: Path, htpasswd: tuple[str, str] | None, token_auth: TokenAuth | None
) -> dict[str, Any] | None:
    if token_auth:
        return {
            "token": {
                "realm": token_auth.realm,
                "service": token_auth.service,
                "issuer": token_auth.issuer,
                "rootcertbundle": token_auth.rootcertbundle,
            }
        }
    if htpasswd:
        try:
            import bcrypt
        except ImportError as exc:  # a dev dependency; the demo runs without auth
            raise RuntimeError("htpasswd auth needs the bcrypt package") from exc
        user, password = htpasswd
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
        path = work / f"htpasswd-{uuid.uuid4().hex[:8]}"
        path.write_text(f"{user}:{hashed}\n")
        # the registry only accepts bcrypt entries; a missing file would be created with a
        # random password, so the file is written before the registry starts
        return {"htpasswd": {"realm": "imageupdater-local", "path": str(path.resolve())}}
    return None
