"""Which periods a UsageReport should (re)compute now: pure, so the rules are testable without a cluster.

The current period is always recomputed (provisional). The previous one is recomputed while late data may
still arrive; once `finalizeAfter` has passed since its end it is computed one last time as final, and a
finalized period is never recomputed by the schedule again.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from kubecharge.domain import periods
from kubecharge.domain.periods import Period
from kubecharge.domain.reports import UsageReportSpec


@dataclass(frozen=True)
class PlannedRun:
    period: Period
    final: bool
    restate: bool = False  # a finalized period asked for again: re-collect what Prometheus still holds

    @property
    def state(self) -> str:
        return "final" if self.final else "provisional"


def plan(
    spec: UsageReportSpec, now: datetime, finalized: Collection[str], restate: str | None = None
) -> list[PlannedRun]:
    """`restate` names a finalized period to compute again on request (late data): a restatement if it changed."""
    current = periods.containing(spec.period, now)
    previous = current.previous()
    runs = []
    if restate is not None and restate in finalized:
        runs.append(PlannedRun(periods.parse(restate), final=True, restate=True))
    if previous.name not in finalized:
        runs.append(PlannedRun(previous, final=now >= previous.end + spec.finalize_after))
    runs.append(PlannedRun(current, final=False))
    return runs
