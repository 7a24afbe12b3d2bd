"""Every PromQL query kubecharge sends, in one place, with the reason for each part.

Each query is evaluated as a range query with a 1 h step; the value at time T is the hour [T-1h, T).

Traps handled here (see the product design):
- `container!="", container!="POD"` drops the pod-level cgroup series and the pause container on both
  docker (`POD`) and containerd (`""` with a pause image); without it CPU and memory roughly double.
- `namespace!="", pod!=""` drops the cgroups that belong to no pod (the node `id="/"`, the kubepods and system
  slices) and the node's own NICs, which would otherwise become a row with an empty namespace.
- Every data selector carries its job's labels (`KUBECHARGE_QUERY_CADVISOR_JOB_LABELS`, `..._STATE_METRICS_...`):
  the kubelet's /metrics/resource endpoint exports container CPU and memory under the same names and job.
- The pod `uid` is recovered from cAdvisor's cgroup `id` (cgroupfs `pod<uid>`, systemd `pod<uid_with_underscores>`),
  so a pod name reused by a new pod is a different container-hour, as kube-state-metrics sees it.
- `max by (..., id, name)` collapses duplicate scrapes of one cgroup (another Prometheus replica's copies too);
  the source then adds restarts (each restart is a new cgroup whose counter starts at zero; in-place resets are
  taken apart from `resets`). `name` keeps restarts apart where a relabelling dropped `id`.
- A static pod's cgroup carries the kubelet's config hash, not the mirror pod's uid, and a dropped `id` leaves no
  uid at all: the rollup joins such usage to requests on (namespace, pod, container); hostNetwork pods are
  excluded from network on (namespace, pod).
- cAdvisor gauges are integrated as sum_over_time(x) / successful scrapes of the same target (`up`, the largest
  count among replicas' copies): a series present for 20 minutes of an hour counts 1/3 of the hour, and a failed
  scrape neither adds nor removes time.
- kube-state-metrics objects (pod phases, PVCs) may be exported by replicas (the same series twice) or by shards
  (a pod moves from one to another when the shard count changes, mid-hour): neither `max` across instances (a
  moved pod would count half) nor `sum` (replicas would count twice) is right for both. Each exporter's samples
  count one scrape interval each (a short run seen in n scrapes is n intervals: right on average wherever it starts
  between scrapes), summed over exporters and divided by how many had the object at once (from steps of the
  scrape interval, where any exporter counts once). Counting the steps alone charged one look-back too many: a
  whole interval on a third of short runs.
- Requests follow Kubernetes' effective-request rule: app containers, sidecars (restartable init containers),
  the pod overhead, and the largest init container's excess over the app containers (`domain.requests`).
- Windows are `[3599s]` for gauges: Prometheus 2.x ranges are closed at both ends, and a full hour would read the
  boundary sample into two buckets.
- Counters (CPU seconds, transmitted bytes) are never `increase`d by the backend: Prometheus extrapolates to the
  window's edges, VictoriaMetrics reads the sample before the window and does not extrapolate, so the same
  history gave different numbers. The queries ask each counter series, per hour, for its last, lowest and highest
  value and its sample count (`COUNTER_MEASURES`: functions both evaluate alike over `[3599999ms]`,
  which splits hours exactly on millisecond timestamps), and `domain.counters` takes the differences: from the
  previous hour's last value, or from zero for a series that starts in the hour (a new cgroup starts at zero).
  Usage after a series' last sample is booked when it is seen, never guessed: a gap (an outage) moves usage to
  the hour after it instead of losing it.
- No cross-series `sum` of many series in PromQL: a float sum can differ in its last bit with the order series
  are added in. Queries end in `max by (...)` (exact and order-free) and the source adds the series up with
  `math.fsum`, which is exact and order-free too — the same period always stores the same bits. The one `sum`
  left adds an object's kube-state-metrics exporters (one, or two at a shard hand-over or with a replica:
  a sum of two is exact in either order) and step counts (whole numbers, exact in any order).
- Only `by (...)` aggregations, never `without`: kube-prometheus adds target labels (`container`, `pod` on
  kube-state-metrics series that lack them, `instance`, `job`, `node`, ...) that must not split or join groups.
- Requests count only the fraction of the hour the pod was `Running`; Pending, Succeeded and Failed pods that
  kube-state-metrics still lists are not charged.
- hostNetwork pods report the node's interfaces: their network is excluded.
- Every hour's completeness comes from `up` alone (targets and scrapes expected vs seen), so the ledger knows
  a partly observed hour as such and never lets an emptier answer (retention, an outage) replace a fuller one.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kubecharge.domain.resource_table import RESOURCES
from kubecharge.domain.units import BYTES_PER_GIB, SECONDS_PER_HOUR
from kubecharge.settings import QuerySettings

DEFAULT_STATE_METRICS_INTERVAL_SECONDS = 60  # where no `up` says otherwise
COUNTER_WINDOW = "3599999ms"  # (T - 1 h, T] on millisecond timestamps, whether the range is closed or half-open
# The per-hour facts of a counter series that `domain.counters` turns into its increase, by measure label.
COUNTER_MEASURES = {"last": "last_over_time", "low": "min_over_time", "high": "max_over_time",
                    "samples": "count_over_time"}  # fmt: skip
# Request questions (averages of each kind of request, multiplied by `pod_running_share` in the source) and what
# the products are divided by to give the ledger's unit.
REQUEST_UNITS = {"cpu_request_core_hours": 1, "memory_request_gib_hours": BYTES_PER_GIB, "gpu_request_hours": 1}
# Counter questions and what their raw values are divided by to give the ledger's unit.
COUNTER_UNITS = {"cpu_usage_core_hours": SECONDS_PER_HOUR, "network_gib": BYTES_PER_GIB}
CGROUP_LABELS = ("namespace", "pod", "uid", "container", "id", "name")  # one series per cgroup (restarts apart)
INTERFACE_LABELS = ("namespace", "pod", "uid", "interface")
COUNTER_SERIES_LABELS = {"cpu_usage_core_hours": CGROUP_LABELS, "network_gib": INTERFACE_LABELS}  # what a series is
OVERHEAD_CONTAINER = "(pod overhead)"  # the row a pod's RuntimeClass overhead is charged on
GAUGE_WINDOW = "3599s"
_UID = r".*pod([0-9a-f]{8})[-_]([0-9a-f]{4})[-_]([0-9a-f]{4})[-_]([0-9a-f]{4})[-_]([0-9a-f]{12}).*"
UID_FROM_CGROUP = '"uid", "$1-$2-$3-$4-$5", "id", "' + _UID.replace("\\", "\\\\") + '"'


def escape(value: str) -> str:
    """A PromQL double-quoted string literal body."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def selector(metric: str, *matchers: str, labels: Mapping[str, str] = {}) -> str:
    """`metric{m1, m2, k="v"}` with every label value escaped."""
    parts = [*matchers, *(f'{key}="{escape(value)}"' for key, value in sorted(labels.items()))]
    return f"{metric}{{{', '.join(parts)}}}" if parts else metric


