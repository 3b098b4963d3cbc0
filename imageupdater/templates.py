"""Commit messages from sandboxed Jinja2 templates (SPEC §6, §8).

Templates come from users' config files, so they run in Jinja2's sandbox: a template can
format the updates it is given and nothing else. Trailers are appended by code, not by
the template, so the history stays machine-readable whatever the template says.
"""

from __future__ import annotations

from collections.abc import Sequence

from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from imageupdater.errors import ConfigError
from imageupdater.report import Update

DEFAULT_COMMIT_TEMPLATE = """\
{%- if updates|length == 1 -%}
{%- set u = updates[0] -%}
Update {{ u.workload or u.file }}{{ " " ~ u.container if u.container else "" }} to {{ u.to }}
{%- else -%}
Update {{ updates|length }} images
{%- endif %}

{% for u in updates -%}
- {{ u.workload or u.file }}{{ " " ~ u.container if u.container else "" }}: \
{{- " " }}{{ u.image }} {{ u.from }} -> {{ u.to }} ({{ u.policy }})
{% endfor %}"""

TRAILER = "Image-Update"

_environment = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)


def trailer_lines(updates: Sequence[Update]) -> list[str]:
    """`Image-Update: <workload> <container> <from> -> <to>`, one per update."""
    return [
        f"{TRAILER}: {u.workload or u.file} {u.container or '-'} {u.from_tag} -> {u.to_tag}"
        for u in updates
    ]


def commit_message(updates: Sequence[Update], template: str | None = None) -> str:
    source = template if template is not None else DEFAULT_COMMIT_TEMPLATE
    try:
        body = _environment.from_string(source).render(updates=[u.to_json() for u in updates])
    except TemplateError as exc:
        raise ConfigError(f"commit template: {exc}") from None
    return body.rstrip() + "\n\n" + "\n".join(trailer_lines(updates)) + "\n"
