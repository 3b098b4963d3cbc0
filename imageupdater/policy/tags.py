"""Reading a container tag as a version (SPEC §3.1 "Reading a tag").

Registry tags are not SemVer: `v1.2`, `1.1.0rc1`, `17.0.9_9-jdk-jammy` and
`1.25.3-alpine` are all versions a platform engineer expects to be updated. A tag is read
as::

    [vV] N[.N[.N[.N]]] [_N] [-suffix | glued-word-suffix] [+build]

(a glued suffix, as in `1.1.0rc1` or `2.0.0b3`, must start with a pre-release word and
follow at least two numeric parts).

The suffix is a *pre-release* when its first identifier (split on `.` and `-`) is a
pre-release word (`rc`, `RC3`, `beta`, `b2`, ...); the pre-release is that identifier plus
the purely numeric identifiers right after it, and whatever follows is the *variant*
(`1.2.0-rc.1-alpine`: pre-release `rc.1`, variant `alpine`). A suffix that does not start
with a pre-release word is all variant. Four-part tags are parsed too (relative policies
order them); `semver:` ignores them.

Pre-release identifiers get an ordering key shared with range operands (see `ranges`):
numbers sort below pre-release words, words by rank then by the numbers after them (so
`rc10` > `rc9` and `RC3` > `rc2`), and any other identifier (only range operands have
them, e.g. `>=1.0.0-z`) above the words, by its text as in SemVer.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

#: rank of each pre-release word; equal ranks are synonyms (`a` = `alpha`)
WORD_RANK: dict[str, int] = {
    "dev": 0,
    "snapshot": 1,
    "nightly": 2,
    "canary": 3,
    "alpha": 4,
    "a": 4,
    "beta": 5,
    "b": 5,
    "pre": 6,
    "preview": 6,
    "rc": 7,
}

# An identifier that is, as a whole and case-insensitively, a pre-release word, optionally
# followed by digits; the one-letter words need digits (`a1`, `b2`) so that a sha such as
# `b4e5f6a` or a variant `a` is not read as a pre-release.
_WORD = re.compile(
    r"(?P<word>dev|snapshot|nightly|canary|alpha|beta|preview|pre|rc)(?P<digits>[0-9]*)"
    r"|(?P<letter>[ab])(?P<letter_digits>[0-9]+)",
    re.IGNORECASE,
)

_TAG = re.compile(
    r"(?P<prefix>[vV]?)"
    r"(?P<numbers>[0-9]+(?:\.[0-9]+){0,3})"
    r"(?:_(?P<build>[0-9]+))?"
    r"(?:-(?P<suffix>[0-9A-Za-z_.-]+)|(?P<glued>[A-Za-z][0-9A-Za-z_.-]*))?"
    r"(?:\+(?P<metadata>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)

_SEPARATOR = re.compile(r"([.-])")

#: ordering key of one pre-release identifier: (class, number, text); class 0 = numeric,
#: 1 = pre-release word (number = its rank), 2 = anything else (text, compared as SemVer)
Identifier = tuple[int, int, str]
#: a version's place in the order: numbers (padded to four), release-after-pre-release,
#: pre-release identifiers, `_N` build number (-1 when absent)
OrderKey = tuple[tuple[int, ...], int, tuple[Identifier, ...], int]


def identifier_keys(identifier: str) -> tuple[Identifier, ...]:
    """The ordering key(s) of one identifier; a word with glued digits gives two (`rc1`)."""
    if identifier.isdigit():
        return ((0, int(identifier), ""),)
    word = word_keys(identifier)
    if word is not None:
        return word
    return ((2, 0, identifier),)


def word_keys(identifier: str) -> tuple[Identifier, ...] | None:
    """The keys of a pre-release word identifier (`rc1` -> rank of rc, then 1), else None."""
    match = _WORD.fullmatch(identifier)
    if match is None:
        return None
    word = (match["word"] or match["letter"]).lower()
    digits = match["digits"] or match["letter_digits"]
    keys: tuple[Identifier, ...] = ((1, WORD_RANK[word], ""),)
    if digits:
        keys += ((0, int(digits), ""),)
    return keys


class ParsedTag(NamedTuple):
    """A tag read as a version. `tag` is kept exactly as the registry spelled it.

    A NamedTuple rather than a frozen dataclass: a scan builds tens of thousands of
    these and tuple construction is several times cheaper.
    """

    tag: str
    prefix: str  # "", "v" or "V"
    numbers: tuple[int, ...]  # one to four numeric parts, as written (leading zeros dropped)
    prerelease: tuple[Identifier, ...]  # empty for a final release
    variant: str  # "" when there is none; compared case-sensitively
    build: int | None  # the `_N` build number
    key: OrderKey
    #: major.minor.patch, missing parts as 0 (what a range checks; 1-3 part tags only)
    core: tuple[int, int, int]
    #: what a candidate must share with the current tag: part count, variant, `_N`
    shape: tuple[int, str, bool]

    @property
    def is_semver(self) -> bool:
        """True for the 1-3 part tags that every policy treats as versions."""
        return len(self.numbers) <= 3

    @property
    def plain(self) -> bool:
        """No variant and no build number: the only tags eligible without a current tag."""
        return not self.variant and self.build is None


@lru_cache(maxsize=65536)
def parse_tag(tag: str) -> ParsedTag | None:
    """Read `tag` as a version, or None when it is not one (`latest`, `main-3f2a1c`).

    Cached: a scan ranks the same few thousand tags for every workload using an image.
    """
    match = _TAG.fullmatch(tag)
    if match is None:
        return None
    prefix, numbers_text, build_text, suffix, glued, _ = match.groups()
    numbers = tuple(map(int, numbers_text.split(".")))
    build = int(build_text) if build_text is not None else None
    prerelease: tuple[Identifier, ...] = ()
    variant = ""
    if glued is not None:
        # letters glued to the version must be a pre-release word (`1.0.0p` is no version),
        # after at least two parts: `1b23456` is a short git sha, not 1-beta.23456
        split = _split_suffix(glued) if len(numbers) >= 2 else None
        if split is None:
            return None
        prerelease, variant = split
    elif suffix is not None:
        split = _split_suffix(suffix)
        prerelease, variant = split if split is not None else ((), suffix)
    padded = (*numbers, 0, 0, 0)
    return ParsedTag(
        tag,
        prefix,
        numbers,
        prerelease,
        variant,
        build,
        (padded[:4], 0 if prerelease else 1, prerelease, -1 if build is None else build),
        (padded[0], padded[1], padded[2]),
        (len(numbers), variant, build is not None),
    )


def _split_suffix(suffix: str) -> tuple[tuple[Identifier, ...], str] | None:
    """Split a suffix into pre-release keys and variant; None if it is not a pre-release."""
    pieces = _SEPARATOR.split(suffix)  # identifier, separator, identifier, ...
    keys = word_keys(pieces[0])
    if keys is None:
        return None
    index = 2
    while index < len(pieces) and pieces[index].isdigit():
        keys += ((0, int(pieces[index]), ""),)
        index += 2
    rest = "".join(pieces[index - 1 :]) if index - 1 < len(pieces) else ""
    # drop the separator between pre-release and variant; keep a lone trailing one so that
    # `1.2.3-rc1.` never has the same shape as `1.2.3-rc1`
    return keys, rest[1:] or rest


def compare_tags(left: str, right: str) -> int | None:
    """-1, 0 or 1 as `left` is older than, as new as, or newer than `right` (SPEC order).

    None when either tag is not a version. Equal versions spelled differently
    (`v1.2.3`, `1.2.3`) compare 0; variants do not take part.
    """
    a, b = parse_tag(left), parse_tag(right)
    if a is None or b is None:
        return None
    return (a.key > b.key) - (a.key < b.key)
