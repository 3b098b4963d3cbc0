"""The exception tree every layer shares.

Adapters translate library exceptions at their boundary, so nothing from httpx, git or
ruamel crosses a layer. The tree decides how a failure is reported and retried::

    ImageUpdaterError
    ├── ConfigError          bad policy, annotation, marker or config; permanent
    │   └── PolicyError      a policy expression that does not parse
    ├── AuthError            401/403 from a registry, git or a forge; reported distinctly
    ├── TransientError       retried with backoff; never read as "no update"
    │   ├── RegistryUnavailable   429, 5xx, timeouts, garbage responses
    │   ├── GitTransportError     fetch/push failures, non-fast-forward
    │   └── ForgeUnavailable  5xx, 429 and timeouts from a forge, after retries
    ├── ForgeError           a permanent forge answer (404, 422 that is not a duplicate)
    ├── RegistryError        a permanent registry answer (unknown repository, bad reference)
    ├── GitError             a local git operation failed (not a transport problem)
    └── RewriteError         a file could not be edited or verified: skipped, the rest go on
        └── YamlParseError   the file is not YAML we can read
"""

from __future__ import annotations


class ImageUpdaterError(Exception):
    """Base of every error the product raises on purpose."""

    #: the `errors[].kind` this error is reported as in JSON output
    kind: str = "config"


class ConfigError(ImageUpdaterError):
    kind = "config"


class PolicyError(ConfigError):
    """A policy expression or range that cannot be parsed."""


class AuthError(ImageUpdaterError):
    kind = "auth"


class TransientError(ImageUpdaterError):
    kind = "registry"


class RegistryUnavailable(TransientError):
    kind = "registry"


class GitTransportError(TransientError):
    kind = "git"


class ForgeUnavailable(TransientError):
    kind = "forge"


class ForgeError(ImageUpdaterError):
    kind = "forge"


class RegistryError(ImageUpdaterError):
    kind = "registry"


class GitError(ImageUpdaterError):
    kind = "git"


class RewriteError(ImageUpdaterError):
    kind = "rewrite"


class YamlParseError(RewriteError):
    """Raised for text that ruamel cannot compose; carries the 1-based line when known."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line
