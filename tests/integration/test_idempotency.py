"""Re-collecting a period replaces its hours: the database and the CSV stay byte-for-byte the same,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import Executor
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from kubecharge.collect import answers, chunks, prometheus
from kubecharge.collect.source import UsageSource
from kubecharge.domain.collected import ChunkUsage
from tests.conftest import PERIOD
from tests.support.ledger_rows import HOURLY_ROWS
from tests.support.reports import run_in_process


def _query(database_url: str, sql: str) -> list[tuple[object, ...]]:
    engine = sqlalchemy.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(sqlalchemy.text(sql))]
    finally:
        engine.dispose()


def _rollups(database_url: str) -> list[tuple[object, ...]]:
    return _query(database_url, f"SELECT * FROM {HOURLY_ROWS} ORDER BY cluster, namespace, hour_start, node, workload")


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


def test_answers_in_batches_and_smaller_chunks_store_the_same_bits(
    prometheus_url: str, mappings_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Memory is bounded by reducing each streamed answer in batches of series (`DECODED_SAMPLES`) and sizing chunks
    by what was seen per hour (`CHUNK_SAMPLES`): at limits small enough that large answers are reduced in many
    batches and every chunk is a few hours, the ledger holds exactly what whole days store, and the CSV is the same
    to the byte."""
    whole_db, pieces_db = f"sqlite:///{tmp_path / 'whole.db'}", f"sqlite:///{tmp_path / 'pieces.db'}"
    _run(prometheus_url, mappings_file, tmp_path / "whole", whole_db)
    monkeypatch.setattr(prometheus, "DECODED_SAMPLES", 500)
    monkeypatch.setattr(prometheus, "CHUNK_SAMPLES", 5_000)
    batches: list[int] = []
    range_batches = answers.range_batches

    def batch_counted(*args: Any) -> list[Any]:
        reduced = range_batches(*args)
        batches.append(len(reduced))
        return reduced

    monkeypatch.setattr(prometheus, "range_batches", batch_counted)
    hours: list[int] = []
    collect_chunk = chunks.collect_chunk

    def counted(source: UsageSource, start: datetime, end: datetime, pool: Executor | None = None) -> ChunkUsage:
        hours.append(round((end - start).total_seconds() / 3600))
        return collect_chunk(source, start, end, pool)

    monkeypatch.setattr(chunks, "collect_chunk", counted)
    _run(prometheus_url, mappings_file, tmp_path / "pieces", pieces_db)
    assert max(hours) < 24, hours  # chunks of a few hours, not days
    assert max(batches) > 3, batches  # answers reduced in several batches
    assert sum(hours) == 48, hours  # and every hour of the period (two days) in one of them
    assert _rollups(pieces_db) == _rollups(whole_db)
    assert (tmp_path / "pieces" / "chargeback.csv").read_bytes() == (tmp_path / "whole" / "chargeback.csv").read_bytes()
