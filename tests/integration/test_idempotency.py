"""Re-collecting a period replaces its hours: the database and the CSV stay byte-for-byte the same."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import PERIOD
from tests.support import run_in_process


def _rollups(db: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT * FROM hourly_usage ORDER BY cluster, namespace, hour_start").fetchall()


def _run(prometheus_url: str, mappings: Path, out: Path, db: Path) -> None:
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings), "--period", PERIOD,
        "--out", str(out), "--db", f"sqlite:///{db}",
    )  # fmt: skip
    assert code == 0, output


def test_running_the_same_period_twice_changes_nothing(
    prometheus_url: str, mappings_file: Path, tmp_path: Path
) -> None:
    db = tmp_path / "kubecharge.db"
    _run(prometheus_url, mappings_file, tmp_path / "first", db)
    first_rows = _rollups(db)
    _run(prometheus_url, mappings_file, tmp_path / "second", db)
    assert first_rows, "the first run stored no rollups"
    assert _rollups(db) == first_rows
    assert (tmp_path / "first" / "chargeback.csv").read_bytes() == (tmp_path / "second" / "chargeback.csv").read_bytes()
    with sqlite3.connect(db) as connection:
        results = [r[0] for r in connection.execute("SELECT result FROM report_runs ORDER BY id")]
    assert results == ["succeeded", "succeeded"]


def test_overlapping_periods_replace_rather_than_add(prometheus_url: str, mappings_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "kubecharge.db"
    _run(prometheus_url, mappings_file, tmp_path / "whole", db)
    whole = _rollups(db)
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", "2026-10-02",
        "--out", str(tmp_path / "day"), "--db", f"sqlite:///{db}",
    )  # fmt: skip
    assert code == 0, output
    assert _rollups(db) == whole


def test_a_failed_run_is_recorded_and_stores_nothing(mappings_file: Path, tmp_path: Path) -> None:
    db = tmp_path / "kubecharge.db"
    code, _ = run_in_process(
        "report", "--prometheus", "http://127.0.0.1:9", "--mappings", str(mappings_file), "--period", PERIOD,
        "--out", str(tmp_path / "out"), "--db", f"sqlite:///{db}",
    )  # fmt: skip
    assert code == 3
    assert _rollups(db) == []
    with sqlite3.connect(db) as connection:
        ((result, message),) = connection.execute("SELECT result, message FROM report_runs").fetchall()
    assert result == "failed"
    assert "unreachable" in message
