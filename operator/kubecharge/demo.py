"""`kubecharge demo`: the real pipeline end to end on a synthetic cluster, with no Kubernetes cluster at all.

It generates a month of kube-state-metrics and cAdvisor history (with every real-data trap), loads it into a
private Prometheus with promtool, writes the TeamMappings it uses, runs `kubecharge report` against it and
prints the per-team table — next to the generator's own truth, so the numbers can be checked by eye.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import Progress

from kubecharge.domain import periods
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.periods import Period, PeriodKind
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import DemoError
from kubecharge.manifests import load_team_mappings
from kubecharge.pipeline.job import ReportJob, open_ledger, produce_report, s3_from_settings
from kubecharge.settings import load_settings
from kubecharge.synthetic.local_prometheus import LocalPrometheus, PrometheusMissing, backfill
from kubecharge.synthetic.model import build_cluster, truth

DEMO_START = datetime(2026, 10, 1, tzinfo=UTC)


def demo_period(days: int) -> Period:
    if days == 31:
        return periods.month(DEMO_START.year, DEMO_START.month)
    return Period(DEMO_START, DEMO_START + timedelta(days=days), PeriodKind.CUSTOM)


def run_demo(
    *,
    out: Path,
    days: int,
    step_seconds: int,
    keep: Path | None,
    console: Console,
    print_teams: Callable[[Chargeback], None],
) -> None:
    if 3600 % step_seconds:
        raise DemoError(f"--step {step_seconds}: choose a divisor of 3600 (60, 120, 300, ...)")
    work = keep or Path(tempfile.mkdtemp(prefix="kubecharge-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        cluster = build_cluster(DEMO_START, days=days, step_seconds=step_seconds)
        console.print(
            f"Synthetic cluster: {len(cluster.namespaces)} namespaces, {len(cluster.pods)} pods, "
            f"{len(cluster.nodes)} nodes, {days} days at a {step_seconds}s scrape interval"
        )
        tsdb = work / "tsdb"
        if not (tsdb.is_dir() and any(tsdb.iterdir())):
            try:
                with Progress(console=console, transient=True) as bar:
                    task = bar.add_task("Loading history into Prometheus (promtool)", total=None)
                    backfill(
                        cluster,
                        tsdb,
                        work / "scratch",
                        on_window=lambda done, total: bar.update(task, completed=done, total=total),
                    )
            except PrometheusMissing as error:
                raise DemoError(str(error)) from None
        mappings = work / "teams.yaml"
        mappings.write_text(yaml.safe_dump_all(cluster.team_mappings, sort_keys=False))
        period = demo_period(days)
        with LocalPrometheus(tsdb) as prometheus:
            console.print(f"Prometheus with the synthetic history: {prometheus.url}")
            settings = load_settings()
            job = ReportJob(
                settings=settings, period=period, mappings=load_team_mappings(mappings), spec=UsageReportSpec(),
                now=datetime.now(UTC), runner="demo", s3=lambda: s3_from_settings(settings),
                prometheus_url=prometheus.url, clusters=[cluster.cluster_name], folder=out,
                source="demo-prometheus",  # its port changes from run to run; with --keep the ledger is reused
            )  # fmt: skip
            produced = produce_report(job, lambda: closing(open_ledger(f"sqlite:///{work / 'kubecharge.db'}")))
        result = produced.result
        print_teams(result.chargeback)
        expected = truth(cluster).by_team(period.start, period.end)
        worst = max(
            abs(team.cpu_core_hours_charged - expected[team.team]["cpu_core_hours_max"])
            / max(expected[team.team]["cpu_core_hours_max"], 1e-9)
            for team in result.chargeback.teams()
        )
        console.print(f"Largest per-team gap to the generator's truth (charged core-hours): {100 * worst:.3f}%")
        console.print(f"Report files in {out.resolve()}: {', '.join(sorted(produced.files))}")
        console.print(f"TeamMappings used: {mappings}" if keep else "Pass --keep DIR to keep the Prometheus data.")
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
