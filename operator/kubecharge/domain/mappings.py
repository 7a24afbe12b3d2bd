"""TeamMapping: who owns which namespaces and pods, and how overlapping claims are settled.

Precedence, as in the product contract: higher `priority` wins; on a tie a pod rule (`podSelector`) beats an exact
name, which beats a selector, which beats a glob pattern; then the mapping's name decides (alphabetically first
wins), so the outcome never depends on the order manifests were read in. A mapping with a `podSelector` claims the
pods its selector matches — in the namespaces its namespace rules name, or in any namespace without them — and
never a namespace as a whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum
from fnmatch import fnmatchcase

from kubecharge.domain.names import metric_label_name
from kubecharge.domain.notifications import TeamRouting
from kubecharge.domain.outlook_model import DEFAULT_THRESHOLDS

UNALLOCATED = "unallocated"


class MatchKind(IntEnum):
    """How a mapping claimed a namespace; a lower value is the stronger claim on a priority tie."""

    POD = -1
    EXACT = 0
    SELECTOR = 1
    PATTERN = 2


@dataclass(frozen=True)
class SelectorRequirement:
    key: str
    operator: str  # In | NotIn | Exists | DoesNotExist
    values: tuple[str, ...] = ()


@dataclass(frozen=True)
class LabelSelector:
    match_labels: tuple[tuple[str, str], ...] = ()
    match_expressions: tuple[SelectorRequirement, ...] = ()


@dataclass(frozen=True)
class Budget:
    monthly: Decimal
    currency: str
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS  # percent of the budget, each raising one Event per period


@dataclass(frozen=True)
class TeamMapping:
    """One claim on namespaces; limited to `clusters` when a report spans many (same-named namespaces of
    different clusters are different namespaces)."""

    name: str
    team: str
    namespaces: frozenset[str] = frozenset()
    namespace_selector: LabelSelector | None = None
    namespace_patterns: tuple[str, ...] = ()
    pod_selector: LabelSelector | None = None  # claims pods by their labels (kube_pod_labels), not namespaces
    priority: int = 0
    display_name: str | None = None
    cost_center: str | None = None
    owners: tuple[str, ...] = ()
    budget: Budget | None = None
    clusters: frozenset[str] = frozenset()  # the clusters it applies in; empty: every cluster
    notifications: TeamRouting | None = None  # where the team's showback messages go, if not where reports send
    raw: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


def applies_in(mapping: TeamMapping, cluster: str) -> bool:
    return not mapping.clusters or cluster in mapping.clusters


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
    namespace: str, labels: Mapping[str, str], mappings: Iterable[TeamMapping], sanitize: bool = True,
    pod_labels: Mapping[str, str] | None = None,
) -> list[Claim]:  # fmt: skip
    """Every mapping that claims `namespace` (or, given `pod_labels` — kube-state-metrics' `label_*` — pods with
    those labels in it), strongest first (its strongest way of claiming it)."""
    found = []
    for mapping in mappings:
        kinds = []
        if namespace in mapping.namespaces:
            kinds.append(MatchKind.EXACT)
        if mapping.namespace_selector is not None and selector_matches(mapping.namespace_selector, labels, sanitize):
            kinds.append(MatchKind.SELECTOR)
        if any(fnmatchcase(namespace, pattern) for pattern in mapping.namespace_patterns):
            kinds.append(MatchKind.PATTERN)
        if mapping.pod_selector is not None:
            in_scope = bool(kinds) or not has_namespace_rules(mapping)
            pods = pod_labels is not None and selector_matches(mapping.pod_selector, pod_labels)
            kinds = [MatchKind.POD] if in_scope and pods else []
        if kinds:
            found.append(Claim(mapping, min(kinds)))
    return sorted(found, key=lambda claim: claim.rank)


def label_not_exported(mapping: str, keys: Sequence[str]) -> str:
    """What to do when a podSelector's keys are on no kube_pod_labels series: one sentence, the CLI's and the
    TeamMapping condition's."""
    exported = ", ".join(f"label_{metric_label_name(key).removeprefix('label_')}" for key in keys)
    return (
        f"TeamMapping {mapping}: its podSelector selects on {', '.join(keys)}, which no kube_pod_labels series "
        f"carries ({exported}); kube-state-metrics exports only the pod labels it is told to: run it with "
        f"--metric-labels-allowlist=pods=[{','.join(keys)}]"
    )


def has_namespace_rules(mapping: TeamMapping) -> bool:
    return bool(mapping.namespaces or mapping.namespace_selector is not None or mapping.namespace_patterns)


def owner(namespace: str, labels: Mapping[str, str], mappings: Sequence[TeamMapping], sanitize: bool = True,
          pod_labels: Mapping[str, str] | None = None) -> str:  # fmt: skip
    found = claims(namespace, labels, mappings, sanitize, pod_labels)
    return found[0].mapping.team if found else UNALLOCATED


def in_cluster(mappings: Sequence[TeamMapping], cluster: str) -> list[TeamMapping]:
    """The mappings that apply in one cluster (a mapping limited to other clusters claims nothing here)."""
    return [mapping for mapping in mappings if applies_in(mapping, cluster)]
