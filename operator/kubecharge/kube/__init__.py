"""Kubernetes I/O beyond what kopf does itself: the API client, report ConfigMaps. Only the handlers use it."""
