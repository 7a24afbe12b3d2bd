"""Store: hourly rollups and the audit trail of runs, in SQLite (embedded default) or PostgreSQL."""