@dataclass(frozen=True)
class QuerySet:
    """The queries for one settings object, by question name. `digest` identifies them in run records and
    manifests."""

    queries: Mapping[str, str]

    def __getattr__(self, question: str) -> str:
        try:
            return str(self.__dict__["queries"][question])
        except KeyError:
            raise AttributeError(question) from None

    def as_dict(self) -> dict[str, str]:
        return dict(self.queries)

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True).encode()).hexdigest()


def build(settings: QuerySettings) -> QuerySet:
    extra = settings.series_labels
    # Data series carry their scrape job's labels too: the kubelet serves the same metric names on
    # /metrics/resource (same job and instance, no `id`), and those copies must never count twice.
    cadvisor = {**extra, **settings.cadvisor_job_labels}
    state = {**extra, **settings.state_metrics_job_labels}
    in_pod = ('namespace!=""', 'pod!=""')  # node, system and kubepods cgroups and node NICs belong to no pod
    real_containers = (*in_pod, 'container!=""', 'container!="POD"')
    cadvisor_up = selector("up", labels=cadvisor)
    state_up = selector("up", labels=state)
    interval = settings.state_metrics_interval_seconds or DEFAULT_STATE_METRICS_INTERVAL_SECONDS
    # Steps of the scrape interval, each looking back a quarter more (scrapes are jittered): every step in which a
    # sample exists anywhere counts once, whichever shard or replica exported it. The steps start one look-back
    # into the hour, so no step reads a sample of the hour before (where data ends, that would be a whole hour).
    look_seconds = interval + math.ceil(interval / 4)
    look = f"[{look_seconds}s]"
    steps = f"[{SECONDS_PER_HOUR - look_seconds - 1}s:{interval}s]"

    def per_scrape(series: str, up: str) -> str:
        """Average value over the hour × the share of the hour the series existed (cAdvisor: one target per series,
        its copies from other Prometheus replicas share its instance, hence the `max by (instance)`): its samples
        over its target's successful scrapes, plus the scrapes the target missed by not existing yet (a node that
        joins or leaves in the hour: its `up` covers only part of it, and so could its pods). A target more than a
        tenth of the hour short of the densest one is short by that many; jitter of a scrape or two is not."""
        window = f"[{GAUGE_WINDOW}]"
        attempts = f"max by (instance) (count_over_time({up}{window}))"
        full = f"scalar(max(count_over_time({up}{window})))"
        missed = f"(({full} - {attempts}) > {full} / 10 or on (instance) {attempts} * 0)"
        return (
            f"sum_over_time({series}{window}) / on (instance) group_left () "
            f"(max by (instance) (sum_over_time({up}{window})) + on (instance) {missed})"
        )

    def present_share(series: str, by: str) -> str:
        """Share of the hour a kube-state-metrics object existed (times its value): each exporter's samples over its
        successful scrapes (`per_scrape`: the object's run seen in n scrapes is n scrape intervals, exact on average
        wherever the run starts and ends between scrapes), added over exporters, then scaled by how many exporters
        had the object at once. That factor comes from the scrape-interval steps: steps in which any exporter had
        it over the sum of each exporter's own steps — 1 for one exporter or shards handing it over (a sum is
        right), 1/2 while two replicas export the same object (one copy is right). The steps alone counted each run
        up to a look-back too long: a whole interval on a quarter of runs on average, and on every run of a CronJob
        whose start sits so against the scrapes (+10 % on a 10-minute pod at 60 s)."""
        instances = f"{by}, instance"
        shares = f"sum by ({by}) (max by ({instances}) ({per_scrape(series, state_up)}))"
        union = f"sum_over_time((max by ({by}) (max_over_time({series}{look}))){steps})"
        each = f"sum by ({by}) (sum_over_time((max by ({instances}) (max_over_time({series}{look}))){steps}))"
        return f"({shares} * on ({by}) ({union} / on ({by}) ({each} > 0)) or {shares})"

    pod = "namespace, pod, uid"
    container = f"{pod}, container"
    running_share = present_share(selector(settings.pod_phase_metric, 'phase="Running"', labels=state), pod)

    def average(metric: str, by: str, *matchers: str) -> str:
        return f"max by ({by}) (avg_over_time({selector(metric, *matchers, labels=state)}[{GAUGE_WINDOW}]))"

    def request_hours(resource: str, overhead_metric: str | None) -> str:
        """Every request a pod reserves, each tagged with its `kind`: app containers, init containers (sidecars
        carry restart_policy="Always" from the init-container info) and the pod overhead, as the hour's average.
        The source multiplies them by the pod's running share (`pod_running_share`, asked once per chunk for every
        resource: it is the costliest part) and applies Kubernetes' effective-request rule."""
        matcher = f'resource="{resource}"'
        init = average(settings.init_requests_metric, container, matcher)
        info_series = selector(settings.init_info_metric, labels=state)
        info = f"max by ({container}, restart_policy) (max_over_time({info_series}[{GAUGE_WINDOW}]))"
        tagged_init = f"({init} * on ({container}) group_left (restart_policy) {info}) or on ({container}) {init}"
        parts = [("app", average(settings.requests_metric, container, matcher)), ("init", f"({tagged_init})")]
        if overhead_metric is not None:  # a RuntimeClass overhead has CPU and memory only
            overhead = average(overhead_metric, pod)
            parts.append(("overhead", f'label_replace({overhead}, "container", "{OVERHEAD_CONTAINER}", "", "")'))
        return " or ".join(f'label_replace({expression}, "kind", "{kind}", "", "")' for kind, expression in parts)

    cpu = selector(settings.cpu_usage_metric, *real_containers, labels=cadvisor)
    memory = selector(settings.memory_usage_metric, *real_containers, labels=cadvisor)
    network = selector(settings.network_transmit_metric, *in_pod, labels=cadvisor)
    host_network = selector(settings.pod_info_metric, 'host_network="true"', labels=state)
    pvc = selector(settings.pvc_storage_metric, labels=state)
    # dcgm-exporter labels each GPU with the pod using it; behind kube-prometheus (honorLabels off) those become
    # exported_namespace/pod/container, the target's own labels taking the plain names.
    gpu_job = {**extra, **settings.gpu_job_labels}
    jobs = "|".join(re.escape(job) for job in settings.gpu_jobs)
    found_jobs = (f'job=~"{escape(jobs)}"',) if jobs else ()  # where discovery found the exporter elsewhere
    gpu_series = selector(settings.gpu_utilization_metric, *found_jobs, labels=gpu_job)
    gpu = per_scrape(gpu_series, selector("up", *found_jobs, labels=gpu_job))
    gpu_requested, gpu_keys = f'resource="{settings.gpu_resource}"', "namespace, pod, container"
    for name in ("namespace", "pod", "container"):
        gpu = f'label_replace({gpu}, "{name}", "$1", "exported_{name}", "(.+)")'
    # A cgroup is one series per (id, name): `name` keeps restarts apart where relabelling dropped `id`.
    cgroup = ", ".join(CGROUP_LABELS)
    node_info = selector(settings.node_info_metric, labels=state)
    charged_resources = 'resource=~"' + "|".join(("cpu", "memory", settings.gpu_resource)) + '"'
    capacity = " or ".join(
        f"label_replace(max by (node, resource) (avg_over_time({selector(metric, charged_resources, labels=state)}"
        f'[{GAUGE_WINDOW}])), "kind", "{kind}", "", "")'
        for kind, metric in (("capacity", settings.node_capacity_metric),
                             ("allocatable", settings.node_allocatable_metric))
    )  # fmt: skip
    placed_pods = selector(settings.pod_info_metric, 'node!=""', labels=state)

    def counter(series: str, by: str) -> str:
        """Per series (`by`, copies collapsed) and hour, each of `COUNTER_MEASURES`, tagged `measure`."""
        return "\n  or ".join(
            f"label_replace(max by ({by}) (label_replace({function}({series}[{COUNTER_WINDOW}]), {UID_FROM_CGROUP})), "
            f'"measure", "{measure}", "", "")'
            for measure, function in COUNTER_MEASURES.items()
        )

    questions = {
        "cpu_usage_core_hours": counter(cpu, cgroup),
        "cpu_request_core_hours": request_hours("cpu", settings.overhead_cpu_metric),
        "memory_usage_gib_hours": (
            f"max by ({cgroup}) (\n"
            f"  label_replace({per_scrape(memory, cadvisor_up)}, {UID_FROM_CGROUP})\n"
            f") / {BYTES_PER_GIB}"
        ),
        "memory_request_gib_hours": request_hours("memory", settings.overhead_memory_metric),
        # Utilisation 0-100 per GPU, weighted by the share of the hour it was scraped: GPU-hours "in use".
        # Only containers that requested GPUs: a GPU no pod uses carries the exporter's own pod labels.
        "gpu_usage_hours": (
            f"max by (namespace, pod, container, UUID) (\n  {gpu}\n) / 100\n"
            f"  and on (namespace, pod, container) {average(settings.requests_metric, gpu_keys, gpu_requested)}"
        ),
        "gpu_request_hours": request_hours(settings.gpu_resource, None),
        "storage_gib_hours": f"{present_share(pvc, 'namespace, persistentvolumeclaim')} / {BYTES_PER_GIB}",
        "network_gib": (
            f"(\n  {counter(network, ', '.join(INTERFACE_LABELS))}\n)"
            # by name, not uid: a static pod's cgroup carries the kubelet's config hash, not the mirror pod's uid
            f"\nunless on (namespace, pod)\nmax by (namespace, pod) (max_over_time({host_network}[{GAUGE_WINDOW}]))"
        ),
    }
    missing = [q for resource in RESOURCES for q in resource.questions if q not in questions]
    assert not missing, f"no query for {missing}"  # every resource of the table is asked for
    return QuerySet({
        **{q: questions[q] for resource in RESOURCES for q in resource.questions},
        "namespace_labels": (
            f"count_over_time({selector(settings.namespace_labels_metric, labels=state)}[{GAUGE_WINDOW}])"
        ),
        "scrape_completeness": scrape_completeness(cadvisor_up, state_up) + "\n  or " + (
            f'label_replace(count(count_over_time({gpu_series}[{GAUGE_WINDOW}])), "measure", '
            '"gpu_utilisation_series", "", "")'
        ),
        # Copies of a pod's series (kube-state-metrics replicas or shards, Prometheus replicas) that the queries
        # collapse, as a share of all its series in the hour: an SLI, not a figure of the report.
        "duplicate_series_ratio": (
            f"1 - count(count by (namespace, pod, uid) (count_over_time({placed_pods}[{GAUGE_WINDOW}]))) "
            f"/ count(count_over_time({placed_pods}[{GAUGE_WINDOW}]))"
        ),
        # Where each pod ran: a pod is bound to one node for life (node="" only while unscheduled).
        # The share of each hour each pod was Running: what every request question is multiplied by.
        "pod_running_share": running_share,
        "pod_nodes": (
            f"max by ({pod}, node) (max_over_time({placed_pods}[{GAUGE_WINDOW}]))"
        ),
        "node_hours": present_share(node_info, "node"),
        **workload_questions(settings),
        "node_capacity": capacity,
        "node_labels": (
            f'label_replace(count_over_time({selector(settings.node_labels_metric, labels=state)}[{GAUGE_WINDOW}]), '
            f'"kubecharge_series", "labels", "", "") or label_replace(count_over_time({node_info}[{GAUGE_WINDOW}]), '
            '"kubecharge_series", "info", "", "")'
        ),
    })  # fmt: skip


