"""Showback messages after a report run: the channels' Secrets read, then `pipeline.notifications` sends what the
ledger has not seen sent, in a worker thread. Nothing here can fail the report: a Secret that cannot be read or a
channel that refuses is a warning in the log, a line in status and a failed count in the metrics, and the next
run tries again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any

from kubecharge.domain.charges import Chargeback
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.notifications import Channel, ChannelKind, SecretKey
from kubecharge.domain.periods import iso
from kubecharge.domain.reports import UsageReportSpec
from kubecharge.errors import KubechargeError
from kubecharge.handlers.periods import PeriodOutcome
from kubecharge.handlers.state import OperatorState
from kubecharge.kube.secrets import secret_value, secret_values
from kubecharge.pipeline import notifications
from kubecharge.pipeline.notifications import Outbox, ResolvedChannel, SmtpTarget

SEND_DEADLINE_SECONDS = 120.0  # per run: messages not claimed by then go at the next run
SEND_LEASE_SECONDS = 300.0  # a sender that dies mid-send leaves its message to another after this
FAILING_SHOWN = 10  # in status
RETRY_FIRST_SECONDS = 60.0
RETRY_MAX_SECONDS = 3600.0


def _resolve(state: OperatorState, namespace: str, channel: Channel) -> ResolvedChannel:
    def read(ref: SecretKey | None, what: str) -> str | None:
        if ref is None:
            return None
        return secret_value(state.kube, ref.namespace or namespace, ref.name, ref.key, what)

    what = f"notification channel {channel.name}"
    smtp = channel.smtp
    target = None
    if channel.kind is ChannelKind.EMAIL and smtp is not None:
        login = (secret_values(state.kube, namespace, smtp.credentials, ("username", "password"), what)
                 if smtp.credentials else {})  # fmt: skip
        target = SmtpTarget(host=smtp.host, port=smtp.port, start_tls=smtp.start_tls, sender=smtp.sender,
                            username=login.get("username"), password=login.get("password"),
                            ca_pem=read(smtp.ca, what))  # fmt: skip
    signing = read(channel.signing, what)
    return ResolvedChannel(channel.name, channel.kind, read(channel.url, what),
                           signing.encode() if signing is not None else None, target,
                           smtp.to if smtp is not None else ())  # fmt: skip


def _outbox(state: OperatorState, spec: UsageReportSpec, mappings: Sequence[TeamMapping]) -> Outbox:
    """Blocking: every Secret the report's channels and its teams' own webhooks name."""
    assert spec.notifications is not None
    channels = tuple(_resolve(state, spec.namespace, channel) for channel in spec.notifications.channels)
    routes = notifications.routes_of(mappings)
    team_urls = {}
    for team, route in routes.items():
        for name, ref in route.webhooks.items():
            if any(channel.name == name for channel in channels):
                team_urls[(team, name)] = secret_value(state.kube, ref.namespace or spec.namespace, ref.name, ref.key,
                                                       f"team {team}'s {name} channel")  # fmt: skip
    return Outbox(channels, routes, team_urls)


def _stamped(outcome: PeriodOutcome) -> Chargeback:
    """A final period's chargeback with the export version that holds it (`v2-final`): a restatement is a new
    version, so its teams are told again; without an export, `final` once."""
    assert outcome.result is not None
    chargeback = outcome.result.chargeback
    latest = outcome.export.latest if outcome.export is not None else None
    return dataclasses.replace(chargeback, version=latest) if latest and chargeback.state == "final" else chargeback


def _links(outcomes: Sequence[PeriodOutcome]) -> dict[str, str]:
    """Where each period was published, for messages without a portal link: the export, else the ConfigMap."""
    found = {}
    for outcome in outcomes:
        if outcome.outputs:
            first = next((o for o in outcome.outputs if o.kind == "ObjectStorage"), outcome.outputs[0])
            found[outcome.run.period.name] = first.location
    return found


async def send_messages(state: OperatorState, spec: UsageReportSpec, mappings: Sequence[TeamMapping],
                        outcomes: Sequence[PeriodOutcome], status: dict[str, Any], logger: Any) -> None:  # fmt: skip
    """Send this run's messages; `status` gets `notifications` (sent so far, what is failing, why)."""
    settings = spec.notifications
    if settings is None:
        return
    now = state.clock()
    report = f"{spec.namespace}/{spec.name}"
    labels = (spec.namespace, spec.name)
    chargebacks = [_stamped(outcome) for outcome in outcomes if outcome.result is not None]
    messages = notifications.messages_for(chargebacks, settings, now, _links(outcomes))
    try:
        outbox = await asyncio.to_thread(_outbox, state, spec, mappings)
        sent = await asyncio.to_thread(
            notifications.send, state.repository, report, messages, outbox, state.identity, retry_after,
            SEND_DEADLINE_SECONDS, SEND_LEASE_SECONDS,
        )  # fmt: skip
        for channel, team, said in sent.failed:
            logger.warning(f"message to team {team} on channel {channel} not delivered (tried again later): {said}")
            state.metrics.messages_total.labels(*labels, channel, "failed").inc()
        for channel, count in sent.sent.items():
            state.metrics.messages_total.labels(*labels, channel, "sent").inc(count)
        if sent.sent:
            logger.info(f"{sum(sent.sent.values())} showback message(s) sent")
        failing = await asyncio.to_thread(state.repository.message_states, report)
        total_sent = await asyncio.to_thread(state.repository.messages_sent, report)
    except Exception as error:  # a Secret, the database, or a bug: the report stands, the next run tries again
        if isinstance(error, KubechargeError):
            problem = str(error)
        else:
            logger.exception(f"showback messages failed unexpectedly ({type(error).__name__})")
            problem = f"internal error ({type(error).__name__}); the operator's log has the details"
        logger.warning(f"showback messages wait for the next run: {problem}")
        status["notifications"] = {"problem": problem, "time": iso(now)}  # merged into status: the counts stay
        return
    failed = [row for row in failing if row.state == "failed"]
    for name in {channel.name for channel in settings.channels}:
        state.metrics.messages_failing.labels(*labels, name).set(sum(1 for row in failed if row.channel == name))
    status["notifications"] = {
        "sent": total_sent,
        "failing": len(failed),
        "failures": [{"channel": row.channel, "team": row.team, "key": row.key, "attempts": row.attempts,
                      "problem": row.problem, "nextAttempt": iso(row.next_attempt_at) if row.next_attempt_at else None}
                     for row in sorted(failed, key=lambda r: (r.channel, r.team, r.key))[:FAILING_SHOWN]],
        "time": iso(now),
        "problem": None,  # cleared: this run could read its Secrets and the ledger
    }  # fmt: skip


def retry_after(failures: int) -> float:
    """When a failed message is tried again: a minute after its first failure, doubling to an hour (an endpoint
    that is down for a day is not hammered; one that blipped gets the message within minutes)."""
    return float(min(RETRY_FIRST_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS))
