"""Flux v1 and Keel annotations, read as native policies (SPEC §2.3).

Users arrive with workloads annotated for another tool. Those annotations are read (never
written; `imageupdater migrate` rewrites them) with these meanings:

Flux v1 (`fluxcd.io/`):
* `automated: "true"` opts every container in; without it Flux v1 changed nothing, and
  neither do we;
* `tag.<container>: semver:<range> | glob:<glob> | regex:<re> | regexp:<re>` is that
  container's policy; a bare pattern is a glob, and a container without one is `glob:*`
  (Flux v1's default: the most recently built image);
* `locked: "true"` freezes the workload (`locked_msg` is the reason).

Keel (`keel.sh/policy`, annotation form): `all` and `major` -> `major`, `minor`, `patch`,
`glob:<glob>`, `regexp:<re>` -> `regex:<re>`, `never`. Keel's `all` also takes
pre-releases of newer versions; SPEC's relative policies do not, which is the safer
reading. `force` has no equivalent (it follows a mutable tag: use `digest`) and is an
invalid policy. Keel's legacy *label* form is not read.

Native annotations always win over these.
"""

from __future__ import annotations

from dataclasses import dataclass

from imageupdater.workloads import POLICY, Workload
from imageupdater.yamledit import Scalar

FLUX_AUTOMATED = "fluxcd.io/automated"
FLUX_TAG = "fluxcd.io/tag."
FLUX_LOCKED = "fluxcd.io/locked"
FLUX_LOCKED_MSG = "fluxcd.io/locked_msg"
KEEL_POLICY = "keel.sh/policy"

KEEL_KINDS = {"all": "major", "major": "major", "minor": "minor", "patch": "patch",
              "never": "never"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PolicySource:
    """Where a container's policy comes from, already translated to a native expression.

    `scalar` is the annotation value that says it (its line is reported for errors); it is
    None for Flux v1's implied `glob:*`, whose line is that of `fluxcd.io/automated`.
    """

    expression: str
    annotation: str
    scalar: Scalar
    origin: str  # "imageupdater", "flux-v1" or "keel"


def flux_v1_expression(pattern: str) -> str:
    """A Flux v1 tag pattern as a native expression (a bare pattern is a glob)."""
    text = pattern.strip()
    for prefix, kind in (("semver:", "semver:"), ("glob:", "glob:"), ("regexp:", "regex:"),
                         ("regex:", "regex:")):  # fmt: skip
        if text.startswith(prefix):
            return kind + text.removeprefix(prefix)
    return "glob:" + text


def keel_expression(value: str) -> str:
    """A `keel.sh/policy` value as a native expression (unknown values stay as written,
    prefixed `keel:`, so that parsing reports them as invalid)."""
    text = value.strip()
    lowered = text.lower()
    if lowered in KEEL_KINDS:
        return KEEL_KINDS[lowered]
    if lowered.startswith("glob:"):
        return "glob:" + text[5:]
    if lowered.startswith("regexp:"):
        return "regex:" + text[7:]
    return f"keel:{text}"


def is_true(scalar: Scalar | None) -> bool:
    return scalar is not None and scalar.value.strip().lower() == "true"


def policy_source(workload: Workload, container: str) -> PolicySource | None:
    """The container's policy: native, else Flux v1, else Keel; None when not opted in."""
    native = workload.policy_for(container)
    if native is not None:
        key = f"{POLICY}.{container}" if f"{POLICY}.{container}" in workload.annotations else POLICY
        return PolicySource(native.value.strip(), key, native, "imageupdater")
    automated = workload.annotations.get(FLUX_AUTOMATED)
    if is_true(automated):
        assert automated is not None
        tag = workload.annotations.get(FLUX_TAG + container)
        if tag is not None:
            expression = flux_v1_expression(tag.value)
            return PolicySource(expression, FLUX_TAG + container, tag, "flux-v1")
        return PolicySource("glob:*", FLUX_AUTOMATED, automated, "flux-v1")
    keel = workload.annotations.get(KEEL_POLICY)
    if keel is not None:
        return PolicySource(keel_expression(keel.value), KEEL_POLICY, keel, "keel")
    return None


def locked(workload: Workload) -> str | None:
    """Flux v1's `fluxcd.io/locked: "true"`: the freeze detail, or None."""
    if not is_true(workload.annotations.get(FLUX_LOCKED)):
        return None
    message = (workload.annotation(FLUX_LOCKED_MSG) or "").strip()
    return f"locked ({FLUX_LOCKED}){': ' + message if message else ''}"
