"""Tables: the ledger (hourly rollups and how completely each hour was observed) and the audit trail of runs.

Rollups are keyed by (cluster, hour_start, usage key: the namespace, node, workload and pod label set it is of),
nodes by (cluster, hour_start, node) and hours by (cluster, hour_start): an hour is a fact about a cluster, and
`source` (the Prometheus or URL that observed it) is its provenance, kept once per hour in `ledger_hours`.
Collecting an hour again replaces it unless the new answer is emptier, whichever source gives it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import BigInteger, Column, DateTime, Dialect, LargeBinary, Text, TypeDecorator, UniqueConstraint
from sqlalchemy.types import TypeEngine
from sqlmodel import Field, SQLModel


class Quantities(SQLModel):
    """The quantities of `domain.usage.ResourceQuantities` as columns: one definition for both grains."""

    cpu_core_hours_usage: float
    cpu_core_hours_request: float
    cpu_core_hours_max: float
    memory_gib_hours_usage: float
    memory_gib_hours_request: float
    memory_gib_hours_max: float
    gpu_hours_usage: float
    gpu_hours_request: float
    gpu_hours_max: float
    storage_gib_hours: float
    network_gib: float


class HourStart(TypeDecorator[datetime]):
    """An hour's start in `hourly_usage`: seconds since the epoch on SQLite (an integer of 4 bytes, not a text of 26
    in each of a month's million rows), a timestamp with time zone elsewhere. Read back as an aware UTC datetime."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(BigInteger() if dialect.name == "sqlite" else DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return int(moment.timestamp())

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None or dialect.name != "sqlite":
            return cast(datetime | None, value)
        return datetime.fromtimestamp(int(value), UTC)


class UsageKey(SQLModel, table=True):
    """What an hourly row is of — a workload of a namespace on a node, with a pod label set — stored once and
    referred to by its id: these five names are most of a row's bytes, and a month repeats each a thousand times."""

    __tablename__ = "usage_keys"
    __table_args__ = (UniqueConstraint("namespace", "node", "workload_kind", "workload", "pod_labels"),)

    id: int | None = Field(default=None, primary_key=True)
    namespace: str = Field(max_length=253)
    node: str = Field(max_length=253)  # "" for what ran on no known node (PVCs, network)
    # Deployment, CronJob, … (`domain.workloads`); ("", "") for hours stored before the ledger kept workloads
    workload_kind: str = Field(max_length=253)
    workload: str = Field(max_length=253)
    # its pods' `label_*` in the hour (canonical JSON, "" for none): what TeamMapping podSelector matches
    pod_labels: str = Field(sa_column=Column(Text, nullable=False))


class HourlyUsage(Quantities, table=True):
    """One workload of a namespace on one node in one hour (its `UsageKey`): what it used and requested. Keyed
    hour first, so a report's read of a cluster's period is one range of the key; clustered on that key (SQLite:
    WITHOUT ROWID), so the key is stored once. Which source observed the hour is in `ledger_hours`, the
    namespace's labels in `namespace_hours`: once per hour, not once per row."""

    __tablename__ = "hourly_usage"
    __table_args__ = {"sqlite_with_rowid": False}

    cluster: str = Field(primary_key=True, max_length=253)
    hour_start: datetime = Field(sa_column=Column(HourStart(), primary_key=True))
    key_id: int = Field(primary_key=True, foreign_key="usage_keys.id")


class NamespaceHourRecord(Quantities, table=True):
    """One namespace in one collected hour: the labels it had (for most of the hour; what TeamMapping selectors are
    matched on) and its quantities summed exactly over its nodes (`math.fsum`) — what direct charges, forecasts and
    a team's own view read, without going through every node of every hour."""

    __tablename__ = "namespace_hours"
    __table_args__ = {"sqlite_with_rowid": False}

    cluster: str = Field(primary_key=True, max_length=253)
    hour_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    namespace: str = Field(primary_key=True, max_length=253)
    pod_labels: str = Field(sa_column=Column(Text, primary_key=True))  # its pods' label set: one row per set
    labels_json: str = Field(sa_column=Column(Text, nullable=False))


class WorkloadDayRecord(Quantities, table=True):
    """One workload of a namespace (with the labels it had, and a label set of its pods) on one whole UTC day: its
    hourly rows summed exactly over the day's hours and nodes. Derived, never primary: built from `hourly_usage`
    when a report first reads the day, and rebuilt when the day's hours change (`WorkloadDaySource`), so a month's
    direct charges read a few thousand rows instead of every hour of every node."""

    __tablename__ = "workload_days"
    __table_args__ = {"sqlite_with_rowid": False}

    cluster: str = Field(primary_key=True, max_length=253)
    day: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    namespace: str = Field(primary_key=True, max_length=253)
    workload_kind: str = Field(primary_key=True, max_length=253)
    workload: str = Field(primary_key=True, max_length=253)
    pod_labels: str = Field(sa_column=Column(Text, primary_key=True))
    labels_json: str = Field(sa_column=Column(Text, primary_key=True))


class WorkloadDaySource(SQLModel, table=True):
    """Which stored hours a day's `workload_days` rows were summed from: a digest of each hour's start, source and
    collection time. A day whose hours have been collected again since has another digest and is summed anew."""

    __tablename__ = "workload_day_sources"

    cluster: str = Field(primary_key=True, max_length=253)
    day: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    hours_sha256: str = Field(max_length=64)


