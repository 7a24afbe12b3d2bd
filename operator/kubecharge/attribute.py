"""Attribute: which team owns a namespace's hour — or, where a TeamMapping's podSelector claims its pods, that
row's pods' hour — by the TeamMappings and that hour's labels.

Selectors are evaluated against kube-state-metrics' `kube_namespace_labels` and `kube_pod_labels`, whose label names
are sanitized (`kubecharge.io/team` → `label_kubecharge_io_team`); the selector's keys are sanitized the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

from kubecharge.domain.mappings import TeamMapping, claims, in_cluster, owner
from kubecharge.domain.names import metric_label_name
from kubecharge.domain.usage import AttributedHour, NamespaceHour

_Key = tuple[str, str, tuple[tuple[str, str], ...], str]  # cluster, namespace, its labels, its pods' labels


def _key(row: NamespaceHour) -> _Key:
    return (row.cluster, row.namespace, tuple(sorted(row.namespace_labels.items())), row.pod_labels)


def _pod_labels(row: NamespaceHour) -> dict[str, str]:
    return json.loads(row.pod_labels) if row.pod_labels else {}


def _claims_per_label_set(
    rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]
) -> Iterator[tuple[NamespaceHour, list[str]]]:
    """Each distinct (cluster, namespace, labels, pod labels) of `rows` once, with the mappings that claim it,
    strongest first."""
    seen: set[_Key] = set()
    for row in rows:
        key = _key(row)
        if key not in seen:
            seen.add(key)
            found = claims(row.namespace, row.namespace_labels, in_cluster(mappings, row.cluster),
                           pod_labels=_pod_labels(row))  # fmt: skip
            yield row, [claim.mapping.name for claim in found]


def conflicts(rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]) -> dict[str, list[str]]:
    """Namespaces that more than one mapping claimed in some hour, with those mappings, strongest first."""
    found: dict[str, list[str]] = {}
    for row, names in _claims_per_label_set(rows, mappings):
        if len(names) > 1 and names != found.get(row.namespace):
            found[row.namespace] = names
    return found


def unmatched(rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]) -> list[str]:
    """Mappings that claimed no namespace in any hour of `rows`: a typo in a name, a selector or a pattern."""
    claimed = {name for _, names in _claims_per_label_set(rows, mappings) for name in names}
    return sorted(mapping.name for mapping in mappings if mapping.name not in claimed)


def unexported_pod_labels(rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]) -> dict[str, list[str]]:
    """Per mapping with a podSelector, the keys it selects on that no pod label set of `rows` carries (no
    `label_<key>` on any kube_pod_labels series: kube-state-metrics exports only the keys its allowlist names)."""
    seen: set[str] = set()
    for text in {row.pod_labels for row in rows if row.pod_labels}:
        seen.update(json.loads(text))
    found = {}
    for mapping in mappings:
        if mapping.pod_selector is None:
            continue
        keys = [key for key, _ in mapping.pod_selector.match_labels]
        keys += [requirement.key for requirement in mapping.pod_selector.match_expressions]
        missing = sorted({key for key in keys if metric_label_name(key) not in seen})
        if missing:
            found[mapping.name] = missing
    return found


def attribute(rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]) -> list[AttributedHour]:
    cache: dict[_Key, str] = {}
    result = []
    for row in rows:
        key = _key(row)
        if key not in cache:
            cache[key] = owner(row.namespace, row.namespace_labels, in_cluster(mappings, row.cluster),
                               pod_labels=_pod_labels(row))  # fmt: skip
        result.append(AttributedHour(cache[key], row))
    return result
