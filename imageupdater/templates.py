"""Commit messages from sandboxed Jinja2 templates (SPEC §6, §8).

Templates come from users' config files, so they run in Jinja2's sandbox: a template can
format the updates it is given and nothing else. Trailers are appended by code, not by
the template, so the history stays machine-readable whatever the template says.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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


def _render(source: str, rows: list[dict[str, Any]], what: str) -> str:
    """`source` rendered in jinja2's sandbox (imported here, at the first message: reading
    history for declined versions needs only `TRAILER`); errors name `what`."""
    from jinja2 import StrictUndefined, TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    environment = _environment.get("sandbox")
    if environment is None:
        environment = SandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=True)
        _environment["sandbox"] = environment
    try:
        return environment.from_string(source).render(updates=rows)
    except TemplateError as exc:
        raise ConfigError(f"{what}: {exc}") from None


_environment: dict[str, Any] = {}


def trailer_lines(updates: Sequence[Update]) -> list[str]:
    """`Image-Update: <workload> <container> <from> -> <to>`, one per update."""
    return [
        f"{TRAILER}: {u.workload or u.file} {u.container or '-'} {u.from_tag} -> {u.to_tag}"
        for u in updates
    ]


def commit_message(updates: Sequence[Update], template: str | None = None) -> str:
    source = template if template is not None else DEFAULT_COMMIT_TEMPLATE
    body = _render(source, [u.to_json() for u in updates], "commit template")
    return body.rstrip() + "\n\n" + "\n".join(trailer_lines(updates)) + "\n"


# ---------------------------------------------------------------- pull requests

DEFAULT_PR_TITLE_TEMPLATE = """\
{%- if updates|length == 1 -%}
{%- set u = updates[0] -%}
Update {{ u.workload or u.file }} {{ u.container or u.image }} to {{ u.to }}
{%- elif updates|map(attribute="workload")|unique|list|length == 1 -%}
Update {{ updates[0].workload or updates[0].file }}: \
{% for u in updates %}{{ u.container or u.image }} {{ u.to }}{{ ", " if not loop.last }}{% endfor %}
{%- else -%}
Update {{ updates|length }} images
{%- endif %}"""

DEFAULT_PR_BODY_TEMPLATE = """\
This pull request was opened by **imageupdater**. A newer tag updates it in place; if it \
is no longer needed it is closed with a comment and its branch deleted. Closing it without \
merging declines these versions: imageupdater will not propose them again.

| Workload | Container | Image | From | To | Policy |
| --- | --- | --- | --- | --- | --- |
{% for u in updates -%}
| {{ u.workload or u.file }} | {{ u.container or "-" }} | \
{%- if u.link %} [{{ u.image }}]({{ u.link }}) {% else %} {{ u.image }} {% endif -%} \
| {{ u.from }} | **{{ u.to }}** | `{{ u.policy }}` |
{% endfor %}"""


def registry_link(image: str) -> str | None:
    """A human page listing the image's tags, for the registries whose layout is known."""
    host, _, path = image.partition("/")
    if not path or ("." not in host and ":" not in host and host != "localhost"):
        host, path = "docker.io", image
    if host == "docker.io":
        namespace, _, name = path.partition("/")
        return (
            f"https://hub.docker.com/r/{namespace}/{name}/tags"
            if namespace != "library" and name
            else f"https://hub.docker.com/_/{name or namespace}?tab=tags"
        )
    if host == "ghcr.io" and "/" in path:
        owner, _, name = path.partition("/")
        return f"https://github.com/{owner}/{name}/pkgs/container/{name.rsplit('/', 1)[-1]}"
    if host == "quay.io":
        return f"https://quay.io/repository/{path}?tab=tags"
    return None


def pr_text(updates: Sequence[Update], template: str | None, default: str, what: str) -> str:
    """Render a PR title or body; links to registry pages are offered as ``u.link``."""
    rows = [{**u.to_json(), "link": registry_link(u.image)} for u in updates]
    return _render(template or default, rows, f"pull request {what} template").strip()
