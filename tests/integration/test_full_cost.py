"""Full-cost chargeback against a real Prometheus: node prices, idle, shared costs and GPUs, each figure checked
against the synthetic cluster's own model (its instance types, node-hours and per-node container truth) or a
value worked out from it here, never against another kubecharge output alone."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import requests
import sqlalchemy
import yaml

from kubecharge.domain.reports import Pricing
from kubecharge.synthetic.model import Cluster, Node, Truth
from tests.conftest import PERIOD, START
from tests.support.focus_validation import validate
from tests.support.ledger_rows import HOURLY_ROWS, hour_of
from tests.support.reports import read_csv, run_in_process

END = START + timedelta(days=2)
LIST = Pricing()
P_CPU, P_MEMORY, P_GPU = float(LIST.cpu_core_hour), float(LIST.memory_gib_hour), float(LIST.gpu_hour)
P_STORAGE, P_NETWORK = float(LIST.storage_gib_hour), float(LIST.network_gib)
# Hourly prices per (instance type, capacity type), as a platform team would write them from its price sheet.
HOURLY = {
    ("m5.8xlarge", "spot"): "0.6144",
    ("m5.8xlarge", "on-demand"): "1.536",
    ("m5.12xlarge", "on-demand"): "2.304",
    ("r5.8xlarge", "on-demand"): "2.016",
    ("g5.12xlarge", "on-demand"): "5.672",
    ("c5.4xlarge", "spot"): "0.272",
}
SHARED = ["monitoring", "kube-system"]


def rules() -> list[dict[str, Any]]:
    """Spot first: first match wins, and the on-demand m5.8xlarge rule (no capacityType) would match spot too."""
    ordered = sorted(HOURLY.items(), key=lambda item: (item[0][1] != "spot", item[0]))
    return [{"match": {"instanceType": i, **({"capacityType": "spot"} if c == "spot" else {})}, "hourly": h}
            for (i, c), h in ordered]  # fmt: skip


def usage_report(path: Path, cost_model: dict[str, Any] | None, nodes: bool = True) -> Path:
    spec: dict[str, Any] = {"pricing": {"nodes": rules()} if nodes else {}}
    if cost_model is not None:
        spec["costModel"] = cost_model
    metadata = {"name": "full-cost", "namespace": "finops"}
    path.write_text(yaml.safe_dump({"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                    "metadata": metadata, "spec": spec}))  # fmt: skip
    return path


@dataclass
class Run:
    rows: list[dict[str, str]]
    summary: dict[str, Any]
    folder: Path


def run(work: Path, prometheus_url: str, mappings: Path, name: str, report: Path, *extra: str) -> Run:
    out = work / name
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", PERIOD, "--out", str(out),
        "--db", f"sqlite:///{work / 'ledger.db'}", "--cluster", "synthetic", "--report", str(report), *extra,
    )  # fmt: skip
    assert code == 0, output
    return Run(read_csv(out / "chargeback.csv"), json.loads((out / "chargeback.json").read_text()), out)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("full-cost")


@pytest.fixture(scope="module")
def shown(work: Path, prometheus_url: str, mappings_file: Path) -> Run:
    """Idle on its own line; the platform's shared namespaces handed on in proportion to direct cost."""
    model = {"idle": "show", "shared": {"namespaces": SHARED, "distribute": "proportional"}}
    return run(work, prometheus_url, mappings_file, "show", usage_report(work / "show.yaml", model))


@pytest.fixture(scope="module")
def distributed(work: Path, prometheus_url: str, mappings_file: Path) -> Run:
    """Idle distributed, shared namespaces handed on evenly per team; also exported (FOCUS included)."""
    model = {"idle": "distribute", "shared": {"namespaces": SHARED, "distribute": "even"}}
    return run(work, prometheus_url, mappings_file, "distribute", usage_report(work / "distribute.yaml", model),
               "--publish", f"file://{work / 'exports'}")  # fmt: skip


# --------------------------------------------------------------------------------------------- the model's side


