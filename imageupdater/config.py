"""`kind: Automation` documents (SPEC §6): loaded, validated, with errors naming file:line.

The whole schema of SPEC §6 is declared in `_SCHEMA`, so a misspelt field anywhere
(`spec.shedule`) is an error naming its file and line instead of being silently ignored,
and every field's type is checked. Only what `plan`/`apply --config` act on today is
turned into typed values: `suspend`, `schedule` (change windows) and, for the daemon
(`run`), `git` (`GitSettings`), `update` (`UpdateSettings`), `interval` (seconds) and
`registries` (`RegistrySettings`). The whole document stays in `Automation.raw` too.
A document used by `plan`/`apply --config` needs no `git` section; `run` checks for it.

Change windows: `schedule: {windows: ["Mon-Fri 09:00-16:00", "Sat 10:00-12:00"],
timezone: Europe/Berlin}`. A window is `[DAYS ]HH:MM-HH:MM`; DAYS is a comma list of days
(`Mon`) or day ranges (`Mon-Fri`, `Fri-Mon` wraps), missing means every day; `24:00` may end
a window; an end before the start runs past midnight and belongs to the start's day. The
end is exclusive. Without `timezone`, UTC. No windows means always open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from imageupdater.errors import ConfigError, YamlParseError
from imageupdater.model import GROUPINGS
from imageupdater.yamledit import Node, Scalar, decode, load_documents

API_VERSION = "imageupdater.io/v1"
KIND = "Automation"

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Field types: "str", "bool", "int", "duration", ["str"] (list of), {"*": t} (map of any key
# to t), or a nested dict of known fields.
_SCHEMA: dict[str, Any] = {
    "apiVersion": "str",
    "kind": "str",
    "metadata": {"name": "str", "namespace": "str", "labels": {"*": "str"}},
    "spec": {
        "git": {
            "url": "str",
            "branch": "str",
            "path": "str",
            "author": {"name": "str", "email": "str"},
            "commitTemplate": "str",
            "credentials": {"tokenEnv": "str", "sshKeyFile": "str"},
        },
        "update": {
            "mode": "str",
            "pushBranch": "str",
            "pr": {
                "forge": "str",
                "url": "str",
                "repo": "str",
                "tokenEnv": "str",
                "labels": ["str"],
                "reviewers": ["str"],
                "grouping": "str",
            },
        },
        "interval": "duration",
        "schedule": {"windows": ["str"], "timezone": "str"},
        "registries": {
            "dockerConfig": "str",
            "insecure": ["str"],
            "rateLimit": {"*": "int"},
            "pullSecrets": ["str"],  # NAME or NAMESPACE/NAME of dockerconfigjson Secrets
        },
        "suspend": "bool",
    },
}
_DURATION = re.compile(r"^(?:\d+h)?(?:\d+m)?(?:\d+s)?$")
_WINDOW = re.compile(
    r"^(?:(?P<days>[A-Za-z, -]+?)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)


@dataclass(frozen=True, slots=True)
class Window:
    text: str
    days: frozenset[int]  # 0 = Monday
    start: time
    end: time | None  # None: 24:00

    def contains(self, local: datetime) -> bool:
        minute = local.hour * 60 + local.minute
        start = self.start.hour * 60 + self.start.minute
        end = 24 * 60 if self.end is None else self.end.hour * 60 + self.end.minute
        if start < end:
            return local.weekday() in self.days and start <= minute < end
        # crosses midnight: the part before midnight belongs to today, the rest to yesterday
        yesterday = (local.weekday() - 1) % 7
        return (local.weekday() in self.days and minute >= start) or (
            yesterday in self.days and minute < end
        )


@dataclass(frozen=True, slots=True)
class Schedule:
    windows: tuple[Window, ...] = ()
    timezone: str = "UTC"

    def zone(self) -> tzinfo:
        return UTC if self.timezone == "UTC" else ZoneInfo(self.timezone)

    def is_open(self, now: datetime) -> bool:
        if not self.windows:
            return True
        local = now.astimezone(self.zone())
        return any(window.contains(local) for window in self.windows)

    def next_open(self, now: datetime) -> datetime | None:
        """The next minute at which a window opens (within a week), for messages."""
        if not self.windows:
            return None
        probe = now.astimezone(self.zone()).replace(second=0, microsecond=0)
        for _ in range(7 * 24 * 60):
            probe += timedelta(minutes=1)
            if any(window.contains(probe) for window in self.windows):
                return probe
        return None

    def describe(self) -> str:
        return f"{', '.join(w.text for w in self.windows)} {self.timezone}"


@dataclass(frozen=True, slots=True)
class Credentials:
    """How git authenticates: the *name* of an environment variable holding a token (never
    the token itself, so configs can be committed), or an SSH private key file."""

    token_env: str | None = None
    ssh_key_file: str | None = None


@dataclass(frozen=True, slots=True)
class GitSettings:
    url: str
    branch: str = "main"
    path: str = "."
    author: tuple[str, str] | None = None
    commit_template: str | None = None
    credentials: Credentials = field(default_factory=Credentials)


@dataclass(frozen=True, slots=True)
class PRConfig:
    forge: str
    repo: str
    url: str | None = None
    token_env: str | None = None
    labels: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()
    grouping: str = "workload"


@dataclass(frozen=True, slots=True)
class UpdateSettings:
    mode: str = "commit"
    push_branch: str | None = None  # None: git.branch
    pr: PRConfig | None = None


@dataclass(frozen=True, slots=True)
class RegistrySettings:
    docker_config: str | None = None
    insecure: tuple[str, ...] = ()
    rate_limit: Mapping[str, float] = field(default_factory=dict)
    #: dockerconfigjson Secrets (`NAME` or `NAMESPACE/NAME`) read from the cluster per cycle
    pull_secrets: tuple[str, ...] = ()


#: `interval` when the document sets none (SPEC §6 example)
DEFAULT_INTERVAL = 300.0


def parse_duration(text: str) -> float:
    """`1h30m`, `5m`, `30s` -> seconds; ValueError otherwise (including zero)."""
    match = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?", text)
    if not text or match is None:
        raise ValueError(f"{text!r} is not a duration such as 30s, 5m or 1h")
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise ValueError(f"{text!r} is not a positive duration")
    return float(total)


@dataclass(frozen=True, slots=True)
class Automation:
    name: str
    source: str  # file:line of the document
    suspend: bool = False
    schedule: Schedule = field(default_factory=Schedule)
    raw: Mapping[str, Any] = field(default_factory=dict)
    git: GitSettings | None = None  # required by `run` only
    update: UpdateSettings = field(default_factory=UpdateSettings)
    interval: float = DEFAULT_INTERVAL
    registries: RegistrySettings = field(default_factory=RegistrySettings)

    @property
    def push_branch(self) -> str:
        branch = self.update.push_branch
        if branch is None and self.git is not None:
            branch = self.git.branch
        return branch or "main"

    def gate(self, now: datetime) -> str | None:
        """Why nothing may be committed at `now`, or None when changes may be made."""
        if self.suspend:
            return f"automation {self.name} is suspended: nothing is committed"
        if not self.schedule.is_open(now):
            opens = self.schedule.next_open(now)
            when = f"; next opens {opens.isoformat()}" if opens else ""
            return (
                f"automation {self.name}: outside the change window "
                f"({self.schedule.describe()}){when}"
            )
        return None


# ------------------------------------------------------------------------------- loading


def _line_of(node: Node | None) -> int | None:
    while node is not None:
        if isinstance(node, Scalar):
            return node.line
        if isinstance(node, dict):
            node = next(iter(node.values()), None)
        else:
            node = node[0] if node else None
    return None


class _Loader:
    def __init__(self, file: str) -> None:
        self.file = file

    def error(self, node: Node | None, message: str, fallback: int | None = None) -> ConfigError:
        line = _line_of(node) or fallback
        where = f"{self.file}:{line}" if line else self.file
        return ConfigError(f"{where}: {message}")

    def check(self, node: Node, schema: Any, path: str, line: int | None) -> Any:
        """`node` as plain Python values, validated against `schema`."""
        if isinstance(schema, dict):
            if not isinstance(node, dict):
                raise self.error(node, f"{path} must be a mapping", line)
            out: dict[str, Any] = {}
            for key, value in node.items():
                sub = schema.get(key, schema.get("*"))
                child = f"{path}.{key}" if path else key
                if sub is None:
                    known = ", ".join(k for k in schema if k != "*")
                    raise self.error(value, f"unknown field {child} (known: {known})", line)
                out[key] = self.check(value, sub, child, _line_of(value) or line)
            return out
        if isinstance(schema, list):
            if not isinstance(node, list):
                raise self.error(node, f"{path} must be a list", line)
            return [
                self.check(item, schema[0], f"{path}[{i}]", line) for i, item in enumerate(node)
            ]
        if not isinstance(node, Scalar):
            raise self.error(node, f"{path} must be a single value", line)
        return self._scalar(node, schema, path)

    def _scalar(self, node: Scalar, kind: str, path: str) -> Any:
        value = node.value
        plain = node.style == ""
        if kind == "bool":
            if plain and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise self.error(node, f"{path} must be true or false, not {value!r}")
        if kind == "int":
            if plain and value.isdigit():
                return int(value)
            raise self.error(node, f"{path} must be a whole number, not {value!r}")
        if kind == "duration":
            if value and _DURATION.match(value) and any(c != "0" for c in value if c.isdigit()):
                return value
            raise self.error(
                node, f"{path} must be a duration such as 30s, 5m or 1h (more than zero)"
            )
        if plain and value in ("", "~", "null"):
            raise self.error(node, f"{path} needs a value")
        return value


_DAY_NAMES = {
    name: index
    for index, full in enumerate(
        ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    )
    for name in (full, full[:3])
}


def _day(text: str, window: str) -> int:
    day = _DAY_NAMES.get(text.strip().lower())
    if day is None:
        raise ValueError(f"unknown day {text.strip()!r} in {window!r} (Mon, Tue, ... Sun)")
    return day


def _days(text: str | None) -> frozenset[int]:
    if text is None:
        return frozenset(range(7))
    days: set[int] = set()
    for item in text.split(","):
        first, _, last = item.partition("-")
        day = _day(first, text)
        end = _day(last, text) if last else day
        days.add(day)
        while day != end:
            day = (day + 1) % 7
            days.add(day)
    return frozenset(days)


def _clock(text: str, *, end: bool) -> time | None:
    hours, minutes = (int(part) for part in text.split(":"))
    if end and hours == 24 and minutes == 0:
        return None
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise ValueError(f"not a time of day: {text}")
    return time(hours, minutes)


def parse_window(text: str) -> Window:
    """`Mon-Fri 09:00-16:00` (module docstring); ValueError says what is wrong."""
    match = _WINDOW.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a window such as 'Mon-Fri 09:00-16:00'")
    start = _clock(match["start"], end=False)
    assert start is not None
    end = _clock(match["end"], end=True)
    if end == start:
        raise ValueError(f"{text!r} is an empty window")
    return Window(text.strip(), _days(match["days"]), start, end)


def _automation(loader: _Loader, document: dict[str, Node], line: int) -> Automation:
    data = loader.check(document, _SCHEMA, "", line)
    if data.get("apiVersion") != API_VERSION:
        raise loader.error(document.get("apiVersion"), f"apiVersion must be {API_VERSION}", line)
    name = data.get("metadata", {}).get("name")
    if not name:
        raise loader.error(document.get("metadata"), "metadata.name is required", line)
    spec = data.get("spec", {})
    spec_node = document.get("spec")
    schedule = Schedule()
    if "schedule" in spec:
        node = spec_node.get("schedule") if isinstance(spec_node, dict) else None
        windows = []
        for index, text in enumerate(spec["schedule"].get("windows", [])):
            try:
                windows.append(parse_window(text))
            except ValueError as exc:
                item = node.get("windows") if isinstance(node, dict) else None
                where = item[index] if isinstance(item, list) else node
                raise loader.error(where, f"spec.schedule.windows: {exc}", line) from None
        zone = spec["schedule"].get("timezone", "UTC")
        try:
            if zone != "UTC":
                ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            where = node.get("timezone") if isinstance(node, dict) else node
            raise loader.error(where, f"unknown timezone {zone!r}", line) from None
        schedule = Schedule(tuple(windows), zone)
    spec_map = spec_node if isinstance(spec_node, dict) else {}
    return Automation(
        name=name,
        source=f"{loader.file}:{line}",
        suspend=bool(spec.get("suspend", False)),
        schedule=schedule,
        raw=data,
        git=_git(loader, spec.get("git"), spec_map.get("git"), line),
        update=_update(loader, spec.get("update", {}), spec_map.get("update"), line),
        interval=parse_duration(spec["interval"]) if "interval" in spec else DEFAULT_INTERVAL,
        registries=_registries(spec.get("registries", {})),
    )


def _at(node: Node | None, *keys: str) -> Node | None:
    """The node at `keys` under `node`, or the deepest one that exists (for error lines)."""
    for key in keys:
        child = node.get(key) if isinstance(node, dict) else None
        if child is None:
            return node
        node = child
    return node


def _git(loader: _Loader, git: Any, node: Node | None, line: int) -> GitSettings | None:
    if git is None:
        return None
    if not git.get("url"):
        raise loader.error(node, "spec.git.url is required", line)
    author = git.get("author")
    if author is not None and not (author.get("name") and author.get("email")):
        raise loader.error(_at(node, "author"), "spec.git.author needs name and email", line)
    creds = git.get("credentials", {})
    if "tokenEnv" in creds and "sshKeyFile" in creds:
        where = _at(node, "credentials")
        raise loader.error(where, "spec.git.credentials: tokenEnv or sshKeyFile, not both", line)
    return GitSettings(
        url=git["url"],
        branch=git.get("branch", "main"),
        path=git.get("path", "."),
        author=(author["name"], author["email"]) if author else None,
        commit_template=git.get("commitTemplate"),
        credentials=Credentials(creds.get("tokenEnv"), creds.get("sshKeyFile")),
    )


def _update(loader: _Loader, update: Any, node: Node | None, line: int) -> UpdateSettings:
    mode = update.get("mode", "commit")
    if mode not in ("commit", "pr"):
        where = _at(node, "mode")
        raise loader.error(where, f"spec.update.mode must be commit or pr, not {mode!r}", line)
    pr = update.get("pr")
    settings: PRConfig | None = None
    if pr is not None:
        if not (pr.get("forge") and pr.get("repo")):
            raise loader.error(_at(node, "pr"), "spec.update.pr needs forge and repo", line)
        grouping = pr.get("grouping", "workload")
        if grouping not in GROUPINGS:
            where = _at(node, "pr", "grouping")
            raise loader.error(where, f"spec.update.pr.grouping must be one of {GROUPINGS}", line)
        settings = PRConfig(
            forge=pr["forge"],
            repo=pr["repo"],
            url=pr.get("url"),
            token_env=pr.get("tokenEnv"),
            labels=tuple(pr.get("labels", ())),
            reviewers=tuple(pr.get("reviewers", ())),
            grouping=grouping,
        )
    if mode == "pr" and settings is None:
        raise loader.error(_at(node, "mode"), "spec.update.mode pr needs spec.update.pr", line)
    return UpdateSettings(mode=mode, push_branch=update.get("pushBranch"), pr=settings)


def _registries(registries: Any) -> RegistrySettings:
    return RegistrySettings(
        docker_config=registries.get("dockerConfig"),
        insecure=tuple(registries.get("insecure", ())),
        rate_limit={k: float(v) for k, v in registries.get("rateLimit", {}).items()},
        pull_secrets=tuple(registries.get("pullSecrets", ())),
    )


def _files(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
    else:
        yield path


def load_automations(path: Path) -> list[Automation]:
    """Every `kind: Automation` document in the file (or directory of files) at `path`.
    Other kinds are ignored (a config directory may hold `ImagePolicy` documents too)."""
    if not path.exists():
        raise ConfigError(f"{path}: no such file or directory")
    found: list[Automation] = []
    for file in _files(path):
        try:
            text = decode(file.read_bytes())
            documents = load_documents(text)
        except YamlParseError as exc:
            raise ConfigError(f"{file}:{exc.line or 1}: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
        loader = _Loader(str(file))
        for document in documents:
            if not isinstance(document, dict):
                continue
            kind = document.get("kind")
            if not isinstance(kind, Scalar) or kind.value != KIND:
                continue
            found.append(_automation(loader, document, kind.line))
    names = [a.name for a in found]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{path}: automation names must be unique: {', '.join(duplicates)}")
    return found


def choose(automations: Sequence[Automation], name: str | None, path: Path) -> Automation:
    """The automation a `plan`/`apply --config` run follows."""
    if name is not None:
        for automation in automations:
            if automation.name == name:
                return automation
        known = ", ".join(a.name for a in automations) or "none"
        raise ConfigError(f"{path}: no automation named {name!r} (found: {known})")
    if len(automations) == 1:
        return automations[0]
    if not automations:
        raise ConfigError(f"{path}: no kind: Automation document found")
    names = ", ".join(a.name for a in automations)
    raise ConfigError(f"{path} holds several automations ({names}): choose one with --automation")
