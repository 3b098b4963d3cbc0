from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def no_user_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hermetic credentials: never read the developer's ~/.docker/config.json."""
    monkeypatch.delenv("DOCKER_AUTH_CONFIG", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "no-docker-config"))
