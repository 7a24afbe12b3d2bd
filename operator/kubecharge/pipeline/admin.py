"""What an entry point asks of the stages besides a report: check a published export, move the ledger's schema.

The schema functions import the migration machinery only when called, so `kubecharge report` starts light."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kubecharge.publish.exports import Verification, verify
from kubecharge.publish.objectstore import S3Options, open_store


def verify_export(where: str, s3: S3Options) -> tuple[str, Verification]:
    """Re-read one export version (a URL, or a local folder it was copied to) against its manifest: the location
    as shown to the user, and what was found."""
    location = where.rstrip("/").removesuffix("/manifest.json")
    if "://" not in location:  # a plain local path: the folder a version was copied to
        location = Path(location).resolve().as_uri()
    return location, verify(open_store(location, s3, for_writing=False), "")


@dataclass(frozen=True)
class SchemaChange:
    database: str  # the URL as shown (no password)
    before: str | None
    after: str | None


def upgrade_ledger(url: str) -> SchemaChange:
    from kubecharge.store import schema

    before = schema.current(url)
    schema.upgrade(url)
    return SchemaChange(schema.shown(url), before, schema.current(url))


def downgrade_ledger(url: str, revision: str) -> SchemaChange:
    from kubecharge.store import schema

    before = schema.current(url)
    schema.downgrade(url, revision)
    return SchemaChange(schema.shown(url), before, schema.current(url))


def ledger_schema(url: str) -> tuple[SchemaChange, str]:
    """The database's schema revision (as an unchanged change) and the one this kubecharge needs."""
    from kubecharge.store import schema

    found = schema.current(url)
    return SchemaChange(schema.shown(url), found, found), schema.head()
