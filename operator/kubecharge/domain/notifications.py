"""Showback messages as a UsageReport asks for them (spec.notifications) and a TeamMapping routes them.

Kept apart from how they are built and sent: the spec is data the CRD validated, the channel's secrets are only
named here (read by whoever sends), so a spec can be printed, compared and tested without a cluster."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ChannelKind(StrEnum):
    SLACK = "slack"
    TEAMS = "teams"
    WEBHOOK = "webhook"
    EMAIL = "email"


class MessageEvent(StrEnum):
    """What a report sends messages about (spec.notifications.events)."""

    PUBLISHED = "published"  # a period version: provisional on the schedule, final once, a restatement again
    BUDGET = "budget"  # a budget threshold reached, or the forecast over the budget
    ANOMALY = "anomaly"


class ProvisionalSchedule(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    NEVER = "never"


@dataclass(frozen=True)
class SecretKey:
    """One key of a Secret; `namespace` None: the UsageReport's own namespace."""

    name: str
    key: str
    namespace: str | None = None


@dataclass(frozen=True)
class Smtp:
    host: str
    sender: str
    port: int = 587
    start_tls: bool = True
    to: tuple[str, ...] = ()
    credentials: str | None = None  # a Secret with `username` and `password`
    ca: SecretKey | None = None


@dataclass(frozen=True)
class Channel:
    name: str
    kind: ChannelKind
    url: SecretKey | None = None  # slack, teams, webhook
    signing: SecretKey | None = None  # webhook: the HMAC-SHA256 key
    smtp: Smtp | None = None  # email


@dataclass(frozen=True)
class Notifications:
    channels: tuple[Channel, ...]
    provisional: ProvisionalSchedule = ProvisionalSchedule.WEEKLY
    events: frozenset[MessageEvent] = frozenset(MessageEvent)
    link: str | None = None  # the portal's address


@dataclass(frozen=True)
class TeamRouting:
    """A team's say in where its messages go (TeamMapping spec.notifications)."""

    mute: bool = False
    email: tuple[str, ...] = ()
    webhooks: Mapping[str, SecretKey] = field(default_factory=dict)  # channel name -> the team's own URL

    def merged(self, other: TeamRouting) -> TeamRouting:
        """A team claimed by several mappings: muted if any says so, every address and URL they name."""
        return TeamRouting(self.mute or other.mute, tuple(dict.fromkeys((*self.email, *other.email))),
                           {**self.webhooks, **other.webhooks})  # fmt: skip


def channel_problems(notifications: Notifications) -> list[str]:
    """What the CRD schema cannot say: each kind's own fields, and names that must be unique."""
    problems = []
    seen: set[str] = set()
    for index, channel in enumerate(notifications.channels):
        where = f"spec.notifications.channels[{index}] ({channel.name})"
        if channel.name in seen:
            problems.append(f"{where}: another channel has this name; give each its own")
        seen.add(channel.name)
        if channel.kind is ChannelKind.EMAIL:
            if channel.smtp is None:
                problems.append(f"{where}: an email channel needs smtp (host, from)")
        elif channel.url is None:
            problems.append(f"{where}: a {channel.kind} channel needs urlSecretRef (the Secret key with its URL)")
        if channel.signing is not None and channel.kind is not ChannelKind.WEBHOOK:
            problems.append(f"{where}: signingSecretRef is for webhook channels only")
        if channel.smtp is not None and channel.kind is not ChannelKind.EMAIL:
            problems.append(f"{where}: smtp is for email channels only")
    return problems
