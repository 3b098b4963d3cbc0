"""The `semver:` range language, read as Masterminds/semver v3 reads constraints.

Flux and Argo CD users already write ranges in this language, so it is followed to its
corners (SPEC §3.1): operators `= != > < >= => <= =< ~ ~> ^` (none means `=`), wildcards
`x X *` and missing parts (`1.2` is `1.2.x`), hyphen ranges `1.2 - 1.4.5` (spaces
required, otherwise `-` starts a pre-release), `,` or whitespace for AND, `||` for OR, a `v`
before an operand, build metadata that is ignored.

Two rules make Masterminds differ from a plain interval reading, and both are kept:

* **Pre-releases per AND-group**: a pre-release version can satisfy an AND-group only if
  some constraint of that group carries a pre-release itself (`>=1.2.0-0`).
* **Wildcards are not zeros**: `>1.1` means "minor above 1" (`1.1.5` fails), `<=1.1`
  admits `1.1.9`, `!=4.1` excludes all of `4.1.x`, and the odd `!=*`, `<=*` and `^*` keep
  Masterminds' answers.

What is ours: versions are compared with the SPEC order (`rc10` > `rc9`, word ranks), not
SemVer's text comparison; in an operand every `-suffix` is a pre-release (`>=1.2.0-0`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from imageupdater.errors import PolicyError
from imageupdater.policy.tags import Identifier, identifier_keys

_PART = r"(?:[0-9]+|[xX*])"
_IDENTIFIERS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_OPERAND = (
    rf"v?(?P<major{{n}}>{_PART})(?:\.(?P<minor{{n}}>{_PART}))?(?:\.(?P<patch{{n}}>{_PART}))?"
    rf"(?:-(?P<pre{{n}}>{_IDENTIFIERS}))?(?:\+{_IDENTIFIERS})?"
)
_OPERATORS = r"!=|>=|=>|<=|=<|~>|[=><~^]"


def _operand(n: str) -> str:
    return f"(?P<operand{n}>{_OPERAND.format(n=n)})"


# one constraint: an optional operator, optional blanks, an operand
_TERM = re.compile(rf"(?P<op>{_OPERATORS})?\s*{_operand('')}")
# `A - B` between two bare operands
_HYPHEN = re.compile(rf"{_operand('1')}\s+-\s+{_operand('2')}")
# between two constraints of an AND-group
_AND = re.compile(r"\s*,\s*|\s+")

_WILDCARDS = frozenset({"x", "X", "*"})
_CANONICAL_OP = {"": "=", "=>": ">=", "=<": "<=", "~>": "~"}

#: position of the first wildcard part of an operand: 0 major (`*`), 1 minor (`1`, `1.x`),
#: 2 patch (`1.2`, `1.2.x`), 3 none (`1.2.3`)
EXACT = 3


#: a version as a range compares it: numbers, release-after-pre-release, pre-release
Version = tuple[tuple[int, int, int], int, tuple[Identifier, ...]]


@dataclass(frozen=True, slots=True)
class Term:
    """One constraint such as `>=1.2` (operator, operand and where its wildcard starts)."""

    op: str  # canonical operator: = != > < >= <= ~ ^
    written: str  # operator as written ("" for none), for the canonical string
    operand: str  # operand as written, e.g. "1.2.x"
    core: tuple[int, int, int]  # wildcard parts read as 0
    prerelease: tuple[Identifier, ...]
    wildcard: int  # 0, 1, 2 or EXACT
    bound: Version  # the operand as a comparable version

    def __str__(self) -> str:
        return f"{self.written}{self.operand}"

    def allows(self, core: tuple[int, int, int], prerelease: tuple[Identifier, ...]) -> bool:
        """Whether a version passes this constraint (the pre-release gate is the group's)."""
        version: Version = (core, 0 if prerelease else 1, prerelease)
        op = self.op
        if op == ">=":
            return version >= self.bound
        if op == "<":
            return version < self.bound
        if self.wildcard == EXACT:
            if op == "=":
                return version == self.bound
            if op == "!=":
                return version != self.bound
            if op == ">":
                return version > self.bound
            if op == "<=":
                return version <= self.bound
        elif op == "=":
            op = "~"  # `=1.2` / `1.2.x` is the tilde range
        if op == "~":
            return version >= self.bound and self._tilde(core)
        if op == "^":
            return version >= self.bound and self._caret(core)
        return self._wildcard(op, version, core, prerelease)

    def _tilde(self, core: tuple[int, int, int]) -> bool:
        if self.core == (0, 0, 0) and self.wildcard in (0, EXACT):
            return True  # ~0.0.0 and ~* accept everything
        return core[0] == self.core[0] and (self.wildcard == 1 or core[1] == self.core[1])

    def _caret(self, core: tuple[int, int, int]) -> bool:
        """Same major; for 0.y the same minor; for 0.0.z the very same patch."""
        (major, minor, patch), (c_major, c_minor, c_patch) = core, self.core
        if c_major > 0 or self.wildcard == 1:
            return major == c_major
        if major > 0:
            return False
        if c_minor > 0 or self.wildcard == 2:
            return minor == c_minor
        return minor == 0 and patch == c_patch

    def _wildcard(
        self,
        op: str,
        version: Version,
        core: tuple[int, int, int],
        prerelease: tuple[Identifier, ...],
    ) -> bool:
        """`!=`, `>`, `<=` against an operand with a wildcard: compare only what is fixed."""
        (major, minor, patch), (c_major, c_minor, c_patch) = core, self.core
        if op == "!=":
            if major != c_major:
                return True
            if self.wildcard == 1:
                return False
            if minor != c_minor:
                return True
            if self.wildcard == 2:
                return prerelease != self.prerelease
            return patch != c_patch or version != self.bound
        if op == ">":
            if major != c_major:
                return major > c_major
            if self.wildcard == 0:  # `>*` compares with 0.0.0
                return version > self.bound
            return self.wildcard == 2 and minor > c_minor
        # op == "<="
        if major != c_major:
            return major < c_major
        return self.wildcard == 1 or minor <= c_minor


@dataclass(frozen=True, slots=True)
class Range:
    """A parsed range: OR of AND-groups of terms. Build it with `parse_range`."""

    text: str
    groups: tuple[tuple[Term, ...], ...]
    #: per group: does some term carry a pre-release (Masterminds' pre-release gate)
    prerelease_groups: tuple[bool, ...]

    def __str__(self) -> str:
        """Masterminds' canonical form: terms space-separated, groups joined by ` || `."""
        return " || ".join(" ".join(str(term) for term in group) for group in self.groups)

    def allows(self, core: tuple[int, int, int], prerelease: tuple[Identifier, ...]) -> bool:
        """Whether a version (numbers and pre-release; variants play no part) is in range."""
        for group, admits_prerelease in zip(self.groups, self.prerelease_groups, strict=True):
            if prerelease and not admits_prerelease:
                continue
            for term in group:
                if not term.allows(core, prerelease):
                    break
            else:
                return True
        return False


def parse_range(text: str) -> Range:
    """Read a Masterminds range; PolicyError names the part that cannot be read."""
    if not text.strip():
        raise PolicyError("semver range is empty: write one such as 'semver:^1.2'")
    groups = tuple(_parse_group(text, alternative) for alternative in text.split("||"))
    return Range(text, groups, tuple(any(term.prerelease for term in g) for g in groups))


def _parse_group(text: str, group: str) -> tuple[Term, ...]:
    body = group.strip()
    if not body:
        raise PolicyError(f"semver range {text!r}: empty alternative around '||'")
    terms: list[Term] = []
    position = 0
    while True:
        hyphen = _HYPHEN.match(body, position)
        if hyphen is not None:
            terms.append(_term(text, ">=", hyphen, "1"))
            terms.append(_term(text, "<=", hyphen, "2"))
            position = hyphen.end()
        else:
            match = _TERM.match(body, position)
            if match is None:
                raise PolicyError(f"semver range {text!r}: cannot read {body[position:]!r}")
            terms.append(_term(text, match["op"] or "", match, ""))
            position = match.end()
        if position == len(body):
            return tuple(terms)
        separator = _AND.match(body, position)
        if separator is None or separator.end() == len(body):
            raise PolicyError(f"semver range {text!r}: cannot read {body[position:]!r}")
        position = separator.end()


def _term(text: str, written: str, match: re.Match[str], n: str) -> Term:
    parts = (match[f"major{n}"], match[f"minor{n}"], match[f"patch{n}"])
    wildcard = next(
        (index for index, part in enumerate(parts) if part is None or part in _WILDCARDS), EXACT
    )
    numbers = [int(part) if index < wildcard else 0 for index, part in enumerate(parts)]
    pre = match[f"pre{n}"] or ""
    for identifier in pre.split(".") if pre else ():
        if len(identifier) > 1 and identifier.isdigit() and identifier.startswith("0"):
            raise PolicyError(
                f"semver range {text!r}: pre-release {pre!r} has a number with a leading zero"
            )
    identifiers = re.split(r"[.-]", pre) if pre else []
    prerelease = tuple(key for identifier in identifiers for key in identifier_keys(identifier))
    core = (numbers[0], numbers[1], numbers[2])
    return Term(
        op=_CANONICAL_OP.get(written, written),
        written=written,
        operand=match[f"operand{n}"],
        core=core,
        prerelease=prerelease,
        wildcard=wildcard,
        bound=(core, 0 if prerelease else 1, prerelease),
    )
