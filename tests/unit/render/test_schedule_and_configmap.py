"""Which periods run when, and the ConfigMap's 1 MiB limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kubecharge.domain.charges import Chargeback, ChargeLine, Costs
from kubecharge.domain.periods import PeriodKind
from kubecharge.domain.reports import Pricing, UsageReportSpec
from kubecharge.domain.usage import ChargeBasis, ResourceQuantities
from kubecharge.pipeline.outputs import render_all
from kubecharge.pricing import price_table
from kubecharge.render.configmap import CONFIGMAP_LIMIT_BYTES, configmap_data
from kubecharge.schedule import plan

MONTHLY = UsageReportSpec(period=PeriodKind.MONTHLY, finalize_after=timedelta(hours=48))


def names(runs: list) -> list[tuple[str, bool]]:  # type: ignore[type-arg]
    return [(run.period.name, run.final) for run in runs]


def test_previous_period_stays_provisional_inside_the_lateness_window() -> None:
    now = datetime(2026, 11, 2, 23, tzinfo=UTC)
    assert names(plan(MONTHLY, now, finalized=[])) == [("2026-10", False), ("2026-11", False)]


def test_previous_period_is_finalized_once_after_the_window() -> None:
    now = datetime(2026, 11, 3, 0, tzinfo=UTC)
    assert names(plan(MONTHLY, now, finalized=[])) == [("2026-10", True), ("2026-11", False)]
    assert names(plan(MONTHLY, now, finalized=["2026-10"])) == [("2026-11", False)]


def test_weekly_and_daily() -> None:
    weekly = UsageReportSpec(period=PeriodKind.WEEKLY, finalize_after=timedelta(hours=1))
    assert names(plan(weekly, datetime(2026, 11, 30, 0, 30, tzinfo=UTC), [])) == [
        ("2026-W48", False),
        ("2026-W49", False),
    ]
    daily = UsageReportSpec(period=PeriodKind.DAILY, finalize_after=timedelta(0))
    assert names(plan(daily, datetime(2026, 11, 27, 10, tzinfo=UTC), [])) == [
        ("2026-11-26", True),
        ("2026-11-27", False),
    ]


def test_configmap_stays_under_one_mebibyte_and_says_where_the_data_is() -> None:
    quantities = ResourceQuantities(cpu_core_hours_usage=1.0, cpu_core_hours_request=2.0, cpu_core_hours_max=2.0)
    lines = tuple(
        ChargeLine(f"team-{i % 50}", f"namespace-with-a-long-name-{i:05d}", quantities, 2.0, 0.0, Costs(cpu=0.5))
        for i in range(20000)
    )
    report = Chargeback("2026-10", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), "c",
                        ChargeBasis.MAX, "USD", dict(price_table(Pricing())), lines, {})  # fmt: skip
    data = configmap_data(render_all(report), elsewhere="s3://finance/exports")
    size = sum(len(k.encode()) + len(v.encode()) for k, v in data.items())
    assert size < CONFIGMAP_LIMIT_BYTES
    assert "chargeback.csv" not in data
    assert "s3://finance/exports" in data["summary.md"]


def test_condition_transition_time_moves_only_on_a_transition() -> None:
    from kubecharge.handlers.status import condition

    first = condition(True, "ReportUpToDate", "2 period(s) computed", datetime(2026, 10, 2, 12, tzinfo=UTC))
    again = condition(True, "ReportUpToDate", "2 period(s) computed", datetime(2026, 10, 2, 13, tzinfo=UTC), first)
    assert again[0]["lastTransitionTime"] == "2026-10-02T12:00:00Z"
    failed = condition(False, "PrometheusUnavailable", "down", datetime(2026, 10, 2, 14, tzinfo=UTC), again)
    assert failed[0]["lastTransitionTime"] == "2026-10-02T14:00:00Z"


def test_a_folder_holding_a_report_is_known_as_one_by_every_file_name_it_holds() -> None:
    """`--out` refuses folders holding other files than a report's: every name a report writes must be known, or
    running the same report twice into its own folder fails."""
    from kubecharge.publish.directory import REPORT_FILES

    line = ChargeLine("web", "shop", ResourceQuantities(cpu_core_hours_usage=1.0), 1.0, 0.0, Costs(cpu=0.03))
    report = Chargeback("2026-10", datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC), "c",
                        ChargeBasis.MAX, "USD", dict(price_table(Pricing())), (line,), {})  # fmt: skip
    written = {name.split("/")[0] for name in render_all(report)}
    assert written <= REPORT_FILES
    assert "recommendations.csv" in written