def densest_state_metrics_scrapes(settings: QuerySettings) -> str:
    """Per hour, the most scrapes any kube-state-metrics target had: 3600 s over it is the scrape interval."""
    up = selector("up", labels={**settings.series_labels, **settings.state_metrics_job_labels})
    return f"max(count_over_time({up}[1h]))"


def scrape_health_series(settings: QuerySettings) -> str:
    """cAdvisor's `up`: where the values of the cluster label are looked up."""
    return selector("up", labels={**settings.series_labels, **settings.cadvisor_job_labels})


def for_cluster(settings: QuerySettings, labels: Mapping[str, str]) -> QuerySettings:
    """The settings with one cluster's matchers added to every series."""
    return settings.model_copy(update={"series_labels": {**settings.series_labels, **labels}})


def scrape_completeness(cadvisor_up: str, state_up: str) -> str:
    """Targets and scrapes per hour for both jobs, each tagged with the `measure` it is (an `or` of 8 small
    aggregates over the `up` series only: cheap, and it replaces a whole-period presence query)."""
    parts = []
    for job, up in (("cadvisor", cadvisor_up), ("state_metrics", state_up)):
        for measure, expression in (
            ("targets_expected", f"count(max_over_time({up}[{GAUGE_WINDOW}]))"),
            ("targets_seen", f"count(max_over_time({up}[{GAUGE_WINDOW}]) == 1)"),
            ("scrapes_expected", f"sum(count_over_time({up}[{GAUGE_WINDOW}]))"),
            ("scrapes_seen", f"sum(sum_over_time({up}[{GAUGE_WINDOW}]))"),
        ):
            parts.append(f'label_replace({expression}, "measure", "{job}_{measure}", "", "")')
    return "\n  or ".join(parts)


