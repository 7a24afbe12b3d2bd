"""TeamMapping: who owns which namespaces, and how overlapping claims are settled.

Precedence, as in the product contract: higher `priority` wins; on a tie an exact name beats a selector,
which beats a glob pattern; then the mapping's name decides (alphabetically first wins), so the outcome
never depends on the order manifests were read in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import IntEnum

from kubecharge.domain.outlook import DEFAULT_THRESHOLDS

UNALLOCATED = "unallocated"


class MatchKind(IntEnum):
    """How a mapping claimed a namespace; a lower value is the stronger claim on a priority tie."""

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
    priority: int = 0
    display_name: str | None = None
    cost_center: str | None = None
    owners: tuple[str, ...] = ()
    budget: Budget | None = None
    clusters: frozenset[str] = frozenset()  # the clusters it applies in; empty: every cluster
    raw: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


def applies_in(mapping: TeamMapping, cluster: str) -> bool:
    return not mapping.clusters or cluster in mapping.clusters
