"""Reading the keys of a Secret the operator was pointed at, and nothing else of it."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import kubernetes

from kubecharge.errors import SecretError


def secret_values(api: Any, namespace: str, name: str, keys: Sequence[str], what: str) -> dict[str, str]:
    """The named keys of Secret `namespace/name` (those it has), decoded; only those are decoded or kept.
    `what` says in an error what the Secret was for."""
    core = kubernetes.client.CoreV1Api(api)
    try:
        secret = core.read_namespaced_secret(name, namespace)
    except kubernetes.client.exceptions.ApiException as error:
        hint = ("the operator reads Secrets only in the namespaces its chart grants (rbac.secretNamespaces)"
                if error.status == 403 else "create it or fix the reference")  # fmt: skip
        raise SecretError(f"cannot read Secret {namespace}/{name} for {what} ({error.status} {error.reason}); "
                          f"{hint}") from None  # fmt: skip
    return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items() if key in keys}


def secret_value(api: Any, namespace: str, name: str, key: str, what: str) -> str:
    found = secret_values(api, namespace, name, (key,), what)
    if key not in found:
        raise SecretError(f"Secret {namespace}/{name} has no key {key!r} (for {what})")
    return found[key]
