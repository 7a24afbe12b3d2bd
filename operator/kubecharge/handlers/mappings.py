"""TeamMapping status: which namespaces it claims now, from the cluster's Namespace objects and their labels.

This is the 'now' view for platform engineers (`kubectl get teammappings`). Reports do not use it: they
attribute each hour by the labels kube-state-metrics recorded for that hour, exactly as the CLI does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kubecharge.domain.mappings import TeamMapping, claims, in_cluster, label_not_exported
from kubecharge.domain.periods import iso


def mapping_status(
    name: str,
    mappings: list[TeamMapping],
    namespace_labels: Mapping[str, Mapping[str, str]],
    now: datetime,
    cluster: str | None = None,
    report_currencies: Mapping[str, str] | None = None,
    unexported_keys: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Status for mapping `name`: namespaces it wins, and every namespace it shares with another mapping, in this
    operator's own `cluster` (a mapping limited to other clusters claims nothing here); with a budget, whether
    every UsageReport (`report_currencies`: namespace/name → currency) prices in the budget's currency; with a
    podSelector, whether its keys are exported (`unexported_keys`: those the reports' last runs found on no
    kube_pod_labels series; None before any run)."""
    matched: list[str] = []
    conflicts: list[dict[str, Any]] = []
    if cluster is not None:
        mappings = in_cluster(mappings, cluster)
    for namespace in sorted(namespace_labels):
        found = claims(namespace, namespace_labels[namespace], mappings, sanitize=False)
        names = [claim.mapping.name for claim in found]
        if name not in names:
            continue
        if names[0] == name:
            matched.append(namespace)
        if len(names) > 1:
            conflicts.append({"namespace": namespace, "claimedBy": names, "winner": names[0]})
    stamp = iso(now)
    conditions = [
        {"type": "Ready", "status": "True", "reason": "Resolved",
         "message": f"claims {len(matched)} namespace(s)", "lastTransitionTime": stamp},
        {"type": "Conflicting", "status": "True" if conflicts else "False",
         "reason": "Overlap" if conflicts else "NoOverlap",
         "message": "; ".join(f"{c['namespace']}: {', '.join(c['claimedBy'])}" for c in conflicts),
         "lastTransitionTime": stamp},
        {"type": "Matching", "status": "True" if matched else "False",
         "reason": "ClaimsNamespaces" if matched else "NoNamespace",
         "message": "" if matched else "matches no namespace now: check spec.namespaces, namespaceSelector and "
                                       "namespacePatterns", "lastTransitionTime": stamp},
    ]  # fmt: skip
    own = next((mapping for mapping in mappings if mapping.name == name), None)
    if own is not None and own.pod_selector is not None and unexported_keys is not None:
        conditions.append({"type": "LabelNotExported", "status": "True" if unexported_keys else "False",
                           "reason": "NotInKubePodLabels" if unexported_keys else "Exported",
                           "message": label_not_exported(name, unexported_keys) if unexported_keys else "",
                           "lastTransitionTime": stamp})  # fmt: skip
    if own is not None and own.budget is not None:
        conditions.append(budget_condition(own.budget.currency, report_currencies or {}, stamp))
    return {"matchedNamespaces": matched, "conflicts": conflicts, "conditions": conditions}


def budget_condition(currency: str, report_currencies: Mapping[str, str], stamp: str) -> dict[str, str]:
    """`BudgetComparable`: False when a UsageReport prices in another currency (no report converts budgets)."""
    other = sorted(f"{report} ({priced})" for report, priced in report_currencies.items() if priced != currency)
    if other:
        return {"type": "BudgetComparable", "status": "False", "reason": "CurrencyMismatch",
                "message": f"the budget is in {currency} but UsageReport {', '.join(other)} prices in another "
                           f"currency; kubecharge never converts: those reports do not compare this budget (give "
                           "it in the reports' currency)", "lastTransitionTime": stamp}  # fmt: skip
    return {"type": "BudgetComparable", "status": "True", "reason": "SameCurrency",
            "message": f"every UsageReport prices in {currency}", "lastTransitionTime": stamp}  # fmt: skip
