"""The pipeline's run over an in-memory source, against figures worked out by hand: what is charged, what the
ledger keeps between runs, and what a run that fails half-way leaves behind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from kubecharge.domain.mappings import UNALLOCATED, TeamMapping
from kubecharge.domain.periods import HOUR, Period, PeriodKind
from kubecharge.domain.reports import Pricing, UsageReportSpec
from kubecharge.errors import PrometheusUnavailable
from kubecharge.pipeline.job import Ledger, open_ledger, report_queries
from kubecharge.pipeline.outputs import render_all
from kubecharge.pipeline.request import ReportRequest, request_for
from kubecharge.pipeline.run import ReportResult, run_report
from kubecharge.settings import Settings
from tests.support.memory_source import ContainerHour, MemorySource

START = datetime(2026, 10, 1, tzinfo=UTC)
HOURS = [START + HOUR * i for i in range(3)]
PERIOD = Period(START, START + 3 * HOUR, PeriodKind.CUSTOM)
LATER = START + timedelta(days=10)  # long after the period: no hour is inside the re-check window
SPEC = UsageReportSpec(pricing=Pricing(cpu_core_hour=Decimal("0.5"), memory_gib_hour=Decimal("0.1")))
MAPPINGS = [TeamMapping("shop", "shop", namespaces=frozenset({"shop"}))]


def cluster() -> MemorySource:
    """shop/web-1 runs all three hours (requests 1 core and 2 GiB; in the last hour it uses 2 cores); batch/job-1
    runs in the second hour only, without requests, and no mapping claims its namespace."""
    web = [ContainerHour("shop", "web-1", "app", hour,
                         {"cpu_usage_core_hours": 2.0 if hour == HOURS[2] else 0.5, "cpu_request_core_hours": 1.0,
                          "memory_usage_gib_hours": 1.0, "memory_request_gib_hours": 2.0})
           for hour in HOURS]  # fmt: skip
    job = ContainerHour("batch", "job-1", "main", HOURS[1],
                        {"cpu_usage_core_hours": 0.25, "memory_usage_gib_hours": 0.5})  # fmt: skip
    return MemorySource([*web, job], observed=set(HOURS))


# Charged on the max basis, per container-hour: shop 1 + 1 + 2 = 4 core-hours and 3 × 2 = 6 GiB-hours;
# batch 0.25 core-hours and 0.5 GiB-hours (no request: its use is charged).
SHOP_COST = 4 * 0.5 + 6 * 0.1
BATCH_COST = 0.25 * 0.5 + 0.5 * 0.1


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    opened = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield opened
    opened.close()


def request(now: datetime, source: str = "memory") -> ReportRequest:
    return request_for(Settings(query_chunk_hours=1), PERIOD, MAPPINGS, SPEC, now=now, prometheus_url="http://memory",
                       source=source)  # fmt: skip


def run(source: MemorySource, ledger: Ledger, now: datetime = LATER) -> ReportResult:
    return run_report(source, report_queries(Settings()), ledger, request(now))


def test_charges_are_the_hand_worked_figures(ledger: Ledger) -> None:
    result = run(cluster(), ledger)
    lines = {line.team: line for line in result.chargeback.lines}
    assert lines["shop"].cpu_core_hours_charged == pytest.approx(4.0, abs=1e-12)
    assert lines["shop"].memory_gib_hours_charged == pytest.approx(6.0, abs=1e-12)
    assert lines["shop"].costs.total == pytest.approx(SHOP_COST, abs=1e-12)
    assert lines[UNALLOCATED].namespace == "batch"
    assert lines[UNALLOCATED].costs.total == pytest.approx(BATCH_COST, abs=1e-12)
    assert result.chargeback.coverage == pytest.approx(4.0 / 4.25, abs=1e-12)
    assert result.chargeback.unallocated_cpu_core_hours == pytest.approx(0.25, abs=1e-12)
    assert result.hours_queried == 3
    assert result.chargeback.completeness is not None
    assert result.chargeback.completeness.complete


def test_a_second_run_reads_the_ledger_and_asks_the_source_for_nothing(ledger: Ledger) -> None:
    first = run(cluster(), ledger)
    again = cluster()
    second = run(again, ledger)
    assert second.hours_queried == 0
    assert again.questions_asked("cpu_usage_core_hours") == []
    assert render_all(second.chargeback)["chargeback.csv"] == render_all(first.chargeback)["chargeback.csv"]


def test_a_run_that_fails_half_way_keeps_whole_hours_and_the_next_run_asks_only_for_the_rest(ledger: Ledger) -> None:
    failing = cluster()
    failing.hours_per_chunk, failing.fail_from = 1, HOURS[2]
    with pytest.raises(PrometheusUnavailable):
        run(failing, ledger)
    assert sorted(ledger.known_hours("default", START, PERIOD.end)) == HOURS[:2]  # two whole hours, not the third
    assert [run.result for run in ledger.runs()] == ["failed"]
    healthy = cluster()
    result = run(healthy, ledger)
    assert healthy.questions_asked("cpu_usage_core_hours") == [(HOURS[2], PERIOD.end)]
    lines = {line.team: line for line in result.chargeback.lines}
    assert lines["shop"].costs.total == pytest.approx(SHOP_COST, abs=1e-12)  # nothing lost, nothing counted twice
    assert lines[UNALLOCATED].costs.total == pytest.approx(BATCH_COST, abs=1e-12)