class ContainerDay(SQLModel, table=True):
    """One UTC day of every workload container's use, as recommendations read it (`DayUse.encode`): asked of
    Prometheus once, then read from here (the window moves a day a day; a report run every hour, or again from
    the CLI, asks nothing). Keyed by the recommendation queries' digest and the histogram layout, so that other
    queries or buckets never read a day measured otherwise."""

    __tablename__ = "container_days"

    cluster: str = Field(primary_key=True, max_length=253)
    day: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    queries_sha256: str = Field(primary_key=True, max_length=64)
    layout: str = Field(primary_key=True, max_length=64)
    use: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    collected_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class NodeHourRecord(SQLModel, table=True):
    """One node in one collected hour: the share of the hour it existed, capacity, allocatable and labels."""

    __tablename__ = "node_hours"
    __table_args__ = {"sqlite_with_rowid": False}

    cluster: str = Field(primary_key=True, max_length=253)
    hour_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    node: str = Field(primary_key=True, max_length=253)
    hours: float
    capacity_cpu_cores: float
    capacity_memory_gib: float
    capacity_gpus: float
    allocatable_cpu_cores: float
    allocatable_memory_gib: float
    allocatable_gpus: float
    provider_id: str = Field(sa_column=Column(Text, nullable=False))
    labels_json: str = Field(sa_column=Column(Text, nullable=False))


class LedgerHour(SQLModel, table=True):
    """One collected hour of a cluster: how completely it was observed, by which source, and when.

    An hour recorded here is known to the ledger, with data or without (before the first sample, beyond
    Prometheus' retention): it is not asked for again outside the re-check window.
    """

    __tablename__ = "ledger_hours"

    cluster: str = Field(primary_key=True, max_length=253)
    source: str = Field(max_length=512)
    hour_start: datetime = Field(sa_column=Column(DateTime(timezone=True), primary_key=True))
    collected_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    namespaces: int
    cadvisor_targets_expected: int
    cadvisor_targets_seen: int
    cadvisor_scrapes_expected: int
    cadvisor_scrapes_seen: int
    state_metrics_targets_expected: int
    state_metrics_targets_seen: int
    state_metrics_scrapes_expected: int
    state_metrics_scrapes_seen: int
    gpu_utilisation_series: int = 0


class ReportRun(SQLModel, table=True):
    """One run of the pipeline: what was asked, with which queries and mappings, and how it ended."""

    __tablename__ = "report_runs"

    id: int | None = Field(default=None, primary_key=True)
    cluster: str = Field(index=True, max_length=253)
    report: str = Field(max_length=253)
    period_name: str = Field(index=True, max_length=32)
    period_start: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    period_end: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    started_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    finished_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    result: str = Field(max_length=16)  # running | succeeded | failed
    message: str = Field(default="", sa_column=Column(Text, nullable=False))
    query_set_sha256: str = Field(max_length=64)
    query_set_json: str = Field(sa_column=Column(Text, nullable=False))
    mappings_sha256: str = Field(max_length=64)
    mappings_json: str = Field(sa_column=Column(Text, nullable=False))
    totals_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    kubecharge_version: str = Field(default="unknown", max_length=32)
    source: str = Field(default="unknown", max_length=512)
    hours_queried: int = 0  # hours asked from Prometheus by this run (the rest came from the ledger)
    hours_replaced: int = 0  # of those, hours whose stored rollups were replaced
    completeness_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    runner: str = Field(default="", max_length=253)  # the replica (pod) or CLI that made the run


class Notice(SQLModel, table=True):
    """An Event a report raised once (a budget threshold, an anomaly) and must not raise again."""

    __tablename__ = "notices"

    report: str = Field(primary_key=True, max_length=512)
    key: str = Field(primary_key=True, max_length=512)
    raised_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class Notification(SQLModel, table=True):
    """One showback message (a key: team, period version and kind) on one channel, claimed before it is sent and
    marked sent after: what makes a message arrive once whatever the reruns, restarts and replicas."""

    __tablename__ = "notifications"

    report: str = Field(primary_key=True, max_length=512)
    key: str = Field(primary_key=True, max_length=512)
    channel: str = Field(primary_key=True, max_length=63)
    team: str = Field(max_length=253)
    state: str = Field(max_length=16)  # sending | sent | failed
    attempts: int = 0  # deliveries tried (each with its own retries)
    holder: str = Field(default="", max_length=253)  # the replica sending it now
    claimed_until: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    next_attempt_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    problem: str | None = Field(default=None, max_length=400)
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    message_json: str = Field(default="{}", sa_column=Column(Text, nullable=False))  # what to send again


class RunLease(SQLModel, table=True):
    """Which replica runs a report now, and until when (renewed while the run progresses)."""

    __tablename__ = "run_leases"

    name: str = Field(primary_key=True, max_length=512)
    holder: str = Field(max_length=253)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


class PortalSession(SQLModel, table=True):
    """A portal sign-in: who the API server said the pasted token belongs to, until when. The token itself is not
    kept (access is reviewed for the user and groups); the cookie's session id is kept only as its SHA-256, so
    the table gives nobody a way in. In the ledger, so any replica of the portal serves any signed-in viewer."""

    __tablename__ = "portal_sessions"

    session_sha256: str = Field(primary_key=True, max_length=64)
    user: str = Field(max_length=512)
    groups_json: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    uid: str = Field(default="", max_length=253)
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
