"""Status of a UsageReport: one pure function of a run's outcome, success and failure alike (`report_status`),
and the pieces it is made of. What `kubectl get usagereports` shows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kubecharge.domain.charges import Chargeback
from kubecharge.domain.periods import iso
from kubecharge.handlers.periods import PeriodOutcome
from kubecharge.pipeline.outputs import completeness_record, outlook_record, totals_record


def period_entry(outcome: PeriodOutcome, now: datetime) -> dict[str, Any]:
    period = outcome.run.period
    entry: dict[str, Any] = {
        "name": period.name,
        "start": iso(period.start),
        "end": iso(period.end),
        "phase": "Finalized" if outcome.run.final else "Provisional",
        "lastRun": iso(now),
    }
    if outcome.result is not None:
        chargeback = outcome.result.chargeback
        entry.update(cost=chargeback.total_costs.total, currency=chargeback.currency, coverage=chargeback.coverage,
                     state=chargeback.state_label)  # fmt: skip
        if chargeback.completeness is not None:
            seen = chargeback.completeness
            entry["completeness"] = {"hoursInPeriod": seen.hours_in_period, "hoursCollected": seen.hours_collected,
                                     "summary": seen.describe()}  # fmt: skip
    if outcome.waiting:
        entry["phase"] = "Pending"
    if outcome.no_data:
        entry["phase"] = "NoData"
    return entry


def completeness_condition(
    periods: list[dict[str, Any]], now: datetime, previous: list[dict[str, Any]] | None = None
) -> dict[str, str]:
    """`DataComplete`: False while any finalized period in status rests on fewer hours than it has."""
    gappy = []
    for entry in periods:
        seen = entry.get("completeness") or {}
        if entry.get("phase") == "Finalized" and seen.get("hoursCollected", 0) < seen.get("hoursInPeriod", 0):
            gappy.append(f"{entry['name']}: {seen['summary']}")
    if gappy:
        return condition(False, "FinalizedWithGaps", "; ".join(gappy), now, previous, kind="DataComplete")[0]
    return condition(True, "Complete", "every finalized period has data for all its hours", now, previous,
                     kind="DataComplete")[0]  # fmt: skip


def merge_periods(previous: list[dict[str, Any]], fresh: list[dict[str, Any]], keep: int = 6) -> list[dict[str, Any]]:
    by_name = {entry["name"]: entry for entry in previous}
    by_name.update({entry["name"]: entry for entry in fresh})
    return [by_name[name] for name in sorted(by_name)][-keep:]


def condition(
    ready: bool,
    reason: str,
    message: str,
    now: datetime,
    previous: list[dict[str, Any]] | None = None,
    kind: str = "Ready",
) -> list[dict[str, str]]:
    """One condition (Ready by default); `lastTransitionTime` moves only when status or reason change."""
    status = "True" if ready else "False"
    since = iso(now)
    for old in previous or []:
        if old.get("type") == kind and old.get("status") == status and old.get("reason") == reason:
            since = str(old.get("lastTransitionTime") or since)
    return [{"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since}]


def current_status(outcome: PeriodOutcome) -> dict[str, Any]:
    period = outcome.run.period
    status: dict[str, Any] = {"period": {"name": period.name, "start": iso(period.start), "end": iso(period.end)}}
    if outcome.result is None:
        return status
    chargeback = outcome.result.chargeback
    status.update(
        totals=totals_record(chargeback),
        coverage=chargeback.coverage,
        completeness=completeness_record(chargeback.completeness),
        topTeams=[{"team": t.team, "cost": t.total_allocated} for t in chargeback.teams()[:5]],
        recommendedSaving=saving_status(chargeback),
        **outlook_status(chargeback),
    )  # fmt: skip
    return status


def saving_status(chargeback: Chargeback) -> dict[str, Any] | None:
    """What acting on the request recommendations saves a month: the total, per team, and over which window
    (None when the report has recommendations off)."""
    if chargeback.recommendation_window is None:
        return None
    savings = chargeback.recommended_savings()
    start, end = chargeback.recommendation_window
    return {"total": sum(savings.values()), "currency": chargeback.currency, "teams": savings,
            "windowStart": iso(start), "windowEnd": iso(end)}  # fmt: skip


def outlook_status(chargeback: Chargeback) -> dict[str, Any]:
    """What `kubectl get usagereports -o yaml` says of where the period is heading: the cluster's forecast (the
    FORECAST column), each budget's use and the period's latest anomalies (the full lists are in the report)."""
    record = outlook_record(chargeback.outlook, chargeback.cluster)
    forecast = record["forecast"] or {}
    found = forecast.get("cluster")
    return {
        "forecast": {key: found[key] for key in ("cost", "lower", "upper")} if found else None,
        "budgets": [{key: use[key] for key in ("team", "budget", "actual", "usedRatio", "forecast", "forecastRatio",
                                               "reached", "problem")} for use in record["budgets"]],
        "anomalies": record["anomalies"][-10:],
    }  # fmt: skip


def merge_outputs(previous: list[dict[str, Any]], fresh: list[dict[str, Any]], keep: int = 12) -> list[dict[str, Any]]:
    by_location = {entry["location"]: entry for entry in previous}
    by_location.update({entry["location"]: entry for entry in fresh})
    return [by_location[key] for key in sorted(by_location)][-keep:]


@dataclass(frozen=True)
class RunFacts:
    """What status says of one run besides its periods: when, how long, by whom, for which generation."""

    now: datetime
    elapsed_seconds: float
    operator: str
    generation: int | None


def report_status(
    previous: Mapping[str, Any],
    facts: RunFacts,
    outcomes: Sequence[PeriodOutcome],
    failure: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The status fields a run writes: from `previous` status, the periods computed (maybe none) and, for a run that
    failed, its (reason, message). A failed run still records the periods it finished before failing."""
    now, conditions = facts.now, previous.get("conditions")
    status: dict[str, Any] = {"observedGeneration": facts.generation}
    finals = {outcome.run.period.name for outcome in outcomes if outcome.run.final}
    if finals:
        status["finalizedPeriods"] = sorted(set(previous.get("finalizedPeriods") or []) | finals)
    periods = merge_periods(previous.get("periods") or [], [period_entry(o, now) for o in outcomes])
    if outcomes or failure is None:
        status["periods"] = periods
        status["outputs"] = merge_outputs(
            previous.get("outputs") or [], [x.record() for o in outcomes for x in o.outputs]
        )
    run = {"time": iso(now), "durationSeconds": round(facts.elapsed_seconds, 3), "operator": facts.operator}
    if failure is not None:
        reason, message = failure
        return {**status, "phase": "Failed", "lastRun": {**run, "result": "Failed", "message": message},
                "conditions": condition(False, reason, message, now, conditions)}  # fmt: skip
    current = outcomes[-1]
    waiting = "waiting for the period's first complete hour" if current.waiting else ""
    return {
        **status,
        "phase": "Pending" if current.waiting else "Provisional",
        "lastRun": {**run, "result": "Succeeded", "message": waiting},
        "conditions": [*condition(True, "ReportUpToDate", f"{len(outcomes)} period(s) computed", now, conditions),
                       completeness_condition(periods, now, conditions)],
        **current_status(current),
    }  # fmt: skip
