"""Migrations: an old schema with data in it upgrades without loss, on SQLite and PostgreSQL; the operator
refuses a database that is not migrated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy

from kubecharge.errors import StorageError
from kubecharge.store import schema
from kubecharge.store.repository import Repository
from tests.support import run_in_process

HOUR = "2026-10-01 05:00:00+00:00"


def test_an_old_schema_with_data_upgrades_without_loss(database_url: str) -> None:
    schema.upgrade(database_url, "0001")
    engine = sqlalchemy.create_engine(database_url)
    rows = [
        {"cluster": "prod", "namespace": f"ns-{i}", "hour_start": HOUR, "cpu": 1.5 + i, "labels": '{"label_team": "a"}'}
        for i in range(50)
    ]
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO hourly_usage VALUES (:cluster, :namespace, :hour_start, :cpu, 1.0, :cpu, 2.0, 3.0, 3.0, "
            "10.0, 0.5, :labels)"), rows)  # fmt: skip
        connection.execute(sqlalchemy.text(
            "INSERT INTO report_runs (cluster, report, period_name, period_start, period_end, started_at, result, "
            "message, query_set_sha256, query_set_json, mappings_sha256, mappings_json, totals_json) VALUES "
            "('prod', 'finops/monthly', '2026-10', :h, :h, :h, 'succeeded', '', 'q', '{}', 'm', '[]', '{}')"),
            {"h": HOUR})  # fmt: skip
    before = _dump(engine)

    code, output = run_in_process("db", "upgrade", "--db", database_url)
    assert code == 0, output
    assert "0001 -> 0006" in output
    assert _dump(engine) == before  # every rollup kept, to the bit
    with engine.connect() as connection:
        version = connection.execute(sqlalchemy.text("SELECT kubecharge_version FROM report_runs")).scalar_one()
    assert version == "unknown"  # runs from before the migration are marked, not guessed
    with engine.connect() as connection:
        sources = connection.execute(sqlalchemy.text("SELECT DISTINCT source FROM hourly_usage")).scalars().all()
    assert sources == ["unknown"]  # rollups from before the ledger cannot name their Prometheus
    loaded = Repository(database_url, migrate=False).load_hours("prod", "unknown", *_bounds())
    assert sorted(row.quantities.cpu_core_hours_usage for row in loaded) == [1.5 + i for i in range(50)]
    engine.dispose()


def test_the_operator_refuses_an_unmigrated_database(database_url: str) -> None:
    with pytest.raises(StorageError, match="kubecharge db upgrade"):
        Repository(database_url, migrate=False)
    schema.upgrade(database_url, "0001")
    with pytest.raises(StorageError, match="has schema 0001"):
        Repository(database_url, migrate=False)


def _dump(engine: sqlalchemy.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sqlalchemy.text(
            "SELECT cluster, namespace, cpu_core_hours_usage, cpu_core_hours_request, cpu_core_hours_max, "
            "memory_gib_hours_usage, storage_gib_hours, network_gib, namespace_labels_json FROM hourly_usage "
            "ORDER BY namespace"))]  # fmt: skip


def _bounds() -> tuple[datetime, datetime]:
    return datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 10, 2, tzinfo=UTC)


def test_the_ledger_migration_downgrades_keeping_one_source_per_hour(database_url: str) -> None:
    schema.upgrade(database_url, "0004")
    engine = sqlalchemy.create_engine(database_url)
    insert = sqlalchemy.text(
        "INSERT INTO hourly_usage VALUES ('prod', :source, 'shop', :h, :cpu, 0, :cpu, 0, 0, 0, 0, 0, '{}')"
    )
    with engine.begin() as connection:
        for source, cpu in (("http://prometheus-b:9090", 2.0), ("http://prometheus-a:9090", 1.0)):
            connection.execute(insert, {"source": source, "h": HOUR, "cpu": cpu})
    code, output = run_in_process("db", "downgrade", "0002", "--db", database_url)
    assert code == 0, output
    assert "0004 -> 0002" in output
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT namespace, cpu_core_hours_usage FROM hourly_usage")).all()
    assert [tuple(row) for row in rows] == [("shop", 1.0)]  # the source that sorts first, deterministically
    schema.upgrade(database_url)
    assert schema.current(database_url) == schema.head()
    engine.dispose()


def test_the_node_migration_keeps_old_rollups_and_folds_nodes_back_when_downgraded(database_url: str) -> None:
    """0005 keys rollups by node: rows from before carry node "" and no GPU-hours; downgrading adds a
    namespace's rows on several nodes back into one."""
    schema.upgrade(database_url, "0004")
    engine = sqlalchemy.create_engine(database_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO hourly_usage VALUES ('prod', 'p', 'shop', :h, 1.5, 1.0, 1.5, 2.0, 3.0, 3.0, 10.0, 0.5, '{}')"),
            {"h": HOUR})  # fmt: skip
    schema.upgrade(database_url)
    (row,) = Repository(database_url, migrate=False).load_hours("prod", "p", *_bounds())
    assert (row.node, row.quantities.cpu_core_hours_usage, row.quantities.gpu_hours_request) == ("", 1.5, 0.0)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO hourly_usage (cluster, source, namespace, node, hour_start, cpu_core_hours_usage, "
            "cpu_core_hours_request, cpu_core_hours_max, memory_gib_hours_usage, memory_gib_hours_request, "
            "memory_gib_hours_max, gpu_hours_usage, gpu_hours_request, gpu_hours_max, storage_gib_hours, network_gib, "
            "namespace_labels_json) VALUES ('prod', 'p', 'shop', 'node-1', :h, 2.0, 0, 2.0, 0, 0, 0, 0, 1.0, 1.0, 0, "
            "0, '{}')"), {"h": HOUR})  # fmt: skip
    code, output = run_in_process("db", "downgrade", "0004", "--db", database_url)
    assert code == 0, output
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT namespace, cpu_core_hours_usage, storage_gib_hours "
                                                  "FROM hourly_usage")).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("shop", 3.5, 10.0)]
    schema.upgrade(database_url)
    engine.dispose()
