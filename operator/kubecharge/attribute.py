"""Attribute: which team owns a namespace in a given hour, by the TeamMappings and that hour's labels.

Selectors are evaluated against kube-state-metrics' `kube_namespace_labels`, whose label names are sanitized
(`kubecharge.io/team` → `label_kubecharge_io_team`); the selector's keys are sanitized the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from kubecharge.domain.mappings import UNALLOCATED, LabelSelector, MatchKind, TeamMapping, applies_in
from kubecharge.domain.names import metric_label_name
from kubecharge.domain.usage import AttributedHour, NamespaceHour


def selector_matches(selector: LabelSelector, labels: Mapping[str, str], sanitize: bool = True) -> bool:
    """Standard LabelSelector semantics; `sanitize` when `labels` come from kube-state-metrics."""

    def name(key: str) -> str:
        return metric_label_name(key) if sanitize else key

    for key, value in selector.match_labels:
        if labels.get(name(key)) != value:
            return False
    for requirement in selector.match_expressions:
        present = name(requirement.key) in labels
        current = labels.get(name(requirement.key))
        if requirement.operator == "In" and not (present and current in requirement.values):
            return False
        if requirement.operator == "NotIn" and present and current in requirement.values:
            return False
        if requirement.operator == "Exists" and not present:
            return False
        if requirement.operator == "DoesNotExist" and present:
            return False
    return True


@dataclass(frozen=True)
class Claim:
    mapping: TeamMapping
    kind: MatchKind

    @property
    def rank(self) -> tuple[int, int, str]:
        return (-self.mapping.priority, int(self.kind), self.mapping.name)


def claims(
    namespace: str, labels: Mapping[str, str], mappings: Iterable[TeamMapping], sanitize: bool = True
) -> list[Claim]:
    """Every mapping that claims `namespace`, strongest first (its strongest way of claiming it)."""
    found = []
    for mapping in mappings:
        kinds = []
        if namespace in mapping.namespaces:
            kinds.append(MatchKind.EXACT)
        if mapping.namespace_selector is not None and selector_matches(mapping.namespace_selector, labels, sanitize):
            kinds.append(MatchKind.SELECTOR)
        if any(fnmatchcase(namespace, pattern) for pattern in mapping.namespace_patterns):
            kinds.append(MatchKind.PATTERN)
        if kinds:
            found.append(Claim(mapping, min(kinds)))
    return sorted(found, key=lambda claim: claim.rank)


def owner(namespace: str, labels: Mapping[str, str], mappings: Sequence[TeamMapping], sanitize: bool = True) -> str:
    found = claims(namespace, labels, mappings, sanitize)
    return found[0].mapping.team if found else UNALLOCATED


def in_cluster(mappings: Sequence[TeamMapping], cluster: str) -> list[TeamMapping]:
    """The mappings that apply in one cluster (a mapping limited to other clusters claims nothing here)."""
    return [mapping for mapping in mappings if applies_in(mapping, cluster)]


def _claims_per_label_set(
    rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]
) -> Iterator[tuple[NamespaceHour, list[str]]]:
    """Each distinct (cluster, namespace, labels) of `rows` once, with the mappings that claim it, strongest first."""
    seen: set[tuple[str, str, tuple[tuple[str, str], ...]]] = set()
    for row in rows:
        key = (row.cluster, row.namespace, tuple(sorted(row.namespace_labels.items())))
        if key not in seen:
            seen.add(key)
            found = claims(row.namespace, row.namespace_labels, in_cluster(mappings, row.cluster))
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


def attribute(rows: Iterable[NamespaceHour], mappings: Sequence[TeamMapping]) -> list[AttributedHour]:
    cache: dict[tuple[str, str, tuple[tuple[str, str], ...]], str] = {}
    result = []
    for row in rows:
        key = (row.cluster, row.namespace, tuple(sorted(row.namespace_labels.items())))
        if key not in cache:
            cache[key] = owner(row.namespace, row.namespace_labels, in_cluster(mappings, row.cluster))
        result.append(AttributedHour(cache[key], row))
    return result
