"""What a report is asked for — period, mappings, spec, clusters, the ledger's name for the source, the collection
policy, the cloud bill — built the same way for every caller."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from kubecharge.collect import bills
from kubecharge.collect.bills import FocusBill
from kubecharge.domain.ledger import CollectionPolicy
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.periods import Period
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import InputError
from kubecharge.pricing import NodeBill
from kubecharge.publish.objectstore import S3Options, open_store
from kubecharge.settings import Settings


@dataclass(frozen=True)
class ReportRequest:
    period: Period
    mappings: Sequence[TeamMapping]
    report: UsageReportSpec
    cluster: str
    source: str  # the metrics source's name in the ledger
    policy: CollectionPolicy
    chunk_hours: int = 24
    concurrency: int = 1
    clusters: tuple[str, ...] = ()  # every cluster reported on; empty: just `cluster`
    runner: str = ""  # the replica (pod) or CLI making the run, for the audit trail
    node_bill: NodeBill | None = None  # a cloud bill pricing the nodes it lists (`--node-costs`, nodeCostsFrom)

    @property
    def cluster_names(self) -> tuple[str, ...]:
        return self.clusters or (self.cluster,)


def source_name(url: str) -> str:
    """The ledger's name for a Prometheus: its URL without credentials, query or trailing slash."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower() + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), "", ""))


def request_for(
    settings: Settings,
    period: Period,
    mappings: Sequence[TeamMapping],
    spec: UsageReportSpec,
    *,
    now: datetime,
    prometheus_url: str,
    recollect: bool = False,
    source: str | None = None,
    clusters: Sequence[str] = (),
    runner: str = "",
    node_bill: NodeBill | None = None,
) -> ReportRequest:
    """The request the CLI and the operator both build: ledger source, collection policy, chunking.

    The re-check window for late data is the setting, bounded by the report's lateness window `finalizeAfter`.
    The source is `source` if given, else `KUBECHARGE_SOURCE_NAME` for the default Prometheus, else the URL.
    """
    default_source = settings.source_name if prometheus_url == settings.prometheus_url else None
    policy = CollectionPolicy(
        now=min(now, datetime.now(UTC)),  # hours that have not happened are never collected (nor remembered empty)
        settle=timedelta(seconds=settings.settle_seconds),
        recheck=min(timedelta(hours=settings.recheck_hours), spec.finalize_after),
        recollect=recollect,
    )
    return ReportRequest(
        period=period,
        mappings=mappings,
        report=spec,
        cluster="+".join(clusters) if clusters else settings.cluster_name,
        source=source or default_source or source_name(prometheus_url),
        policy=policy,
        chunk_hours=settings.query_chunk_hours,
        concurrency=settings.prometheus_concurrency,
        clusters=tuple(clusters),
        runner=runner,
        node_bill=node_bill,
    )


def read_node_bill(spec: UsageReportSpec, s3: Callable[[], S3Options], path: Path | None = None) -> FocusBill | None:
    """The cloud bill that prices the report's nodes: `path` (the CLI's `--node-costs`), else the report's
    `spec.pricing.nodeCostsFrom` (s3://bucket/key, read with the report's object-storage credentials)."""
    if path is not None:
        try:
            data, name = path.read_bytes(), str(path)
        except OSError as error:
            raise InputError(f"node costs {path}: cannot read it ({error.strerror}); give a FOCUS CSV or Parquet "
                             "file") from None  # fmt: skip
    elif spec.pricing.node_costs_from:
        bucket, _, key = spec.pricing.node_costs_from.removeprefix("s3://").partition("/")
        data, name = open_store(f"s3://{bucket}", s3(), for_writing=False).get(key), spec.pricing.node_costs_from
    else:
        return None
    return bills.read_focus_bill(data, name, spec.pricing.currency)


def mappings_snapshot(mappings: Sequence[TeamMapping]) -> tuple[str, str]:
    """The mappings as canonical JSON and its SHA-256: what the run attributed with, for the audit trail."""
    text = json.dumps([m.raw for m in sorted(mappings, key=lambda m: m.name)], sort_keys=True, default=str)
    return text, hashlib.sha256(text.encode()).hexdigest()
