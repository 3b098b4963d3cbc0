"""Named policies: `kind: ImagePolicy` documents found in the repository (SPEC §3.2, §2.3).

Two dialects are read, each with its own field names:

* ours, `apiVersion: imageupdater.io/v1` — `spec.image`, `spec.policy` (exactly one of
  `semver: {range}`, `alphabetical: {order}`, `numerical: {order}`, `newestBuild: {}`,
  `relative: major|minor|patch`, `digest: {}`), `filterTags: {pattern, extract}`,
  `exclude`, `platforms`, `minAge`; unknown fields are errors;
* Flux's, `image.toolkit.fluxcd.io/v1beta2` or `/v1` — `ImagePolicy.spec.policy`
  (`semver`, `alphabetical`, `numerical`), `filterTags`, `digestReflectionPolicy`, and
  `imageRepositoryRef` naming an `ImageRepository` whose `spec.image` and
  `spec.exclusionList` complete the policy. Fields Flux needs for its controllers
  (`interval`, `secretRef`, ...) are ignored, so a Flux repository loads unchanged.

Every policy is validated when loaded. An invalid one is one `config` error naming the file
and line of its `kind:`; it stays in the book as invalid so that only the workloads and
markers that use it are skipped (`invalid-policy`), not the whole run.

A policy without `metadata.namespace` (common in kustomize bases) is found by name alone
when no policy has the exact `namespace/name`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from imageupdater.errors import PolicyError
from imageupdater.policy import TagPolicy, parse_policy
from imageupdater.policy.buildtime import DigestPolicy, newest_build
from imageupdater.policy.keyed import AlphabeticalPolicy, NumericalPolicy
from imageupdater.policy.named import FilteredPolicy, compile_pattern
from imageupdater.policy.semver import SemverPolicy
from imageupdater.report import ErrorEntry, Report
from imageupdater.yamledit import Node, Scalar

OURS = "imageupdater.io/v1"
FLUX_GROUP = "image.toolkit.fluxcd.io/"
FLUX_VERSIONS = ("v1beta1", "v1beta2", "v1")

_SPEC_FIELDS = {"image", "policy", "filterTags", "exclude", "platforms", "minAge"}
_KINDS = ("semver", "alphabetical", "numerical", "newestBuild", "relative", "digest")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?")


@dataclass(frozen=True, slots=True)
class NamedPolicy:
    """One loaded policy. `image` is the repository as written (None: take the workload's)."""

    namespace: str | None
    name: str
    file: str
    line: int
    image: str | None
    policy: TagPolicy
    reflect_digest: bool = False  # Flux digestReflectionPolicy IfNotPresent / Always
    flux: bool = False

    @property
    def key(self) -> str:
        return f"{self.namespace or ''}/{self.name}"


@dataclass(slots=True)
class PolicyBook:
    """Every named policy of a repository, valid or not, by `namespace/name`."""

    policies: dict[str, NamedPolicy] = field(default_factory=dict)
    invalid: dict[str, str] = field(default_factory=dict)  # key -> error message
    #: inline expressions already parsed (policies are immutable values; a plan parses the
    #: same few expressions for every container). Not `@references`, which name policies
    #: the book may still be loading, and not failures.
    _parsed: dict[str, TagPolicy] = field(default_factory=dict, repr=False, compare=False)

    def find(self, namespace: str, name: str) -> NamedPolicy:
        """The policy a reference names; PolicyError when it is missing or invalid."""
        key = f"{namespace}/{name}"
        for candidate in (key, f"/{name}"):
            if candidate in self.invalid:
                raise PolicyError(f"named policy {key!r} is invalid: {self.invalid[candidate]}")
            found = self.policies.get(candidate)
            if found is not None:
                return found
        raise PolicyError(f"no named policy {key!r} (kind: ImagePolicy) in the repository")

    def resolver(self) -> Mapping[str, TagPolicy]:
        """What `parse_policy` needs for `@namespace/name` expressions."""
        return _Resolver(self)

    def parse(self, expression: str) -> TagPolicy:
        """`parse_policy` with this book's named policies."""
        found = self._parsed.get(expression)
        if found is None:
            found = parse_policy(expression, self.resolver())
            if not expression.lstrip().startswith("@"):
                self._parsed[expression] = found
        return found


class _Resolver(Mapping[str, TagPolicy]):
    def __init__(self, book: PolicyBook) -> None:
        self._book = book

    def __getitem__(self, key: str) -> TagPolicy:
        namespace, _, name = key.partition("/")
        return self._book.find(namespace, name).policy

    def get(self, key: str, default: Any = None) -> Any:
        return self[key]  # PolicyError with the precise reason rather than "missing"

    def __iter__(self) -> Any:
        return iter(self._book.policies)

    def __len__(self) -> int:
        return len(self._book.policies)


def plain(node: Node | None) -> Any:
    """A Node tree as plain Python values (scalars as their text)."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, dict):
        return {key: plain(value) for key, value in node.items()}
    if isinstance(node, list):
        return [plain(item) for item in node]
    return None


def _kind_line(document: dict[str, Node]) -> int:
    kind = document.get("kind")
    return kind.line if isinstance(kind, Scalar) else 1


def parse_duration(text: str) -> timedelta:
    """`30s`, `5m`, `24h`, `1h30m`, `7d` (Go durations plus days)."""
    value = str(text).strip()
    pieces = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in pieces) != value:
        raise PolicyError(f"invalid duration {value!r} (e.g. 30s, 5m, 24h, 7d)")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in pieces))


def _order(kind: str, spec: Any) -> bool:
    """`order: asc|desc` (Flux upper-cases it first); True for descending."""
    if spec in (None, ""):
        return False
    if not isinstance(spec, dict) or set(spec) - {"order"}:
        raise PolicyError(f"policy.{kind} takes only 'order: asc|desc'")
    order = str(spec.get("order") or "asc").lower()
    if order not in ("asc", "desc"):
        raise PolicyError(f"policy.{kind}.order must be asc or desc (got {spec.get('order')!r})")
    return order == "desc"


def inner_policy(choice: Any, *, flux: bool = False) -> TagPolicy:
    """The policy of `spec.policy`: exactly one kind, validated (Flux's `factory`)."""
    allowed = _KINDS[:3] if flux else _KINDS
    if not isinstance(choice, dict) or len(choice) != 1:
        raise PolicyError(f"spec.policy needs exactly one of: {', '.join(allowed)}")
    ((kind, spec),) = choice.items()
    if kind not in allowed:
        raise PolicyError(f"unknown spec.policy kind {kind!r} (one of: {', '.join(allowed)})")
    if kind == "semver":
        if not isinstance(spec, dict) or not isinstance(spec.get("range"), str):
            raise PolicyError("policy.semver needs 'range', e.g. {range: '>=1.0.0 <2'}")
        return SemverPolicy(spec["range"])
    if kind == "alphabetical":
        return AlphabeticalPolicy(".*", descending=_order(kind, spec))
    if kind == "numerical":
        return NumericalPolicy(".*", descending=_order(kind, spec))
    if kind == "relative":
        if spec not in ("major", "minor", "patch"):
            raise PolicyError("policy.relative is one of major, minor, patch")
        return parse_policy(str(spec))
    if spec not in (None, {}, ""):
        raise PolicyError(f"policy.{kind} takes no fields ({kind}: {{}})")
    return newest_build() if kind == "newestBuild" else DigestPolicy()


def _patterns(what: str, values: Any) -> list[re.Pattern[str]]:
    if values is None:
        return []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"{what} must be a list of regular expressions")
    return [compile_pattern(what, value) for value in values]


def compose(
    choice: Any,
    *,
    expression: str,
    filter_tags: Any = None,
    exclude: Any = None,
    platforms: Any = None,
    min_age: Any = None,
    flux: bool = False,
) -> TagPolicy:
    """Inner policy plus filters, every part validated."""
    inner = inner_policy(choice, flux=flux)
    if isinstance(inner, DigestPolicy):
        if filter_tags or exclude or platforms or min_age:
            raise PolicyError(
                "policy.digest follows one tag: filterTags, exclude, platforms "
                "and minAge do not apply"
            )
        return inner
    pattern, extract = None, ""
    if filter_tags is not None:
        if not isinstance(filter_tags, dict) or set(filter_tags) - {"pattern", "extract"}:
            raise PolicyError("filterTags takes 'pattern' and 'extract'")
        text = filter_tags.get("pattern") or ""
        extract = filter_tags.get("extract") or ""
        pattern = compile_pattern("filterTags.pattern", text) if text else None
    wanted: list[str] = []
    if platforms is not None:
        if not isinstance(platforms, list) or not all(
            isinstance(p, str) and _PLATFORM.fullmatch(p) for p in platforms
        ):
            raise PolicyError("platforms must be a list of os/arch[/variant], e.g. linux/arm64")
        wanted = list(platforms)
    age = parse_duration(min_age) if min_age is not None else None
    excluded = _patterns("exclude", exclude)
    if pattern is None and not excluded and not wanted and age is None:
        return inner
    return FilteredPolicy(
        inner,
        expression=expression,
        pattern=pattern,
        extract=extract,
        exclude=excluded,
        platforms=wanted,
        min_age=age,
    )


@dataclass(frozen=True, slots=True)
class _Document:
    file: str
    line: int
    api: str
    kind: str
    namespace: str | None
    name: str
    spec: Any


def holds_policy_documents(documents: Iterable[Node | None]) -> bool:
    """Whether any document might be an ImagePolicy or ImageRepository (`load_policies`
    looks at no other): discovery re-reads such files on every run."""
    return any(
        isinstance(document, dict) and _is_policy_kind(document.get("kind"))
        for document in documents
    )


def _is_policy_kind(node: Node | None) -> bool:
    return isinstance(node, Scalar) and node.value in ("ImagePolicy", "ImageRepository")


def _documents(documents: Iterable[tuple[str, Node]]) -> Iterable[_Document]:
    for file, document in documents:
        if not isinstance(document, dict):
            continue
        if not _is_policy_kind(document.get("kind")):  # cheap: most documents are workloads
            continue
        body = plain(document)
        api, kind = body.get("apiVersion"), body.get("kind")
        if kind not in ("ImagePolicy", "ImageRepository") or not isinstance(api, str):
            continue
        if api != OURS and not (
            api.startswith(FLUX_GROUP) and api.removeprefix(FLUX_GROUP) in FLUX_VERSIONS
        ):
            continue
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        name = metadata.get("name")
        namespace = metadata.get("namespace")
        yield _Document(
            file,
            _kind_line(document),
            api,
            kind,
            namespace if isinstance(namespace, str) and namespace else None,
            name if isinstance(name, str) else "",
            body.get("spec"),
        )


def load_policies(documents: Iterable[tuple[str, Node]], report: Report) -> PolicyBook:
    """Read every ImagePolicy / ImageRepository among `(file, document)`; report bad ones."""
    book = PolicyBook()
    # ours first: a native policy shadows a Flux one of the same namespace/name, so that
    # `migrate` can add native policies next to Flux's without removing them
    found = sorted(_documents(documents), key=lambda d: d.api != OURS)
    repositories = {
        (d.namespace, d.name): d for d in found if d.kind == "ImageRepository" and d.api != OURS
    }
    for document in found:
        if document.kind != "ImagePolicy":
            continue
        key = f"{document.namespace or ''}/{document.name}"
        if document.api != OURS and key in book.policies and not book.policies[key].flux:
            continue  # shadowed by ours
        try:
            if not document.name:
                raise PolicyError("metadata.name is missing")
            if key in book.policies or key in book.invalid:
                raise PolicyError(f"a second ImagePolicy named {key.lstrip('/')!r}")
            loaded = _ours(document) if document.api == OURS else _flux(document, repositories)
        except PolicyError as exc:
            message = f"ImagePolicy {key.lstrip('/')}: {exc}"
            report.add_error(ErrorEntry("config", message, file=document.file, line=document.line))
            book.invalid.setdefault(key, str(exc))
            continue
        book.policies[key] = loaded
    return book


def _ours(document: _Document) -> NamedPolicy:
    spec = document.spec
    if not isinstance(spec, dict):
        raise PolicyError("spec is missing")
    unknown = set(spec) - _SPEC_FIELDS
    if unknown:
        raise PolicyError(f"unknown field(s) in spec: {', '.join(sorted(unknown))}")
    image = spec.get("image")
    if image is not None and not isinstance(image, str):
        raise PolicyError("spec.image must be an image repository")
    policy = compose(
        spec.get("policy"),
        expression=f"@{document.namespace or ''}/{document.name}",
        filter_tags=spec.get("filterTags"),
        exclude=spec.get("exclude"),
        platforms=spec.get("platforms"),
        min_age=spec.get("minAge"),
    )
    return NamedPolicy(document.namespace, document.name, document.file, document.line,
                       image, policy)  # fmt: skip


def _repository(
    repositories: Mapping[tuple[str | None, str], _Document], namespace: str | None, name: str
) -> _Document | None:
    """The ImageRepository a policy references: same namespace, else one without a
    namespace, else the only one of that name (kustomize often sets namespaces later)."""
    found = repositories.get((namespace, name)) or repositories.get((None, name))
    if found is not None:
        return found
    named = [doc for (_, doc_name), doc in repositories.items() if doc_name == name]
    return named[0] if len(named) == 1 else None


def _flux(
    document: _Document, repositories: Mapping[tuple[str | None, str], _Document]
) -> NamedPolicy:
    spec = document.spec if isinstance(document.spec, dict) else {}
    ref = spec.get("imageRepositoryRef")
    if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
        raise PolicyError("spec.imageRepositoryRef.name is missing")
    repository = _repository(repositories, ref.get("namespace") or document.namespace, ref["name"])
    if repository is None:
        raise PolicyError(f"ImageRepository {ref['name']!r} is not in the repository")
    repo_spec = repository.spec if isinstance(repository.spec, dict) else {}
    image = repo_spec.get("image")
    if not isinstance(image, str) or not image:
        raise PolicyError(f"ImageRepository {ref['name']!r} has no spec.image")
    reflection = spec.get("digestReflectionPolicy") or "Never"
    if reflection not in ("Never", "IfNotPresent", "Always"):
        raise PolicyError("spec.digestReflectionPolicy is Never, IfNotPresent or Always")
    policy = compose(
        spec.get("policy"),
        expression=f"@{document.namespace or ''}/{document.name}",
        filter_tags=spec.get("filterTags"),
        exclude=repo_spec.get("exclusionList"),
        flux=True,
    )
    return NamedPolicy(document.namespace, document.name, document.file, document.line,
                       image, policy, reflect_digest=reflection != "Never", flux=True)  # fmt: skip


@dataclass(frozen=True, slots=True)
class NativePolicy:
    """A Flux ImagePolicy rewritten as ours, for `migrate`."""

    file: str  # the file of the Flux ImagePolicy
    line: int
    namespace: str | None
    name: str
    text: str  # one YAML document, without `---`
    notes: tuple[str, ...]


def native_policies(documents: Iterable[tuple[str, Node]]) -> list[NativePolicy]:
    """Our ImagePolicy for every valid Flux one that no native policy already shadows.

    Values are written as JSON, which YAML reads as flow collections and double-quoted
    strings, so no value can change meaning on the way.
    """
    report = Report()
    items = list(documents)
    book = load_policies(items, report)
    found = list(_documents(items))
    repositories = {(d.namespace, d.name): d for d in found if d.kind == "ImageRepository"}
    natives: list[NativePolicy] = []
    for document in found:
        if document.kind != "ImagePolicy" or document.api == OURS:
            continue
        named = book.policies.get(f"{document.namespace or ''}/{document.name}")
        if named is None or not named.flux or named.image is None:
            continue  # invalid (reported by plan) or shadowed by a native policy
        spec = document.spec if isinstance(document.spec, dict) else {}
        ref = spec["imageRepositoryRef"]
        repository = _repository(
            repositories, ref.get("namespace") or document.namespace, ref["name"]
        )
        repo_spec = repository.spec if repository and isinstance(repository.spec, dict) else {}
        lines = [
            f"apiVersion: {OURS}",
            "kind: ImagePolicy",
            "metadata:",
            f"  name: {json.dumps(document.name)}",
        ]
        if document.namespace:
            lines.append(f"  namespace: {json.dumps(document.namespace)}")
        lines += ["spec:", f"  image: {json.dumps(named.image)}"]
        lines.append(f"  policy: {json.dumps(spec.get('policy'))}")
        if spec.get("filterTags"):
            lines.append(f"  filterTags: {json.dumps(spec['filterTags'])}")
        if repo_spec.get("exclusionList"):
            lines.append(f"  exclude: {json.dumps(repo_spec['exclusionList'])}")
        notes: list[str] = []
        if named.reflect_digest:
            notes.append(
                "digestReflectionPolicy has no native field: a whole-reference marker keeps "
                "a digest only when its value already pins one"
            )
        natives.append(
            NativePolicy(
                document.file,
                document.line,
                document.namespace,
                document.name,
                "\n".join(lines) + "\n",
                tuple(notes),
            )
        )
    return natives
