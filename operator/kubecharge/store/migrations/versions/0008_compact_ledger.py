"""A ledger that stays small: what a row repeats is stored once.

`hourly_usage` and `node_hours` lose `source` (it is the hour's provenance: `ledger_hours` keeps it once per hour),
and `hourly_usage` loses `namespace_labels_json` to a table of its own, `namespace_hours`: one row per namespace and
hour instead of one per namespace, node and hour, with the namespace's quantities summed over its nodes (what direct
charges read: a month of a 1,000-pod cluster is 36,000 rows there instead of 500,000). The tables are keyed hour
first — (cluster, hour_start, namespace[, node]) and (cluster, hour_start, node) — so a report's read of a cluster's
period is one range of the primary key, and the separate (cluster, hour_start) index goes. On SQLite they are
clustered on that key (WITHOUT ROWID), so the key is stored once instead of in the table and again in its index.
Tables are rebuilt, not altered, the same way on SQLite and PostgreSQL.

Revision ID: 0008
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

QUANTITIES = ("cpu_core_hours_usage", "cpu_core_hours_request", "cpu_core_hours_max", "memory_gib_hours_usage",
              "memory_gib_hours_request", "memory_gib_hours_max", "gpu_hours_usage", "gpu_hours_request",
              "gpu_hours_max", "storage_gib_hours", "network_gib")  # fmt: skip
NODE_FACTS = ("hours", "capacity_cpu_cores", "capacity_memory_gib", "capacity_gpus", "allocatable_cpu_cores",
              "allocatable_memory_gib", "allocatable_gpus")  # fmt: skip
CLUSTERED = {"sqlite_with_rowid": False}


def _key(*names: str, primary: bool = True) -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.DateTime(timezone=True), primary_key=primary) if name == "hour_start"
            else sa.Column(name, sa.String(253), primary_key=primary) for name in names]  # fmt: skip


def _floats(names: tuple[str, ...]) -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.Float(), nullable=False) for name in names]


def _texts(*names: str) -> list[sa.Column[Any]]:
    return [sa.Column(name, sa.Text(), nullable=False) for name in names]


def _provenance() -> sa.Column[Any]:
    return sa.Column("source", sa.String(512), nullable=False)


def _keep_previous(*names: str) -> None:
    """A plain copy of each table under `<name>_previous`, and the table dropped (a renamed PostgreSQL table would
    keep its primary key's name)."""
    for name in names:
        op.execute(f"CREATE TABLE {name}_previous AS SELECT * FROM {name}")
        op.drop_table(name)


def upgrade() -> None:
    op.drop_index("ix_hourly_usage_cluster_hour", table_name="hourly_usage")
    _keep_previous("hourly_usage", "node_hours")
    op.create_table("hourly_usage", *_key("cluster", "hour_start", "namespace", "node"), *_floats(QUANTITIES),
                    **CLUSTERED)  # fmt: skip
    op.create_table("namespace_hours", *_key("cluster", "hour_start", "namespace"), *_texts("labels_json"),
                    *_floats(QUANTITIES), **CLUSTERED)  # fmt: skip
    op.create_table("node_hours", *_key("cluster", "hour_start", "node"), *_floats(NODE_FACTS),
                    *_texts("provider_id", "labels_json"), **CLUSTERED)  # fmt: skip
    usage = ", ".join(("cluster", "hour_start", "namespace", "node", *QUANTITIES))
    op.execute(f"INSERT INTO hourly_usage ({usage}) SELECT {usage} FROM hourly_usage_previous")
    # A namespace's labels are the same on every node of an hour (they are the namespace's, per hour).
    sums = ", ".join(f"SUM({name})" for name in QUANTITIES)
    op.execute(f"INSERT INTO namespace_hours (cluster, hour_start, namespace, labels_json, {', '.join(QUANTITIES)}) "
               f"SELECT cluster, hour_start, namespace, MIN(namespace_labels_json), {sums} FROM hourly_usage_previous "
               "GROUP BY cluster, hour_start, namespace")  # fmt: skip
    nodes = ", ".join(("cluster", "hour_start", "node", *NODE_FACTS, "provider_id", "labels_json"))
    op.execute(f"INSERT INTO node_hours ({nodes}) SELECT {nodes} FROM node_hours_previous")
    op.drop_table("hourly_usage_previous")
    op.drop_table("node_hours_previous")


def downgrade() -> None:
    _keep_previous("hourly_usage", "node_hours")
    op.create_table("hourly_usage", *_key("cluster"), _provenance(), *_key("namespace", "node", "hour_start"),
                    *_floats(QUANTITIES), *_texts("namespace_labels_json"))  # fmt: skip
    op.create_table("node_hours", *_key("cluster"), _provenance(), *_key("node", "hour_start"),
                    *_floats(NODE_FACTS), *_texts("provider_id", "labels_json"))  # fmt: skip
    source = ("COALESCE((SELECT source FROM ledger_hours AS seen WHERE seen.cluster = old.cluster AND "
              "seen.hour_start = old.hour_start), 'unknown')")  # fmt: skip
    labels = ("COALESCE((SELECT labels_json FROM namespace_hours AS labels WHERE labels.cluster = old.cluster AND "
              "labels.hour_start = old.hour_start AND labels.namespace = old.namespace), '{}')")  # fmt: skip
    usage = ", ".join(("cluster", "namespace", "node", "hour_start", *QUANTITIES))
    op.execute(f"INSERT INTO hourly_usage (source, namespace_labels_json, {usage}) "
               f"SELECT {source}, {labels}, {', '.join(f'old.{c}' for c in usage.split(', '))} "
               "FROM hourly_usage_previous AS old")  # fmt: skip
    nodes = ", ".join(("cluster", "node", "hour_start", *NODE_FACTS, "provider_id", "labels_json"))
    op.execute(f"INSERT INTO node_hours (source, {nodes}) SELECT {source}, "
               f"{', '.join(f'old.{c}' for c in nodes.split(', '))} FROM node_hours_previous AS old")  # fmt: skip
    op.create_index("ix_hourly_usage_cluster_hour", "hourly_usage", ["cluster", "hour_start"])
    op.drop_table("namespace_hours")
    op.drop_table("hourly_usage_previous")
    op.drop_table("node_hours_previous")