def node_price(node: Node) -> float:
    return float(HOURLY[(node.instance.name, node.capacity_type)])


def split_factor(node: Node) -> float:
    """The node's price over its capacity at the list prices: its own price per unit is the list price × this."""
    listed = (
        node.instance.cpu_cores * P_CPU + node.instance.memory_bytes / 2**30 * P_MEMORY + node.instance.gpus * P_GPU
    )
    return node_price(node) / listed


def compute_at(values: dict[str, float], factor: float) -> dict[str, float]:
    """Direct compute cost of (namespace, node, hour) truth under the max basis, at list prices × factor."""
    return {"cpu": values["cpu_core_hours_max"] * P_CPU * factor,
            "memory": values["memory_gib_hours_max"] * P_MEMORY * factor,
            "gpu": values["gpu_hours_request"] * P_GPU * factor}  # fmt: skip


def expected_compute(cluster: Cluster, truth: Truth) -> dict[str, dict[str, float]]:
    """Per namespace: CPU, memory and GPU cost of its containers, each container-hour at its node's split prices."""
    nodes = {node.name: node for node in cluster.nodes}
    found: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for (namespace, node, hour), values in truth.node_values.items():
        if node and START <= hour < END:
            for key, cost in compute_at(values, split_factor(nodes[node])).items():
                found[namespace][key] += cost
    return found


def node_cost_truth(cluster: Cluster, truth: Truth) -> float:
    nodes = {node.name: node for node in cluster.nodes}
    return math.fsum(hours * node_price(nodes[name]) for (name, hour), hours in truth.node_hours.items()
                     if START <= hour < END)  # fmt: skip


def by_namespace(rows: list[dict[str, str]], column: str) -> dict[str, float]:
    found: dict[str, float] = defaultdict(float)
    for row in rows:
        found[row["namespace"]] += float(row[column])
    return found


# --------------------------------------------------------------------------------------------- tests


def test_the_cluster_has_the_node_shapes_the_acceptance_needs(cluster: Cluster, cluster_truth: Truth) -> None:
    kinds = {(node.instance.name, node.capacity_type) for node in cluster.nodes}
    assert ("m5.8xlarge", "spot") in kinds
    assert ("m5.8xlarge", "on-demand") in kinds
    assert {node.capacity_label for node in cluster.nodes} == {"karpenter", "eks"}
    joining = [node for node in cluster.nodes if node.joined_slot > 0 and node.left_slot is not None]
    assert joining, "an autoscaled node that joins and leaves"
    partial = [h for (name, _), h in cluster_truth.node_hours.items() if name == joining[0].name and h < 0.99]
    assert len(partial) == 2  # it joins and leaves in the middle of an hour
    assert sum(node.instance.gpus for node in cluster.nodes) >= 8
    assert cluster.dcgm_targets
    assert {node.dcgm_relabelled for node in cluster.nodes if node.instance.gpus} == {True, False}  # both label styles


def test_node_hours_per_instance_type_match_the_model(shown: Run, cluster: Cluster, cluster_truth: Truth) -> None:
    nodes = {node.name: node for node in cluster.nodes}
    truth: dict[tuple[str, str], float] = defaultdict(float)
    for (name, hour), hours in cluster_truth.node_hours.items():
        if START <= hour < END:
            truth[(nodes[name].instance.name, nodes[name].capacity_type)] += hours
    measured = {(t["instanceType"], t["capacityType"]): t["nodeHours"] for t in shown.summary["nodeTypes"]}
    assert set(measured) == set(truth)
    for kind, hours in truth.items():
        assert measured[kind] == pytest.approx(hours, rel=0.005), kind
    for kind in measured:  # each type at its own hourly price, from the bill-like rule table
        cost = next(t["cost"] for t in shown.summary["nodeTypes"] if (t["instanceType"], t["capacityType"]) == kind)
        assert cost == pytest.approx(measured[kind] * float(HOURLY[kind]), rel=1e-9)


