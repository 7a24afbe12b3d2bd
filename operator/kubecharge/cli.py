"""The `kubecharge` command line. Scripts depend on `kubecharge report`'s options and exit codes: keep them.

Exit codes: 0 success; 1 unexpected; 2 bad input (manifest, period, option, an unwritable --out or
--publish folder); 3 Prometheus unreachable or empty; 4 database error; 5 the report folder or object storage
refused a write after the run; 6 `verify` found a mismatch. A user error prints one line on stderr, never a
traceback, and writes nothing: every input is checked before the first write.
"""

from __future__ import annotations

import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kubecharge import __version__, allocators, manifests
from kubecharge.domain import periods
from kubecharge.domain import resources as resource_table
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.periods import iso
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.domain.usage import used_of_requested
from kubecharge.errors import InputError, KubechargeError
from kubecharge.pipeline.admin import downgrade_ledger, ledger_schema, upgrade_ledger, verify_export
from kubecharge.pipeline.job import ReportJob, open_ledger, produce_report, s3_from_settings
from kubecharge.settings import load_settings

app = typer.Typer(
    name="kubecharge",
    help="Kubernetes chargeback from Prometheus: per-team core-hours, GiB-hours and cost.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    rich_markup_mode=None,  # help texts say `[default: ...]` literally; as Rich markup it would vanish
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(asked: bool) -> None:
    if asked:
        stdout.print(f"kubecharge {__version__}", highlight=False)
        raise typer.Exit(0)


@app.callback()
def options(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Kubernetes chargeback from Prometheus: per-team core-hours, GiB-hours and cost."""


stdout = Console(width=None if sys.stdout.isatty() else 140)  # scripts and logs get whole tables
stderr = Console(stderr=True)


def fail(error: KubechargeError) -> typer.Exit:
    stderr.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


@contextmanager
def chunk_progress(label: str) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar over the hours collected when stderr is a terminal; silent in scripts and CI."""
    if not stderr.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def print_teams(chargeback: Chargeback) -> None:
    """Per team, its direct cost by resource of the table (and under full cost its idle and shared shares)."""
    currency = chargeback.currency
    table = Table(
        title=f"Chargeback {chargeback.period_name} — cluster {chargeback.cluster} (basis: {chargeback.basis}, "
        f"{currency}) — {chargeback.state_label}"
    )
    full = chargeback.cluster_cost is not None
    money = ("Direct", "Idle", "Shared", "Allocated") if full else ("Total",)
    table_resources = resource_table.RESOURCES
    columns = ("Team", "Namespaces", *(resource.label or resource.key for resource in table_resources), *money)
    for column in columns:
        if column == "Team":  # never cut a team's name; numbers wrap (fold) rather than lose digits
            table.add_column(column, no_wrap=True, min_width=max((len(t.team) for t in chargeback.teams()), default=4))
        else:
            table.add_column(column, justify="right", overflow="fold")

    def shown(amount: float) -> str:
        return f"{round(amount, 2) or 0.0:,.2f}"  # never "-0.00"

    def amounts(direct: float, idle: float, shared: float) -> tuple[str, ...]:
        return tuple(map(shown, (direct, idle, shared, direct + idle + shared) if full else (direct,)))

    for team in chargeback.teams():
        table.add_row(
            team.team,
            str(len(team.namespaces)),
            *(shown(team.costs.of(resource.key)) for resource in table_resources),
            *amounts(team.costs.total, team.idle_share, team.shared_share),
        )
    costs = chargeback.total_costs
    table.add_section()
    table.add_row(
        "total", "", *(shown(costs.of(resource.key)) for resource in table_resources),
        *amounts(costs.total, chargeback.idle_share, chargeback.shared_share), style="bold",
    )  # fmt: skip
    stdout.print(table)
    stdout.print(
        f"Attribution coverage: {100 * chargeback.coverage:.1f}% of charged core-hours; "
        f"unallocated cost {chargeback.unallocated_cost:,.2f} {chargeback.currency}"
    )
    print_use(chargeback)
    cost = chargeback.cluster_cost
    if cost is not None:
        stdout.print(
            f"Cluster cost {cost.total:,.2f} {chargeback.currency}: nodes {cost.nodes:,.2f} (GPU {cost.gpu:,.2f}), "
            f"storage {cost.storage:,.2f}, network {cost.network:,.2f}"
            + (f", compute on no known node {cost.unplaced:,.2f}" if cost.unplaced else "")
            + f"; idle {cost.idle:,.2f} ({chargeback.idle_mode})"
        )
    print_outlook(chargeback)


ANOMALIES_SHOWN = 10


def print_use(chargeback: Chargeback) -> None:
    """Used of requested per container resource of the table: where requests (and GPUs) sit idle."""
    totals = chargeback.total_quantities
    parts = []
    for resource in resource_table.RESOURCES:
        requested = float(getattr(totals, f"{resource.quantity}_request", 0.0))
        if resource.scope is not resource_table.Scope.CONTAINER or not requested:
            continue
        label = resource.label or resource.key
        ratio = used_of_requested(totals, resource, resource.key not in chargeback.unmeasured)
        used = f"{ratio * requested:,.1f}" if ratio is not None else "unknown"
        parts.append(
            f"{label} {used} of {requested:,.1f} {resource.unit}" + (f" ({ratio:.0%})" if ratio is not None else "")
        )
    if parts:
        stdout.print("Used of requested: " + "; ".join(parts), soft_wrap=True)


def print_outlook(chargeback: Chargeback) -> None:
    """The forecast, budgets and anomalies, a line each: what a team lead looks for first."""
    outlook, currency = chargeback.outlook, chargeback.currency
    if outlook is None:
        return
    found = outlook.cluster_forecast
    if found is not None:
        stdout.print(f"Forecast at the period's end (as of {iso(outlook.as_of)}): {found.cost:,.2f} {currency} "
                     f"(80 % interval {found.lower:,.2f}–{found.upper:,.2f})", soft_wrap=True)  # fmt: skip
    for use in outlook.budgets:
        if use.problem is not None:
            stderr.print(f"[bold yellow]warning:[/] TeamMapping budget of team {use.team}: {use.problem}",
                         highlight=False, soft_wrap=True)  # fmt: skip
            continue
        ratio = f"{100 * use.used_ratio:.1f}%" if use.used_ratio is not None else "n/a"
        ahead = (f", forecast {use.forecast:,.2f} ({100 * use.forecast_ratio:.1f}%)"
                 if use.forecast is not None and use.forecast_ratio is not None else "")  # fmt: skip
        stdout.print(f"Budget {use.team}: {use.actual:,.2f} of {use.budget:,.2f} {currency} used ({ratio}){ahead}"
                     + (" — forecast over budget" if use.forecast_exceeded else ""), soft_wrap=True)  # fmt: skip
    shown = outlook.anomalies[-ANOMALIES_SHOWN:]  # the latest; the reports and chargeback.json list them all
    if len(outlook.anomalies) > len(shown):
        stdout.print(f"{len(outlook.anomalies)} anomalous days; the latest {len(shown)} (report.md lists them all):")
    for item in shown:
        stdout.print(f"Anomaly {item.day}: {item.subject} cost {item.cost:,.2f} {currency}, usually "
                     f"{item.expected:,.2f} (range {item.lower:,.2f}–{item.upper:,.2f})", soft_wrap=True)  # fmt: skip


def parse_moment(text: str | None) -> datetime | None:
    """`--as-of`: an ISO-8601 time, UTC unless it says otherwise."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--as-of {text!r} is not an ISO-8601 time; use e.g. 2026-10-15T12:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


@app.command()
def report(
    mappings: Annotated[
        Path, typer.Option("--mappings", metavar="PATH", help="TeamMapping YAML file (multi-document) or folder.")
    ],
    period: Annotated[
        str, typer.Option("--period", metavar="PERIOD", help="YYYY-MM, YYYY-Www, YYYY-MM-DD or START/END (UTC).")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", help="Folder for chargeback.csv/json and report.md/html.")
    ],
    prometheus: Annotated[
        str | None,
        typer.Option(
            "--prometheus",
            metavar="URL",
            help="Prometheus URL [default: $KUBECHARGE_PROMETHEUS_URL or http://localhost:9090].",
        ),
    ] = None,
    report_file: Annotated[
        Path | None, typer.Option("--report", metavar="FILE", help="UsageReport manifest: basis and prices.")
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db", metavar="URL", help="SQLAlchemy URL [default: $KUBECHARGE_DATABASE_URL or sqlite:///kubecharge.db]."
        ),
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster",
            metavar="NAME",
            help="Cluster to report on, repeatable: a value of the cluster label (KUBECHARGE_CLUSTER_LABEL) where "
            "the source holds many, else this cluster's name [default: $KUBECHARGE_CLUSTER_NAME].",
        ),
    ] = None,
    all_clusters: Annotated[
        bool, typer.Option("--all-clusters", help="Report on every cluster the source holds, one line per cluster.")
    ] = False,
    publish: Annotated[
        str | None,
        typer.Option(
            "--publish",
            metavar="URL",
            help="Also publish a versioned export to s3://bucket/prefix or file:///path "
            "(final once finalizeAfter has passed since the period ended).",
        ),
    ] = None,
    recollect: Annotated[
        bool,
        typer.Option(
            "--recollect",
            help="Ask Prometheus again for every hour of the period it still holds (late data, a restatement); "
            "hours it no longer holds keep what the database has.",
        ),
    ] = False,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of", metavar="TIME", help="Report as of this time (ISO-8601, UTC): later hours are not charged."
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--source",
            metavar="NAME",
            help="Name of the metrics source in the database [default: $KUBECHARGE_SOURCE_NAME for the default "
            "Prometheus, else its URL].",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Write into an --out folder that holds other files than a report's.")
    ] = False,
    require_complete: Annotated[
        bool,
        typer.Option(
            "--require-complete",
            help="Fail with exit code 8, writing and publishing nothing, unless every hour of the period has data "
            "(for finance pipelines that must never book an incomplete period).",
        ),
    ] = False,
    node_costs: Annotated[
        Path | None,
        typer.Option(
            "--node-costs",
            metavar="FILE",
            help="A FOCUS 1.2 cloud bill (CSV or Parquet) whose EffectiveCost prices the nodes it lists per hour "
            "(ResourceId = the node's provider ID); turns on full-cost allocation.",
        ),
    ] = None,
) -> None:
    """Collect a period from Prometheus, attribute it to teams, price it and write the report files.

    The database is the ledger: complete hours it already holds are not asked for again (except the last
    KUBECHARGE_RECHECK_HOURS, for late data), so history outlives Prometheus' retention.
    """
    with chunk_progress("Querying Prometheus") as progress:
        try:
            settings = load_settings()
            moment = parse_moment(as_of) or datetime.now(UTC)
            parsed, teams = periods.parse(period), manifests.load_team_mappings(mappings)
            spec = manifests.load_usage_report(report_file) if report_file is not None else UsageReportSpec()
            job = ReportJob(
                settings=settings, period=parsed, mappings=teams, spec=spec, now=moment,
                runner=f"cli@{socket.gethostname()}", s3=lambda: s3_from_settings(settings, spec),
                prometheus_url=prometheus, clusters=cluster or (), all_clusters=all_clusters, recollect=recollect,
                source=source, node_costs=node_costs, export_to=publish, folder=out, force=force,
                require_complete=require_complete, progress=progress,
            )  # fmt: skip
            produced = produce_report(job, lambda: closing(open_ledger(db or settings.database_url)))
        except KubechargeError as error:
            raise fail(error) from None
    result = produced.result
    print_teams(result.chargeback)
    for note in result.notes:
        stderr.print(f"[bold yellow]warning:[/] {note}", highlight=False, soft_wrap=True)
    for name in result.unmatched_mappings:
        warning = (f"TeamMapping {name} matched no namespace in {result.chargeback.period_name}; check its "
                   "spec.namespaces, namespaceSelector and namespacePatterns")  # fmt: skip
        stderr.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    chargeback = result.chargeback
    if chargeback.incomplete:
        warning = (f"{chargeback.period_name} is {chargeback.state_label}: the figures cover only the hours with "
                   "data; --require-complete fails such a run")  # fmt: skip
        stderr.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    if chargeback.completeness is not None and not chargeback.completeness.complete:
        stdout.print(f"Completeness: {chargeback.completeness.describe()}", soft_wrap=True)
    stdout.print(f"State: {chargeback.state_label}", soft_wrap=True)
    stdout.print(
        f"Asked Prometheus for {result.hours_queried} hours (the rest came from the database); "
        f"wrote {', '.join(sorted(produced.files))} to {out}",
        soft_wrap=True,
    )
    if produced.queries_split:
        stdout.print(f"{produced.queries_split} queries were split in time to fit the backend's sample limit.")
    export = produced.export
    if export is not None:
        if export.version:
            stdout.print(f"Published {export.location}/{export.version} ({export.reason})", soft_wrap=True)
        else:
            stdout.print(f"Nothing new to publish at {export.location}: {export.reason}", soft_wrap=True)


@app.command()
def verify(
    url: Annotated[
        str,
        typer.Argument(
            help="A published version: s3://.../<period>/v<N>-<state>, file:///... or a local folder "
            "(or its manifest.json).",
            metavar="VERSION",
        ),
    ],
) -> None:
    """Re-read a published export and check every file against its manifest's size and SHA-256.

    Exit 0: every file matches; 6: a file differs or is missing; 7: the export cannot be read at all."""
    try:
        location, checked = verify_export(url, s3_from_settings(load_settings()))
    except KubechargeError as error:
        raise fail(error) from None
    for problem in checked.problems:
        stderr.print(f"[bold red]mismatch:[/] {location}/{problem}", highlight=False, soft_wrap=True)
    summary = (checked.manifest.get("completeness") or {}).get("summary")
    if summary:
        state = checked.manifest.get("state") or location.rsplit("-", 1)[-1]
        stdout.print(f"Completeness: {summary} ({state})", soft_wrap=True)
    if checked.problems:
        raise typer.Exit(6)
    stdout.print(f"OK: every file in {location} matches its manifest", soft_wrap=True)


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder for the report files.")] = Path(
        "demo-report"
    ),
    days: Annotated[int, typer.Option("--days", metavar="DAYS", min=1, max=62, help="Days of synthetic history.")] = 31,
    step_seconds: Annotated[
        int, typer.Option("--step", metavar="SECONDS", help="Scrape interval of the synthetic data.")
    ] = 300,
    keep: Annotated[
        Path | None, typer.Option("--keep", metavar="DIR", help="Keep the generated Prometheus data here.")
    ] = None,
) -> None:
    """Run the whole pipeline on a synthetic cluster in a private local Prometheus (needs no cluster)."""
    from kubecharge.demo import run_demo  # only the demo imports the generator; keep `report` start-up light

    try:
        run_demo(out=out, days=days, step_seconds=step_seconds, keep=keep, console=stdout, print_teams=print_teams)
    except KubechargeError as error:
        raise fail(error) from None


@app.command()
def operator() -> None:
    """Run the Kubernetes operator (kopf): reconciles TeamMappings and UsageReports until stopped.

    Connects the standard way (in-cluster service account, else KUBECONFIG) unless KUBECHARGE_KUBE_API_URL is
    set. Settings are KUBECHARGE_* environment variables: PROMETHEUS_URL, DATABASE_URL, CLUSTER_NAME,
    REPORT_INTERVAL_SECONDS, MAPPING_INTERVAL_SECONDS, RETRY_DELAY_SECONDS, RETRY_MAX_DELAY_SECONDS,
    METRICS_PORT, LIVENESS_PORT, PEERING_NAME, STANDALONE, QUERY_CHUNK_HOURS, PROMETHEUS_TIMEOUT_SECONDS,
    PROMETHEUS_CONCURRENCY, RECHECK_HOURS, SETTLE_SECONDS, SOURCE_NAME (see the README for each).
    """
    import asyncio

    import kopf

    from kubecharge.handlers.app import run_operator  # kopf is only needed here

    try:
        settings = load_settings()
        kopf.configure(log_format=kopf.LogFormat.FULL)  # kopf's and kubecharge's logs at INFO on stderr
        asyncio.run(run_operator(settings))
    except KubechargeError as error:
        raise fail(error) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


db_app = typer.Typer(help="The rollup database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="SQLAlchemy URL [default: $KUBECHARGE_DATABASE_URL].")
    ] = None,
) -> None:
    """Create or upgrade the database schema to this kubecharge's version (safe to run again)."""
    try:
        change = upgrade_ledger(db or load_settings().database_url)
        stdout.print(f"Schema of {change.database}: {change.before or 'none'} -> {change.after}", soft_wrap=True)
    except KubechargeError as error:
        raise fail(error) from None


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="The schema revision to go back to, e.g. 0002.")],
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="SQLAlchemy URL [default: $KUBECHARGE_DATABASE_URL].")
    ] = None,
) -> None:
    """Roll the schema back to REVISION before going back to an older kubecharge (see each migration's notes)."""
    try:
        change = downgrade_ledger(db or load_settings().database_url, revision)
        stdout.print(f"Schema of {change.database}: {change.before or 'none'} -> {change.after or 'none'}",
                     soft_wrap=True)  # fmt: skip
    except KubechargeError as error:
        raise fail(error) from None


@db_app.command("current")
def db_current(
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="SQLAlchemy URL [default: $KUBECHARGE_DATABASE_URL].")
    ] = None,
) -> None:
    """Print the database's schema version and the one this kubecharge needs."""
    try:
        found, needed = ledger_schema(db or load_settings().database_url)
        stdout.print(f"{found.database}: {found.before or 'none'} (this kubecharge needs {needed})", soft_wrap=True)
    except KubechargeError as error:
        raise fail(error) from None


@app.command()
def version() -> None:
    """Print the kubecharge version."""
    stdout.print(__version__)


def main() -> None:
    allocators.bound()
    sys.exit(app())
