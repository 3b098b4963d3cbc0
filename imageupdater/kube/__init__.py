"""Kubernetes: replica coordination through Leases, pull secrets, and reading workloads.

`kube.api` is the only module in the product that imports the `kubernetes` client (an
import-linter contract keeps it so); the rest of the package, and every caller, works with
plain dicts, `KubeError` and the small classes exported here:

* `Cluster.connect(kubeconfig=, context=)` — a kubeconfig context, or the pod's account;
* `LeaderElector` / `ShardLeases` — `start()`, `stop()`, `owns(automation) -> bool`;
* `read_pull_secrets` + `docker_config_file` — dockerconfigjson Secrets as a config.json.
"""

from imageupdater.kube.api import KINDS, Cluster, KubeError
from imageupdater.kube.leases import LeaderElector, ShardLeases, Timing, shard_of
from imageupdater.kube.secrets import (
    docker_config_file,
    docker_config_of,
    merge_configs,
    read_pull_secrets,
    secret_ref,
)

__all__ = [
    "KINDS",
    "Cluster",
    "KubeError",
    "LeaderElector",
    "ShardLeases",
    "Timing",
    "docker_config_file",
    "docker_config_of",
    "merge_configs",
    "read_pull_secrets",
    "secret_ref",
    "shard_of",
]
