"""imageupdater: keep the image tags of GitOps manifests current, one scalar at a time."""

__version__ = "0.1.0"
