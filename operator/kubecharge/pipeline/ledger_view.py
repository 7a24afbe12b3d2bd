"""The portal's reading of the ledger (and its sign-ins): which reports and periods there are, and a period priced
with a report's spec — by the pipeline's own `ledger_chargeback`, the path every report takes from the ledger,
never asking Prometheus. A priced period is kept `PRICED_SECONDS` (60 s): the ledger gains an hour an hour,
and a team page must not price a month on every click."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from kubecharge import outlook
from kubecharge.collect.container_use import container_use
from kubecharge.collect.promql import recommendation_queries
from kubecharge.domain import ledger, periods
from kubecharge.domain.charges import Chargeback
from kubecharge.domain.ledger import Completeness
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.periods import Period
from kubecharge.domain.recommendations import HISTOGRAM_LAYOUT, ContainerUse, DayStore, DayUse
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import InputError
from kubecharge.pipeline.remembered import Remembered
from kubecharge.pipeline.request import request_for
from kubecharge.pipeline.run import ledger_chargeback
from kubecharge.settings import Settings
from kubecharge.store.repository import Repository

PRICED_SECONDS = 60.0
PORTAL_SOURCE = "portal"  # the source a request names; the portal writes no hours, so it is never recorded


@dataclass(frozen=True)
class Catalogue:
    """The UsageReports (by `namespace/name`) and TeamMappings the portal prices with, as last read."""

    reports: Mapping[str, UsageReportSpec]
    mappings: Sequence[TeamMapping]

    @property
    def teams(self) -> frozenset[str]:
        """Every team a TeamMapping names (`spec.team`)."""
        return frozenset(mapping.team for mapping in self.mappings)


@dataclass(frozen=True)
class PeriodState:
    """A period as the list of periods shows it: its state and how much of it the ledger holds."""

    period: Period
    state: str  # final | provisional | incomplete
    state_label: str
    completeness: Completeness


class KeptDays:
    """A cluster's days of container use as the operator kept them (`DayStore`, read only): the portal may not
    ask Prometheus, so a day not kept is a day not seen."""

    def __init__(self, repository: Repository, cluster: str) -> None:
        self.repository, self.cluster = repository, cluster

    def get(self, queries: str, day: datetime) -> DayUse | None:
        found = self.repository.newest_container_day(self.cluster, HISTOGRAM_LAYOUT, day)
        return None if found is None else DayUse.decode(found)

    def put(self, queries: str, day: datetime, found: DayUse) -> None:
        """Nothing: the portal changes no data."""


class KeptUse:
    """Recommendations' container use from the kept days alone (`recommended.UseSource`)."""

    def __init__(self, repository: Repository, cluster: str, settings: Settings) -> None:
        self.days = KeptDays(repository, cluster)
        self.queries = recommendation_queries(settings.queries)

    def container_use(self, start: datetime, end: datetime, percentile: float,
                      days: DayStore | None = None) -> list[ContainerUse]:  # fmt: skip
        return container_use(None, self.queries, start, end, percentile, self.days)


