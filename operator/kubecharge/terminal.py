"""What the commands print: the teams' table, use of requests, the outlook, a run's summary and its progress.

Tables go to stdout (whole, 140 columns wide, when it is not a terminal: scripts and logs get every digit);
warnings go to stderr."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from kubecharge.domain import resource_table
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.mappings import label_not_exported
from kubecharge.domain.periods import iso
from kubecharge.domain.usage import ResourceQuantities, used_of_requested
from kubecharge.pipeline.job import JobOutcome

stdout = Console(width=None if sys.stdout.isatty() else 140)  # scripts and logs get whole tables
stderr = Console(stderr=True)


@contextmanager
def chunk_progress(label: str, *, quiet: bool = False,
                   verbose: bool = False) -> Iterator[Callable[[int, int], None] | None]:  # fmt: skip
    """How a long command shows it is working: a bar (hours done of total, elapsed) when stderr is a terminal;
    nothing in scripts and CI, or with `quiet`; a line per step on stderr with `verbose`, terminal or not."""
    began = time.perf_counter()
    if verbose:

        def say(done: int, total: int) -> None:
            stderr.print(f"{label}: {done} of {total} hours ({time.perf_counter() - began:.1f} s)", highlight=False)

        yield say
        return
    if quiet or not stderr.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("hours"),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


class Grouping(StrEnum):
    TEAM = "team"
    WORKLOAD = "workload"
    RECOMMENDATION = "recommendation"


WORKLOADS_PRINTED = 20


def print_workloads(chargeback: Chargeback, most: int = WORKLOADS_PRINTED) -> None:
    """The costliest workloads: team, namespace, kind, name, cost by resource and allocated."""
    table = Table(title=f"Costliest workloads {chargeback.period_name} — cluster {chargeback.cluster} "
                  f"({chargeback.currency}) — {chargeback.state_label}")  # fmt: skip
    for column in ("Team", "Namespace", "Kind", "Workload"):
        table.add_column(column, overflow="fold")
    for resource in resource_table.RESOURCES:
        table.add_column(resource.label or resource.key, justify="right", overflow="fold")
    table.add_column("Allocated", justify="right", overflow="fold")
    parts = sorted((part for line in chargeback.lines for part in line.workloads
                    if part.total_allocated or part.quantities != ResourceQuantities()),
                   key=lambda part: (-part.total_allocated, part.team, part.namespace, part.workload_kind,
                                     part.workload))  # fmt: skip
    for part in parts[:most]:
        table.add_row(part.team, part.namespace, part.workload_kind, part.workload,
                      *(f"{round(part.costs.of(r.key), 2) or 0.0:,.2f}" for r in resource_table.RESOURCES),
                      f"{round(part.total_allocated, 2) or 0.0:,.2f}")  # fmt: skip
    stdout.print(table)
    if len(parts) > most:
        stdout.print(f"{len(parts) - most} more workloads in chargeback-workloads.csv", soft_wrap=True)


RECOMMENDATIONS_PRINTED = 20


def print_recommendations(chargeback: Chargeback, most: int = RECOMMENDATIONS_PRINTED) -> None:
    """The containers whose requests should change, the largest monthly saving first (HPA targets and containers
    without enough data after), and each team's saving."""
    window = chargeback.recommendation_window
    if window is None:
        stdout.print("Recommendations are off for this report (spec.recommendations.enabled: false).")
        return
    currency = chargeback.currency
    table = Table(title=f"Request recommendations — {iso(window[0])} to {iso(window[1])} ({currency} a month)")
    for column in ("Team", "Namespace", "Workload", "Container"):
        table.add_column(column, overflow="fold")
    for column in ("Replicas", "CPU request → recommended", "Memory GiB request → recommended", "Saving"):
        table.add_column(column, justify="right", overflow="fold")
    table.add_column("Note", overflow="fold")
    ordered = sorted(chargeback.recommendations, key=lambda r: (not r.enough_data, r.hpa,
                                                                -(r.monthly_saving or 0.0), r.team, r.namespace,
                                                                r.workload, r.container))  # fmt: skip
    for found in ordered[:most]:
        workload = f"{found.workload_kind}/{found.workload}"
        if not found.enough_data:
            table.add_row(found.team, found.namespace, workload, found.container, "", "", "", "", "not enough data")
            continue
        table.add_row(
            found.team, found.namespace, workload, found.container, f"{found.replicas or 0.0:.2f}",
            f"{found.cpu_request_cores or 0.0:.3f} → {found.cpu_recommended_cores or 0.0:.3f}",
            f"{found.memory_request_gib or 0.0:.3f} → {found.memory_recommended_gib or 0.0:.3f}",
            f"{round(found.monthly_saving or 0.0, 2) or 0.0:,.2f}", "HPA: not in the total" if found.hpa else "",
        )  # fmt: skip
    stdout.print(table)
    if len(ordered) > most:
        stdout.print(f"{len(ordered) - most} more containers in recommendations.csv", soft_wrap=True)
    young = sum(1 for found in ordered if not found.enough_data)
    if young:
        stdout.print(f"{young} container(s) with not enough data (less than 24 hours of use in the window): "
                     "listed in recommendations.csv without numbers", soft_wrap=True)  # fmt: skip
    savings = chargeback.recommended_savings()
    stdout.print(
        "Monthly saving by team: "
        + ", ".join(f"{team} {amount:,.2f}" for team, amount in sorted(savings.items(), key=lambda i: (-i[1], i[0])))
        + f" ({currency}; total {sum(savings.values()):,.2f})",
        soft_wrap=True,
    )


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


def print_run(produced: JobOutcome, out: Path, grouping: Grouping = Grouping.TEAM) -> None:
    """What one `kubecharge report` did: the teams (or the costliest workloads, or the recommendations), warnings,
    completeness, what was asked and written."""
    result = produced.result
    if grouping is Grouping.WORKLOAD:
        print_workloads(result.chargeback)
    elif grouping is Grouping.RECOMMENDATION:
        print_recommendations(result.chargeback)
    else:
        print_teams(result.chargeback)
    for note in result.notes:
        stderr.print(f"[bold yellow]warning:[/] {note}", highlight=False, soft_wrap=True)
    for name in result.unmatched_mappings:
        warning = (f"TeamMapping {name} matched no namespace in {result.chargeback.period_name}; check its "
                   "spec.namespaces, namespaceSelector and namespacePatterns")  # fmt: skip
        stderr.print(f"[bold yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    for name, keys in result.unexported_pod_labels.items():
        stderr.print(f"[bold yellow]warning:[/] {escape(label_not_exported(name, keys))}", highlight=False,
                     soft_wrap=True)  # fmt: skip
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


def print_messages(found: list[dict[str, Any]], output: str) -> None:
    """`kubecharge notify --dry-run`: each message as its team would read it, or every body as JSON."""
    if output == "json":
        stdout.print_json(json.dumps(found), highlight=False)
        return
    if not found:
        stdout.print("No messages: no team has costs in this period, or every team is muted.")
        return
    for entry in found:
        to = f" to {', '.join(entry['email']['to'])}" if "email" in entry else ""
        stdout.rule(f"{entry['team']} · {entry['type']} channel {entry['channel']}{to}", align="left")
        stdout.print(entry["text"], highlight=False, markup=False, soft_wrap=True)
