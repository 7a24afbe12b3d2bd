"""The operator's own Prometheus metrics, on a registry of its own (no global state between test runs)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


@dataclass
class OperatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        labels = ["namespace", "report"]
        self.run_duration_seconds = Histogram(
            "kubecharge_report_run_duration_seconds", "Duration of one report run (all its periods).",
            labels, registry=self.registry, buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
        )  # fmt: skip
        self.last_success_timestamp_seconds = Gauge(
            "kubecharge_report_last_success_timestamp_seconds", "When the report last ran successfully.",
            labels, registry=self.registry,
        )  # fmt: skip
        self.run_failures_total = Counter(
            "kubecharge_report_run_failures_total", "Failed report runs, by reason.",
            [*labels, "reason"], registry=self.registry,
        )  # fmt: skip
        self.prometheus_query_errors_total = Counter(
            "kubecharge_prometheus_query_errors_total", "Prometheus queries that failed.",
            ["question"], registry=self.registry,
        )  # fmt: skip
        self.prometheus_query_seconds = Histogram(
            "kubecharge_prometheus_query_seconds", "Duration of one Prometheus query.",
            ["question"], registry=self.registry,
        )  # fmt: skip
        self.attribution_coverage_ratio = Gauge(
            "kubecharge_attribution_coverage_ratio", "Attributed share of charged core-hours, current period.",
            labels, registry=self.registry,
        )  # fmt: skip
        self.unallocated_cpu_core_hours = Gauge(
            "kubecharge_unallocated_cpu_core_hours", "Charged core-hours no team claims, current period.",
            labels, registry=self.registry,
        )  # fmt: skip
        self.hours_queried_total = Counter(
            "kubecharge_prometheus_hours_queried_total",
            "Hours asked from Prometheus (new hours and the re-check window; the rest comes from the ledger).",
            labels, registry=self.registry,
        )  # fmt: skip
        self.data_completeness_ratio = Gauge(
            "kubecharge_data_completeness_ratio", "Hours with data of elapsed hours, current period.",
            labels, registry=self.registry,
        )  # fmt: skip
        self.finalization_drift_cost = Gauge(
            "kubecharge_finalization_drift_cost", "Cost change of the latest restatement of a final period.",
            [*labels, "period"], registry=self.registry,
        )  # fmt: skip

        per_team = [*labels, "period", "team"]
        self.team_cost = Gauge(
            "kubecharge_team_cost", "A team's cost in a period so far (allocated under full cost), in the report's "
            "currency.", per_team, registry=self.registry,
        )  # fmt: skip
        # Labelled by the resource table's keys: a resource added there appears on the dashboard with no edit.
        self.team_resource_cost = Gauge(
            "kubecharge_team_resource_cost", "A team's direct cost of one resource (cpu, memory, gpu, storage, "
            "network, ...) in a period so far, in the report's currency.", [*per_team, "resource"],
            registry=self.registry,
        )  # fmt: skip
        self.resource_used_ratio = Gauge(
            "kubecharge_resource_used_ratio", "Used of requested, per container resource, over a period so far "
            "(absent where the use could not be measured, e.g. GPUs without dcgm-exporter).",
            [*labels, "period", "resource"], registry=self.registry,
        )  # fmt: skip
        self.team_cost_forecast = Gauge(
            "kubecharge_team_cost_forecast", "A team's forecast cost at the end of a period in progress.",
            per_team, registry=self.registry,
        )  # fmt: skip
        self.recommended_saving = Gauge(
            "kubecharge_recommended_saving", "What acting on a team's request recommendations saves a month at the "
            "report's prices (HorizontalPodAutoscaler targets and containers that would cost more left out).",
            [*labels, "team"], registry=self.registry,
        )  # fmt: skip
        self.budget_used_ratio = Gauge(
            "kubecharge_budget_used_ratio", "A team's cost so far over its budget for the current period.",
            [*labels, "team"], registry=self.registry,
        )  # fmt: skip
        self.budget_forecast_ratio = Gauge(
            "kubecharge_budget_forecast_ratio", "A team's forecast cost over its budget for the current period.",
            [*labels, "team"], registry=self.registry,
        )  # fmt: skip
        self.cost_anomalies = Gauge(
            "kubecharge_cost_anomalies", "Anomalous days (namespaces and teams) in the current period.",
            labels, registry=self.registry,
        )  # fmt: skip
        self.cost_anomalies_raised_total = Counter(
            "kubecharge_cost_anomalies_raised_total", "Cost anomalies raised as Events (each once).",
            labels, registry=self.registry,
        )  # fmt: skip
        self.ingest_latency_seconds = Gauge(
            "kubecharge_ingest_latency_seconds", "Age of the newest hour with data in the ledger (an SLI: how far "
            "behind the charges are).", labels, registry=self.registry,
        )  # fmt: skip
        self.duplicate_series_ratio = Gauge(
            "kubecharge_duplicate_series_ratio", "Share of kube-state-metrics pod series that were copies "
            "(replicas, shards, Prometheus replicas) collapsed in the last hour (an SLI).", labels,
            registry=self.registry,
        )  # fmt: skip

        self.messages_total = Counter(
            "kubecharge_messages_total", "Showback messages by channel and outcome (sent, failed: tried again "
            "later with backoff).", [*labels, "channel", "outcome"], registry=self.registry,
        )  # fmt: skip
        self.messages_failing = Gauge(
            "kubecharge_messages_failing", "Showback messages not delivered yet after a failure, by channel.",
            [*labels, "channel"], registry=self.registry,
        )  # fmt: skip

    def observe_query(self, question: str, seconds: float, ok: bool) -> None:
        self.prometheus_query_seconds.labels(question).observe(seconds)
        if not ok:
            self.prometheus_query_errors_total.labels(question).inc()

    def serve(self, port: int) -> Callable[[], None]:
        """Serve /metrics on `port`; returns the function that stops serving."""
        server, thread = start_http_server(port, registry=self.registry)

        def stop() -> None:
            server.shutdown()
            server.server_close()
            thread.join(5)

        return stop
