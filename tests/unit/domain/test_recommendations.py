"""Recommendations: the pooled percentile against numpy's exact one, the saving against the formula worked by hand."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from kubecharge.domain.recommendations import (
    ContainerUse,
    DayUse,
    PooledRates,
    Recommendation,
    RecommendationSettings,
    recommend,
    team_saving,
)

GIB = 2**30


def test_a_pooled_percentile_is_within_half_a_percent_of_the_exact_one_however_the_values_arrive() -> None:
    rng = np.random.default_rng(7)
    # three containers: steady, spiky (rare peaks ten times the base), and one idle 30 % of the time
    steady = rng.normal(0.5, 0.02, 4_032)
    spiky = np.where(rng.random(4_032) < 0.03, 5.0, 0.4) * rng.uniform(0.9, 1.1, 4_032)
    idle = np.where(rng.random(4_032) < 0.3, 0.0, rng.lognormal(-2.0, 0.5, 4_032))
    pooled = PooledRates()
    for day in range(14):  # day by day, as chunks arrive, and each container's values in two replicas' halves
        for key, values in enumerate((steady, spiky, idle)):
            part = values[day * 288 : (day + 1) * 288]
            for replica in (part[::2], part[1::2]):
                pooled.add(np.full(len(replica), key, dtype=np.int64), replica)
    found = pooled.percentile(3, 95.0)
    for key, values in enumerate((steady, spiky, idle)):
        exact = np.percentile(values, 95.0, method="inverted_cdf")
        assert found[key] == pytest.approx(exact, rel=0.005)
    assert list(pooled.seen(3)) == [4_032] * 3
    assert np.isnan(pooled.percentile(4, 95.0)[3])  # a key with no values has no percentile


def test_zero_rates_give_zero_and_the_largest_value_is_found_at_the_hundredth_percentile() -> None:
    pooled = PooledRates()
    pooled.add(np.array([0, 0, 0, 1, 1], dtype=np.int64), np.array([0.0, 0.0, 0.0, 0.25, 3.0]))
    assert pooled.percentile(2, 50.0)[0] == 0.0
    assert pooled.percentile(2, 100.0)[1] == pytest.approx(3.0, rel=0.005)
    assert pooled.percentile(2, 50.0)[1] == pytest.approx(0.25, rel=0.005)


def use(**changes: Any) -> ContainerUse:
    base = ContainerUse(namespace="shop", workload_kind="Deployment", workload="api", container="app",
                        cpu_rate_cores=0.3, memory_max_bytes=1.0 * GIB, cpu_request_cores=1.0,
                        memory_request_bytes=2.0 * GIB, replicas=3.0, data_hours=14 * 24 * 3, hpa=False)  # fmt: skip
    return dataclasses.replace(base, **changes)


def priced(found: ContainerUse, team: str = "web") -> Recommendation:
    """At 0.03 per core-hour and 0.004 per GiB-hour."""
    return recommend(found, team, RecommendationSettings(), Decimal("0.03"), Decimal("0.004"), "USD")


def test_the_saving_is_730_hours_times_replicas_times_what_each_resource_gives_back_at_the_reports_prices() -> None:
    found = priced(use())
    # CPU 1.0 → 0.3 cores; memory 2 GiB → 1.15 GiB: 730 × 3 × (0.7 × 0.03 + 0.85 × 0.004) = 53.436
    assert found.cpu_recommended_cores == pytest.approx(0.3)
    assert found.memory_recommended_gib == pytest.approx(1.15)
    assert found.monthly_saving == pytest.approx(730 * 3 * (0.7 * 0.03 + 0.85 * 0.004))
    assert found.monthly_saving == pytest.approx(53.436)


def test_an_under_provisioned_container_shows_a_negative_saving_and_floors_keep_requests_above_zero() -> None:
    short = priced(use(cpu_rate_cores=1.5, memory_max_bytes=2.0 * GIB))
    assert short.monthly_saving == pytest.approx(730 * 3 * (-0.5 * 0.03 - 0.3 * 0.004))
    idle = priced(use(cpu_rate_cores=0.0, memory_max_bytes=0.0))
    assert idle.cpu_recommended_cores == 0.01
    assert idle.memory_recommended_gib == pytest.approx(16 / 1024)


def test_a_young_container_has_no_numbers_and_the_team_total_leaves_out_hpa_and_negative_savings() -> None:
    young = priced(use(data_hours=23.9))
    assert not young.enough_data
    assert (young.cpu_recommended_cores, young.monthly_saving, young.replicas) == (None, None, None)
    rows = [
        priced(use()),
        priced(use(hpa=True)),
        priced(use(cpu_rate_cores=1.5)),
        young,
        Recommendation("data", "etl", "CronJob", "load", "app", 1.0, 1.0, 0.5, 1.0, 1.0, False, 10.95, "USD"),
    ]
    assert team_saving(rows) == pytest.approx({"web": 53.436, "data": 10.95})


def test_a_day_of_use_reads_back_as_it_was_kept() -> None:
    found = DayUse(
        (("shop", "Deployment", "web", "app"), ("shop", "StatefulSet", "db", "postgres")),
        np.array([0, 0, 1], dtype=np.int64), np.array([5, 900, 12], dtype=np.int64),
        np.array([280, 8, 288], dtype=np.int64), np.array([2.5e8, 1.0e9]),
        {(0, "cpu"): (1790812800, 0.5), (1, "memory"): (1790816400, 2.0 * 2**30)},
        frozenset({("shop", "Deployment", "web")}),
    )  # fmt: skip
    again = DayUse.decode(found.encode())
    assert (again.containers, again.requests, again.hpa_targets) == (found.containers, found.requests,
                                                                     found.hpa_targets)  # fmt: skip
    for name in ("rate_containers", "rate_buckets", "rate_counts", "memory_peak_bytes"):
        assert np.array_equal(getattr(again, name), getattr(found, name)), name
    assert again.windows == 576