WORKLOAD_QUESTIONS = ("pod_owners", "controller_owners", "claim_mounts", "pod_labels")


def workload_questions(settings: QuerySettings) -> dict[str, str]:
    """kube-state-metrics' owner series, per hour: each pod's controlling owner (`<none>` for a bare pod) and each
    ReplicaSet's and Job's owner, with the scrapes that saw it (the most of any one copy: replicas of an exporter or
    of Prometheus repeat them; an owner that changed within the hour splits it by these counts), as
    `domain.workloads` resolves them into the pod-hour's workload; and the PVCs
    each pod's spec mounts (the source weighs them by the pod's Running share: a claim's GiB-hours go to the
    workloads of the pods that run with it mounted); and each pod's label sets (TeamMapping podSelector)."""
    state = {**settings.series_labels, **settings.state_metrics_job_labels}
    owned = "owner_kind, owner_name"

    def owner_of(metric: str, kind: str, name_label: str) -> str:
        series = selector(metric, labels=state)
        present = f"max by (namespace, {name_label}, {owned}) (count_over_time({series}[{GAUGE_WINDOW}]))"
        named = f'label_replace({present}, "controller", "$1", "{name_label}", "(.*)")'
        return f'label_replace({named}, "controller_kind", "{kind}", "", "")'

    controllers = (f"max by (namespace, controller_kind, controller, {owned}) ("
                   f"{owner_of(settings.replicaset_owner_metric, 'ReplicaSet', 'replicaset')} or "
                   f"{owner_of(settings.job_owner_metric, 'Job', 'job_name')})")  # fmt: skip
    pods = selector(settings.pod_owner_metric, 'owner_is_controller!="false"', labels=state)
    mounts = selector(settings.pod_claims_metric, labels=state)
    labels = selector(settings.pod_labels_metric, labels=state)
    return {
        # every label set each pod had, with the scrapes that saw it: a pod-hour is split by the time each held
        "pod_labels": f"count_over_time({labels}[{GAUGE_WINDOW}])",
        "pod_owners": f"max by (namespace, pod, uid, {owned}) (count_over_time({pods}[{GAUGE_WINDOW}]))",
        "controller_owners": controllers,
        "claim_mounts": (
            f"max by (namespace, pod, uid, persistentvolumeclaim) (max_over_time({mounts}[{GAUGE_WINDOW}]))"
        ),
    }