def test_the_lines_add_up_to_what_the_cluster_cost(shown: Run, distributed: Run) -> None:
    """Σ cost_total_allocated = Σ node-hours × hourly price + storage + network, whatever the cost model."""
    for result in (shown, distributed):
        node_cost = math.fsum(t["nodeHours"] * float(HOURLY[(t["instanceType"], t["capacityType"])])
                              for t in result.summary["nodeTypes"])  # fmt: skip
        storage = math.fsum(float(r["storage_gib_hours"]) for r in result.rows) * P_STORAGE
        network = math.fsum(float(r["network_gib"]) for r in result.rows) * P_NETWORK
        allocated = math.fsum(float(r["cost_total_allocated"]) for r in result.rows)
        assert allocated == pytest.approx(node_cost + storage + network, rel=1e-6)
        assert result.summary["clusterCost"]["total"] == pytest.approx(allocated, rel=1e-9)
        assert result.summary["clusterCost"]["unplaced"] == 0  # every container ran on a node the ledger knows


def test_containers_are_charged_at_their_nodes_split_prices(shown: Run, cluster: Cluster, cluster_truth: Truth) -> None:
    expected = expected_compute(cluster, cluster_truth)
    lines = {column: by_namespace(shown.rows, f"cost_{column}") for column in ("cpu", "memory", "gpu")}
    exact, band = cluster_truth.by_namespace(START, END), cluster_truth.band_by_namespace(START, END)
    quantity_of = {"cpu": "cpu_core_hours_max", "memory": "memory_gib_hours_max", "gpu": "gpu_hours_request"}
    for namespace, costs in expected.items():
        for column, want in costs.items():
            # Where runs start or end between scrapes, the charged quantity is known to its band: so is its cost.
            quantity = exact[namespace][quantity_of[column]]
            low, high = band[namespace][quantity_of[column]]
            scale_low, scale_high = (low / quantity, high / quantity) if quantity else (1.0, 1.0)
            got = lines[column][namespace]
            assert want * scale_low * 0.99 - 1e-6 <= got <= want * scale_high * 1.01 + 1e-6, (
                namespace,
                column,
                got,
                want,
            )
    # The namespace with most of its compute on the spot node: its cost is the spot price's, not on-demand's.
    nodes = {node.name: node for node in cluster.nodes}
    spot = next(node for node in cluster.nodes if node.capacity_type == "spot" and node.left_slot is None)
    on_demand = next(node for node in cluster.nodes if node.instance == spot.instance and node is not spot)
    share: dict[str, float] = defaultdict(float)
    for (namespace, node, hour), values in cluster_truth.node_values.items():
        if node == spot.name and START <= hour < END:
            share[namespace] += values["cpu_core_hours_max"]
    namespace = max(
        share,
        key=lambda name: (
            share[name]
            / max(
                1e-9,
                sum(
                    v["cpu_core_hours_max"]
                    for (n, node, h), v in cluster_truth.node_values.items()
                    if n == name and node
                ),
            )
        ),
    )
    as_if_on_demand = math.fsum(
        compute_at(values, split_factor(on_demand if node == spot.name else nodes[node]))["cpu"]
        for (n, node, hour), values in cluster_truth.node_values.items()
        if n == namespace and node and START <= hour < END
    )  # fmt: skip
    charged = lines["cpu"][namespace]
    assert charged == pytest.approx(expected[namespace]["cpu"], rel=0.01)
    assert charged < 0.8 * as_if_on_demand, f"{namespace} is charged as if its spot pods ran on on-demand nodes"


def test_gpus_are_charged_per_gpu_hour_requested_and_utilisation_is_shown(shown: Run, cluster_truth: Truth) -> None:
    truth = cluster_truth.by_namespace(START, END)
    requested = by_namespace(shown.rows, "gpu_hours_charged")
    gpu_namespaces = {name for name, values in truth.items() if values["gpu_hours_request"] > 0}
    assert gpu_namespaces == {name for name, hours in requested.items() if hours > 0}
    lines = {line["namespace"]: line for line in shown.summary["lines"]}
    for name in gpu_namespaces:
        assert requested[name] == pytest.approx(truth[name]["gpu_hours_request"], rel=0.01)
        # dcgm-exporter's utilisation, whichever label style the node's scrape left it with
        assert lines[name]["gpuHoursUsage"] == pytest.approx(truth[name]["gpu_hours_usage"], rel=0.01)
    assert all(line["gpuHoursUsage"] == 0 for name, line in lines.items() if name not in gpu_namespaces)


