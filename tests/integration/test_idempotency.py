"""Re-collecting a period replaces its hours: the database and the CSV stay byte-for-byte the same,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy

from tests.conftest import PERIOD
from tests.support import run_in_process


def _query(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(sql))]
    finally:
        engine.dispose()


def _rollups(database_url: str) -> list[tuple[object, ...]]:
    return _query(database_url, "SELECT * FROM hourly_usage ORDER BY cluster, namespace, hour_start")


def _run(prometheus_url: str, mappings: Path, out: Path, database_url: str, period: str = PERIOD) -> None:
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", period,
        "--out", str(out), "--db", database_url,
    )  # fmt: skip
    assert code == 0, output


def test_running_the_same_period_twice_changes_nothing(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, database_url: str
) -> None:
    _run(prometheus_url, mappings_file, tmp_path / "first", database_url)
    first_rows = _rollups(database_url)
    _run(prometheus_url, mappings_file, tmp_path / "second", database_url)
    assert first_rows, "the first run stored no rollups"
    assert _rollups(database_url) == first_rows
    assert (tmp_path / "first" / "chargeback.csv").read_bytes() == (tmp_path / "second" / "chargeback.csv").read_bytes()
    results = [row[0] for row in _query(database_url, "SELECT result FROM report_runs ORDER BY id")]
    assert results == ["succeeded", "succeeded"]


def test_overlapping_periods_replace_rather_than_add(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, database_url: str
) -> None:
    _run(prometheus_url, mappings_file, tmp_path / "whole", database_url)
    whole = _rollups(database_url)
    _run(prometheus_url, mappings_file, tmp_path / "day", database_url, period="2026-10-02")
    assert _rollups(database_url) == whole


def test_a_failed_run_is_recorded_and_stores_nothing(mappings_file: Path, tmp_path: Path, database_url: str) -> None:
    code, _ = run_in_process(
        "report", "--prometheus", "http://127.0.0.1:9", "--mappings", str(mappings_file), "--period", PERIOD,
        "--out", str(tmp_path / "out"), "--db", database_url,
    )  # fmt: skip
    assert code == 3
    assert _rollups(database_url) == []
    ((result, message),) = _query(database_url, "SELECT result, message FROM report_runs")
    assert result == "failed"
    assert "unreachable" in str(message)
