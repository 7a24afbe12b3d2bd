"""The HTML report in a real browser: headless Chromium prints it to PDF (A4 and Letter) and renders it at 360, 800
and 1400 px; the assertions read the PDF's text (pdftotext) and the DOM Chromium laid out.

What a team lead must find in it is checked against the report's own CSV (every team) and the run (state,
version, completeness, currency); the layout checks are that nothing is wider than a phone's viewport and that no
table row is cut across a page break, with table headers repeated on every page a table continues on.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from kubecharge import __version__
from tests.conftest import PERIOD
from tests.support.browser import chromium, layout_probe, pdf_pages
from tests.support.reports import read_csv, run_in_process

# Headless Chromium's window is at least 500 px wide: a narrower screen is the page laid out at that width
# (its media queries for narrow screens hold from 640 px down), measured against it.
TREND = 'trend: document.querySelectorAll("#trend-chart rect").length'


@pytest.fixture(scope="module")
def report(prometheus_url: str, mappings_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("html")
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", PERIOD,
        "--out", str(work / "out"), "--db", f"sqlite:///{work / 'k.db'}", "--cluster", "synthetic",
    )  # fmt: skip
    assert code == 0, output
    return work / "out"


@pytest.mark.parametrize("paper", ["A4", "Letter"])
def test_the_printed_report_says_what_it_is_and_cuts_no_row(report: Path, paper: str, tmp_path: Path) -> None:
    pages = pdf_pages(report / "report.html", paper, tmp_path)
    assert len(pages) >= 2
    text = "\n".join(pages)
    flat = " ".join(text.split())
    assert "FINAL" in flat  # the period ended long ago: the state badge
    assert f"kubecharge {__version__}" in flat
    assert "Data completeness: data for 48 of 48 hours" in flat
    assert "Cost by team (USD)" in flat
    assert "Daily cost by team (USD)" in flat
    # The outlook: payments' budget of 500 USD a month, held to the two days' share of October (48 of 744 hours);
    # the period is over (no forecast), and two days are too few to judge any day.
    budget = 500 * 48 / 744
    spent = sum(float(row["cost_total"]) for row in read_csv(report / "chargeback.csv") if row["team"] == "payments")
    reached = (
        ", ".join(str(t) for t in (50, 75, 90, 100) if 100 * spent / budget >= t) + " %"
        if spent >= budget / 2
        else "none"
    )
    assert f"payments {budget:,.2f} {spent:,.2f} {100 * spent / budget:.1f}% — — {reached}" in flat, flat[:3000]
    assert "No day of this period departed from its usual cost." in flat
    rows = read_csv(report / "chargeback.csv")
    for team in {row["team"] for row in rows}:
        assert team in flat, team
    for number, page in enumerate(pages, start=1):
        assert f"page {number} of {len(pages)}" in " ".join(page.split()), f"footer of page {number}"
    # Every namespace row of the per-team tables: on one line of one page, and under a repeated header.
    for row in rows:
        cost = f"{float(row['cost_total']):,.2f}"
        found = [(number, line) for number, page in enumerate(pages, start=1) for line in page.splitlines()
                 if re.match(rf"\s*{re.escape(row['namespace'])}\s", line)]  # fmt: skip
        assert found, row["namespace"]
        assert any(line.rstrip().endswith(cost) for _, line in found), (row["namespace"], cost, found)
        for number, _ in found:
            assert "Namespace" in pages[number - 1], f"page {number} holds rows without their table's header"


@pytest.mark.parametrize("width", [360, 800, 1400])
def test_nothing_overflows_the_screen_and_the_trend_is_drawn(report: Path, width: int, tmp_path: Path) -> None:
    page = tmp_path / "probed.html"
    probe_script = layout_probe(width, TREND)
    page.write_text((report / "report.html").read_text().replace("</body>", probe_script + "\n</body>"))
    dumped = chromium(f"--window-size={width},1000", "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout)
    assert found, dumped.stderr[-2000:]
    probe = json.loads(found[1].replace("&quot;", '"'))
    assert probe["width"] == width
    assert probe["wide"] == [], probe["wide"][:10]
    daily = read_csv(report / "chargeback-daily.csv")
    segments = {(row["period_start"], row["team"]) for row in daily if float(row["cost_total"]) > 0}
    assert probe["trend"] == len(segments)  # one segment per day and team with a cost
    shot = tmp_path / f"report-{width}.png"
    chromium(f"--window-size={max(width, 500)},2400", f"--screenshot={shot}", (report / "report.html").as_uri())
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_period_shows_the_one_before_it_from_the_ledger(
    prometheus_url: str, mappings_file: Path, report: Path
) -> None:
    """The fixture's run put 2026-10-01 and -02 in the ledger; a report on the 2nd shows the 1st's total, which is
    the 1st's rows of the daily CSV (same prices)."""
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", "2026-10-02",
        "--out", str(report.parent / "day"), "--db", f"sqlite:///{report.parent / 'k.db'}", "--cluster", "synthetic",
    )  # fmt: skip
    assert code == 0, output
    first_day = sum(float(row["cost_total"]) for row in read_csv(report / "chargeback-daily.csv")
                    if row["period_start"] == "2026-10-01T00:00:00Z")  # fmt: skip
    html = (report.parent / "day" / "report.html").read_text()
    found = re.search(r'<div class="card" id="previous">Previous period \(2026-10-01\)<b>([0-9,.]+) USD</b>', html)
    assert found, html[:2000]
    assert found[1] == f"{first_day:,.2f}"


