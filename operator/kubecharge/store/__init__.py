"""Store (a stage): the ledger — hourly rollups, node-hours, which hours are known, the audit trail of runs, run
leases and notices — in SQLite (embedded default) or PostgreSQL, migrated by alembic."""
