"""Registry credentials from a docker `config.json`, through the `docker` package only.

`docker.auth` already knows every corner of the format (`auths` with base64 `auth`,
`identitytoken`, legacy URL keys such as `https://index.docker.io/v1/`, `credsStore`,
`credHelpers`) and never talks to a daemon; credential helpers are plain programs it runs.

Where the config comes from, first match wins:
1. the `docker_config` path given by the caller (`--registry-config`); missing = error,
2. the `DOCKER_AUTH_CONFIG` environment variable holding the JSON itself (the GitLab CI
   convention, handy for CronJobs and CI without a file),
3. `$DOCKER_CONFIG/config.json`, then `~/.docker/config.json`; absent = anonymous.

The file is read once, at construction, so a broken config fails early and loudly; the
lookups (which may run a helper program) happen per registry on first use and are cached.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageupdater.errors import AuthError, ConfigError

log = logging.getLogger(__name__)

ENV_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"


@dataclass(frozen=True, slots=True, repr=False)
class Credentials:
    """Either a username/password pair or an OAuth identity (refresh) token."""

    username: str = ""
    password: str = ""
    identity_token: str = ""

    def __repr__(self) -> str:  # never show a secret, even in a debugger or a traceback
        return f"Credentials(username={self.username!r}, password=***)"


def default_config_path() -> Path:
    docker_config = os.environ.get("DOCKER_CONFIG")
    if docker_config:
        return Path(docker_config) / "config.json"
    return Path.home() / ".docker" / "config.json"


class CredentialStore:
    """Thread-safe, cached `registry name -> Credentials | None`."""

    def __init__(self, docker_config: str | os.PathLike[str] | None = None) -> None:
        self._source, data = _read_config(docker_config)
        self._config = _parse(data, self._source)
        self._cache: dict[str, Credentials | None] = {}
        self._lock = threading.Lock()

    def lookup(self, registry: str) -> Credentials | None:
        """Credentials for `registry` (`docker.io`, `ghcr.io`, `127.0.0.1:5000`), or None."""
        if self._config is None:
            return None  # no config at all: nothing to resolve, docker.auth never imported
        with self._lock:
            if registry not in self._cache:
                self._cache[registry] = self._resolve(registry)
            return self._cache[registry]

    def _resolve(self, registry: str) -> Credentials | None:
        from docker import auth, errors

        config = self._config
        assert config is not None
        store = config.get_credential_store(registry)
        if store and shutil.which(f"docker-credential-{store}") is None:
            # A config.json copied from a laptop often names `desktop` or `osxkeychain`:
            # fall back to the plain `auths` entries instead of failing every image.
            log.warning(
                "credential helper docker-credential-%s (from %s) is not on PATH;"
                " using the auths entries for %s",
                store,
                self._source,
                registry,
            )
            config = auth.AuthConfig({"auths": config.auths})
        try:
            entry = config.resolve_authconfig(registry)
        except errors.DockerException as exc:
            raise AuthError(
                f"credential helper docker-credential-{store} failed for {registry}"
            ) from exc
        return _credentials(entry)


def _read_config(path: str | os.PathLike[str] | None) -> tuple[str, dict[str, Any]]:
    if path is None and os.environ.get(ENV_AUTH_CONFIG):
        return f"${ENV_AUTH_CONFIG}", _loads(os.environ[ENV_AUTH_CONFIG], f"${ENV_AUTH_CONFIG}")
    explicit = path is not None
    file = Path(path) if path is not None else default_config_path()
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"registry config {file} does not exist") from None
        return str(file), {}
    except OSError as exc:
        raise ConfigError(f"cannot read registry config {file}: {exc.strerror}") from exc
    return str(file), _loads(text, str(file))


def _loads(text: str, source: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(f"registry config {source} is not valid JSON") from None
    if not isinstance(data, dict):
        raise ConfigError(f"registry config {source} must be a JSON object")
    return data


def _parse(data: dict[str, Any], source: str) -> Any:
    """A `docker.auth.AuthConfig` (None for an empty config: no entry, no helper, so no
    credentials; the docker package takes ~40 ms to import); errors name the file, never
    an entry's content."""
    if not data:  # docker.auth would go looking for ~/.docker/config.json on its own
        return None
    from docker import auth, errors

    try:
        return auth.load_config(config_dict=dict(data))
    except (errors.DockerException, ValueError, TypeError) as exc:
        # binascii.Error (bad base64) is a ValueError; neither message shows a secret, but
        # the type is enough to act on.
        raise ConfigError(
            f"registry config {source} has an invalid auth entry ({type(exc).__name__})"
        ) from None


def _credentials(entry: dict[str, Any] | None) -> Credentials | None:
    """`auths` entries use lower-case keys, credential helpers capitalised ones."""
    if not entry:
        return None
    token = entry.get("IdentityToken") or ""  # docker.auth capitalises it from both sources
    user = entry.get("username") or entry.get("Username") or ""
    password = entry.get("password") or entry.get("Password") or ""
    if token:
        return Credentials(username=user, identity_token=str(token))
    if user or password:
        return Credentials(username=str(user), password=str(password))
    return None
