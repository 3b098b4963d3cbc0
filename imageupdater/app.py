"""Composition root: the only place that picks concrete adapters for a command.

Commands receive an `Options` value and ask this module for a registry client, so tests
and the daemon can swap transports without touching the command code.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from imageupdater.forge import Forge, ForgeHttp, connect
from imageupdater.registry import RegistryClient

#: the environment variable the forge token is read from (never a flag: flags leak into `ps`)
FORGE_TOKEN_ENV = "IMAGEUPDATER_FORGE_TOKEN"  # noqa: S105 (a name, not a secret)


@dataclass(frozen=True, slots=True)
class Options:
    """Settings shared by every command that talks to registries."""

    registry_config: str | None = None
    insecure_registries: Sequence[str] = ()
    state_dir: Path | None = None
    now: datetime | None = None
    workers: int = 16

    def clock(self) -> datetime:
        return self.now if self.now is not None else datetime.now(UTC)


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "imageupdater"


def registry_client(options: Options) -> RegistryClient:
    return RegistryClient(
        docker_config=options.registry_config,
        insecure_hosts=tuple(options.insecure_registries),
    )


def forge(kind: str, url: str | None, repo: str) -> tuple[Forge, ForgeHttp]:
    """The forge adapter for PR mode, authenticated with ``$IMAGEUPDATER_FORGE_TOKEN``."""
    return connect(kind, url, repo, os.environ.get(FORGE_TOKEN_ENV) or None)
