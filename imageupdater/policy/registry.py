"""Policy kinds and the parser of inline policy expressions (`kind` or `kind:<argument>`).

`POLICIES` is the explicit plug-in table: a kind maps to a factory that takes the text
after `kind:` ("" when there is none) and raises PolicyError for a bad argument, so an
invalid policy fails once, when it is loaded. A kind is added by adding one entry here;
`parse_policy` needs no change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from imageupdater.errors import PolicyError
from imageupdater.policy import buildtime, relative
from imageupdater.policy.base import NO_CANDIDATE, Ranking, TagPolicy
from imageupdater.policy.keyed import AlphabeticalPolicy, NumericalPolicy
from imageupdater.policy.semver import SemverPolicy


class NeverPolicy:
    """`never`: no tag is ever a candidate (the engine reports the container as `never`)."""

    __slots__ = ("expression",)

    def __init__(self, argument: str = "") -> None:
        if argument.strip():
            raise PolicyError(f"policy 'never' takes no argument (got never:{argument.strip()})")
        self.expression = "never"

    def rank(self, tags: Sequence[str], current: str | None) -> Ranking:
        return NO_CANDIDATE


POLICIES: dict[str, Callable[[str], TagPolicy]] = {
    "semver": SemverPolicy,
    "major": relative.major,
    "minor": relative.minor,
    "patch": relative.patch,
    "alphabetical": AlphabeticalPolicy,
    "numerical": NumericalPolicy,
    "never": NeverPolicy,
    "glob": buildtime.glob,
    "regex": buildtime.regex,
    "digest": buildtime.DigestPolicy,
}


def parse_policy(expression: str, named: Mapping[str, TagPolicy] | None = None) -> TagPolicy:
    """Parse an inline policy expression such as `semver:^1.2`, `minor` or `never`.

    `@<namespace>/<name>` looks the policy up in `named` (keys `namespace/name`: the
    ImagePolicy documents of the repository, see `imageupdater.namedpolicies`). Raises
    PolicyError with a user-facing message that names the bad part.
    """
    text = expression.strip()
    if not text:
        raise PolicyError("policy expression is empty")
    if text.startswith("@"):
        key = text[1:].strip()
        namespace, slash, name = key.partition("/")
        if not (slash and namespace and name) or "/" in name:
            raise PolicyError(f"a policy reference is '@<namespace>/<name>' (got {text!r})")
        found = (named if named is not None else {}).get(key)
        if found is None:
            raise PolicyError(f"no named policy {key!r} (kind: ImagePolicy) in the repository")
        return found
    kind, colon, argument = text.partition(":")
    kind = kind.strip()
    factory = POLICIES.get(kind)
    if factory is None:
        raise PolicyError(_unknown(kind, text))
    if colon and not argument.strip():
        raise PolicyError(f"policy {text!r}: nothing after ':'")
    return factory(argument)


def _unknown(kind: str, text: str) -> str:
    known = ", ".join(sorted(POLICIES))
    hint = f"; kinds are lowercase: {kind.lower()!r}" if kind.lower() in POLICIES else ""
    return f"unknown policy kind {kind!r} in {text!r} (known: {known}){hint}"