class PortalLedger:
    """Reports, periods and priced periods, read from the ledger with the catalogue `catalogue()` returns."""

    def __init__(self, settings: Settings, repository: Repository, catalogue: Callable[[], Catalogue],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:  # fmt: skip
        self.settings, self.repository, self._catalogue, self._clock = settings, repository, catalogue, clock
        self._priced = Remembered(PRICED_SECONDS)
        self._catalogued = Remembered(PRICED_SECONDS)

    def ready(self) -> None:
        """Raises where the ledger cannot be read (`/readyz`)."""
        self.repository.first_hour("")

    def session(self, session_sha256: str) -> tuple[str, tuple[str, ...], str] | None:
        return self.repository.session(session_sha256)

    def start_session(self, session_sha256: str, user: str, groups: Sequence[str], uid: str,
                      expires_at: datetime) -> None:  # fmt: skip
        self.repository.start_session(session_sha256, user, groups, uid, expires_at)

    def end_session(self, session_sha256: str) -> None:
        self.repository.end_session(session_sha256)

    def catalogue(self) -> Catalogue:
        found: Catalogue = self._catalogued.get("catalogue", self._catalogue)
        return found

    def report(self, key: str | None) -> tuple[str, UsageReportSpec]:
        """The report named `namespace/name`, else the first there is (by name): the operator's reports."""
        reports = self.catalogue().reports
        if not reports:
            raise InputError("there is no UsageReport to price the ledger with: apply one (or give --report)")
        if key is None:
            first = min(reports)
            return first, reports[first]
        if key not in reports:
            raise InputError(f"report {key!r} is not known; known reports: {', '.join(sorted(reports))}")
        return key, reports[key]

    def clusters(self, spec: UsageReportSpec) -> tuple[str, ...]:
        return tuple(spec.clusters) or (self.settings.cluster_name,)

    def first_hour(self, key: str | None) -> datetime | None:
        """The earliest hour the ledger holds of the report's clusters."""
        _, spec = self.report(key)
        firsts = [first for cluster in self.clusters(spec) if (first := self.repository.first_hour(cluster))]
        return min(firsts, default=None)

    def periods(self, key: str | None) -> list[PeriodState]:
        """The months from the first the ledger holds to this one, newest first."""
        _, spec = self.report(key)
        first = self.first_hour(key)
        if first is None:
            return []
        now = self._clock()
        month = periods.containing(periods.PeriodKind.MONTHLY, first)
        found: list[PeriodState] = []
        while month.start <= now:
            found.append(self.period_state(spec, month, now))
            month = periods.containing(periods.PeriodKind.MONTHLY, month.end)
        return found[::-1]

    def period_state(self, spec: UsageReportSpec, period: Period, now: datetime) -> PeriodState:
        until = min(period.end, now - timedelta(seconds=self.settings.settle_seconds))
        known: dict[datetime, Any] = {}
        for cluster in self.clusters(spec):
            for hour, seen in self.repository.known_hours(cluster, period.start, until).items():
                if hour not in known or seen.observed:
                    known[hour] = seen
        completeness = ledger.completeness(period.start, period.end, max(until, period.start), known)
        final = now >= period.end + spec.finalize_after
        if final and not completeness.complete:
            label = (
                f"final — incomplete (data for {completeness.hours_collected} of {completeness.hours_in_period} hours)"
            )
            return PeriodState(period, "incomplete", label, completeness)
        state = "final" if final else "provisional"
        return PeriodState(period, state, state, completeness)

    def priced(self, key: str | None, period: Period) -> Chargeback:
        """The period priced with the report's spec, from the ledger (kept `PRICED_SECONDS`)."""
        name, spec = self.report(key)
        found: Chargeback = self._priced.get((name, period.name), lambda: self._price(spec, period))
        return found

    def _price(self, spec: UsageReportSpec, period: Period) -> Chargeback:
        now = self._clock()
        catalogue = self.catalogue()
        request = request_for(self.settings, period, catalogue.mappings, spec, now=now,
                              prometheus_url=self.settings.prometheus_url, source=PORTAL_SOURCE,
                              clusters=list(spec.clusters))  # fmt: skip
        until = min(period.end, request.policy.complete_until)
        if until <= period.start:
            raise InputError(f"period {period.name} has no complete hour yet")
        since = period.start - outlook.HISTORY  # as a report run reads it (`pipeline.run`)
        clusters = self.clusters(spec)
        knowns = {cluster: self.repository.known_hours(cluster, since, until) for cluster in clusters}
        uses = {cluster: KeptUse(self.repository, cluster, self.settings) for cluster in clusters}
        chargeback = ledger_chargeback(self.repository, request, uses, knowns, until).chargeback
        return dataclasses.replace(chargeback, generated_at=now)


def open_portal_ledger(settings: Settings, database_url: str, catalogue: Callable[[], Catalogue],
                       clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> PortalLedger:  # fmt: skip
    """The portal's ledger, its schema migrated as the CLI's is."""
    return PortalLedger(settings, Repository(database_url, migrate=True), catalogue, clock)


def parse_period(text: str) -> Period:
    """A period of the portal's: a month (2026-10), as the CLI writes it."""
    try:
        return periods.parse(text)
    except Exception as error:
        raise InputError(f"period {text!r}: {error}") from None
