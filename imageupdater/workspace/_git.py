"""Running git: one hermetic, non-interactive process per command, with credentials redacted.

Everything that starts a git process goes through :func:`_run_git`: its environment drops the
caller's repository variables, it never prompts, runs no hooks and signs nothing, and a timeout
kills the whole process group. :class:`_Done` is what a run returns; :func:`_redact` keeps
credentials out of every message and log line built from it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageupdater.errors import AuthError, GitError, GitTransportError, ImageUpdaterError

#: one logger for the whole package, named as it was when the package was a single module
_log = logging.getLogger("imageupdater.workspace")

#: identity used when neither the caller nor git's configuration names one
FALLBACK_IDENTITY = ("imageupdater", "imageupdater@localhost")

#: seconds a fetch or push may take before it is killed and reported as transient
DEFAULT_NETWORK_TIMEOUT = 300.0


#: variables kept from the caller's environment out of the GIT_* namespace: they configure
#: how git reaches remotes or which config it reads, not which repository it works on
_KEPT_GIT_VARS = frozenset(
    {
        "GIT_ALLOW_PROTOCOL",
        "GIT_ASKPASS",
        "GIT_AUTHOR_EMAIL",
        "GIT_AUTHOR_NAME",
        "GIT_CEILING_DIRECTORIES",
        "GIT_COMMITTER_EMAIL",
        "GIT_COMMITTER_NAME",
        "GIT_CONFIG_COUNT",
        "GIT_CONFIG_GLOBAL",
        "GIT_CONFIG_NOSYSTEM",
        "GIT_CONFIG_SYSTEM",
        "GIT_DISCOVERY_ACROSS_FILESYSTEM",
        "GIT_EXEC_PATH",
        "GIT_HTTP_LOW_SPEED_LIMIT",
        "GIT_HTTP_LOW_SPEED_TIME",
        "GIT_HTTP_PROXY_AUTHMETHOD",
        "GIT_HTTP_USER_AGENT",
        "GIT_PROXY_COMMAND",
        "GIT_SSH",
        "GIT_SSH_COMMAND",
        "GIT_SSH_VARIANT",
        "GIT_SSL_CAINFO",
        "GIT_SSL_CAPATH",
        "GIT_SSL_CERT",
        "GIT_SSL_KEY",
        "GIT_SSL_NO_VERIFY",
    }
)

_FIXED_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GCM_INTERACTIVE": "never",
    "GIT_EDITOR": ":",  # git's own "no editor" value
    "GIT_SEQUENCE_EDITOR": ":",
    "GIT_LITERAL_PATHSPECS": "1",  # a file named '*.yaml' is that file, not a glob
    "GIT_OPTIONAL_LOCKS": "0",  # a read-only status must not take the index lock
    "LC_ALL": "C",  # messages are parsed (push results, conflicts)
    "LANGUAGE": "C",
}

#: configuration that would make a bot operation prompt, run user code or behave differently
_CONFIG = (
    "core.hooksPath=" + os.devnull,
    "commit.gpgSign=false",
    "push.gpgSign=false",
    "i18n.commitEncoding=UTF-8",
    "rerere.enabled=false",
    "rebase.backend=merge",
    "rebase.autoSquash=false",
    "rebase.autoStash=false",
    "rebase.updateRefs=false",
    "rebase.rebaseMerges=false",
    "submodule.recurse=false",
    "advice.detachedHead=false",
    "color.ui=false",
)
_CONFIG_ARGS = tuple(arg for item in _CONFIG for arg in ("-c", item))


def _environment(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("GIT_")
        or key in _KEPT_GIT_VARS
        or key.startswith(("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_"))
    }
    env.update(_FIXED_ENV)
    if extra:
        env.update(extra)
    return env


def _git_executable() -> str:
    """The git GitPython would run; plain ``git`` from PATH when GitPython cannot load.

    Imported here because GitPython raises ImportError when no git is installed, which must
    not take down commands that never touch Git (``plan`` on a bare directory).
    """
    try:
        import git
    except ImportError:
        return "git"
    executable: Any = git.Git.GIT_PYTHON_GIT_EXECUTABLE
    return str(executable) if executable else "git"


_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/\s'\"]*@")
_AUTH_HEADER = re.compile(r"(?i)\b((?:proxy-)?authorization\s*:\s*)[^\r\n]*")


def _redact(text: str) -> str:
    """Remove credentials: ``https://user:token@host`` becomes ``https://host``."""
    text = _URL_USERINFO.sub(r"\g<scheme>", text)
    return _AUTH_HEADER.sub(r"\1<redacted>", text)


@dataclass(frozen=True)
class _Done:
    args: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "surrogateescape").rstrip("\n")

    def detail(self, limit: int = 1500) -> str:
        """What git said, redacted and shortened for an error message."""
        said = self.stderr.strip() or self.stdout.decode("utf-8", "replace").strip()
        said = _redact(" ".join(line.strip() for line in said.splitlines() if line.strip()))
        return said if len(said) <= limit else "…" + said[-limit:]

    def failure(self, what: str) -> str:
        command = _redact(" ".join(self.args))
        if len(command) > 200:
            command = command[:200] + "…"
        return f"{what}: `git {command}` failed (exit {self.returncode}): {self.detail()}"


def _run_git(
    args: Sequence[str],
    *,
    cwd: Path,
    stdin: bytes | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> _Done:
    """Run git once, without a shell, a terminal or the caller's repository variables.

    The process gets its own session, which both keeps ssh, gpg and credential helpers from
    opening the terminal and lets a timeout kill the whole group (``git-remote-https``,
    ``ssh``) instead of leaving helpers behind.
    """
    command = [_git_executable(), *_CONFIG_ARGS, *args]
    _log.debug("git %s", _redact(" ".join(args)))
    try:
        with subprocess.Popen(
            command,
            cwd=cwd,
            env=_environment(env),
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as proc:
            try:
                out, err = proc.communicate(stdin, timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.communicate()
                raise GitTransportError(
                    f"`git {_redact(args[0])}` took longer than {timeout:g}s and was stopped"
                ) from None
            except BaseException:
                _kill_group(proc)
                raise
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from None
    return _Done(tuple(args), proc.returncode, out, err.decode("utf-8", "replace"))


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


# how git describes failures, for telling auth and configuration problems from outages
_AUTH_FAILURE = re.compile(
    r"authentication failed|could not read (?:username|password)|terminal prompts disabled"
    r"|permission denied \(publickey|invalid username or password|access denied"
    r"|returned error: 40[13]\b|host key verification failed",
    re.IGNORECASE,
)
_LOCAL_FAILURE = re.compile(
    r"does not appear to be a git repository|no such remote|couldn't find remote ref"
    r"|invalid refspec|not a valid ref",
    re.IGNORECASE,
)


def _network_error(done: _Done, what: str) -> ImageUpdaterError:
    detail = done.detail()
    message = f"{what}: {detail}"
    if _AUTH_FAILURE.search(detail):
        return AuthError(message)
    if _LOCAL_FAILURE.search(detail):
        return GitError(message)
    return GitTransportError(message)


def _normalise_message(message: str) -> str:
    """Trailing spaces and surrounding blank lines removed, one final newline (git's style)."""
    lines = [line.rstrip() for line in message.strip("\n").splitlines()]
    return "\n".join(lines).strip("\n") + "\n"
