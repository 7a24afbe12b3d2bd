"""Migrations: an old schema with data in it upgrades without loss, on SQLite and PostgreSQL; the operator
refuses a database that is not migrated."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy

from kubecharge.domain.usage import ResourceQuantities
from kubecharge.errors import StorageError
from kubecharge.store import schema
from kubecharge.store.repository import Repository
from tests.support.reports import assert_one_line_failure, closed_port, run_cli, run_in_process

HOUR = "2026-10-01 05:00:00+00:00"
STORED_HOUR = {"sqlite": "2026-10-01 05:00:00.000000"}  # SQLAlchemy's text of a time on SQLite


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
    before = _dump(engine, OLD_DUMP)

    code, output = run_in_process("db", "upgrade", "--db", database_url)
    assert code == 0, output
    assert f"0001 -> {schema.head()}" in output
    assert _dump(engine) == before  # every rollup kept, to the bit, its labels once per namespace and hour
    with engine.connect() as connection:
        version = connection.execute(sqlalchemy.text("SELECT kubecharge_version FROM report_runs")).scalar_one()
    assert version == "unknown"  # runs from before the migration are marked, not guessed
    with engine.connect() as connection:
        sources = connection.execute(sqlalchemy.text("SELECT DISTINCT source FROM ledger_hours")).scalars().all()
    assert sources == ["unknown"]  # rollups from before the ledger cannot name their Prometheus
    repository = Repository(database_url, migrate=False)
    loaded = repository.load_hours("prod", *_bounds())  # ... and are the cluster's history all the same
    assert sorted(row.quantities.cpu_core_hours_usage for row in loaded) == [1.5 + i for i in range(50)]
    (known,) = repository.known_hours("prod", *_bounds()).values()
    assert known.observed  # an answer that saw nothing never replaces them
    repository.close()
    engine.dispose()


def test_the_operator_refuses_an_unmigrated_database(database_url: str) -> None:
    with pytest.raises(StorageError, match="kubecharge db upgrade"):
        Repository(database_url, migrate=False)
    schema.upgrade(database_url, "0001")
    with pytest.raises(StorageError, match="has schema 0001"):
        Repository(database_url, migrate=False)


QUANTITIES = ("cpu_core_hours_usage, cpu_core_hours_request, cpu_core_hours_max, memory_gib_hours_usage, "
              "storage_gib_hours, network_gib")  # fmt: skip
OLD_DUMP = f"SELECT cluster, namespace, {QUANTITIES}, namespace_labels_json FROM hourly_usage ORDER BY namespace"
USAGE = ", ".join(f"usage.{name}" for name in QUANTITIES.split(", "))
DUMP = (
    f"SELECT usage.cluster, keys.namespace, {USAGE}, labels.labels_json FROM hourly_usage AS usage "
    "JOIN usage_keys AS keys ON keys.id = usage.key_id JOIN namespace_hours AS labels ON labels.cluster = "
    "usage.cluster AND labels.namespace = keys.namespace ORDER BY keys.namespace"
)  # one hour: labels per namespace


def _dump(engine: sqlalchemy.Engine, query: str = DUMP) -> list[tuple[object, ...]]:
    with engine.connect() as connection:
        return [tuple(r) for r in connection.execute(sqlalchemy.text(query))]


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
    hour = STORED_HOUR.get(engine.dialect.name, HOUR)  # as the application writes it (0014 downgrades to it)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO hourly_usage VALUES ('prod', 'p', 'shop', :h, 1.5, 1.0, 1.5, 2.0, 3.0, 3.0, 10.0, 0.5, '{}')"),
            {"h": hour})  # fmt: skip
    schema.upgrade(database_url, "0006")
    with engine.begin() as connection:  # the hour's record, as 0003-0006 stored one for every hour with rollups
        connection.execute(
            sqlalchemy.text("INSERT INTO ledger_hours VALUES ('prod', 'p', :h, :h, 1, 1, 1, 60, 60, 1, 1, 60, 60)"),
            {"h": hour},
        )
    schema.upgrade(database_url)
    (row,) = Repository(database_url, migrate=False).load_hours("prod", *_bounds())
    assert (row.node, row.quantities.cpu_core_hours_usage, row.quantities.gpu_hours_request) == ("", 1.5, 0.0)
    schema.downgrade(database_url, "0007")  # rows of one namespace on two nodes, as 0005-0007 store them
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO hourly_usage (cluster, source, namespace, node, hour_start, cpu_core_hours_usage, "
            "cpu_core_hours_request, cpu_core_hours_max, memory_gib_hours_usage, memory_gib_hours_request, "
            "memory_gib_hours_max, gpu_hours_usage, gpu_hours_request, gpu_hours_max, storage_gib_hours, network_gib, "
            "namespace_labels_json) VALUES ('prod', 'p', 'shop', 'node-1', :h, 2.0, 0, 2.0, 0, 0, 0, 0, 1.0, 1.0, 0, "
            "0, '{}')"), {"h": hour})  # fmt: skip
    code, output = run_in_process("db", "downgrade", "0004", "--db", database_url)
    assert code == 0, output
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT namespace, cpu_core_hours_usage, storage_gib_hours "
                                                  "FROM hourly_usage")).all()  # fmt: skip
    assert [tuple(r) for r in rows] == [("shop", 3.5, 10.0)]
    schema.upgrade(database_url)
    engine.dispose()


def test_the_cluster_hours_migration_keeps_the_fullest_observation_of_each_hour(database_url: str) -> None:
    """0007: an hour is the cluster's. Of two sources' records of one hour the one that saw more scrapes stays (with
    its rollups and nodes); an hour only pre-ledger rollups (`unknown`) hold becomes the cluster's; other clusters
    stay apart."""
    schema.upgrade(database_url, "0006")
    engine = sqlalchemy.create_engine(database_url)
    later = "2026-10-01 06:00:00+00:00"
    usage = sqlalchemy.text(
        "INSERT INTO hourly_usage VALUES (:cluster, :source, 'shop', '', :h, :cpu, 0, :cpu, 0, 0, 0, 0, 0, 0, 0, 0, "
        "'{}')"
    )
    hours = sqlalchemy.text(
        "INSERT INTO ledger_hours VALUES (:cluster, :source, :h, :h, 1, 1, 1, :scrapes, :scrapes, 1, 1, 60, 60)"
    )
    with engine.begin() as connection:
        for cluster, source, hour, cpu, scrapes in (
            ("prod", "http://localhost:9090", HOUR, 1.0, 40),  # a Prometheus that lost part of the hour ...
            ("prod", "http://thanos:9090", HOUR, 2.0, 60),  # ... and a fuller witness of the same hour
            ("prod", "http://localhost:9090", later, 3.0, 60),
            ("staging", "http://localhost:9090", HOUR, 5.0, 10),
        ):
            connection.execute(usage, {"cluster": cluster, "source": source, "h": hour, "cpu": cpu})
            connection.execute(hours, {"cluster": cluster, "source": source, "h": hour, "scrapes": scrapes})
        connection.execute(usage, {"cluster": "prod", "source": "unknown", "h": "2026-10-01 07:00:00+00:00",
                                   "cpu": 4.0})  # fmt: skip
    code, output = run_in_process("db", "upgrade", "--db", database_url)
    assert code == 0, output
    assert f"0006 -> {schema.head()}" in output
    repository = Repository(database_url, migrate=False)
    try:
        prod = {(row.hour_start.hour, row.quantities.cpu_core_hours_usage) for row in
                repository.load_hours("prod", *_bounds())}  # fmt: skip
        assert prod == {(5, 2.0), (6, 3.0), (7, 4.0)}
        assert [row.quantities.cpu_core_hours_usage for row in repository.load_hours("staging", *_bounds())] == [5.0]
        assert sorted(hour.hour for hour in repository.known_hours("prod", *_bounds())) == [5, 6, 7]
    finally:
        repository.close()
    with engine.connect() as connection:
        witness = connection.execute(sqlalchemy.text(
            "SELECT source FROM ledger_hours WHERE cluster = 'prod' ORDER BY hour_start")).scalars().all()  # fmt: skip
    assert witness == ["http://thanos:9090", "http://localhost:9090", "unknown"]
    code, output = run_in_process("db", "downgrade", "0006", "--db", database_url)
    assert code == 0, output
    schema.upgrade(database_url)
    engine.dispose()


def test_the_compact_ledger_keeps_every_rollup_and_its_labels_and_provenance(database_url: str) -> None:
    """0008: rollups lose `source` (the hour's provenance, kept in `ledger_hours`) and their labels move to one row
    per namespace and hour; every quantity is kept to the bit, each row still reads its namespace's labels, and a
    downgrade puts source and labels back on every row."""
    schema.upgrade(database_url, "0007")
    engine = sqlalchemy.create_engine(database_url)
    hour = STORED_HOUR.get(engine.dialect.name, HOUR)  # as the application writes it (0014 downgrades to it)
    labels = '{"label_team": "shop"}'
    with engine.begin() as connection:
        for node, cpu in (("node-1", 0.1 + 0.2), ("node-2", 1 / 3), ("", 0.0)):
            connection.execute(sqlalchemy.text(
                "INSERT INTO hourly_usage VALUES ('prod', 'http://thanos:9090', 'shop', :node, :h, :cpu, 0.5, 0.5, "
                "0, 0, 0, 0, 0, 0, :storage, 0, :labels)"),
                {"node": node, "h": hour, "cpu": cpu, "storage": 0.0 if node else 2.5, "labels": labels})  # fmt: skip
        connection.execute(sqlalchemy.text(
            "INSERT INTO ledger_hours VALUES ('prod', 'http://thanos:9090', :h, :h, 1, 1, 1, 60, 60, 1, 1, 60, 60, 0)"),
            {"h": hour})  # fmt: skip
    before = _dump(engine, OLD_DUMP.replace("ORDER BY namespace", "ORDER BY node"))
    schema.upgrade(database_url)
    repository = Repository(database_url, migrate=False)
    try:
        rows = repository.load_hours("prod", *_bounds())
        assert [(r.node, r.quantities.cpu_core_hours_usage, r.quantities.storage_gib_hours, r.namespace_labels)
                for r in rows] == [("", 0.0, 2.5, {"label_team": "shop"}),
                                   ("node-1", 0.1 + 0.2, 0.0, {"label_team": "shop"}),
                                   ("node-2", 1 / 3, 0.0, {"label_team": "shop"})]  # fmt: skip
        (total,) = repository.load_hours("prod", *_bounds(), by_node=False)  # what direct charges read
        assert (total.node, total.quantities.storage_gib_hours, total.namespace_labels) == (
            "", 2.5, {"label_team": "shop"})  # fmt: skip
        assert total.quantities.cpu_core_hours_usage == pytest.approx(0.1 + 0.2 + 1 / 3, abs=1e-15)
    finally:
        repository.close()
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT COUNT(*) FROM namespace_hours")).scalar_one() == 1
    schema.downgrade(database_url, "0007")
    assert _dump(engine, OLD_DUMP.replace("ORDER BY namespace", "ORDER BY node")) == before
    with engine.connect() as connection:
        sources = connection.execute(sqlalchemy.text("SELECT DISTINCT source FROM hourly_usage")).scalars().all()
    assert sources == ["http://thanos:9090"]
    schema.upgrade(database_url)
    engine.dispose()


def test_the_workload_migration_keeps_old_hours_as_no_workload_and_folds_workloads_back(database_url: str) -> None:
    """0009: hours stored before read as workload ("", "") without pod labels; hours stored after keep a row per
    workload and pod label set; a downgrade adds them up again per namespace and node (and per namespace)."""
    schema.upgrade(database_url, "0008")
    engine = sqlalchemy.create_engine(database_url)
    zeros = ", ".join(["0"] * 7)  # memory, GPU and storage
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            f"INSERT INTO hourly_usage VALUES ('prod', :h, 'shop', 'node-1', 0.25, 0.5, 0.5, {zeros}, 1.5)"),
            {"h": HOUR})  # fmt: skip
        connection.execute(sqlalchemy.text(
            f"INSERT INTO namespace_hours VALUES ('prod', :h, 'shop', '{{}}', 0.25, 0.5, 0.5, {zeros}, 1.5)"),
            {"h": HOUR})  # fmt: skip
    schema.upgrade(database_url)
    repository = Repository(database_url, migrate=False)
    try:
        (row,) = repository.load_hours("prod", *_bounds())
        assert (row.node, row.workload_kind, row.workload, row.pod_labels) == ("node-1", "", "", "")
        assert (row.quantities.cpu_core_hours_usage, row.quantities.network_gib) == (0.25, 1.5)
        (total,) = repository.load_hours("prod", *_bounds(), by_node=False)
        assert (total.quantities.cpu_core_hours_max, total.pod_labels) == (0.5, "")
    finally:
        repository.close()
    labelled = '{"label_team":"web"}'
    later = datetime(2026, 10, 1, 6, tzinfo=UTC)
    with engine.begin() as connection:  # rows as the application stores them now: by usage key
        for kind, name, labels, cpu in (("Deployment", "api", labelled, 1.0), ("Deployment", "api", "", 2.0),
                                        ("StatefulSet", "db", "", 4.0)):  # fmt: skip
            key = connection.execute(sqlalchemy.text(
                "INSERT INTO usage_keys (namespace, node, workload_kind, workload, pod_labels) VALUES ('shop', "
                "'node-1', :kind, :name, :labels) RETURNING id"), {"kind": kind, "name": name, "labels": labels},
            ).scalar_one()  # fmt: skip
            connection.execute(
                sqlalchemy.text(
                    f"INSERT INTO hourly_usage (cluster, hour_start, key_id, {', '.join(ResourceQuantities.names())}) "
                    f"VALUES ('prod', :h, :key, :cpu, 0, :cpu, {zeros}, 0)"
                ),
                {"h": int(later.timestamp()) if engine.dialect.name == "sqlite" else later, "key": key, "cpu": cpu},
            )
    schema.downgrade(database_url, "0008")
    with engine.connect() as connection:
        found = connection.execute(sqlalchemy.text(
            "SELECT hour_start, cpu_core_hours_usage FROM hourly_usage ORDER BY hour_start")).all()  # fmt: skip
    assert [usage for _, usage in found] == [0.25, 7.0]  # the three rows of 06:00 folded into one
    schema.upgrade(database_url)
    engine.dispose()


def test_the_usage_key_migration_keeps_every_row_to_the_bit_and_writes_names_back_when_downgraded(
    database_url: str,
) -> None:
    """0014: what a row is of moves to `usage_keys` (one row per key however many hours use it) and SQLite keeps the
    hour as seconds; every row reads back with its names, hour and quantities to the bit, and a downgrade writes
    the names and times back into every row as they were."""
    schema.upgrade(database_url, "0013")
    engine = sqlalchemy.create_engine(database_url)
    hours = ["2026-10-01 05:00:00.000000", "2026-10-01 06:00:00.000000"]
    if engine.dialect.name != "sqlite":
        hours = [hour.replace(".000000", "+00:00") for hour in hours]
    rows = [{"h": hour, "node": node, "kind": kind, "name": name, "labels": labels, "cpu": cpu}
            for index, hour in enumerate(hours)
            for node, kind, name, labels, cpu in (("node-1", "Deployment", "api", '{"label_team":"web"}', 0.1 + 0.2),
                                                  ("node-2", "Deployment", "api", "", 1 / 3 + index),
                                                  ("", "PersistentVolumeClaim", "data", "", 0.0))]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text(
            "INSERT INTO hourly_usage (cluster, hour_start, namespace, node, workload_kind, workload, pod_labels, "
            f"{', '.join(ResourceQuantities.names())}) VALUES ('prod', :h, 'shop', :node, :kind, :name, :labels, "
            f":cpu, 0.5, 0.5, {', '.join(['0'] * 6)}, 2.5, 0)"), rows)  # fmt: skip
    dump = ("SELECT cluster, hour_start, namespace, node, workload_kind, workload, pod_labels, cpu_core_hours_usage, "
            "storage_gib_hours FROM hourly_usage ORDER BY hour_start, node")  # fmt: skip
    before = _dump(engine, dump)
    schema.upgrade(database_url)
    with engine.connect() as connection:
        assert connection.execute(sqlalchemy.text("SELECT COUNT(*) FROM usage_keys")).scalar_one() == 3
    repository = Repository(database_url, migrate=False)
    try:
        loaded = repository.load_hours("prod", *_bounds())
    finally:
        repository.close()
    assert sorted((row.hour_start, row.node, row.workload_kind, row.workload, row.pod_labels,
                   row.quantities.cpu_core_hours_usage, row.quantities.storage_gib_hours) for row in loaded) == [
        (datetime(2026, 10, 1, hour, tzinfo=UTC), node, kind, name, labels, cpu, 2.5)
        for hour, rows_of_hour in ((5, rows[:3]), (6, rows[3:]))
        for node, kind, name, labels, cpu in sorted((r["node"], r["kind"], r["name"], r["labels"], r["cpu"])
                                                    for r in rows_of_hour)]  # fmt: skip
    code, output = run_in_process("db", "downgrade", "0013", "--db", database_url)
    assert code == 0, output
    assert _dump(engine, dump) == before  # on SQLite, times as the text SQLAlchemy writes (as stored before)
    schema.upgrade(database_url)
    engine.dispose()


def test_upgrades_started_together_run_one_at_a_time(database_url: str) -> None:
    """The chart migrates in every replica's init container; two CLI runs may start together on a new SQLite file:
    each of several `db upgrade` started at once succeeds, and the schema they leave is whole."""
    command = [sys.executable, "-m", "kubecharge", "db", "upgrade", "--db", database_url]
    started = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(4)]
    finished = [(process.communicate(timeout=300), process.returncode) for process in started]
    assert [code for _, code in finished] == [0, 0, 0, 0], [err for (_, err), _ in finished]
    assert schema.current(database_url) == schema.head()
    repository = Repository(database_url, migrate=False)
    try:
        assert repository.known_hours("prod", *_bounds()) == {}
    finally:
        repository.close()


def test_a_database_password_never_appears_in_a_message(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://finance:s3cr3t-pw@127.0.0.1:{closed_port()}/ledger"
    for args in (("db", "upgrade"), ("db", "current"), ("db", "downgrade", "0001")):
        result = run_cli(*args, "--db", url)
        line = assert_one_line_failure(result, 4, "finance:***@127.0.0.1")
        assert "s3cr3t" not in result.stdout + line
    assert schema.shown(url) == url.replace("s3cr3t-pw", "***")


def test_asking_for_the_schema_version_creates_no_database(tmp_path: Path) -> None:
    database = tmp_path / "kubecharge.db"
    result = run_cli("db", "current", "--db", f"sqlite:///{database}")
    assert result.returncode == 0, result.stderr
    assert f"none (this kubecharge needs {schema.head()})" in result.stdout
    assert not database.exists()


def test_the_head_kubecharge_knows_is_the_newest_migration(tmp_path: Path) -> None:
    """`schema.HEAD` spares a report on a current database loading alembic; it must name the newest script, or a
    database would be left unmigrated (or refused) by a kubecharge that believes it current."""
    assert schema.scripts_head() == schema.HEAD
    url = f"sqlite:///{tmp_path / 'kubecharge.db'}"
    schema.upgrade(url)
    assert schema.current(url) == schema.HEAD
