"""Showback messages from a report's chargebacks to each team's channels, each sent once (blocking: the operator
runs this in a worker thread, after the period is published, so a slow or failing channel never holds a report).

The ledger decides what is sent: a message is claimed per (report, key, channel) before it is sent and marked
after, so reruns, restarts and a second replica find it taken. What each team gets is `notify.messages`; how each
channel carries it is `notify.formats`; `notify.delivery` sends with retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubecharge.domain.charges import Chargeback
from kubecharge.domain.mappings import TeamMapping
from kubecharge.domain.notifications import ChannelKind, Notifications, TeamRouting
from kubecharge.domain.periods import Period
from kubecharge.errors import InputError
from kubecharge.notify import formats
from kubecharge.notify.delivery import DeliveryFailed, SmtpTarget, post_json, send_email
from kubecharge.notify.messages import TeamMessage, messages_of
from kubecharge.pipeline.ledger_view import PortalLedger
from kubecharge.store.repository import Repository
from kubecharge.store.tables import Notification

__all__ = [
    "Outbox",
    "ResolvedChannel",
    "SendOutcome",
    "SmtpTarget",
    "TeamMessage",
    "messages_for",
    "preview",
    "routes_of",
    "send",
]


@dataclass(frozen=True)
class ResolvedChannel:
    """A channel with what its Secrets hold (never printed: no repr of the credentials)."""

    name: str
    kind: ChannelKind
    url: str | None = field(default=None, repr=False)
    signing_key: bytes | None = field(default=None, repr=False)
    smtp: SmtpTarget | None = field(default=None, repr=False)
    recipients: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outbox:
    """Where each team's messages go: the report's channels, and the teams' own URLs and addresses."""

    channels: tuple[ResolvedChannel, ...]
    routes: Mapping[str, TeamRouting]  # team -> its say (mute, addresses)
    team_urls: Mapping[tuple[str, str], str] = field(default_factory=dict, repr=False)  # (team, channel) -> URL


@dataclass
class SendOutcome:
    sent: dict[str, int] = field(default_factory=dict)  # channel -> messages delivered this run
    failed: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, team, problem)


def routes_of(mappings: Iterable[TeamMapping]) -> dict[str, TeamRouting]:
    """Each team's routing, merged across the mappings that name it."""
    found: dict[str, TeamRouting] = {}
    for mapping in mappings:
        if mapping.notifications is not None:
            known = found.get(mapping.team)
            found[mapping.team] = known.merged(mapping.notifications) if known else mapping.notifications
    return found


def messages_for(chargebacks: Iterable[Chargeback], settings: Notifications, now: datetime,
                 links: Mapping[str, str] | None = None) -> list[TeamMessage]:  # fmt: skip
    """Every message the periods call for; `links`: a period's export location, when there is no portal."""
    where = links or {}
    return [message for chargeback in chargebacks
            for message in messages_of(chargeback, settings, now, where.get(chargeback.period_name))]  # fmt: skip


def _deliveries(message: TeamMessage, outbox: Outbox) -> list[tuple[ResolvedChannel, str | None]]:
    """(channel, its URL for this team) for each channel the team's message goes to (email: URL None)."""
    route = outbox.routes.get(message.team, TeamRouting())
    if route.mute:
        return []
    found: list[tuple[ResolvedChannel, str | None]] = []
    for channel in outbox.channels:
        if channel.kind is ChannelKind.EMAIL:
            if route.email or channel.recipients:
                found.append((channel, None))
        else:
            found.append((channel, outbox.team_urls.get((message.team, channel.name), channel.url)))
    return found


def payload(report: str, message: TeamMessage, channel: ResolvedChannel) -> dict[str, Any]:
    if channel.kind is ChannelKind.SLACK:
        return formats.slack_payload(message)
    if channel.kind is ChannelKind.TEAMS:
        return formats.teams_payload(message)
    return formats.webhook_payload(report, message)


def _deliver(report: str, message: TeamMessage, channel: ResolvedChannel, url: str | None, outbox: Outbox) -> int:
    if channel.kind is ChannelKind.EMAIL:
        if channel.smtp is None:
            raise DeliveryFailed("the email channel has no SMTP server")
        recipients = outbox.routes.get(message.team, TeamRouting()).email or channel.recipients
        return send_email(channel.smtp, formats.email_message(message, channel.smtp.sender, recipients)).attempts
    if not url:
        raise DeliveryFailed(f"no URL for {channel.kind} channel {channel.name}")
    body = formats.json_bytes(payload(report, message, channel))
    signing = channel.signing_key if channel.kind is ChannelKind.WEBHOOK else None
    return post_json(url, body, message.key, signing).attempts


