"""An hour is a fact about a cluster: the ledger keeps one observation per cluster and hour, whichever source gave it.

`hourly_usage`, `node_hours` and `ledger_hours` lose `source` from their primary keys and keep it as provenance (which
Prometheus, Thanos or URL answered). Where several sources hold one hour, the most complete observation stays
(most successful scrapes, then the latest collected, then the source name): the rule that an emptier answer never
replaces a stored hour, now across sources. `ledger_hours` also records how many GPU utilisation series each hour
had (0 for hours stored before: their GPU use counts as measured only where some was stored). Rollups stored
before the ledger (source `unknown`) become the cluster's hours where no source observed them, recorded as
observed (one scrape of each job: an answer that saw nothing never replaces them, any real one does). Tables are
rebuilt rather than altered, the same way on SQLite and PostgreSQL.

Revision ID: 0007
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "gpu_hours_usage", "gpu_hours_request",
              "gpu_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip
AMOUNTS = tuple(f"{kind}_{resource}" for kind in ("capacity", "allocatable") for resource in ("cpu_cores",
                "memory_gib", "gpus"))  # fmt: skip
MEASURES = ("targets_expected", "targets_seen", "scrapes_expected", "scrapes_seen")
COMPLETENESS = tuple(f"{job}_{measure}" for job in ("cadvisor", "state_metrics") for measure in MEASURES)


def _tables(source_in_key: bool) -> dict[str, list[sa.Column[Any]]]:
    """The three ledger tables' columns, with `source` in the primary key (before) or as provenance (after)."""

    def key(*names: str) -> list[sa.Column[Any]]:
        columns: list[sa.Column[Any]] = []
        for name in names:
            if name == "hour_start":
                columns.append(sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True))
            elif name == "source":
                columns.append(sa.Column("source", sa.String(512), primary_key=source_in_key, nullable=False))
            else:
                columns.append(sa.Column(name, sa.String(253), primary_key=True))
        return columns

    return {
        "hourly_usage": [*key("cluster", "source", "namespace", "node", "hour_start"),
                         *(sa.Column(c, sa.Float(), nullable=False) for c in QUANTITIES),
                         sa.Column("namespace_labels_json", sa.Text(), nullable=False)],
        "node_hours": [*key("cluster", "source", "node", "hour_start"), sa.Column("hours", sa.Float(), nullable=False),
                       *(sa.Column(c, sa.Float(), nullable=False) for c in AMOUNTS),
                       sa.Column("provider_id", sa.Text(), nullable=False),
                       sa.Column("labels_json", sa.Text(), nullable=False)],
        "ledger_hours": [*key("cluster", "source", "hour_start"),
                         sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
                         sa.Column("namespaces", sa.Integer(), nullable=False),
                         *(sa.Column(c, sa.Integer(), nullable=False) for c in COMPLETENESS),
                         *([] if source_in_key else [sa.Column("gpu_utilisation_series", sa.Integer(),
                                                               nullable=False, server_default="0")])],
    }  # fmt: skip


def _rebuild(source_in_key: bool, kept: str) -> None:
    """Recreate the three tables with the new keys, copying the rows `kept` (a WHERE on alias `old`) selects."""
    op.drop_index("ix_hourly_usage_cluster_hour" if source_in_key else "ix_hourly_usage_cluster_source_hour",
                  table_name="hourly_usage")  # fmt: skip
    for name, columns in _tables(source_in_key).items():
        # A plain copy, then the table anew: a renamed PostgreSQL table keeps its primary key's name.
        op.execute(f"CREATE TABLE {name}_previous AS SELECT * FROM {name}")
        op.drop_table(name)
        op.create_table(name, *columns)
        names = ", ".join(column.name for column in columns if column.name != "gpu_utilisation_series")
        op.execute(f"INSERT INTO {name} ({names}) SELECT {names} FROM {name}_previous AS old WHERE {kept}")
        op.drop_table(f"{name}_previous")
    if source_in_key:
        op.create_index("ix_hourly_usage_cluster_source_hour", "hourly_usage", ["cluster", "source", "hour_start"])
    else:
        op.create_index("ix_hourly_usage_cluster_hour", "hourly_usage", ["cluster", "hour_start"])


def upgrade() -> None:
    # Hours only pre-ledger rollups hold get a ledger record: observed, with the least completeness there is.
    observed_once = ", ".join("1" for _ in COMPLETENESS)
    op.execute(
        sa.text(
            f"INSERT INTO ledger_hours (cluster, source, hour_start, collected_at, namespaces, "
            f"{', '.join(COMPLETENESS)}) "
            f"SELECT cluster, 'unknown', hour_start, :now, COUNT(DISTINCT namespace), {observed_once} "
            "FROM hourly_usage AS usage WHERE source = 'unknown' AND NOT EXISTS (SELECT 1 FROM ledger_hours AS seen "
            "WHERE seen.cluster = usage.cluster AND seen.hour_start = usage.hour_start) "
            "GROUP BY cluster, hour_start"
        ).bindparams(sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True)))
    )
    op.create_table(
        "hour_witnesses",
        sa.Column("cluster", sa.String(253), primary_key=True),
        sa.Column("hour_start", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("source", sa.String(512), nullable=False),
    )
    scrapes = "cadvisor_scrapes_seen + state_metrics_scrapes_seen"
    op.execute(
        "INSERT INTO hour_witnesses (cluster, hour_start, source) SELECT cluster, hour_start, source FROM ("
        f"SELECT cluster, hour_start, source, ROW_NUMBER() OVER (PARTITION BY cluster, hour_start ORDER BY {scrapes} "
        "DESC, collected_at DESC, source) AS rank FROM ledger_hours) AS ranked WHERE rank = 1"
    )
    _rebuild(
        source_in_key=False,
        kept="EXISTS (SELECT 1 FROM hour_witnesses AS witness WHERE witness.cluster = old.cluster AND "
        "witness.hour_start = old.hour_start AND witness.source = old.source)",
    )
    op.drop_table("hour_witnesses")


def downgrade() -> None:
    _rebuild(source_in_key=True, kept="1 = 1")
