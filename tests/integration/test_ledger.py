"""The database is the ledger, against a real Prometheus: history outlives retention, periods wider than the data
work and say how complete they are, and the unfinished hour is never charged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubecharge.domain import periods
from kubecharge.domain.periods import PeriodKind
from kubecharge.store.repository import Repository
from kubecharge.synthetic.model import Truth
from tests.conftest import PERIOD, START
from tests.integration.test_accuracy import COLUMNS
from tests.support.history import History
from tests.support.reports import by_team, read_csv, run_in_process

END = START + timedelta(days=2)
DAY_TWO = START + timedelta(days=1)


def report(prometheus: str, mappings: Path, out: Path, db: str, *extra: str, period: str = PERIOD) -> tuple[int, str]:
    """A report as a user runs it: no source name, so each Prometheus URL is its own witness of the cluster."""
    return run_in_process("report", "--prometheus", prometheus, "--mappings", str(mappings), "--period", period,
                          "--out", str(out), "--db", db, "--cluster", "synthetic", *extra)  # fmt: skip


def completeness(out: Path) -> dict[str, object]:
    return dict(json.loads((out / "chargeback.json").read_text())["completeness"])


def assert_matches_truth(out: Path, truth: Truth, start: datetime, end: datetime) -> None:
    measured = by_team(read_csv(out / "chargeback.csv"))
    expected = truth.by_team(start, end)
    assert set(measured) == {team for team, values in expected.items() if any(values.values())}
    for team, values in measured.items():
        for column, quantity in COLUMNS.items():
            want = expected[team][quantity]
            assert values[column] == pytest.approx(want, rel=0.01, abs=1e-6), f"{team} {column}: vs truth {want}"


def test_history_outlives_prometheus_retention(
    history: History, mappings_file: Path, tmp_path: Path, database_url: str
) -> None:
    exports = f"file://{tmp_path / 'exports'}"
    full = history.serve()
    try:
        code, output = report(full.url, mappings_file, tmp_path / "before", database_url, "--publish", exports)
        assert code == 0, output
        assert "v1-final" in output
    finally:
        full.stop()
    before = (tmp_path / "before" / "chargeback.csv").read_bytes()

    # Prometheus restarts over a copy of its TSDB without the first day's blocks (its retention passed), reached at
    # another address (a new port-forward, a move to Thanos Query): the cluster's hours are the cluster's.
    trimmed = history.serve(drop=(START, DAY_TWO))
    assert trimmed.url != full.url
    try:
        code, output = report(trimmed.url, mappings_file, tmp_path / "after", database_url, "--publish", exports)
        assert code == 0, output
        assert "Asked Prometheus for 0 hours" in output  # the ledger has every hour of the period
        assert completeness(tmp_path / "after")["hoursCollected"] == 48
        assert "Nothing new to publish" in output  # the final export is not restated
        code, output = report(trimmed.url, mappings_file, tmp_path / "recollect", database_url, "--recollect",
                              "--publish", exports)  # fmt: skip
        assert code == 0, output
        assert "Asked Prometheus for 48 hours" in output
        assert "Nothing new to publish" in output
        # The same Prometheus on a fresh database really has lost the first day.
        code, output = report(trimmed.url, mappings_file, tmp_path / "fresh", f"sqlite:///{tmp_path / 'fresh.db'}")
        assert code == 0, output
    finally:
        trimmed.stop()
    assert (tmp_path / "after" / "chargeback.csv").read_bytes() == before
    assert (tmp_path / "recollect" / "chargeback.csv").read_bytes() == before
    assert completeness(tmp_path / "fresh")["hoursCollected"] == 24
    assert (tmp_path / "fresh" / "chargeback.csv").read_bytes() != before
    final = tmp_path / "exports" / "default" / "chargeback" / "2026-10-01_2026-10-03"
    assert sorted(path.name for path in final.iterdir()) == ["v1-final"]
    assert (final / "v1-final" / "chargeback.csv").read_bytes() == before


def test_a_period_wider_than_the_data_reports_what_exists_and_says_so(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, cluster_truth: Truth
) -> None:
    period = "2026-09-29/2026-10-05"  # 2 days before the first sample and 2 days after the last
    code, output = report(prometheus_url, mappings_file, tmp_path / "out", f"sqlite:///{tmp_path / 'k.db'}",
                          period=period)  # fmt: skip
    assert code == 0, output
    assert_matches_truth(tmp_path / "out", cluster_truth, START, END)
    assert completeness(tmp_path / "out") == {
        "hoursInPeriod": 144,
        "hoursElapsed": 144,
        "hoursCollected": 48,
        "firstHour": "2026-10-01T00:00:00Z",
        "lastHour": "2026-10-02T23:00:00Z",
        "gaps": [
            {"start": "2026-09-29T00:00:00Z", "end": "2026-10-01T00:00:00Z"},
            {"start": "2026-10-03T00:00:00Z", "end": "2026-10-05T00:00:00Z"},
        ],
        "summary": "data for 48 of 144 hours; no data 2026-09-29T00:00Z–2026-09-30T23:00Z, "
        "2026-10-03T00:00Z–2026-10-04T23:00Z",
    }
    words = "data for 48 of 144 hours; no data 2026-09-29T00:00Z–2026-09-30T23:00Z"
    assert words in (tmp_path / "out" / "report.md").read_text()
    assert words in (tmp_path / "out" / "report.html").read_text()
    assert words in output


def test_the_unfinished_hour_is_not_charged_until_it_is_complete(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, cluster_truth: Truth
) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    mid_hour = DAY_TWO + timedelta(hours=10, minutes=30)
    code, output = report(prometheus_url, mappings_file, tmp_path / "mid", db, "--as-of", mid_hour.isoformat(),
                          period="2026-10-02")  # fmt: skip
    assert code == 0, output
    assert_matches_truth(tmp_path / "mid", cluster_truth, DAY_TWO, DAY_TWO + timedelta(hours=10))
    assert completeness(tmp_path / "mid")["lastHour"] == "2026-10-02T09:00:00Z"
    assert _ledger_hours(db, DAY_TWO + timedelta(hours=10)) == 0  # not even stored

    next_tick = DAY_TWO + timedelta(hours=11, minutes=6)
    code, output = report(prometheus_url, mappings_file, tmp_path / "next", db, "--as-of", next_tick.isoformat(),
                          period="2026-10-02")  # fmt: skip
    assert code == 0, output
    assert_matches_truth(tmp_path / "next", cluster_truth, DAY_TWO, DAY_TWO + timedelta(hours=11))
    assert completeness(tmp_path / "next")["lastHour"] == "2026-10-02T10:00:00Z"
    assert _ledger_hours(db, DAY_TWO + timedelta(hours=10)) == 1


def test_a_period_that_has_not_started_is_one_clear_message(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    code, output = report(prometheus_url, mappings_file, tmp_path / "out", f"sqlite:///{tmp_path / 'k.db'}",
                          "--as-of", "2026-10-02T00:30:00Z", period="2026-10-02")  # fmt: skip
    assert code == 2  # asking for a period before it has begun is bad input, not an unreachable Prometheus
    assert "period 2026-10-02 has no complete hour yet" in output
    assert not (tmp_path / "out").exists()


def _ledger_hours(db: str, hour: datetime) -> int:
    repository = Repository(db, migrate=False)
    try:
        return len(repository.known_hours("synthetic", hour, hour + timedelta(hours=1)))
    finally:
        repository.close()


def test_an_as_of_in_the_future_never_records_hours_that_have_not_happened(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'k.db'}"
    this_month = periods.containing(PeriodKind.MONTHLY, datetime.now(UTC))
    code, output = report(prometheus_url, mappings_file, tmp_path / "out", db, "--as-of", "2099-01-01T00:00Z",
                          period=this_month.name)  # fmt: skip
    assert code == 3, output  # the synthetic history has nothing this month
    repository = Repository(db, migrate=False)
    try:
        known = repository.known_hours("synthetic", this_month.start, this_month.end)
    finally:
        repository.close()
    assert all(hour + timedelta(hours=1) <= datetime.now(UTC) for hour in known)
    assert len(known) < this_month.hours