def _work(unsent: Sequence[Notification], messages: Sequence[TeamMessage],
          outbox: Outbox) -> list[tuple[TeamMessage, ResolvedChannel, str | None]]:  # fmt: skip
    """This run's messages on each of their channels, then the failed ones of earlier runs (kept in the ledger)
    whose time to try again has come — a final period is not computed again, its message is."""
    work = [(message, channel, url) for message in messages for channel, url in _deliveries(message, outbox)]
    planned = {(message.key, channel.name) for message, channel, _ in work}
    for row in unsent:
        if (row.key, row.channel) in planned or row.message_json == "{}":
            continue
        message = TeamMessage.from_json(row.message_json)
        work.extend((message, channel, url) for channel, url in _deliveries(message, outbox)
                    if channel.name == row.channel)  # fmt: skip
    return work


def send(repository: Repository, report: str, messages: Sequence[TeamMessage], outbox: Outbox, holder: str,
         retry_after: Callable[[int], float], deadline_seconds: float,
         lease_seconds: float) -> SendOutcome:  # fmt: skip
    """Send what is not sent yet, each claimed first and recorded after; stops claiming new ones after
    `deadline_seconds` (the rest go at the next run). A failed message is tried again after `retry_after(n)`
    seconds, n counting its failures. Database errors end the round (nothing is sent that cannot be recorded)."""
    outcome = SendOutcome()
    began = time.monotonic()
    unsent = repository.message_states(report)  # read once: the retries due, and how often each failed
    failures = {(row.key, row.channel): row.attempts for row in unsent}
    for message, channel, url in _work(unsent, messages, outbox):
        if time.monotonic() - began > deadline_seconds:
            break
        if not repository.claim_message(report, message.key, channel.name, message.team, holder, lease_seconds,
                                        message.to_json()):  # fmt: skip
            continue
        try:
            _deliver(report, message, channel, url, outbox)
            problem = None
            outcome.sent[channel.name] = outcome.sent.get(channel.name, 0) + 1
        except DeliveryFailed as error:
            problem = str(error)[:400]
            outcome.failed.append((channel.name, message.team, problem))
        failed_before = failures.get((message.key, channel.name), 0)
        repository.finish_message(report, message.key, channel.name, holder, problem, retry_after(failed_before + 1))
    return outcome


def preview(report: str, messages: Sequence[TeamMessage], outbox: Outbox) -> list[dict[str, Any]]:
    """What each team would get, per channel, without sending or claiming anything (`kubecharge notify --dry-run`):
    the body a webhook would receive, or an email's subject, recipients and text."""
    found = []
    for message in messages:
        for channel, _ in _deliveries(message, outbox):
            entry: dict[str, Any] = {"team": message.team, "channel": channel.name, "type": str(channel.kind),
                                     "key": message.key, "title": message.title,
                                     "text": formats.email_text(message)}  # fmt: skip
            if channel.kind is ChannelKind.EMAIL:
                recipients = outbox.routes.get(message.team, TeamRouting()).email or channel.recipients
                email = formats.email_message(message, channel.smtp.sender if channel.smtp else "", recipients)
                entry["email"] = {"subject": email["Subject"], "to": list(recipients)}
            else:
                entry["payload"] = payload(report, message, channel)
            found.append(entry)
    return found


def unresolved_outbox(settings: Notifications, mappings: Iterable[TeamMapping]) -> Outbox:
    """The channels as a spec names them, without their Secrets: enough to say who would get what."""
    channels = tuple(ResolvedChannel(channel.name, channel.kind, smtp=SmtpTarget(channel.smtp.host, channel.smtp.port,
                                                                                  channel.smtp.start_tls,
                                                                                  channel.smtp.sender)
                                     if channel.smtp else None,
                                     recipients=channel.smtp.to if channel.smtp else ())
                     for channel in settings.channels)  # fmt: skip
    return Outbox(channels, routes_of(mappings))


def dry_run(ledger: PortalLedger, report_key: str, period: Period, now: datetime) -> list[dict[str, Any]]:
    """`kubecharge notify --dry-run`: the period priced from the ledger as the operator would publish it, and
    what each team would be sent on each channel (nothing claimed, nothing sent)."""
    name, spec = ledger.report(report_key)
    if spec.notifications is None:
        raise InputError(f"UsageReport {name} has no spec.notifications: add channels to send messages")
    chargeback = ledger.priced(report_key, period)
    messages = messages_of(chargeback, spec.notifications, now)
    return preview(name, messages, unresolved_outbox(spec.notifications, ledger.catalogue().mappings))