RATE_STEP_SECONDS = 300  # recommendations read CPU as rates over 5-minute windows


def rate_window_seconds(settings: QuerySettings) -> int:
    """The windows CPU rates are measured over for recommendations: 5 minutes, or two scrape intervals where
    scrapes are sparser (a rate needs two samples in its window; kube-state-metrics' interval stands for
    cAdvisor's, which is scraped alike in kube-prometheus)."""
    interval = settings.state_metrics_interval_seconds or DEFAULT_STATE_METRICS_INTERVAL_SECONDS
    return max(RATE_STEP_SECONDS, 2 * interval)


def recommendation_queries(settings: QuerySettings) -> QuerySet:
    """What request recommendations read, apart from the report's own queries (`build`): each container's CPU
    usage rate over 5-minute windows (`rate_window_seconds`, asked at that step; copies of a cgroup collapsed, a
    container's cgroups at once added), its working set's peak and its latest requests per hour, and each
    HorizontalPodAutoscaler's scale target per hour."""
    extra = settings.series_labels
    cadvisor = {**extra, **settings.cadvisor_job_labels}
    state = {**extra, **settings.state_metrics_job_labels}
    real_containers = ('namespace!=""', 'pod!=""', 'container!=""', 'container!="POD"')
    cpu = selector(settings.cpu_usage_metric, *real_containers, labels=cadvisor)
    memory = selector(settings.memory_usage_metric, *real_containers, labels=cadvisor)
    requests = selector(settings.requests_metric, 'resource=~"cpu|memory"', labels=state)
    sidecar_requests = selector(settings.init_requests_metric, 'resource=~"cpu|memory"', labels=state)
    sidecars = selector(settings.init_info_metric, 'restart_policy="Always"', labels=state)
    hpa = selector(settings.hpa_info_metric, labels=state)
    container, cgroup = "namespace, pod, uid, container", ", ".join(CGROUP_LABELS)
    rate_window = f"[{rate_window_seconds(settings)}s]"
    return QuerySet({
        "container_cpu_rates": (
            f"sum by ({container}) (max by ({cgroup}) (label_replace(rate({cpu}{rate_window}), {UID_FROM_CGROUP})))"
        ),
        "container_memory_peaks": (
            f"max by ({container}) (label_replace(max_over_time({memory}[{GAUGE_WINDOW}]), {UID_FROM_CGROUP}))"
        ),
        # app containers' requests, and sidecars' (restartable init containers run beside them; other init
        # containers run to completion first and are not right-sized here)
        "container_requests": (
            f"max by ({container}, resource) (last_over_time({requests}[{GAUGE_WINDOW}]))\n  or "
            f"(max by ({container}, resource) (last_over_time({sidecar_requests}[{GAUGE_WINDOW}]))\n"
            f"  and on ({container}) max by ({container}) (max_over_time({sidecars}[{GAUGE_WINDOW}])))"
        ),
        "hpa_targets": (
            f"max by (namespace, scaletargetref_kind, scaletargetref_name) (max_over_time({hpa}[{GAUGE_WINDOW}]))"
        ),
    })  # fmt: skip