def test_idle_shown_is_the_node_cost_no_container_was_charged(shown: Run, cluster: Cluster,
                                                              cluster_truth: Truth) -> None:  # fmt: skip
    (idle,) = [row for row in shown.rows if row["team"] == "__idle__"]
    assert idle["namespace"] == "__idle__"
    compute = math.fsum(float(r[c]) for r in shown.rows if r["team"] != "__idle__" for c in ("cost_cpu", "cost_memory",
                                                                                              "cost_gpu"))  # fmt: skip
    cost = shown.summary["clusterCost"]
    assert float(idle["cost_total"]) == pytest.approx(cost["nodes"] - compute, rel=1e-9)
    assert cost["idle"] == pytest.approx(float(idle["cost_total"]), rel=1e-9)
    direct_truth = math.fsum(v for costs in expected_compute(cluster, cluster_truth).values() for v in costs.values())
    assert float(idle["cost_total"]) == pytest.approx(node_cost_truth(cluster, cluster_truth) - direct_truth, rel=0.01)


def test_idle_distributed_follows_direct_compute_cost(shown: Run, distributed: Run) -> None:
    assert not [row for row in distributed.rows if row["team"] == "__idle__"]
    shares = [(float(r["cost_idle_share"]), sum(float(r[c]) for c in ("cost_cpu", "cost_memory", "cost_gpu")))
              for r in distributed.rows]  # fmt: skip
    ratios = [share / compute for share, compute in shares if compute > 0.01]  # the CSV has 9 decimals
    ratio = ratios[0]
    assert ratios == pytest.approx([ratio] * len(ratios), rel=1e-6), "idle share ∝ direct compute cost"
    assert all(share == 0 for share, compute in shares if compute == 0)
    assert math.fsum(s for s, _ in shares) == pytest.approx(shown.summary["clusterCost"]["idle"], rel=1e-9)
    teams: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for row in distributed.rows:
        teams[row["team"]][0] += float(row["cost_idle_share"])
        teams[row["team"]][1] += sum(float(row[c]) for c in ("cost_cpu", "cost_memory", "cost_gpu"))
    for team, (share, compute) in teams.items():
        assert share == pytest.approx(compute * ratio, rel=1e-6), team


def test_shared_namespaces_hand_their_cost_on(shown: Run, distributed: Run) -> None:
    for result in (shown, distributed):
        shared = [r for r in result.rows if r["namespace"] in SHARED]
        assert {r["namespace"] for r in shared} == set(SHARED)
        for row in shared:  # the direct figures stay visible, the line hands on all it carries
            assert float(row["cost_total"]) > 0
            given = float(row["cost_total"]) + float(row["cost_idle_share"])
            assert float(row["cost_shared_share"]) == pytest.approx(-given, rel=1e-9)
            assert float(row["cost_total_allocated"]) == pytest.approx(0.0, abs=1e-9)
        moved = math.fsum(float(r["cost_total"]) + float(r["cost_idle_share"]) for r in shared)
        receivers = [r for r in result.rows if r["namespace"] not in SHARED and r["team"] != "__idle__"]
        assert math.fsum(float(r["cost_shared_share"]) for r in receivers) == pytest.approx(moved, rel=1e-9)
    # proportional: each receiving line gets the same fraction of its direct cost
    receivers = [r for r in shown.rows if r["namespace"] not in SHARED and r["team"] != "__idle__"]
    fractions = [
        float(r["cost_shared_share"]) / float(r["cost_total"]) for r in receivers if float(r["cost_total"]) > 0.01
    ]
    assert fractions == pytest.approx([fractions[0]] * len(fractions), rel=1e-6)
    # even: every receiving team the same amount
    per_team: dict[str, float] = defaultdict(float)
    for row in distributed.rows:
        if row["namespace"] not in SHARED:
            per_team[row["team"]] += float(row["cost_shared_share"])
    amounts = list(per_team.values())
    assert max(amounts) == pytest.approx(min(amounts), rel=1e-9)
    assert min(amounts) > 0


