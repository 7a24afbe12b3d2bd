"""Node prices, settlement, idle and shared allocation, bills and the manifest fields: values worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from kubecharge import allocate, pricing
from kubecharge.collect.bills import read_focus_bill
from kubecharge.domain.charges import IDLE, ChargeLine, Costs
from kubecharge.domain.nodes import NodeHour, capacity_type
from kubecharge.domain.reports import (
    CostModel,
    IdleMode,
    NodeMatch,
    NodePrice,
    Pricing,
    SharedCosts,
    ShareMode,
    UsageReportSpec,
)  # fmt: skip
from kubecharge.domain.resource_table import RESOURCES
from kubecharge.domain.usage import AttributedHour, ChargeBasis, NamespaceHour, ResourceQuantities
from kubecharge.errors import InputError, ManifestError
from kubecharge.manifests import load_usage_report
from kubecharge.render.data_files import CSV_COLUMNS

HOUR = datetime(2026, 10, 1, 5, tzinfo=UTC)
# Round list prices so the split can be done by hand: a node of 4 cores and 16 GiB lists at 4×1 + 16×0.25 = 8.
LIST = Pricing(cpu_core_hour=Decimal("1"), memory_gib_hour=Decimal("0.25"), gpu_hour=Decimal("2"))


def node(name: str = "n1", hours: float = 1.0, labels: dict[str, str] | None = None) -> NodeHour:
    return NodeHour(name, HOUR, hours, {"cpu": 4.0, "memory": 16.0}, {"cpu": 3.9, "memory": 15.0}, labels or {},
                    f"aws:///us-east-1a/i-{name}", "c")  # fmt: skip


def row(namespace: str, cpu: float, memory: float, node_name: str = "n1", team: str = "t") -> AttributedHour:
    quantities = ResourceQuantities(cpu_core_hours_max=cpu, cpu_core_hours_usage=cpu, memory_gib_hours_max=memory,
                                    memory_gib_hours_usage=memory)  # fmt: skip
    return AttributedHour(team, NamespaceHour(namespace, HOUR, quantities, {}, "c", node_name))


def test_the_table_is_the_one_list_of_resources() -> None:
    assert ResourceQuantities.names() == tuple(column for r in RESOURCES for column in r.columns)
    assert [r.key for r in RESOURCES] == ["cpu", "memory", "gpu", "storage", "network"]
    assert {f"cost_{r.key}" for r in RESOURCES} <= set(CSV_COLUMNS)
    assert all(hasattr(Pricing(), r.price_field) and hasattr(Costs(), r.key) for r in RESOURCES)


def test_a_node_price_is_split_by_list_prices_times_capacity() -> None:
    rule = NodePrice(NodeMatch(instance_type="m5.xlarge"), Decimal("2"))
    spec = Pricing(**{**LIST.__dict__, "nodes": (rule,)})
    (cost,) = pricing.node_hour_costs([node(labels={"label_node_kubernetes_io_instance_type": "m5.xlarge"})],
                                      spec).values()  # fmt: skip
    # 2 / 8 = a quarter of the list prices: 0.25 per core-hour, 0.0625 per GiB-hour; parts 1 (CPU) + 1 (memory)
    assert cost.cost == 2.0
    assert cost.priced_by == "rule"
    assert cost.unit_prices == {"cpu": 0.25, "memory": 0.0625, "gpu": 0.5}
    assert cost.parts == {"cpu": 1.0, "memory": 1.0, "gpu": 0.0}
    (unmatched,) = pricing.node_hour_costs([node(hours=0.5)], spec).values()  # no rule: its capacity at list prices
    assert (unmatched.cost, unmatched.priced_by, unmatched.unit_prices["cpu"]) == (4.0, "capacity", 1.0)


def test_first_matching_rule_wins_and_every_field_must_match() -> None:
    spot = node(labels={"label_node_kubernetes_io_instance_type": "m5.xlarge",
                        "label_karpenter_sh_capacity_type": "spot", "label_topology_kubernetes_io_zone": "us-east-1a",
                        "label_team": "ml"})  # fmt: skip
    rules = (
        NodePrice(NodeMatch(instance_type="m5.xlarge", capacity_type="on-demand"), Decimal("9")),
        NodePrice(NodeMatch(capacity_type="SPOT", zone="us-east-1a", labels=(("label_team", "ml"),)), Decimal("1")),
        NodePrice(NodeMatch(), Decimal("5")),
    )
    assert [pricing.matches(r.match, spot) for r in rules] == [False, True, True]
    assert not pricing.matches(NodeMatch(node="gpu-*"), spot)
    assert pricing.matches(NodeMatch(node="n?"), spot)
    (cost,) = pricing.node_hour_costs([spot], Pricing(nodes=rules)).values()
    assert cost.cost == 1.0


def test_capacity_type_from_each_clouds_label() -> None:
    assert capacity_type({"label_karpenter_sh_capacity_type": "spot"}) == "spot"
    assert capacity_type({"label_eks_amazonaws_com_capacityType": "ON_DEMAND"}) == "on-demand"
    assert capacity_type({"label_cloud_google_com_gke_spot": "true"}) == "spot"
    assert capacity_type({"label_kubernetes_azure_com_scalesetpriority": "regular"}) == "on-demand"
    assert capacity_type({}) == ""


def test_an_overcommitted_part_is_settled_to_the_node_cost_and_idle_never_goes_negative() -> None:
    """Node: 4 cores, 16 GiB, price 8/h (list), so CPU part 4, memory part 4. Two namespaces burst to 6 cores
    (charged 3 + 3 = 6 > part 4: each scaled by 4/6) and use 4 GiB (charged 1, memory idle 3)."""
    rows = [row("a", 3.0, 2.0), row("b", 3.0, 2.0)]
    costs = pricing.node_hour_costs([node()], LIST)
    full = pricing.price_full(rows, ChargeBasis.MAX, LIST, costs)
    a, b = full.lines
    assert a.costs.cpu == pytest.approx(2.0)
    assert b.costs.cpu == pytest.approx(2.0)
    assert a.costs.memory == pytest.approx(0.5)
    assert full.idle["c"].cpu == 0.0
    assert full.idle["c"].memory == pytest.approx(3.0)
    assert full.cluster_cost.nodes == 8.0
    assert full.cluster_cost.idle == pytest.approx(3.0)
    assert math.fsum(line.costs.total for line in full.lines) + full.cluster_cost.idle == pytest.approx(8.0)


def test_usage_on_no_known_node_is_charged_at_list_prices_and_counted_apart() -> None:
    full = pricing.price_full([row("a", 1.0, 0.0, node_name="")], ChargeBasis.MAX, LIST, {})
    assert full.lines[0].costs.cpu == 1.0
    assert full.cluster_cost.unplaced == 1.0
    assert full.cluster_cost.total == 1.0


def line(team: str, namespace: str, cpu: float, storage: float = 0.0) -> ChargeLine:
    return ChargeLine(team, namespace, ResourceQuantities(), 0.0, 0.0, Costs(cpu=cpu, storage=storage), "c")


def test_idle_shown_or_distributed_by_direct_compute_cost() -> None:
    lines = [line("a", "a1", 3.0, storage=5.0), line("b", "b1", 1.0)]
    idle = {"c": Costs(cpu=2.0, memory=2.0)}
    shown = allocate.allocate(lines, idle, CostModel(IdleMode.SHOW))
    assert [(x.team, x.costs.total) for x in shown] == [("a", 8.0), ("b", 1.0), (IDLE, 4.0)]
    spread = allocate.allocate(lines, idle, CostModel(IdleMode.DISTRIBUTE))
    assert [x.idle_share for x in spread] == [3.0, 1.0]  # 4 × 3/4 and 4 × 1/4: storage carries no idle
    assert math.fsum(x.total_allocated for x in spread) == 13.0


def test_shared_namespaces_move_proportionally_or_evenly_with_their_idle_share() -> None:
    lines = [line("a", "a1", 3.0), line("a", "a2", 1.0), line("b", "b1", 4.0), line("platform", "kube-system", 2.0)]
    idle = {"c": Costs(cpu=5.0)}  # distributed over compute 10: half a unit per unit of direct cost
    shared = SharedCosts(("kube-*",), ShareMode.PROPORTIONAL)
    moved = allocate.allocate(lines, idle, CostModel(IdleMode.DISTRIBUTE, shared))
    # kube-system hands on 2 + 1 (its idle share) = 3, to direct costs 3, 1, 4 (of 8)
    assert [x.shared_share for x in moved] == [pytest.approx(9 / 8), pytest.approx(3 / 8), pytest.approx(12 / 8), -3.0]
    assert moved[3].total_allocated == 0.0
    assert moved[3].costs.total == 2.0
    even = allocate.allocate(lines, idle, CostModel(IdleMode.DISTRIBUTE, SharedCosts(("kube-system",), ShareMode.EVEN)))
    # 1.5 per team; team a splits its 1.5 by its lines' direct cost 3:1
    assert [x.shared_share for x in even] == [pytest.approx(1.125), pytest.approx(0.375), pytest.approx(1.5), -3.0]
    assert math.fsum(x.total_allocated for x in even) == pytest.approx(15.0)


def test_a_focus_bill_prices_its_machines_per_hour(tmp_path: Path) -> None:
    text = (
        "ResourceId,EffectiveCost,ChargePeriodStart,ChargePeriodEnd,BillingCurrency\n"
        "i-n1,0.5,2026-10-01T05:00:00Z,2026-10-01T06:00:00Z,USD\n"
        "arn:aws:ec2:us-east-1:1:instance/i-n2,4.8,2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,USD\n"  # a daily row
    )
    bill = read_focus_bill(text.encode(), "bill.csv", "USD")
    assert bill.cost("aws:///us-east-1a/i-n1", HOUR) == 0.5
    assert bill.cost("aws:///us-east-1a/i-n2", HOUR) == pytest.approx(0.2)  # 4.8 over 24 hours
    assert bill.cost("aws:///us-east-1a/i-n3", HOUR) is None
    (cost,) = pricing.node_hour_costs([node("n1")], LIST, bill).values()
    assert (cost.cost, cost.priced_by) == (0.5, "bill")
    with pytest.raises(InputError, match="bill in USD, the report prices in EUR"):
        read_focus_bill(text.encode(), "bill.csv", "EUR")
    with pytest.raises(InputError, match="EffectiveCost, ChargePeriodStart"):
        read_focus_bill(b"ResourceId,Cost\ni-1,2\n", "bill.csv", "USD")


def report(tmp_path: Path, spec: dict[str, object]) -> Path:
    path = tmp_path / "report.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport",
                                    "metadata": {"name": "r"}, "spec": spec}))  # fmt: skip
    return path


def test_the_manifest_fields_reach_the_spec(tmp_path: Path) -> None:
    spec = load_usage_report(report(tmp_path, {
        "pricing": {"gpuHour": 2.5, "nodes": [{"match": {"instanceType": "g5.xlarge", "labels": {"pool.io/gpu": "a"},
                                                          "node": "gpu-*"}, "hourly": "1.006"}],
                    "nodeCostsFrom": {"url": "s3://billing/focus/2026-10.parquet"}},
        "costModel": {"idle": "distribute", "shared": {"namespaces": ["kube-system"], "distribute": "even"}},
    }))  # fmt: skip
    assert spec.pricing.gpu_hour == Decimal("2.5")
    (rule,) = spec.pricing.nodes
    assert rule.hourly == Decimal("1.006")
    assert rule.match.labels == (("label_pool_io_gpu", "a"),)
    assert rule.match.node == "gpu-*"
    assert spec.pricing.node_costs_from == "s3://billing/focus/2026-10.parquet"
    assert spec.cost_model == CostModel(IdleMode.DISTRIBUTE, SharedCosts(("kube-system",), ShareMode.EVEN))
    assert UsageReportSpec().full_cost is None  # neither: direct charges, today's figures
    assert load_usage_report(report(tmp_path, {"pricing": {"nodes": [{"hourly": "1"}]}})).full_cost == CostModel()


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"pricing": {"nodes": [{"hourly": "cheap"}]}}, "hourly"),
    ({"pricing": {"nodes": [{"match": {"instanceTyp": "m5"}, "hourly": "1"}]}}, "instanceType"),
    ({"costModel": {"idle": "hide"}}, "idle"),
    ({"costModel": {"shared": {"namespaces": []}}}, "namespaces"),
    ({"pricing": {"nodeCostsFrom": {"url": "/etc/bill.csv"}}}, "url"),
])  # fmt: skip
def test_bad_full_cost_fields_are_one_clear_message(tmp_path: Path, spec: dict[str, object], fragment: str) -> None:
    with pytest.raises(ManifestError, match=fragment):
        load_usage_report(report(tmp_path, spec))


def test_the_full_cost_example_is_what_the_readme_says() -> None:
    spec = load_usage_report(Path(__file__).resolve().parents[3] / "examples" / "usagereport-full-cost.yaml")
    assert [rule.hourly for rule in spec.pricing.nodes] == [Decimal("0.6144"), Decimal("1.536"), Decimal("5.672")]
    assert spec.pricing.nodes[2].match.labels == (("label_nvidia_com_gpu_present", "true"),)
    assert spec.full_cost == CostModel(
        IdleMode.DISTRIBUTE, SharedCosts(("kube-system", "monitoring", "platform-*"), ShareMode.PROPORTIONAL)
    )
