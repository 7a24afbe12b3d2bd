"""The Kubernetes API client, configured the standard way: in-cluster service account, else KUBECONFIG.

`KUBECHARGE_KUBE_API_URL` points it at a URL that needs no credentials (a `kubectl proxy`, a test server).
"""

from __future__ import annotations

import kubernetes


def api_client(api_url: str | None) -> kubernetes.client.ApiClient:
    if api_url:
        configuration = kubernetes.client.Configuration(host=api_url)
        return kubernetes.client.ApiClient(configuration)
    try:
        kubernetes.config.load_incluster_config()  # type: ignore[no-untyped-call]
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()  # type: ignore[no-untyped-call]
    return kubernetes.client.ApiClient()


def api_error(error: Exception) -> str:
    """An API server's refusal or an unreachable one, in a few words (never its body: it may echo a token)."""
    if isinstance(error, kubernetes.client.ApiException):
        return f"HTTP {error.status} {error.reason}"
    return type(error).__name__