def test_node_costs_from_a_focus_bill(work: Path, prometheus_url: str, mappings_file: Path, cluster: Cluster,
                                      cluster_truth: Truth, aws: Any) -> None:  # fmt: skip
    """A small FOCUS bill for the synthetic nodes (ResourceId the instance id, as AWS' FOCUS export writes it,
    with spot and savings-plan rates): the report's node cost is the bill's EffectiveCost, hour by hour — from a
    CSV or Parquet file on the command line, or from object storage as a UsageReport's nodeCostsFrom says."""
    nodes = {node.name: node for node in cluster.nodes}
    rows: list[dict[str, Any]] = []
    billed = 0.0
    for (name, hour), _hours in sorted(cluster_truth.node_hours.items()):
        if not START <= hour < END:
            continue
        node = nodes[name]
        cost = node_price(node) * (0.72 if node.instance.gpus else 0.9)  # a savings plan on top of the list price
        billed += cost
        rows.append({"BillingAccountId": "123456789012", "BillingCurrency": "USD", "ChargeCategory": "Usage",
                     "ChargePeriodStart": hour.strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "ChargePeriodEnd": (hour + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                     "ResourceId": node.provider_id.rsplit("/", 1)[-1], "ServiceName": "Amazon Elastic Compute Cloud",
                     "EffectiveCost": cost, "BilledCost": node_price(node)})  # fmt: skip
    bill = pd.DataFrame(rows)
    csv_bill, parquet_bill = work / "bill.csv", work / "bill.parquet"
    bill.to_csv(csv_bill, index=False)
    bill.to_parquet(parquet_bill)
    report = usage_report(work / "bill.yaml", {"idle": "show"}, nodes=False)
    aws.put_object(Bucket="finance", Key="billing/2026-10.parquet", Body=parquet_bill.read_bytes())
    from_storage = yaml.safe_load(report.read_text())
    from_storage["spec"]["pricing"]["nodeCostsFrom"] = {"url": "s3://finance/billing/2026-10.parquet"}
    (work / "bill-s3.yaml").write_text(yaml.safe_dump(from_storage))
    for name, arguments in (("csv", [str(report), "--node-costs", str(csv_bill)]),  # the CLI's file
                            ("s3", [str(work / "bill-s3.yaml")])):  # Parquet in object storage  # fmt: skip
        result = run(work, prometheus_url, mappings_file, f"bill-{name}", Path(arguments[0]), *arguments[1:])
        assert result.summary["clusterCost"]["nodes"] == pytest.approx(billed, rel=1e-9)
        for kind in result.summary["nodeTypes"]:
            want = math.fsum(r["EffectiveCost"] for r in rows
                             if (nodes[_name(nodes, r["ResourceId"])].instance.name,
                                 nodes[_name(nodes, r["ResourceId"])].capacity_type)
                             == (kind["instanceType"], kind["capacityType"]))  # fmt: skip
            assert kind["cost"] == pytest.approx(want, rel=1e-9)
        allocated = math.fsum(float(r["cost_total_allocated"]) for r in result.rows)
        assert allocated == pytest.approx(billed + result.summary["clusterCost"]["storage"]
                                          + result.summary["clusterCost"]["network"], rel=1e-6)  # fmt: skip


def _name(nodes: dict[str, Node], resource_id: str) -> str:
    return next(name for name, node in nodes.items() if node.provider_id.endswith(resource_id))


def test_full_cost_focus_export_passes_the_validator(distributed: Run, work: Path) -> None:
    result = distributed
    folder = next((work / "exports").rglob("v1-*"))
    verdict = validate(folder / "focus.csv", work)
    assert verdict.tests > 500, "the validator ran no rules"
    assert verdict.problems == [], verdict.problems
    focus = pd.read_csv(folder / "focus.csv", keep_default_na=False)
    kinds = set(focus["x_AllocationKind"])
    assert kinds == {"direct", "idle", "shared"}
    assert focus["EffectiveCost"].sum() == pytest.approx(
        math.fsum(float(r["cost_total_allocated"]) for r in result.rows), rel=1e-9
    )
    idle = focus[focus["x_AllocationKind"] == "idle"]
    assert idle["EffectiveCost"].sum() == pytest.approx(result.summary["clusterCost"]["idle"], rel=1e-9)


def test_without_node_prices_or_a_cost_model_the_figures_are_direct(work: Path, prometheus_url: str,
                                                                    mappings_file: Path) -> None:  # fmt: skip
    result = run(work, prometheus_url, mappings_file, "direct", usage_report(work / "direct.yaml", None, nodes=False))
    assert result.summary["clusterCost"] is None
    assert result.summary["costModel"] is None
    assert not [row for row in result.rows if row["team"] == "__idle__"]
    for row in result.rows:
        assert row["cost_idle_share"] == row["cost_shared_share"] == "0.000000000"
        assert row["cost_total_allocated"] == row["cost_total"]
        want = float(row["cpu_core_hours_charged"]) * P_CPU + float(row["memory_gib_hours_charged"]) * P_MEMORY
        assert float(row["cost_cpu"]) + float(row["cost_memory"]) == pytest.approx(want, rel=1e-9, abs=1e-9)
        assert float(row["cost_gpu"]) == pytest.approx(float(row["gpu_hours_charged"]) * P_GPU, rel=1e-9, abs=1e-9)


def test_a_node_joining_mid_hour_counts_its_pods_only_for_the_part_of_the_hour(
    shown: Run, work: Path, prometheus_url: str, cluster: Cluster, cluster_truth: Truth
) -> None:
    """The kubelet of a node that joins at :20 has `up` for 40 minutes only: dividing its pods' memory samples by
    its own scrapes alone would count them for the whole hour (the naive query below, 1.5 × the truth)."""
    burst = next(node for node in cluster.nodes if node.joined_slot > 0)
    hour = cluster.start + timedelta(seconds=burst.joined_slot * cluster.step_seconds)
    hour = hour.replace(minute=0, second=0)
    want = cluster_truth.node_values[("search-crawler", burst.name, hour)]["memory_gib_hours_usage"]
    assert want > 0
    engine = sqlalchemy.create_engine(f"sqlite:///{work / 'ledger.db'}")
    with engine.connect() as connection:
        stored = connection.execute(sqlalchemy.text(
            f"SELECT hour_start, memory_gib_hours_usage FROM {HOURLY_ROWS} WHERE namespace = 'search-crawler' "
            "AND node = :node"), {"node": burst.name}).all()  # fmt: skip
    engine.dispose()
    (got,) = [
        value for start, value in stored if hour_of(start).tz_localize(None) == pd.Timestamp(hour).tz_localize(None)
    ]
    assert got == pytest.approx(want, rel=0.01)
    cadvisor = 'job="kubelet", metrics_path="/metrics/cadvisor"'
    naive = (f'sum(sum_over_time(container_memory_working_set_bytes{{namespace="search-crawler", container!="", '
             f'container!="POD", {cadvisor}, node="{burst.name}"}}[3599s]) / on (instance) group_left () '
             f"max by (instance) (sum_over_time(up{{{cadvisor}}}[3599s]))) / 2^30")  # fmt: skip
    moment = str((hour + timedelta(hours=1)).timestamp())
    answer = requests.get(f"{prometheus_url}/api/v1/query", params={"query": naive, "time": moment}, timeout=60).json()
    assert float(answer["data"]["result"][0]["value"][1]) > 1.3 * want
