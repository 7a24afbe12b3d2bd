"""How to reach a Prometheus-compatible API: tenant, credentials, CA and the parameters every query carries.

Thanos Query, Mimir / Cortex and VictoriaMetrics speak the Prometheus HTTP API with a few additions of their own;
each is sent on every query and ignored by the backends that do not know it:
- `partial_response=false`: Thanos fails a query whose stores did not all answer, instead of answering with
  part of the data and a warning (an undercharge nobody would see);
- `dedup=true`: Thanos merges the series of Prometheus replicas (the queries are correct without it too);
- `nocache=1`: VictoriaMetrics does not serve recent hours from its rollup cache, which may predate late samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from kubecharge.errors import InputError
from kubecharge.settings import Settings

QUERY_PARAMETERS = {"partial_response": "false", "dedup": "true", "nocache": "1"}


class BearerTokenFile(AuthBase):
    """`Authorization: Bearer <token>`, the token read from its file on every request: projected service-account
    tokens and mounted secrets are rotated in place."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {_read_secret(self.path, 'bearer token')}"
        return request


@dataclass(frozen=True)
class Access:
    """Everything but the URL that a request to the metrics API needs."""

    headers: dict[str, str] = field(default_factory=dict)
    auth: AuthBase | None = None
    verify: bool | str = True  # a CA bundle path, or the system's trust store
    parameters: dict[str, str] = field(default_factory=lambda: dict(QUERY_PARAMETERS))


def access_from(settings: Settings) -> Access:
    """The settings' tenant, headers, credentials and CA, checked now: a missing file is the user's to fix, and
    is said once, before anything is queried."""
    headers = dict(settings.prometheus_headers)
    if settings.prometheus_tenant:
        headers["X-Scope-OrgID"] = settings.prometheus_tenant
    auth: AuthBase | None = None
    if settings.prometheus_bearer_token_file is not None and settings.prometheus_basic_auth_username is not None:
        raise InputError(
            "set either KUBECHARGE_PROMETHEUS_BEARER_TOKEN_FILE or KUBECHARGE_PROMETHEUS_BASIC_AUTH_USERNAME, not both"
        )
    if settings.prometheus_bearer_token_file is not None:
        _read_secret(settings.prometheus_bearer_token_file, "bearer token")
        auth = BearerTokenFile(settings.prometheus_bearer_token_file)
    elif settings.prometheus_basic_auth_username is not None:
        if settings.prometheus_basic_auth_password_file is None:
            raise InputError(
                "KUBECHARGE_PROMETHEUS_BASIC_AUTH_USERNAME needs KUBECHARGE_PROMETHEUS_BASIC_AUTH_PASSWORD_FILE"
            )
        password = _read_secret(settings.prometheus_basic_auth_password_file, "basic-auth password")
        auth = HTTPBasicAuth(settings.prometheus_basic_auth_username, password)
    verify: bool | str = True
    if settings.prometheus_ca_file is not None:
        if not settings.prometheus_ca_file.is_file():
            raise InputError(f"CA file {settings.prometheus_ca_file} (KUBECHARGE_PROMETHEUS_CA_FILE) does not exist")
        verify = str(settings.prometheus_ca_file)
    return Access(headers, auth, verify, {**QUERY_PARAMETERS, **settings.prometheus_query_parameters})


def _read_secret(path: Path, what: str) -> str:
    try:
        value = path.read_text().strip()
    except OSError as error:
        raise InputError(f"cannot read the Prometheus {what} file {path}: {error.strerror or error}") from None
    if not value:
        raise InputError(f"the Prometheus {what} file {path} is empty")
    return value
