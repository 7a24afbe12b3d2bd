"""One settings object, read once from `KUBECHARGE_*` environment variables and passed down.

No other module reads the environment. The CLI's options override these; the chart's values set them.
"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from kubecharge.errors import InputError


class QuerySettings(BaseSettings):
    """What to query. Defaults match kube-prometheus (kube-state-metrics v2, the kubelet's cAdvisor)."""

    model_config = SettingsConfigDict(env_prefix="KUBECHARGE_QUERY_", extra="ignore")

    series_labels: dict[str, str] = Field(
        default_factory=dict,
        description='Extra equality matchers on every series, e.g. {"cluster": "prod"} on Thanos or Mimir.',
    )
    cpu_usage_metric: str = "container_cpu_usage_seconds_total"
    memory_usage_metric: str = "container_memory_working_set_bytes"
    network_transmit_metric: str = "container_network_transmit_bytes_total"
    requests_metric: str = "kube_pod_container_resource_requests"
    init_requests_metric: str = "kube_pod_init_container_resource_requests"
    init_info_metric: str = "kube_pod_init_container_info"
    overhead_cpu_metric: str = "kube_pod_overhead_cpu_cores"
    overhead_memory_metric: str = "kube_pod_overhead_memory_bytes"
    pod_phase_metric: str = "kube_pod_status_phase"
    pod_info_metric: str = "kube_pod_info"
    pod_owner_metric: str = "kube_pod_owner"
    pod_labels_metric: str = Field(
        default="kube_pod_labels",
        description="Pod labels for TeamMapping podSelector; kube-state-metrics exports only those its "
        "--metric-labels-allowlist names (pods=[team,...]).",
    )
    replicaset_owner_metric: str = "kube_replicaset_owner"
    hpa_info_metric: str = Field(
        default="kube_horizontalpodautoscaler_info",
        description="Each HorizontalPodAutoscaler's scale target: workloads it scales are flagged in recommendations.",
    )
    job_owner_metric: str = "kube_job_owner"
    pod_claims_metric: str = Field(
        default="kube_pod_spec_volumes_persistentvolumeclaims_info",
        description="The PVCs each pod mounts: a claim's GiB-hours go to the workloads of the Running pods that "
        "mount it.",
    )
    state_metrics_interval_seconds: int | None = Field(
        default=None, ge=5, le=600,
        description="kube-state-metrics' scrape interval or longer: the resolution at which the share of an hour "
        "a pod ran or a PVC existed is read across shards and replicas (unset: found from its `up` series).",
    )  # fmt: skip
    namespace_labels_metric: str = "kube_namespace_labels"
    node_info_metric: str = "kube_node_info"
    node_labels_metric: str = Field(
        default="kube_node_labels",
        description="Node labels; kube-state-metrics exports only those its --metric-labels-allowlist names "
        "(nodes=[node.kubernetes.io/instance-type,topology.kubernetes.io/zone,karpenter.sh/capacity-type,...]).",
    )
    node_capacity_metric: str = "kube_node_status_capacity"
    node_allocatable_metric: str = "kube_node_status_allocatable"
    gpu_resource: str = Field(default="nvidia_com_gpu", description="kube-state-metrics' name of the GPU resource.")
    gpu_utilization_metric: str = Field(
        default="DCGM_FI_DEV_GPU_UTIL", description="dcgm-exporter's per-GPU utilisation (0-100), with pod labels."
    )
    gpu_job_labels: dict[str, str] = Field(
        default_factory=lambda: {"job": "nvidia-dcgm-exporter"},
        description="Labels of dcgm-exporter's `up` series: its successful scrapes weigh the utilisation samples. "
        "Where its job has no utilisation series, the jobs that have are used (and said).",
    )
    gpu_jobs: tuple[str, ...] = Field(
        default=(), description="Jobs to read GPU utilisation from instead of gpu_job_labels' job (found, not set)."
    )
    pvc_storage_metric: str = "kube_persistentvolumeclaim_resource_requests_storage_bytes"
    cadvisor_job_labels: dict[str, str] = Field(
        default_factory=lambda: {"job": "kubelet", "metrics_path": "/metrics/cadvisor"},
        description="Labels of cAdvisor's `up` series: its successful scrapes count the samples per hour.",
    )
    state_metrics_job_labels: dict[str, str] = Field(
        default_factory=lambda: {"job": "kube-state-metrics"},
        description="Labels of kube-state-metrics' `up` series.",
    )


class Settings(BaseSettings):
    """Operator and CLI settings; every field is `KUBECHARGE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="KUBECHARGE_", extra="ignore")

    prometheus_url: str = Field(default="http://localhost:9090", description="Prometheus (or Thanos/Mimir) base URL.")
    database_url: str = Field(default="sqlite:///kubecharge.db", description="SQLAlchemy URL of the rollup database.")
    cluster_name: str = Field(default="default", description="Name of this cluster in rollups and exports.")
    cluster_label: str = Field(
        default="cluster", pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="The label that names the cluster of each series where one querier holds many clusters.",
    )  # fmt: skip
    query_chunk_hours: int = Field(default=24, ge=1, le=24 * 31, description="Hours queried per Prometheus request.")
    prometheus_timeout_seconds: float = Field(default=300.0, gt=0, description="Timeout of one Prometheus query.")
    prometheus_retries: int = Field(default=2, ge=0, description="Retries of a failed Prometheus request.")
    prometheus_concurrency: int = Field(
        default=2, ge=1, le=16, description="Questions asked at once, of the one chunk collected ahead of storing."
    )
    prometheus_tenant: str | None = Field(
        default=None, description="Tenant sent as X-Scope-OrgID on every query (Mimir, Cortex)."
    )
    prometheus_headers: dict[str, str] = Field(
        default_factory=dict, description='Extra HTTP headers on every query, JSON, e.g. {"X-Org": "finops"}.'
    )
    prometheus_bearer_token_file: Path | None = Field(
        default=None, description="File holding a bearer token, read on every request (rotated tokens work)."
    )
    prometheus_basic_auth_username: str | None = Field(default=None, description="Basic-auth user name.")
    prometheus_basic_auth_password_file: Path | None = Field(default=None, description="File holding its password.")
    prometheus_ca_file: Path | None = Field(
        default=None, description="CA bundle (PEM) that signed the Prometheus server's certificate."
    )
    prometheus_query_parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Parameters added to (or replacing) partial_response=false, dedup=true, nocache=1 on every query.",
    )
    source_name: str | None = Field(
        default=None,
        description="Name of the metrics source in the ledger (default: the Prometheus URL without credentials).",
    )
    recheck_hours: int = Field(
        default=6, ge=0, le=24 * 31,
        description="Complete hours re-collected on every run for late data (at most a report's finalizeAfter).",
    )  # fmt: skip
    settle_seconds: float = Field(
        default=300.0, ge=0, le=86400, description="How long after an hour ends before it is collected and charged."
    )
    queries: QuerySettings = Field(default_factory=QuerySettings)
    default_object_storage_url: str | None = Field(
        default=None, description="Export UsageReports that name no object storage here (s3://... or file:///...)."
    )
    prometheus_url_allowed_prefixes: list[str] = Field(
        default_factory=list,
        description="URL prefixes a UsageReport's spec.prometheus.url may start with (JSON list); empty: a "
        "report can only use the operator's own Prometheus, so no namespace user can make it fetch other URLs.",
    )

    @field_validator("prometheus_url_allowed_prefixes")
    @classmethod
    def _prefixes_end_at_a_path(cls, prefixes: list[str]) -> list[str]:
        """`http://prom` would also allow `http://prom.attacker.example`: a prefix must end in `/`."""
        for prefix in prefixes:
            if not re.match(r"^https?://[^/]+/", prefix):
                raise ValueError(f"{prefix!r}: an allowed prefix is scheme://host[:port]/, then any path")
        return prefixes

    s3_endpoint_url: str | None = Field(default=None, description="S3 endpoint for MinIO, Ceph, ... (AWS: unset).")
    s3_region: str | None = Field(default=None, description="S3 region (default us-east-1).")

    # The operator (`kubecharge operator`).
    kube_api_url: str | None = Field(
        default=None,
        description="API URL needing no credentials (e.g. `kubectl proxy`); unset: in-cluster, then KUBECONFIG.",
    )
    report_interval_seconds: float = Field(default=3600.0, gt=0, description="How often reports are re-run.")
    mapping_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often TeamMapping status is refreshed."
    )
    retry_delay_seconds: float = Field(default=60.0, gt=0, description="First retry delay after a failed run.")
    retry_max_delay_seconds: float = Field(default=3600.0, gt=0, description="Longest retry delay (backoff cap).")
    metrics_port: int = Field(default=8081, ge=0, le=65535, description="Port of /metrics (0: no metrics server).")
    liveness_port: int = Field(default=8080, ge=0, le=65535, description="Port of kopf's /healthz (0: none).")
    peering_name: str = Field(default="kubecharge", description="kopf peering name shared by the replicas.")
    standalone: bool = Field(default=False, description="Run without kopf peering (one replica only).")
    peering_priority: int | None = Field(
        default=None,
        description="kopf peering priority; unset: the earlier a replica started the higher (a random tie-break), "
        "so replicas never tie and a restarted one does not take over from one that is running.",
    )
    peering_lifetime_seconds: int = Field(
        default=60, ge=5, le=3600, description="How long a silent replica counts as alive before another takes over."
    )
    pod_name: str | None = Field(default=None, description="This replica's name in status and leases (the pod's).")
    run_lease_seconds: float = Field(
        default=900.0, gt=0, description="A report's run lease in the database, renewed while the run progresses."
    )


def load_settings() -> Settings:
    """The KUBECHARGE_* settings; a bad value is one line naming the variable, not a traceback."""
    try:
        return Settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = "_".join(str(part) for part in first["loc"] if isinstance(part, str)).upper()
        raise InputError(f"KUBECHARGE_{where}: {first['msg']}; fix the environment variable") from None
    except SettingsError as error:  # a value that is not even parseable, e.g. JSON settings given as a=b
        found = re.search(r'field "(\w+)"', str(error))
        field = found[1] if found else ""
        prefix = "KUBECHARGE_QUERY_" if field in QuerySettings.model_fields else "KUBECHARGE_"
        example = '{"cluster": "prod"}'
        raise InputError(f"{prefix}{field.upper()} is not valid JSON; write it like {example}") from None
