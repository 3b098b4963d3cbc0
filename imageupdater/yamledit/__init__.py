"""Read Kubernetes YAML and change single scalar values without touching any other byte.

The only package that imports ruamel.yaml (and only in `events`). The flow is::

    bytes --decode--> text --load_documents--> Node tree of Scalars with source spans
    text + [Edit(scalar, new_value)] --apply_edits--> text' (spliced, then re-parsed and
    compared with the original: anything but the intended change raises RewriteError)
    text' --encode--> bytes

`screen` is the cheap filter that skips files before they are decoded or parsed.
"""

from __future__ import annotations

from .annotate import iter_documents, set_annotation
from .codec import decode, encode
from .comments import line_comment
from .load import clear_cache as _clear_parses
from .load import load_documents
from .nodes import Edit, Node, Scalar
from .persist import code_version, load_caches, save_caches
from .rewrite import apply_edits, clear_splices
from .screen import screen


def clear_cache() -> None:
    """Forget every memoised parse and splice (cold measurements, tests)."""
    _clear_parses()
    clear_splices()


__all__ = [
    "Edit",
    "Node",
    "Scalar",
    "apply_edits",
    "clear_cache",
    "code_version",
    "decode",
    "encode",
    "iter_documents",
    "line_comment",
    "load_caches",
    "load_documents",
    "save_caches",
    "screen",
    "set_annotation",
]
