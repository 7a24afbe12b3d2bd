"""max(usage, request) is taken per container-hour before summing; the CSV header is the published contract."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd

from kubecharge.attribute import attribute
from kubecharge.domain import periods
from kubecharge.domain.collected import CLAIM_KEYS, CONTAINER_KEYS, POD_KEYS, ChunkUsage, empty_frame
from kubecharge.domain.ledger import CollectionPolicy
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.reports import Pricing, UsageReportSpec
from kubecharge.domain.usage import ChargeBasis, NamespaceHour, ResourceQuantities
from kubecharge.pipeline.priced import priced_period
from kubecharge.pipeline.request import ReportRequest
from kubecharge.render.data_files import CSV_COLUMNS, chargeback_csv
from kubecharge.render.documents import report_markdown
from kubecharge.render.focus import focus_rows
from kubecharge.rollup import hour_table

HOUR = datetime(2026, 10, 1, 5, tzinfo=UTC)


def containers(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [("shop", pod, "uid-" + pod, container, HOUR, value) for pod, container, value in rows],
        columns=[*CONTAINER_KEYS, "hour_start", "value"],
    )


def chunk() -> ChunkUsage:
    return ChunkUsage(
        start=HOUR, end=HOUR,
        frames={
            "cpu_usage_core_hours": containers(("web", "app", 2.0), ("db", "app", 0.1), ("job", "app", 0.3)),
            "cpu_request_core_hours": containers(("web", "app", 1.0), ("db", "app", 1.0)),
            "memory_usage_gib_hours": empty_frame(CONTAINER_KEYS),
            "memory_request_gib_hours": containers(("db", "app", 4.0)),
            "storage_gib_hours": pd.DataFrame([("shop", "data-shop", HOUR, 10.0)],
                                              columns=[*CLAIM_KEYS, "hour_start", "value"]),
            "network_gib": empty_frame(POD_KEYS),
        },
        namespace_labels={("shop", HOUR): {"label_team": "x"}},
        completeness={},
    )  # fmt: skip


def test_max_is_per_container_not_per_namespace() -> None:
    rows = hour_table(chunk()).rows()
    q = sum((row.quantities for row in rows), ResourceQuantities())
    assert q.cpu_core_hours_usage == 2.4
    assert q.cpu_core_hours_request == 2.0
    assert q.cpu_core_hours_max == 2.0 + 1.0 + 0.3  # not max(2.4, 2.0)
    assert q.memory_gib_hours_max == 4.0
    assert q.storage_gib_hours == 10.0
    assert {row.namespace_labels["label_team"] for row in rows} == {"x"}
    # No owner known: each pod is its own bare pod; the claim no pod mounts is a row of its own.
    by_workload = {(row.workload_kind, row.workload): row.quantities for row in rows}
    assert sorted(by_workload) == [("PersistentVolumeClaim", "data-shop"), ("Pod", "db"), ("Pod", "job"),
                                   ("Pod", "web")]  # fmt: skip
    assert by_workload[("Pod", "web")].cpu_core_hours_max == 2.0
    assert by_workload[("Pod", "db")].cpu_core_hours_max == 1.0
    assert by_workload[("Pod", "job")].cpu_core_hours_max == 0.3
    assert by_workload[("PersistentVolumeClaim", "data-shop")].storage_gib_hours == 10.0


def test_csv_header_and_basis() -> None:
    rows = hour_table(chunk()).rows()
    spec = UsageReportSpec(charge_basis=ChargeBasis.REQUEST, pricing=Pricing(cpu_core_hour=Decimal("0.5")))
    request = ReportRequest(periods.parse("2026-10-01"), [], spec, "c", "prometheus", CollectionPolicy(HOUR))
    report = priced_period(request, attribute(rows, request.mappings), {})
    text = chargeback_csv(report).decode()
    header, line = text.splitlines()[:2]
    assert header == (
        "period_start,period_end,team,namespace,cpu_core_hours_usage,cpu_core_hours_request,cpu_core_hours_charged,"
        "memory_gib_hours_usage,memory_gib_hours_request,memory_gib_hours_charged,storage_gib_hours,network_gib,"
        "cost_cpu,cost_memory,cost_storage,cost_network,cost_total,currency,cluster,"  # cluster appended first,
        "gpu_hours_charged,cost_gpu,cost_idle_share,cost_shared_share,cost_total_allocated,"  # then full cost,
        "cost_center"  # then the team's cost centre
    )
    fields = line.split(",")
    assert fields[18] == "c"  # one cluster: every line is the report's cluster
    assert fields[19:24] == ["0.000000000"] * 4 + [fields[16]]  # direct charges only: allocated is cost_total
    assert fields[24] == ""  # unallocated: no TeamMapping, no cost centre
    assert fields[:4] == ["2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z", "unallocated", "shop"]
    assert fields[6] == "2.000000000"  # request basis
    assert fields[12] == "1.000000000"  # 2 core-hours x 0.5


def test_two_clusters_make_two_lines_and_focus_rows_name_their_own_cluster() -> None:
    rows = [replace(row, cluster=cluster) for cluster in ("east", "west") for row in hour_table(chunk()).rows()]
    mapping = TeamMapping("shop", "shop", namespaces=frozenset({"shop"}), clusters=frozenset({"east"}))
    request = ReportRequest(periods.parse("2026-10-01"), [mapping], UsageReportSpec(), "east+west", "prometheus",
                            CollectionPolicy(HOUR), clusters=("east", "west"))  # fmt: skip
    report = priced_period(request, attribute(rows, request.mappings), {})
    # The mapping applies in east only: west's namespace of the same name is nobody's, and a line of its own.
    assert [(line.team, line.namespace, line.cluster) for line in report.lines] == [
        ("shop", "shop", "east"), ("unallocated", "shop", "west")]  # fmt: skip
    assert report.lines[0].quantities == report.lines[1].quantities
    csv_rows = chargeback_csv(report).decode().splitlines()[1:]
    assert [row.split(",")[CSV_COLUMNS.index("cluster")] for row in csv_rows] == ["east", "west"]
    for row in focus_rows(report):
        tags = json.loads(row["Tags"])
        cluster = tags["kubecharge.io/cluster"]
        assert row["SubAccountId"] == f"{cluster}/{tags['kubecharge.io/team']}"
        # each workload is a resource of its own namespace, named after it
        assert row["ResourceId"] == f"{cluster}/shop/{row['x_WorkloadKind']}/{row['x_Workload']}"
        assert row["ResourceName"] == tags["kubecharge.io/workload"] == row["x_Workload"]
        assert row["BillingAccountName"] == "east+west"
    assert {json.loads(row["Tags"])["kubecharge.io/cluster"] for row in focus_rows(report)} == {"east", "west"}


def test_an_unallocated_workload_says_its_pod_labels_and_what_would_claim_it() -> None:
    rows = [
        NamespaceHour(
            "legacy",
            HOUR,
            ResourceQuantities(cpu_core_hours_max=2.0, cpu_core_hours_request=2.0),
            workload_kind="Deployment",
            workload="billing",
            pod_labels='{"label_team":"payments"}',
        )
    ]
    request = ReportRequest(periods.parse("2026-10-01"), [], UsageReportSpec(), "c", "prometheus",
                            CollectionPolicy(HOUR))  # fmt: skip
    report = priced_period(request, attribute(rows, request.mappings), {})
    text = report_markdown(report).decode()
    assert (
        "- `legacy` Deployment `billing`: 0.06 USD (pod labels: team=payments; claimed by "
        "`namespaces: [legacy] — or its pods: podSelector: {matchLabels: {team: payments}}`)"
    ) in text
