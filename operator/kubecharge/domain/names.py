"""Names that become object keys, ConfigMap names and label values: checked before anything is built from them.

A UsageReport's name is a label value (`kubecharge.io/report`, at most 63 characters) and, with its namespace,
the prefix of every object key it publishes; both must therefore be DNS labels, which also rules out `..`,
`/` and every other way out of the report's own prefix.
"""

from __future__ import annotations

import re

DNS_LABEL_MAX = 63
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def dns_label_problem(what: str, value: object) -> str | None:
    """Why `value` is not a DNS label (RFC 1123, as Kubernetes checks them), or None when it is one."""
    if not isinstance(value, str) or not value:
        return f"{what} is missing"
    if len(value) > DNS_LABEL_MAX:
        return f"{what} {value[:80]!r} is {len(value)} characters long; at most {DNS_LABEL_MAX} are allowed"
    if not _DNS_LABEL.match(value):
        return (
            f"{what} {value[:80]!r} is not a DNS label: use lower-case letters, digits and '-', starting and "
            "ending with a letter or digit"
        )
    return None


def metric_label_name(key: str) -> str:
    """kube-state-metrics' Prometheus label name for a Kubernetes label key (`kubecharge.io/team` →
    `label_kubecharge_io_team`): how namespace selectors and node-price label matches read its series."""
    return "label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)
