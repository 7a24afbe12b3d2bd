"""The Events a report raises once per team and period (budget thresholds, a forecast over budget) or per day
(cost anomalies): built here from the period's outlook, keyed so that the ledger's `notices` table can make
sure no rerun, restart or second replica raises one again."""

from __future__ import annotations

from dataclasses import dataclass

from kubecharge.domain.charges import Chargeback


@dataclass(frozen=True)
class Notice:
    key: str  # unique per report, forever
    reason: str  # the Event's reason
    message: str
    team: str  # whose cost it is about (its showback message goes to that team)
    warning: bool = True


def notices_of(chargeback: Chargeback) -> list[Notice]:
    outlook, period, currency = chargeback.outlook, chargeback.period_name, chargeback.currency
    if outlook is None:
        return []
    found = []
    for use in outlook.budgets:
        if use.problem is not None or use.used_ratio is None:
            continue
        for threshold in use.reached:
            found.append(Notice(
                f"BudgetThresholdReached/{period}/{use.team}/{threshold}", "BudgetThresholdReached",
                f"team {use.team} has used {100 * use.used_ratio:.1f}% of its {period} budget ({use.actual:,.2f} of "
                f"{use.budget:,.2f} {currency}): past the {threshold}% threshold", use.team,
            ))  # fmt: skip
        if use.forecast_exceeded and use.forecast is not None and use.forecast_ratio is not None:
            found.append(Notice(
                f"BudgetForecastExceeded/{period}/{use.team}", "BudgetForecastExceeded",
                f"team {use.team} is forecast to spend {use.forecast:,.2f} {currency} in {period}, "
                f"{100 * use.forecast_ratio:.1f}% of its budget of {use.budget:,.2f}", use.team,
            ))  # fmt: skip
    for item in outlook.anomalies:
        found.append(Notice(
            f"CostAnomaly/{item.cluster or chargeback.cluster}/{item.namespace or '*'}/{item.team}/{item.day}",
            "CostAnomaly",
            f"{item.day}: {item.subject} cost {item.cost:,.2f} {currency}, usually {item.expected:,.2f} "
            f"(the same weekday over the previous weeks; flagged outside {item.lower:,.2f}–{item.upper:,.2f})",
            item.team,
        ))  # fmt: skip
    return found
