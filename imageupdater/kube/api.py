"""The one module that imports `kubernetes`: a small, typed facade over the API calls we make.

Everything goes through the official client (auth plugins, kubeconfig contexts, in-cluster
service-account tokens and CA all come for free), but answers are read as plain JSON
(`_preload_content=False`) instead of the generated models: the models validate required
fields on the way *in*, so one odd object from a newer cluster would fail a whole list,
and dicts are all drift and leases need. `Any` stays inside this module; callers see
`dict[str, Any]` documents and `KubeError`s, never an `ApiException` or urllib3 error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imageupdater.errors import ImageUpdaterError

#: where a pod finds its own namespace (mounted with the service-account token)
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
TIMEOUT = 10.0  # seconds per request: a hung API server must not hang a cycle or an election


class KubeError(ImageUpdaterError):
    """The Kubernetes API answered with an error, or could not be reached.

    `status` is the HTTP status (0 when there was no answer), so callers can tell a lost
    race (409) or a missing object (404) from an outage without parsing messages.
    """

    kind = "kubernetes"

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Workloads:
    """How to list one workload kind: the client group and its `list_namespaced_*` name."""

    group: str  # "core", "apps" or "batch"
    method: str


#: the kinds `drift` can read back from a cluster (SPEC §2.1's pod-template kinds)
KINDS: dict[str, Workloads] = {
    "Deployment": Workloads("apps", "list_namespaced_deployment"),
    "StatefulSet": Workloads("apps", "list_namespaced_stateful_set"),
    "DaemonSet": Workloads("apps", "list_namespaced_daemon_set"),
    "ReplicaSet": Workloads("apps", "list_namespaced_replica_set"),
    "CronJob": Workloads("batch", "list_namespaced_cron_job"),
    "Job": Workloads("batch", "list_namespaced_job"),
    "Pod": Workloads("core", "list_namespaced_pod"),
}


def in_cluster() -> bool:
    """True inside a pod with a service account (what `run` takes as "in a cluster")."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and SERVICE_ACCOUNT_TOKEN.exists()


class Cluster:
    """A connection to one cluster: a kubeconfig context, or the pod's service account."""

    def __init__(self, api_client: Any, namespace: str, context: str | None = None) -> None:
        self._client = api_client
        #: the namespace of the context (or of the pod): leases live here, and manifests
        #: without `metadata.namespace` are looked up here
        self.namespace = namespace
        self.context = context

    @classmethod
    def connect(
        cls,
        *,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        namespace: str | None = None,
    ) -> Cluster:
        """kubeconfig (`--kubeconfig`, `$KUBECONFIG`, `~/.kube/config`) when there is one or
        a context is asked for; else the in-cluster service account (the Deployment case)."""
        from kubernetes import client
        from kubernetes import config as untyped_config
        from kubernetes.config.config_exception import ConfigException

        config: Any = untyped_config  # the package has no annotations

        # $KUBECONFIG may list several files (`a:b`): the library merges them when given the
        # list, but reads the variable only once, at import; so it is passed every time
        explicit = str(kubeconfig) if kubeconfig else os.environ.get("KUBECONFIG") or None
        use_kubeconfig = bool(context or explicit or Path("~/.kube/config").expanduser().exists())
        try:
            if use_kubeconfig:
                api_client = config.new_client_from_config(
                    config_file=explicit, context=context, persist_config=False
                )
                contexts, active = config.list_kube_config_contexts(config_file=explicit)
                if context:
                    active = next((c for c in contexts if c.get("name") == context), active)
                default = (active or {}).get("context", {}).get("namespace") or "default"
            else:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                api_client = client.ApiClient(configuration)
                default = _pod_namespace()
        except (ConfigException, OSError, TypeError, ValueError) as exc:
            where = f" (context {context})" if context else ""
            raise KubeError(f"no usable Kubernetes configuration{where}: {exc}") from None
        return cls(api_client, namespace or default, context)

    def close(self) -> None:
        self._client.close()

    # ------------------------------------------------------------------ plumbing

    def _call(self, what: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One request, answered as JSON; every failure becomes a `KubeError`."""
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = method(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
            return json.loads(response.data or b"null")
        except ApiException as exc:
            raise KubeError(f"{what}: HTTP {exc.status} {_reason(exc)}", exc.status) from None
        except (HTTPError, OSError, ValueError) as exc:
            raise KubeError(f"{what}: {type(exc).__name__}: {exc}") from None

    def _api(self, group: str) -> Any:
        from kubernetes import client

        apis = {
            "core": client.CoreV1Api,
            "apps": client.AppsV1Api,
            "batch": client.BatchV1Api,
            "coordination": client.CoordinationV1Api,
        }
        return apis[group](self._client)

    # ------------------------------------------------------------------ leases

    def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The Lease, or None when it does not exist."""
        api = self._api("coordination")
        try:
            lease: dict[str, Any] = self._call(
                f"get lease {namespace}/{name}", api.read_namespaced_lease, name, namespace
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise
        return lease

    def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create; a lost race (the Lease exists) is a `KubeError` with status 409."""
        api = self._api("coordination")
        name = body["metadata"]["name"]
        created: dict[str, Any] = self._call(
            f"create lease {namespace}/{name}", api.create_namespaced_lease, namespace, body
        )
        return created

    def replace_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        """Replace, guarded by `metadata.resourceVersion`: a stale write is a 409."""
        api = self._api("coordination")
        name = body["metadata"]["name"]
        replaced: dict[str, Any] = self._call(
            f"update lease {namespace}/{name}", api.replace_namespaced_lease, name, namespace, body
        )
        return replaced

    def list_leases(self, namespace: str, label_selector: str) -> list[dict[str, Any]]:
        api = self._api("coordination")
        answer = self._call(
            f"list leases in {namespace}",
            api.list_namespaced_lease,
            namespace,
            label_selector=label_selector,
        )
        return list(answer.get("items") or [])

    def delete_lease(self, namespace: str, name: str) -> None:
        api = self._api("coordination")
        try:
            self._call(
                f"delete lease {namespace}/{name}", api.delete_namespaced_lease, name, namespace
            )
        except KubeError as exc:
            if exc.status != 404:
                raise

    # ------------------------------------------------------------------ secrets, workloads

    def get_secret(self, namespace: str, name: str) -> dict[str, Any]:
        """One Secret by name: `get` only, never `list` (RBAC grants it per resourceName)."""
        api = self._api("core")
        secret: dict[str, Any] = self._call(
            f"get secret {namespace}/{name}", api.read_namespaced_secret, name, namespace
        )
        return secret

    def list_workloads(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """Every object of a pod-template `kind` in `namespace` (one request per kind and
        namespace, however many manifests name it)."""
        spec = KINDS[kind]
        api = self._api(spec.group)
        answer = self._call(f"list {kind} in {namespace}", getattr(api, spec.method), namespace)
        return list(answer.get("items") or [])


def _reason(exc: Any) -> str:
    """The API's own `message` (a Status object), else the HTTP reason; never headers."""
    try:
        status = json.loads(exc.body or b"{}")
        message = status.get("message") if isinstance(status, dict) else None
    except (TypeError, ValueError):
        message = None
    return str(message or exc.reason or "").strip()


def _pod_namespace() -> str:
    try:
        return SERVICE_ACCOUNT_NAMESPACE.read_text(encoding="utf-8").strip() or "default"
    except OSError:
        return "default"
