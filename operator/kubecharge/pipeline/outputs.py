"""What a priced period becomes: the files of each format (rendered once per run), the finance manifest's fields and
the one totals record that the manifest, the audit trail and the operator's status all show."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kubecharge import __version__
from kubecharge.collect.promql import QuerySet
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.periods import iso
from kubecharge.pipeline.request import ReportRequest, mappings_snapshot
from kubecharge.render import data_files, documents, focus
from kubecharge.render.data_files import completeness_record, outlook_record

__all__ = [
    "DOCUMENTS",
    "FORMAT_FILES",
    "completeness_record",
    "export_files",
    "manifest_fields",
    "outlook_record",
    "render_all",
    "stamper",
    "totals_record",
]

DOCUMENTS = {"report.md": documents.report_markdown, "report.html": documents.report_html}  # what says its version


def render_all(chargeback: Chargeback) -> dict[str, bytes]:
    return {
        "chargeback.csv": data_files.chargeback_csv(chargeback),
        "chargeback-daily.csv": data_files.daily_csv(chargeback),
        "chargeback-workloads.csv": data_files.workloads_csv(chargeback),
        "chargeback-workloads-daily.csv": data_files.workloads_daily_csv(chargeback),
        "workloads-top.csv": data_files.top_workloads_csv(chargeback),
        "recommendations.csv": data_files.recommendations_csv(chargeback),
        "chargeback.json": data_files.chargeback_json(chargeback),
        "report.md": documents.report_markdown(chargeback),
        "report.html": documents.report_html(chargeback),
        **{f"teams/{team}.md": page for team, page in documents.team_markdowns(chargeback).items()},
    }


FORMAT_FILES = {
    "csv": ("chargeback.csv",),
    "daily": ("chargeback-daily.csv",),
    "workloads": ("chargeback-workloads.csv", "chargeback-workloads-daily.csv"),
    "recommendations": ("recommendations.csv",),
    "json": ("chargeback.json",),
    "focus": ("focus.csv",),
    "parquet": ("focus.parquet",),
    "html": ("report.html",),
    "markdown": ("report.md",),
}


def export_files(chargeback: Chargeback, formats: Sequence[str], rendered: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files of a finance export, from the run's `render_all` (FOCUS is rendered here, only when asked). CSV
    and JSON are always included: they carry the numbers that decide whether a new version is needed and what a
    restatement's drift is."""
    rendered = dict(rendered)
    wanted = {name for f in formats for name in FORMAT_FILES[f]} | {"chargeback.csv", "chargeback.json"}
    if "focus.csv" in wanted:
        rendered["focus.csv"] = focus.focus_csv(chargeback)
    if "focus.parquet" in wanted:
        rendered["focus.parquet"] = focus.focus_parquet(chargeback)
    return {name: data for name, data in rendered.items() if name in wanted}


def stamper(chargeback: Chargeback, formats: Sequence[str]) -> Callable[[str, str | None], dict[str, bytes]]:
    """The export's documents rendered again for the version they are written into."""

    def stamp(version: str, restates: str | None) -> dict[str, bytes]:
        stamped = dataclasses.replace(chargeback, version=version, restates=restates)
        wanted = {name for f in formats for name in FORMAT_FILES[f]}
        return {name: render(stamped) for name, render in DOCUMENTS.items() if name in wanted}

    return stamp


def manifest_fields(request: ReportRequest, chargeback: Chargeback, queries: QuerySet) -> dict[str, Any]:
    """What a finance manifest says besides its files: which period, how computed, with what totals."""
    snapshot, snapshot_sha = mappings_snapshot(request.mappings)
    return {
        "schema": "kubecharge.io/export-manifest/v1",
        "kubechargeVersion": __version__,
        "cluster": request.cluster,
        "report": {"namespace": request.report.namespace, "name": request.report.name},
        "period": {"name": request.period.name, "start": iso(request.period.start),
                   "end": iso(request.period.end)},
        "chargeBasis": str(request.report.charge_basis),
        "currency": chargeback.currency,
        "prices": chargeback.prices,
        "querySetSha256": queries.digest,
        "querySet": queries.as_dict(),
        "mappingsSha256": snapshot_sha,
        "mappings": json.loads(snapshot),
        "totals": totals_record(chargeback),
        "completeness": data_files.completeness_record(chargeback.completeness),
        "unallocated": {"cost": chargeback.unallocated_cost,
                        "cpuCoreHoursCharged": chargeback.unallocated_cpu_core_hours},
    }  # fmt: skip


def totals_record(chargeback: Chargeback) -> dict[str, Any]:
    """The period's totals, one record for the manifest, the run's audit row and the UsageReport's status.

    `cost` is what the period is charged: under full-cost allocation what the cluster cost (the lines' allocated
    totals), with the direct charges, idle and nodes beside it; otherwise the direct charges."""
    full = chargeback.cluster_cost
    cost = ({"cost": chargeback.total_allocated, "directCost": chargeback.total_costs.total, "idleCost": full.idle,
             "nodesCost": full.nodes} if full is not None else {"cost": chargeback.total_costs.total})  # fmt: skip
    return {**cost, "currency": chargeback.currency, **data_files.resource_totals(chargeback),
            "coverage": chargeback.coverage}  # fmt: skip
