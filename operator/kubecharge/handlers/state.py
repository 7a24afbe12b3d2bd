"""What every handler shares, built once at start-up and kept in kopf's `memo`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import kubernetes

from kubecharge.pipeline.job import Ledger
from kubecharge.selfmetrics import OperatorMetrics
from kubecharge.settings import Settings

Clock = Callable[[], datetime]


@dataclass
class OperatorState:
    """What the handlers share, built once at start-up (kopf's `memo`)."""

    settings: Settings
    repository: Ledger  # leases, notices and every report's ledger
    kube: kubernetes.client.ApiClient
    metrics: OperatorMetrics
    clock: Clock
    identity: str  # this replica's name: in status, run records and run leases
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    # Per UsageReport (uid), what its last run found of TeamMapping podSelector keys no kube_pod_labels series
    # carries (mapping → keys): the mappings' LabelNotExported condition.
    unexported_pod_labels: dict[str, dict[str, list[str]]] = field(default_factory=dict)