def test_a_full_cost_report_shows_direct_idle_shared_and_the_cluster_cost(
    prometheus_url: str, mappings_file: Path, report: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "full-cost.yaml"
    manifest.write_text(json.dumps({
        "apiVersion": "kubecharge.io/v1alpha1", "kind": "UsageReport", "metadata": {"name": "full-cost"},
        "spec": {"pricing": {"nodes": [{"match": {"capacityType": "spot"}, "hourly": "0.5"}, {"hourly": "2.25"}]},
                 "costModel": {"idle": "distribute", "shared": {"namespaces": ["kube-system", "monitoring"]}}},
    }))  # fmt: skip
    out = tmp_path / "out"
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period", PERIOD,
        "--out", str(out), "--db", f"sqlite:///{report.parent / 'k.db'}", "--cluster", "synthetic",
        "--report", str(manifest),
    )  # fmt: skip
    assert code == 0, output
    summary = json.loads((out / "chargeback.json").read_text())
    flat = " ".join("\n".join(pdf_pages(out / "report.html", "A4", tmp_path)).split())
    assert "Full cost: what the cluster cost, and who carries it" in flat
    assert f"The cluster cost {summary['clusterCost']['total']:,.2f} USD" in flat
    for team in summary["teams"]:  # each team's row of the allocation table: direct, idle, shared, allocated
        cost = team["cost"]
        cells = [f"{round(cost[key], 2) or 0.0:,.2f}" for key in ("total", "idleShare", "sharedShare",
                                                                    "totalAllocated")]  # fmt: skip
        assert " ".join(cells) in flat, (team["team"], cells)
    page = tmp_path / "probed.html"
    page.write_text((out / "report.html").read_text().replace("</body>", layout_probe(360) + "\n</body>"))
    dumped = chromium("--window-size=360,1000", "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout)
    assert found, dumped.stderr[-2000:]
    assert json.loads(found[1].replace("&quot;", '"'))["wide"] == []


def test_gpu_cost_and_use_are_printed_for_every_team(report: Path, tmp_path: Path) -> None:
    """GPU, like every resource of the table, has its column in the teams table (each team's GPU cost as the CSV
    adds it up) and its used / requested GPU-hours with the idle GPU cost, as Chromium prints the page."""
    flat = " ".join("\n".join(pdf_pages(report / "report.html", "A4", tmp_path)).split())
    assert "Teams Team Cost CPU Memory GPU Storage Network Total Slack" in flat  # the header (cells wrap in print)
    summary = json.loads((report / "chargeback.json").read_text())
    for team in summary["teams"]:
        costs = [team["cost"][key] for key in ("cpu", "memory", "gpu", "storage", "network", "total")]
        assert " ".join(f"{round(cost, 2) or 0.0:,.2f}" for cost in costs) in flat, team["team"]
    (ml,) = [team for team in summary["teams"] if team["team"] == "ml"]
    assert ml["gpuHoursRequest"] > ml["gpuHoursUsage"] > 0
    share = ml["gpuHoursUsage"] / ml["gpuHoursRequest"]
    assert f"{ml['gpuHoursUsage']:,.1f} / {ml['gpuHoursRequest']:,.1f}" in flat  # the share wraps below it in print
    assert f"({share:.1%})" in flat
    idle = (ml["gpuHoursRequest"] - ml["gpuHoursUsage"]) * 0.95
    assert f"{idle:,.2f}" in flat  # GPUs allocated and idle, at the GPU-hour price


def test_a_final_period_with_gaps_is_amber_and_says_so(
    prometheus_url: str, mappings_file: Path, report: Path, tmp_path: Path
) -> None:
    code, output = run_in_process(
        "report", "--prometheus", prometheus_url, "--mappings", str(mappings_file), "--period",
        "2026-09-30/2026-10-02", "--out", str(tmp_path / "out"), "--db", f"sqlite:///{report.parent / 'k.db'}",
        "--cluster", "synthetic",
    )  # fmt: skip
    assert code == 0, output
    label = "final — incomplete (data for 24 of 48 hours)"
    assert label in " ".join(output.split())
    page = tmp_path / "probed.html"
    probe = """<script>window.addEventListener("load", () => { const badge = document.getElementById("state");
      const probe = document.createElement("pre"); probe.id = "probe";
      probe.textContent = JSON.stringify({text: badge.textContent, colour: getComputedStyle(badge).backgroundColor});
      document.body.appendChild(probe); });</script>"""
    page.write_text((tmp_path / "out" / "report.html").read_text().replace("</body>", probe + "\n</body>"))
    dumped = chromium("--window-size=1200,1000", "--virtual-time-budget=3000", "--dump-dom", page.as_uri())
    found = re.search(r'<pre id="probe">(.*?)</pre>', dumped.stdout)
    assert found, dumped.stderr[-2000:]
    badge = json.loads(found[1].replace("&quot;", '"'))
    assert badge == {"text": label, "colour": "rgb(253, 231, 196)"}  # amber, never the final green (227, 241, 229)
    flat = " ".join("\n".join(pdf_pages(tmp_path / "out" / "report.html", "A4", tmp_path)).split())
    assert label in flat
    assert "final, but incomplete" in flat


def test_each_team_lists_its_workloads_and_the_unallocated_ones_are_named(report: Path, tmp_path: Path) -> None:
    """Under each team, its namespaces' workloads by cost (slack beside each), as Chromium prints the page; the
    costliest unallocated workloads in a section of their own. Checked against chargeback-workloads.csv."""
    flat = " ".join("\n".join(pdf_pages(report / "report.html", "A4", tmp_path)).split())
    assert "Workload Kind Namespace Slack (USD) Cost (USD)" in flat
    rows = read_csv(report / "chargeback-workloads.csv")
    payments = max((row for row in rows if row["team"] == "payments"), key=lambda row: float(row["cost_total"]))
    cost = float(payments["cost_total_allocated"])
    assert f"{payments['workload']} {payments['workload_kind']} {payments['namespace']}" in flat
    assert f"{round(cost, 2):,.2f}" in flat
    unallocated = max((row for row in rows if row["team"] == "unallocated"), key=lambda row: float(row["cost_total"]))
    assert "Unallocated workloads" in flat
    assert f"{unallocated['workload']} {unallocated['workload_kind']} {unallocated['namespace']}" in flat
    # what would claim it (a cell that wraps anywhere in print: read from the DOM Chromium laid out)
    dom = chromium("--window-size=1200,1000", "--dump-dom", (report / "report.html").as_uri()).stdout
    assert f"namespaces: [{unallocated['namespace']}]" in dom


def test_each_team_shows_its_recommended_saving_beside_its_slack_and_its_top_containers(
    report: Path, tmp_path: Path
) -> None:
    """The saving per team (what recommendations.csv's positive, non-HPA savings add up to) next to its slack, in
    the teams' table and the team's section, with its largest recommendation; as Chromium prints the page."""
    flat = " ".join("\n".join(pdf_pages(report / "report.html", "A4", tmp_path)).split())
    summary = json.loads((report / "chargeback.json").read_text())
    platform = summary["recommendedSaving"]["teams"]["platform"]
    assert platform > 0
    assert "Recommended saving" in flat
    assert f"{summary['recommendedSaving']['total']:,.2f} USD/month" in flat
    assert f"Requests: recommended saving {platform:,.2f} USD/month" in flat
    rows = [row for row in read_csv(report / "recommendations.csv") if row["team"] == "platform"
            and row["monthly_saving"] and row["hpa"] == "false"]  # fmt: skip
    top = max(rows, key=lambda row: float(row["monthly_saving"]))
    assert f"{top['workload_kind']}/{top['workload']} · {top['container']}" in flat
    assert f"{float(top['cpu_request_cores']):,.3f} → {float(top['cpu_recommended_cores']):,.3f}" in flat
    assert f"{float(top['monthly_saving']):,.2f}" in flat


def test_every_csv_row_names_its_teams_cost_centre(report: Path, mappings_file: Path) -> None:
    """`cost_center` (appended last) is the costCenter of the team's TeamMappings — the one that sets it, where
    several feed one team (apps adds namespaces to platform and sets none) — and empty for unallocated lines."""
    centres: dict[str, str] = {}
    for mapping in yaml.safe_load_all(mappings_file.read_text()):
        if mapping["spec"].get("costCenter"):
            centres.setdefault(mapping["spec"]["team"], mapping["spec"]["costCenter"])
    for name in ("chargeback.csv", "chargeback-daily.csv", "chargeback-workloads.csv"):
        rows = read_csv(report / name)
        assert list(rows[0])[-1] == "cost_center", name
        for row in rows:
            assert row["cost_center"] == centres.get(row["team"], ""), (name, row["team"], row["cost_center"])
        assert {row["team"] for row in rows if row["cost_center"]} >= {"payments", "platform"}
    summary = json.loads((report / "chargeback.json").read_text())
    assert summary["bookedTotal"]["column"] == "cost_total_allocated"
    booked = sum(float(row["cost_total_allocated"]) for row in read_csv(report / "chargeback.csv"))
    assert summary["bookedTotal"]["amount"] == pytest.approx(booked)
    assert summary["totals"]["storageGiBMonths"] == pytest.approx(summary["totals"]["storageGiBHours"] / 730)
