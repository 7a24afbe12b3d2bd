"""The `kubecharge` command line. Scripts depend on `kubecharge report`'s options and exit codes: keep them.

Exit codes: 0 success; 1 unexpected; 2 bad input (manifest, period, option, an unwritable --out or
--publish folder); 3 Prometheus unreachable or empty; 4 database error; 5 the report folder or object storage
refused a write after the run; 6 `verify` found a mismatch. A user error prints one line on stderr, never a
traceback, and writes nothing: every input is checked before the first write.
"""

from __future__ import annotations

import dataclasses
import socket
import sys
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from kubecharge import __version__, allocators, manifests
from kubecharge.domain import periods
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import InputError, KubechargeError
from kubecharge.pipeline.admin import downgrade_ledger, ledger_schema, upgrade_ledger, verify_export
from kubecharge.pipeline.job import ReportJob, open_ledger, produce_report, s3_from_settings
from kubecharge.settings import load_settings
from kubecharge.terminal import Grouping, chunk_progress, print_messages, print_run, print_teams, stderr, stdout

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


def fail(error: KubechargeError) -> typer.Exit:
    stderr.print(f"[bold red]error:[/] {error}", highlight=False, soft_wrap=True)
    return typer.Exit(error.exit_code)


def parse_moment(text: str | None) -> datetime | None:
    """`--as-of`: an ISO-8601 time, UTC unless it says otherwise."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"--as-of {text!r} is not an ISO-8601 time; use e.g. 2026-10-15T12:00Z") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


# Options several commands share, declared once so they read the same everywhere.
MappingsOption = Annotated[
    Path, typer.Option("--mappings", metavar="PATH", help="TeamMapping YAML file (multi-document) or folder.")
]
DatabaseOption = Annotated[
    str | None, typer.Option("--db", metavar="URL", help="SQLAlchemy URL [default: $KUBECHARGE_DATABASE_URL].")
]


@app.command()
def report(
    mappings: MappingsOption,
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
    by: Annotated[
        Grouping,
        typer.Option(
            "--by",
            help="Print the table per team, per workload (its 20 costliest), or the request "
            "recommendations (the 20 largest savings); the files hold all.",
        ),
    ] = Grouping.TEAM,
    recommendation_days: Annotated[
        int | None,
        typer.Option(
            "--recommendation-days",
            metavar="DAYS",
            min=1,
            max=90,
            help="Days of use request recommendations look at [default: the report's "
            "spec.recommendations.windowDays, 14].",
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print nothing but errors (the files say the rest).")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say each step on stderr, also in pipes and CI.")
    ] = False,
) -> None:
    """Collect a period from Prometheus, attribute it to teams, price it and write the report files.

    The database is the ledger: complete hours it already holds are not asked for again (except the last
    KUBECHARGE_RECHECK_HOURS, for late data), so history outlives Prometheus' retention.
    """
    with chunk_progress("Collecting from Prometheus", quiet=quiet, verbose=verbose) as progress:
        try:
            if quiet and verbose:
                raise InputError("--quiet and --verbose: give one of them")
            settings = load_settings()
            moment = parse_moment(as_of) or datetime.now(UTC)
            parsed, teams = periods.parse(period), manifests.load_team_mappings(mappings)
            spec = manifests.load_usage_report(report_file) if report_file is not None else UsageReportSpec()
            if recommendation_days is not None and spec.recommendations is not None:
                spec = dataclasses.replace(spec, recommendations=dataclasses.replace(
                    spec.recommendations, window_days=recommendation_days))  # fmt: skip
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
    if not quiet:
        print_run(produced, out, grouping=by)


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
    days: Annotated[
        int,
        typer.Option(
            "--days",
            metavar="DAYS",
            min=1,
            max=62,
            help="Days of synthetic history from 2026-10-01 "
            "(under 31: October in progress, as of just after them; 31: the whole month).",
        ),
    ] = 14,
    step_seconds: Annotated[
        int, typer.Option("--step", metavar="SECONDS", help="Scrape interval of the synthetic data.")
    ] = 600,
    keep: Annotated[
        Path | None, typer.Option("--keep", metavar="DIR", help="Keep the generated Prometheus data here.")
    ] = None,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Reuse the history an earlier run generated (kept in "
            "$XDG_CACHE_HOME/kubecharge, else ~/.cache/kubecharge).",
        ),
    ] = True,
) -> None:
    """Run the whole pipeline on a synthetic cluster in a private local Prometheus (needs no cluster)."""
    from kubecharge.demo import run_demo  # only the demo imports the generator; keep `report` start-up light

    try:
        run_demo(out=out, days=days, step_seconds=step_seconds, keep=keep, console=stdout, print_teams=print_teams,
                 cache=cache)  # fmt: skip
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


@app.command()
def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "0.0.0.0",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8080,
    auth: Annotated[
        str,
        typer.Option(
            "--auth",
            metavar="kubernetes|none",
            help="kubernetes: each viewer's token is reviewed by the API server and RBAC says which teams "
            "they see; none: everyone sees everything (your own machine only).",
        ),
    ] = "kubernetes",
    mappings: Annotated[
        Path | None, typer.Option("--mappings", metavar="PATH", help="TeamMappings from a file [default: the API's].")
    ] = None,
    report_files: Annotated[
        list[Path] | None,
        typer.Option("--report", metavar="FILE", help="A UsageReport manifest, repeatable [default: the API's]."),
    ] = None,
    db: DatabaseOption = None,
) -> None:
    """Serve the portal: each team's costs from the ledger, pages and a JSON API, scoped by Kubernetes RBAC.

    Never asks Prometheus: it prices what the ledger holds (the operator fills it) with a UsageReport's spec."""
    from kubecharge.portal.serve import AUTH_MODES, file_catalogue, make_portal, run  # only to serve

    try:
        if auth not in AUTH_MODES:
            raise InputError(f"--auth {auth!r}: give kubernetes (RBAC decides who sees what) or none (local use)")
        if (mappings is None) != (not report_files):
            raise InputError("give --mappings and --report together (local files), or neither (read from the API)")
        settings = load_settings()
        catalogue = file_catalogue(mappings, report_files or []) if mappings is not None else None
        portal = make_portal(settings, db or settings.database_url, auth, catalogue)
    except KubechargeError as error:
        raise fail(error) from None
    run(portal, host, port)


