"""One `TeamMessage` in each channel's own shape: Slack Block Kit, a Microsoft Teams Adaptive Card, a generic
webhook's JSON, and a plain-text-plus-HTML email. Numbers are written the way every human view writes them
(`domain.units.NUMBER_FILTERS`); the webhook's JSON keeps them as numbers, at full precision, for machines."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kubecharge.domain.units import NUMBER_FILTERS
from kubecharge.notify.messages import TeamMessage
from kubecharge.packaged import templates_dir

WEBHOOK_SCHEMA = "kubecharge.io/showback/v1"  # the webhook body's `schema`: bumped if a field changes meaning
_money, _pct = NUMBER_FILTERS["money"], NUMBER_FILTERS["pct"]
_HEADER_LIMIT = 150  # Slack: a header's plain_text
_TEXT_LIMIT = 3000  # Slack: a section's text


def facts(message: TeamMessage) -> list[tuple[str, str]]:
    """The message's figures as (label, value) lines, in the order every format shows them."""
    currency = message.currency
    found = [("Cost", f"{_money(message.cost)} {currency} ({message.state}, {message.version})")]
    if message.previous is not None:
        change = message.change_ratio
        said = f"{'+' if change is not None and change >= 0 else ''}{_pct(change)}" if change is not None else "new"
        found.append((f"Against {message.previous[0]}", f"{said} (then {_money(message.previous[1])})"))
    if message.budget is not None and message.budget_used_ratio is not None:
        found.append(("Budget", f"{_pct(message.budget_used_ratio)} used of {_money(message.budget)} {currency}"))
    if message.forecast is not None:
        ratio = f" ({_pct(message.forecast_budget_ratio)} of budget)" if message.forecast_budget_ratio else ""
        found.append(("Forecast", f"{_money(message.forecast)} {currency}{ratio}"))
    if message.monthly_saving > 0:
        found.append(("Right-sizing", f"could save {_money(message.monthly_saving)} {currency} a month"))
    if message.cost_center:
        found.append(("Cost centre", message.cost_center))
    if message.hours is not None and message.hours[0] < message.hours[1]:
        found.append(("Hours with data", f"{message.hours[0]} of {message.hours[1]}, through {message.through}"))
    return found


def _escape(text: str) -> str:
    """Slack's mrkdwn control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_payload(message: TeamMessage) -> dict[str, Any]:
    """An incoming-webhook body in Block Kit: header, the notice, the figures, where the money went, a link;
    `text` is what notifications and screen readers show."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(message.title, _HEADER_LIMIT)}}
    ]
    if message.notice:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": _cut(_escape(message.notice),
                                                                                  _TEXT_LIMIT)}})  # fmt: skip
    blocks.append({"type": "section", "fields": [
        {"type": "mrkdwn", "text": f"*{_escape(label)}*\n{_escape(value)}"} for label, value in facts(message)[:10]
    ]})  # fmt: skip
    by_resource = " · ".join(f"{label} {_money(cost)}" for label, cost in message.cost_by_resource)
    if by_resource:
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(by_resource)}]})
    for heading, rows in (("Top namespaces", message.top_namespaces), ("Top workloads", message.top_workloads)):
        if rows:
            listed = "\n".join(f"• {_escape(name)}: {_money(cost)} {message.currency}" for name, cost in rows)
            text = _cut(f"*{heading}*\n{listed}", _TEXT_LIMIT)
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if message.link:
        link = {"type": "mrkdwn", "text": f"<{message.link}|Open the details>"}
        blocks.append({"type": "context", "elements": [link]})
    return {"text": _escape(message.title), "blocks": blocks}  # `text` is read as mrkdwn too


def teams_payload(message: TeamMessage) -> dict[str, Any]:
    """A Teams incoming-webhook (or Workflows) body: one Adaptive Card 1.4."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": message.title, "weight": "Bolder", "size": "Medium", "wrap": True}
    ]
    if message.notice:
        body.append({"type": "TextBlock", "text": message.notice, "wrap": True, "color": "Attention"})
    body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in facts(message)]})
    for heading, rows in (("Top namespaces", message.top_namespaces), ("Top workloads", message.top_workloads)):
        if rows:
            body.append({"type": "TextBlock", "text": heading, "weight": "Bolder", "wrap": True})
            body.append({"type": "FactSet", "facts": [{"title": name, "value": f"{_money(cost)} {message.currency}"}
                                                      for name, cost in rows]})  # fmt: skip
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body}  # fmt: skip
    if message.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open the details", "url": message.link}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
    ]}  # fmt: skip


def webhook_payload(report: str, message: TeamMessage) -> dict[str, Any]:
    """The generic webhook's body: every figure as a number, for whatever receives it."""
    return {
        "schema": WEBHOOK_SCHEMA, "report": report, "key": message.key, "event": str(message.event),
        "title": message.title, "team": message.team, "displayName": message.display_name,
        "costCenter": message.cost_center, "period": message.period, "state": message.state,
        "version": message.version, "currency": message.currency, "cost": message.cost,
        "costByResource": dict(message.cost_by_resource),
        "previousPeriod": {"name": message.previous[0], "cost": message.previous[1]} if message.previous else None,
        "changeRatio": message.change_ratio, "budget": message.budget, "budgetUsedRatio": message.budget_used_ratio,
        "forecast": message.forecast, "forecastBudgetRatio": message.forecast_budget_ratio,
        "topNamespaces": [{"namespace": name, "cost": cost} for name, cost in message.top_namespaces],
        "topWorkloads": [{"workload": name, "cost": cost} for name, cost in message.top_workloads],
        "monthlySaving": message.monthly_saving, "notice": message.notice, "link": message.link,
        "hoursCollected": message.hours[0] if message.hours else None,
        "hoursInPeriod": message.hours[1] if message.hours else None, "dataThrough": message.through,
    }  # fmt: skip


def json_bytes(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact, keys sorted, UTF-8."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(templates_dir() / "messages")), undefined=StrictUndefined,
                      autoescape=select_autoescape(["html.j2"]), trim_blocks=True, lstrip_blocks=True)  # fmt: skip
    env.filters.update(NUMBER_FILTERS)
    return env


_ENV: Environment | None = None


def _render(name: str, message: TeamMessage) -> str:
    global _ENV
    _ENV = _ENV or _environment()
    return _ENV.get_template(name).render({"message": message, "facts": facts(message)})


def email_text(message: TeamMessage) -> str:
    return _render("email.txt.j2", message)


def email_message(message: TeamMessage, sender: str, recipients: tuple[str, ...]) -> EmailMessage:
    """Plain text first (what every client shows), the same as HTML beside it."""
    email = EmailMessage()
    email["Subject"] = message.title
    email["From"] = sender
    email["To"] = ", ".join(recipients)
    email["Message-ID"] = make_msgid(domain="kubecharge.io")
    email["X-Kubecharge-Key"] = message.key
    email.set_content(email_text(message))
    email.add_alternative(_render("email.html.j2", message), subtype="html")
    return email
