"""Every human view is generated from the resource table (`domain.resources`): a report worked out by hand shows
each resource — GPU included — in the HTML, the Markdown, the team pages, the CLI table, the status and manifest
totals; a resource added to the table at test time appears in all of them with no template changed; a use that
could not be measured is "unknown", never 0; a final period with gaps is amber "final — incomplete", never green."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime

import pytest
from rich.console import Console

from kubecharge import terminal
from kubecharge.domain import resource_table as resources
from kubecharge.domain.charges import Chargeback, ChargeLine, Costs, TeamInfo
from kubecharge.domain.ledger import Completeness, Gap
from kubecharge.domain.periods import parse
from kubecharge.domain.usage import ChargeBasis, ResourceQuantities
from kubecharge.handlers.periods import PeriodOutcome
from kubecharge.handlers.status import current_status, period_entry
from kubecharge.pipeline.outputs import totals_record
from kubecharge.pipeline.run import ReportResult
from kubecharge.render.documents import report_html, report_markdown, team_markdowns
from kubecharge.schedule import PlannedRun

START, END = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)
PRICES = {"cpuCoreHour": "0.031611", "memoryGiBHour": "0.004237", "gpuHour": "0.95", "storageGiBHour": "0.0000548",
          "networkGiB": "0.01"}  # fmt: skip
# ml: 100 core-h at 0.031611, 400 GiB-h at 0.004237, 1,000 GPU-h requested of which 250 used at 0.95, 1,000 GiB-h
# of storage at 0.0000548 and 20 GiB sent at 0.01, worked out by hand below.
ML = ResourceQuantities(cpu_core_hours_usage=60.0, cpu_core_hours_request=100.0, cpu_core_hours_max=100.0,
                        memory_gib_hours_usage=300.0, memory_gib_hours_request=400.0, memory_gib_hours_max=400.0,
                        gpu_hours_usage=250.0, gpu_hours_request=1000.0, gpu_hours_max=1000.0,
                        storage_gib_hours=1000.0, network_gib=20.0)  # fmt: skip
ML_COSTS = Costs(cpu=3.1611, memory=1.6948, gpu=950.0, storage=0.0548, network=0.2)
WEB = ResourceQuantities(
    cpu_core_hours_usage=10.0,
    cpu_core_hours_request=5.0,
    cpu_core_hours_max=10.0,
    memory_gib_hours_usage=20.0,
    memory_gib_hours_request=20.0,
    memory_gib_hours_max=20.0,
)
WEB_COSTS = Costs(cpu=0.31611, memory=0.08474)


def chargeback(**changes: object) -> Chargeback:
    lines = (
        ChargeLine("ml", "ml-training", ML, 100.0, 400.0, ML_COSTS),
        ChargeLine("web", "web-frontend", WEB, 10.0, 20.0, WEB_COSTS),
    )
    complete = Completeness(744, 744, 744, START, END, ())
    found = Chargeback("2026-10", START, END, "prod", ChargeBasis.MAX, "USD", PRICES, lines,
                       {"ml": TeamInfo("ml"), "web": TeamInfo("web")}, complete, state="final")  # fmt: skip
    return dataclasses.replace(found, **changes)  # type: ignore[arg-type]


def cli_table(report: Chargeback, monkeypatch: pytest.MonkeyPatch) -> str:
    buffer = io.StringIO()
    monkeypatch.setattr(terminal, "stdout", Console(file=buffer, width=200, force_terminal=False))
    terminal.print_teams(report)
    return buffer.getvalue()


def text(html: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html.decode()).split())


def test_gpu_cost_and_use_are_in_every_view(monkeypatch: pytest.MonkeyPatch) -> None:
    report = chargeback()
    html, markdown = text(report_html(report)), report_markdown(report).decode()
    team_page = team_markdowns(report)["ml"].decode()
    table = cli_table(report, monkeypatch)
    for view in (html, markdown, team_page, table):
        assert "GPU" in view
        assert "950.00" in view  # ml's GPU cost: 1,000 GPU-hours requested × 0.95
    # Used of requested: 250 of 1,000 GPU-hours (25 %), and the idle GPU cost 750 × 0.95 = 712.50.
    assert "250.0 / 1,000.0 (25.0%)" in html
    assert "712.50" in html
    assert "GPU 250.0 of 1,000.0 GPU-h requested (25.0%)" in team_page
    assert "GPU 750.0 GPU-h (712.50)" in team_page
    assert "| GPU GPU-h (used / requested / charged) | 250.0 / 1,000.0 / 1,000.0 · 950.00 USD (712.50 unused) |" in (
        markdown
    )
    assert '<span class="swatch" style="background: #c25b8f"></span>GPU' in report_html(report).decode()
    totals = totals_record(report)
    assert totals["gpuHours"] == 1000.0
    assert totals["gpuHoursUsed"] == 250.0
    assert totals["costByResource"]["gpu"] == 950.0
    assert totals["cost"] == pytest.approx(sum(ML_COSTS.of(r.key) + WEB_COSTS.of(r.key) for r in resources.RESOURCES))


def test_a_use_that_could_not_be_measured_is_unknown_never_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    why = "GPU utilisation is unknown: no DCGM_FI_DEV_GPU_UTIL series in the period"
    report = chargeback(unmeasured={"gpu": why})
    html, markdown = text(report_html(report)), report_markdown(report).decode()
    team_page = team_markdowns(report)["ml"].decode()
    assert "unknown / 1,000.0" in html
    assert why in html
    assert "unknown / 1,000.0 / 1,000.0" in markdown
    assert "GPU unknown of 1,000.0 GPU-h requested" in team_page
    assert "GPU unknown" in team_page  # its slack too
    assert "712.50" not in html + markdown + team_page  # no idle GPU cost made up from a use of 0
    assert totals_record(report)["gpuHoursUsed"] is None
    buffer = io.StringIO()
    monkeypatch.setattr(terminal, "stdout", Console(file=buffer, width=200))
    terminal.print_use(report)
    assert "GPU unknown of 1,000.0 GPU-h" in buffer.getvalue()


def test_a_resource_added_to_the_table_appears_in_every_view(monkeypatch: pytest.MonkeyPatch) -> None:
    """The entry reuses storage's columns (a real resource also needs its fields and a migration): what is tested
    is that no view names resources itself."""
    added = dataclasses.replace(resources.BY_KEY["storage"], label="Scratch space", json_name="scratchGiBHours",
                                colour="#123456")  # fmt: skip
    monkeypatch.setattr(resources, "RESOURCES", (*resources.RESOURCES, added))
    report = chargeback()
    html, markdown = report_html(report).decode(), report_markdown(report).decode()
    for view in (html, markdown, team_markdowns(report)["ml"].decode(), cli_table(report, monkeypatch)):
        assert "Scratch space" in view
    assert '<span class="swatch" style="background: #123456"></span>Scratch space' in html  # the chart's legend
    assert 'fill="#123456"' in html  # and its bars
    assert totals_record(report)["scratchGiBHours"] == 1000.0  # the manifest's totals
    status = current_status(PeriodOutcome(PlannedRun(parse("2026-10"), final=True), ReportResult(report, 1, 0, 0)))
    assert status["totals"]["scratchGiBHours"] == 1000.0  # the UsageReport status' totals


def test_a_final_period_with_gaps_is_amber_in_every_view(monkeypatch: pytest.MonkeyPatch) -> None:
    gaps = Completeness(744, 744, 72, START, START.replace(day=3, hour=23), (Gap(START.replace(day=4), END),))
    report = chargeback(completeness=gaps)
    label = "final — incomplete (data for 72 of 744 hours)"
    assert report.state_label == label
    html = report_html(report).decode()
    assert f'<span class="state state-incomplete" id="state">{label}</span>' in html
    assert "state-final" not in html.split("</style>")[1]  # never the green badge
    assert f"**final** — **{label}**" in report_markdown(report).decode()
    assert f"**{label}**" in team_markdowns(report)["ml"].decode()
    assert label in " ".join(cli_table(report, monkeypatch).split())
    complete = chargeback()
    assert complete.state_label == "final"
    assert '<span class="state state-final" id="state">final</span>' in report_html(complete).decode()
    assert "state-incomplete" not in report_html(complete).decode().split("</style>")[1]


def test_the_status_of_a_final_period_with_gaps_says_incomplete() -> None:
    gaps = Completeness(744, 744, 72, START, START.replace(day=3, hour=23), (Gap(START.replace(day=4), END),))
    result = ReportResult(chargeback(completeness=gaps), 1, 0, 0)
    entry = period_entry(PeriodOutcome(PlannedRun(parse("2026-10"), final=True), result), END)
    assert entry["phase"] == "Finalized"
    assert entry["state"] == "final — incomplete (data for 72 of 744 hours)"