@app.command()
def notify(
    mappings: MappingsOption,
    report_file: Annotated[
        Path, typer.Option("--report", metavar="FILE", help="The UsageReport manifest with spec.notifications.")
    ],
    period: Annotated[
        str | None, typer.Option("--period", metavar="YYYY-MM", help="The period [default: the one --as-of is in].")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what each team would get; send nothing, record nothing.")
    ] = False,
    output: Annotated[
        str, typer.Option("--output", metavar="text|json", help="text: as people read it; json: the exact bodies.")
    ] = "text",
    as_of: Annotated[
        str | None, typer.Option("--as-of", metavar="TIME", help="ISO-8601 time to judge from [default: now].")
    ] = None,
    cluster: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster",
            metavar="NAME",
            help="Cluster, repeatable [default: the report's spec.clusters, else $KUBECHARGE_CLUSTER_NAME].",
        ),
    ] = None,
    db: DatabaseOption = None,
) -> None:
    """Show what each team's showback message would say, from the ledger (what `kubecharge report` or the operator
    stored), on each channel of the report's spec.notifications.

    Sending is the operator's: it reads the channels' Secrets and records in the ledger what was sent."""
    from kubecharge.pipeline import notifications  # only here
    from kubecharge.pipeline.ledger_view import Catalogue, open_portal_ledger, parse_period

    try:
        if not dry_run:
            raise InputError("sending is the operator's (it reads the channels' Secrets and records what was sent); "
                             "add --dry-run to see what each team would get")  # fmt: skip
        if output not in ("text", "json"):
            raise InputError(f"--output {output!r}: give text or json")
        settings = load_settings()
        now = parse_moment(as_of) or datetime.now(UTC)
        spec = manifests.load_usage_report(report_file)
        if cluster:
            spec = dataclasses.replace(spec, clusters=tuple(cluster))
        catalogue = Catalogue({f"{spec.namespace}/{spec.name}": spec}, manifests.load_team_mappings(mappings))
        ledger = open_portal_ledger(settings, db or settings.database_url, lambda: catalogue, clock=lambda: now)
        chosen = parse_period(period) if period else periods.parse(now.strftime("%Y-%m"))
        found = notifications.dry_run(ledger, f"{spec.namespace}/{spec.name}", chosen, now)
    except KubechargeError as error:
        raise fail(error) from None
    print_messages(found, output)


db_app = typer.Typer(help="The rollup database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("upgrade")
def db_upgrade(
    db: DatabaseOption = None,
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
    db: DatabaseOption = None,
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
    db: DatabaseOption = None,
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
