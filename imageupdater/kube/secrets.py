"""Image-pull secrets from the cluster as registry credentials (SPEC §6, §7).

A `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson` *is* a docker `config.json`
(`{"auths": {...}}`); the legacy `kubernetes.io/dockercfg` holds only the `auths` map. The
registry client already reads config.json through the `docker` package, so rather than a
second credential path the secrets are merged into one config document and written to a
private (0600) temporary file that is handed over as `--registry-config` would be, and
deleted afterwards. Nothing here logs or quotes a secret's content: errors name the Secret.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from imageupdater.errors import ConfigError
from imageupdater.kube.api import Cluster

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"
DOCKERCFG = "kubernetes.io/dockercfg"


def secret_ref(text: str, default_namespace: str) -> tuple[str, str]:
    """`name` (the controller's namespace) or `namespace/name` -> (namespace, name)."""
    namespace, _, name = text.strip().rpartition("/")
    if not name or "/" in namespace:
        raise ConfigError(f"pull secret {text!r}: expected NAME or NAMESPACE/NAME")
    return namespace or default_namespace, name


def docker_config_of(secret: dict[str, Any]) -> dict[str, Any]:
    """The docker config document inside one Secret."""
    meta = secret.get("metadata") or {}
    where = f"{meta.get('namespace', '?')}/{meta.get('name', '?')}"
    kind = secret.get("type")
    key = {DOCKERCONFIGJSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}.get(str(kind))
    if key is None:
        raise ConfigError(
            f"secret {where} has type {kind!r}; expected {DOCKERCONFIGJSON} or {DOCKERCFG}"
        )
    encoded = (secret.get("data") or {}).get(key)
    if not encoded:
        raise ConfigError(f"secret {where} has no {key} key")
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise ConfigError(f"secret {where}: {key} is not base64-encoded JSON") from None
    if not isinstance(document, dict):
        raise ConfigError(f"secret {where}: {key} must be a JSON object")
    return document if key == ".dockerconfigjson" else {"auths": document}


def merge_configs(configs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One config.json from several: `auths` and `credHelpers` merged, the later entry
    winning for a registry named twice (the order the config lists the secrets in)."""
    merged: dict[str, Any] = {}
    for config in configs:
        for section in ("auths", "credHelpers"):
            if isinstance(config.get(section), dict):
                merged.setdefault(section, {}).update(config[section])
        if config.get("credsStore"):
            merged["credsStore"] = config["credsStore"]
    return merged


def read_pull_secrets(cluster: Cluster, names: Sequence[str]) -> dict[str, Any]:
    """`get` each named Secret (never `list`: RBAC grants them by resourceName) and merge."""
    configs = []
    for text in names:
        namespace, name = secret_ref(text, cluster.namespace)
        configs.append(docker_config_of(cluster.get_secret(namespace, name)))
    return merge_configs(configs)


@contextmanager
def docker_config_file(
    config: dict[str, Any], base: str | os.PathLike[str] | None = None
) -> Iterator[Path]:
    """A private temporary config.json for the registry client, removed on exit.

    `base` (a mounted config.json, `registries.dockerConfig`) is merged underneath, so the
    cluster's secrets add to the file's credentials instead of replacing them.
    """
    layers: list[dict[str, Any]] = []
    if base is not None:
        try:
            loaded = json.loads(Path(base).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read registry config {base}: {type(exc).__name__}") from None
        if isinstance(loaded, dict):
            layers.append(loaded)
    layers.append(config)
    fd, name = tempfile.mkstemp(prefix="imageupdater-auth-", suffix=".json")  # mode 0600
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(merge_configs(layers), handle)
        yield path
    finally:
        path.unlink(missing_ok=True)
