"""The Automation config: validation with file:line, suspend, change windows."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from imageupdater.config import choose, load_automations, parse_window
from imageupdater.errors import ConfigError

FULL = """\
apiVersion: imageupdater.io/v1
kind: Automation
metadata: {name: prod}
spec:
  git:
    url: https://github.com/acme/fleet.git
    branch: main
    path: clusters/prod
    author: {name: imageupdater, email: imageupdater@example.com}
    commitTemplate: "..."
    credentials: {tokenEnv: GIT_TOKEN}
  update:
    mode: commit
    pushBranch: main
    pr: {forge: github, url: https://api.github.com, repo: acme/fleet, tokenEnv: GITHUB_TOKEN,
         labels: [images], reviewers: [], grouping: workload}
  interval: 5m
  schedule: {windows: ["Mon-Fri 09:00-16:00"], timezone: Europe/Berlin}
  registries: {dockerConfig: /etc/imageupdater/config.json, insecure: ["registry.local:5000"],
               rateLimit: {docker.io: 10}}
  suspend: false
"""


def write(tmp_path: Path, text: str, name: str = "automation.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_spec_example_loads(tmp_path: Path) -> None:
    (automation,) = load_automations(write(tmp_path, FULL))
    assert automation.name == "prod"
    assert automation.suspend is False
    assert automation.schedule.timezone == "Europe/Berlin"
    assert [w.text for w in automation.schedule.windows] == ["Mon-Fri 09:00-16:00"]
    assert automation.raw["spec"]["registries"]["rateLimit"] == {"docker.io": 10}
    assert automation.source.endswith("automation.yaml:2")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("  suspend: false", "  suspend: maybe"), ":21: spec.suspend must be true or false"),
        (("  interval: 5m", "  interval: soon"), ":17: spec.interval must be a duration"),
        (("  interval: 5m", "  intervall: 5m"), ":17: unknown field spec.intervall"),
        (("    branch: main", "    brunch: main"), ":7: unknown field spec.git.brunch"),
        (("timezone: Europe/Berlin", "timezone: Mars/Olympus"), ":18: unknown timezone"),
        (('"Mon-Fri 09:00-16:00"', '"Mon-Fri 9-16"'), ":18: spec.schedule.windows"),
        (('"Mon-Fri 09:00-16:00"', '"Mon-Fry 09:00-16:00"'), "unknown day 'Fry'"),
        (("docker.io: 10", "docker.io: fast"), ":20: spec.registries.rateLimit.docker.io"),
        (("apiVersion: imageupdater.io/v1", "apiVersion: v2"), ":1: apiVersion must be"),
    ],
)
def test_invalid_fields_name_file_and_line(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, FULL.replace(*change))
    with pytest.raises(ConfigError) as info:
        load_automations(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_a_directory_of_documents_and_choosing_one(tmp_path: Path) -> None:
    write(tmp_path, FULL, "a.yaml")
    write(
        tmp_path, FULL.replace("name: prod", "name: staging") + "---\nkind: ImagePolicy\n", "b.yml"
    )
    automations = load_automations(tmp_path)
    assert [a.name for a in automations] == ["prod", "staging"]
    with pytest.raises(ConfigError, match="several automations"):
        choose(automations, None, tmp_path)
    assert choose(automations, "staging", tmp_path).name == "staging"
    with pytest.raises(ConfigError, match="no automation named 'qa'"):
        choose(automations, "qa", tmp_path)


def test_missing_file_and_duplicate_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        load_automations(tmp_path / "nope.yaml")
    path = write(tmp_path, FULL + "---\n" + FULL)
    with pytest.raises(ConfigError, match="must be unique: prod"):
        load_automations(path)


@pytest.mark.parametrize(
    ("window", "inside", "outside"),
    [
        ("Mon-Fri 09:00-16:00", [(23, 9, 0), (27, 15, 59)], [(23, 16, 0), (28, 10, 0)]),
        ("Sat,Sun 10:00-12:00", [(28, 10, 0), (29, 11, 59)], [(27, 10, 0)]),
        ("22:00-06:00", [(23, 23, 0), (24, 5, 59)], [(24, 6, 0), (23, 21, 59)]),
        ("Fri 22:00-24:00", [(27, 23, 59)], [(28, 0, 0), (20, 21, 0)]),
        ("Fri-Mon 08:00-09:00", [(29, 8, 30), (23, 8, 30)], [(24, 8, 30)]),
    ],
)
def test_windows(
    window: str, inside: list[tuple[int, int, int]], outside: list[tuple[int, int, int]]
) -> None:
    parsed = parse_window(window)
    for day, hour, minute in inside:
        assert parsed.contains(datetime(2026, 11, day, hour, minute)), (day, hour, minute)
    for day, hour, minute in outside:
        assert not parsed.contains(datetime(2026, 11, day, hour, minute)), (day, hour, minute)


@pytest.mark.parametrize("bad", ["09:00-16:00 Mon", "Mon 25:00-26:00", "Mon 09:00-09:00", ""])
def test_bad_windows(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_window(bad)


def test_gate_uses_the_timezone_and_says_when_it_opens(tmp_path: Path) -> None:
    (automation,) = load_automations(write(tmp_path, FULL))
    # 08:30 UTC on Monday 23 Nov is 09:30 in Berlin: open
    assert automation.gate(datetime(2026, 11, 23, 8, 30, tzinfo=UTC)) is None
    closed = automation.gate(datetime(2026, 11, 23, 7, 30, tzinfo=UTC))
    assert closed is not None
    assert "outside the change window (Mon-Fri 09:00-16:00 Europe/Berlin)" in closed
    assert "next opens 2026-11-23T09:00:00+01:00" in closed
    suspended = load_automations(write(tmp_path, FULL.replace("suspend: false", "suspend: true")))
    assert "suspended" in (suspended[0].gate(datetime(2026, 11, 23, 8, 30, tzinfo=UTC)) or "")
