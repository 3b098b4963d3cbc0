"""Kubernetes: replica coordination through Leases, pull secrets, and reading workloads.

`kube.api` is the only module in the product that imports the `kubernetes` client (an
import-linter contract keeps it so); the rest of the package, and every caller, works with
plain dicts, `KubeError` and the small classes exported here:

* `Cluster.connect(kubeconfig=, context=)` — a kubeconfig context, or the pod's account;
* `coordinator(cluster, shards=)` -> `LeaderElector` / `ShardLeases` / `Standalone`, all
  with `start()`, `stop()`, `owns(automation) -> bool` (the `Coordinator` protocol);
* `read_pull_secrets` + `docker_config_file` — dockerconfigjson Secrets as a config.json.
"""

from imageupdater.kube.api import KINDS, Cluster, KubeError, in_cluster
from imageupdater.kube.leases import (
    Coordinator,
    LeaderElector,
    ShardLeases,
    Standalone,
    Timing,
    coordinator,
    default_identity,
    shard_of,
)
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
    "Coordinator",
    "KubeError",
    "LeaderElector",
    "ShardLeases",
    "Standalone",
    "Timing",
    "coordinator",
    "default_identity",
    "docker_config_file",
    "docker_config_of",
    "in_cluster",
    "merge_configs",
    "read_pull_secrets",
    "secret_ref",
    "shard_of",
]
