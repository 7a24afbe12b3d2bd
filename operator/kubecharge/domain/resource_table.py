"""The resources kubecharge charges for, one entry each: the table the source, the rollup, pricing and every
rendering read.

An entry names the questions the metrics source answers for it (their PromQL lives in `collect.promql`, keyed by
these names), the ledger columns its quantities are stored in, how its charged quantity is chosen, its price,
its CSV columns and its FOCUS SKU. Adding a resource is an entry here, its fields in `ResourceQuantities` and
`Costs`, its ledger columns (a migration) and its query; nothing else names it.

- `Scope.CONTAINER`: per container-hour usage and request, and their per-container max, summed per namespace;
  `Scope.NAMESPACE`: one amount per namespace-hour (PVC GiB-hours, network GiB).
- `by_basis`: the report's charge basis (usage, request or max) picks the charged quantity; otherwise the
  request is charged (a GPU is allocated whole: what a pod reserves nobody else can use, whatever its utilisation).
- `on_node`: part of a node's price (CPU, memory, GPU); a node's hourly price is split between these.
- `label`, `unit`, `colour`: how every human view (HTML, Markdown, team pages, CLI, status, manifest, dashboard)
  names, measures and draws it: views loop over this table and name no resource themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class Scope(StrEnum):
    CONTAINER = "container"
    NAMESPACE = "namespace"


@dataclass(frozen=True)
class Sku:
    """How a resource appears in FOCUS: service, meter and unit."""

    service_name: str
    meter: str
    unit: str
    service_category: str
    service_subcategory: str
    description: str


@dataclass(frozen=True)
class Resource:
    key: str  # cpu, memory, gpu, storage, network: the cost column is `cost_<key>`
    quantity: str  # cpu_core_hours: the ledger's columns are <quantity>_usage/_request/_max, or <quantity>
    scope: Scope
    questions: tuple[str, ...]  # (usage, request) for a container resource, (amount,) for a namespace one
    price_field: str  # the `Pricing` attribute
    price_key: str  # its name in the manifest and the reports
    by_basis: bool
    on_node: bool
    csv_columns: tuple[str, ...]  # its quantity columns in chargeback.csv, in order
    csv_appended: bool  # columns added after the first layout's `cluster` column (readers of it are unaffected)
    json_name: str  # cpuCoreHours: chargeback.json's keys are <json_name>Usage/Request/Charged, or <json_name>
    sku: Sku
    label: str = ""  # CPU, Memory, GPU: its name in human views
    unit: str = ""  # core-h, GiB-h, GPU-h, GiB: the unit of its quantities in human views
    colour: str = "#7d8b99"  # its colour in charts

    @property
    def charged_key(self) -> str:
        """The summary's (chargeback.json's) key of the charged quantity."""
        return self.json_name if self.scope is Scope.NAMESPACE else f"{self.json_name}Charged"

    @cached_property
    def columns(self) -> tuple[str, ...]:
        """The `ResourceQuantities` fields (and ledger columns) of this resource."""
        if self.scope is Scope.NAMESPACE:
            return (self.quantity,)
        return tuple(f"{self.quantity}_{part}" for part in ("usage", "request", "max"))

    @cached_property
    def charged_columns(self) -> dict[str, str]:
        """By charge basis (usage, request, max): the column charged — the request where the basis does not apply,
        the one amount for a namespace resource."""
        if self.scope is Scope.NAMESPACE:
            return dict.fromkeys(("usage", "request", "max"), self.quantity)
        usage, request, maximum = self.columns
        if not self.by_basis:
            return dict.fromkeys(("usage", "request", "max"), request)
        return {"usage": usage, "request": request, "max": maximum}

    @property
    def charged_column(self) -> str:
        return f"{self.quantity}_charged"


COMPUTE = "Kubernetes Compute"
RESOURCES = (
    Resource("cpu", "cpu_core_hours", Scope.CONTAINER, ("cpu_usage_core_hours", "cpu_request_core_hours"),
             "cpu_core_hour", "cpuCoreHour", by_basis=True, on_node=True,
             csv_columns=("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_charged"),
             csv_appended=False, json_name="cpuCoreHours",
             sku=Sku(COMPUTE, "CPU", "Core-Hours", "Compute", "Containers", "CPU core-hours charged"),
             label="CPU", unit="core-h", colour="#3b7bc8"),
    Resource("memory", "memory_gib_hours", Scope.CONTAINER, ("memory_usage_gib_hours", "memory_request_gib_hours"),
             "memory_gib_hour", "memoryGiBHour", by_basis=True, on_node=True,
             csv_columns=("memory_gib_hours_usage", "memory_gib_hours_request", "memory_gib_hours_charged"),
             csv_appended=False, json_name="memoryGiBHours",
             sku=Sku(COMPUTE, "Memory", "GiB-Hours", "Compute", "Containers", "Memory GiB-hours charged"),
             label="Memory", unit="GiB-h", colour="#5aa469"),
    Resource("gpu", "gpu_hours", Scope.CONTAINER, ("gpu_usage_hours", "gpu_request_hours"),
             "gpu_hour", "gpuHour", by_basis=False, on_node=True,
             csv_columns=("gpu_hours_charged",), csv_appended=True,
             json_name="gpuHours",
             sku=Sku(COMPUTE, "GPU", "GPU-Hours", "Compute", "Containers", "GPU-hours requested"),
             label="GPU", unit="GPU-h", colour="#c25b8f"),
    Resource("storage", "storage_gib_hours", Scope.NAMESPACE, ("storage_gib_hours",),
             "storage_gib_hour", "storageGiBHour", by_basis=False, on_node=False,
             csv_columns=("storage_gib_hours",), csv_appended=False, json_name="storageGiBHours",
             sku=Sku("Kubernetes Persistent Storage", "Persistent Volume Claims", "GiB-Hours", "Storage",
                     "Block Storage", "PVC storage GiB-hours requested"),
             label="Storage", unit="GiB-h", colour="#d4a72c"),
    Resource("network", "network_gib", Scope.NAMESPACE, ("network_gib",),
             "network_gib", "networkGiB", by_basis=False, on_node=False,
             csv_columns=("network_gib",), csv_appended=False, json_name="networkGiB",
             # Every byte a pod sent, to any destination (in-cluster traffic included): not only egress.
             sku=Sku("Kubernetes Networking", "Network Transmitted", "GiB", "Networking", "Network Connectivity",
                     "Network GiB transmitted by pods, to any destination"),
             label="Network sent", unit="GiB", colour="#8e6cc1"),
)  # fmt: skip
BY_KEY = {resource.key: resource for resource in RESOURCES}
ON_NODE = tuple(resource for resource in RESOURCES if resource.on_node)
